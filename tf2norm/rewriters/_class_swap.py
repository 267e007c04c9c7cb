"""The engine of the rewriters that replace a legacy class by tf2norm's class of the same contract.

A legacy cell or layer whose replacement takes the same constructor (tf.contrib's
LayerNormBasicLSTMCell, tfa's cells and normalisations, TF1's core RNN cells) is a `ClassSwap` spec
run by `ClassSwapRewriter`: every reference to the class becomes the replacement, in both targets,

    tf.contrib.rnn.LayerNormBasicLSTMCell(64, forget_bias=0.5)  ->  LayerNormBasicLSTMCell(64, forget_bias=0.5)

calls, the class used as a value (`cell_class=...`, `isinstance`, `functools.partial`), as a
member's owner (`Cell.from_config(...)`, with `members`) and as a base class (reported with
`subclass_rule`: its internals are not the legacy class's). A call is bound to the class's
`signature` first (unless not `checked`): one the legacy class rejected is reported (TF2N010/TF2N011)
and left unchanged; a `dropped` keyword (a Keras 2 base-layer argument Keras 3 rejects) is removed
when it holds its no-op default, and reported with `dropped_rule` otherwise; `**kwargs` that may hide
one are passed on and reported with `star_rule`. A spec whose classes are TF1 cells (`cell`)
registers each construction on `ctx.cells`, so the TF1 wrappers and dynamic_rnn around it are
migrated too (rnn_cell_wrappers).
A rewriter with more to decide (tfa's normalisations pick a Keras layer where it is exact)
subclasses `ClassSwapRewriter` and overrides `rewrite_call` or `rewrite_reference`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

import libcst as cst

from tf2norm.rewriters import _calls, _findings
from tf2norm.rewriters._context import MigratedCell
from tf2norm.rewriters._findings import Rule
from tf2norm.rewriters._rewriter import Rewriter
from tf2norm.rewriters._signature import Bound, Mismatch, bind, is_literal


@dataclasses.dataclass(frozen=True)
class Swap:
    """One legacy class: its canonical names and its replacement in tf2norm.replacements."""

    legacy: frozenset[str]
    replacement: str
    #: The constructor's positional-or-keyword parameters, and how many are required.
    signature: tuple[str, ...] = ()
    required: int = 0
    #: Calls are bound to the signature (False: the replacement takes whatever the legacy class took,
    #: star-args included, and the arguments stay as they are).
    checked: bool = True
    #: More keywords the constructor takes (Keras base-layer keywords).
    keywords: tuple[str, ...] = ()
    #: The constructor takes keywords only (tfa's InstanceNormalization(**kwargs)).
    keyword_only: bool = False
    #: Message fields of the findings about this class, besides `cls` (the legacy class's name).
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def name(self) -> str:
        """The legacy class's own name."""
        return min(self.legacy).rsplit(".", 1)[-1]


@dataclasses.dataclass(frozen=True)
class ClassSwap:
    """Legacy classes replaced one for one (see the module docstring)."""

    classes: tuple[Swap, ...]
    #: Reported on a class statement that derives from a legacy class (it is rewritten too); fields
    #: `name` (the subclass), `cls` and the swap's fields.
    subclass_rule: Rule | None = None
    #: Keywords a call may not keep (Keras 2's `batch_input_shape`, ...): {keyword: the no-op default
    #: that is dropped}, reported with `dropped_rule` (fields `cls`, `argument`, `fix`) otherwise.
    dropped: Mapping[str, object] = dataclasses.field(default_factory=dict)
    dropped_rule: Rule | None = None
    dropped_fixes: Mapping[str, str] = dataclasses.field(default_factory=dict)
    #: Reported on a call with star-args, which is rewritten all the same (None: TF2N010, unchanged).
    star_rule: Rule | None = None
    #: Members of the class are followed to it (`Cell.from_config(...)`).
    members: bool = False
    #: The classes are TF1 cells: constructions go on `ctx.cells` (with this sequence layer, if any).
    cell: bool = False
    sequence_layer: str | None = None

    @property
    def legacy(self) -> frozenset[str]:
        return frozenset().union(*(swap.legacy for swap in self.classes))


class ClassSwapRewriter(Rewriter):
    """Runs a `ClassSwap` spec over every reference to its classes."""

    def __init__(self, spec: ClassSwap, rules: Mapping[str, Rule]):
        self.spec = spec
        self.legacy = spec.legacy
        self.rules = rules
        self._swaps = {name: swap for swap in spec.classes for name in swap.legacy}

    def references(self, ctx) -> Iterator[tuple[cst.CSTNode, str]]:
        if not self.spec.members:
            yield from super().references(ctx)
            return
        legacy = self.legacy
        members = tuple(name + "." for name in legacy)
        for node, name in list(ctx.names.references(lambda n: n in legacy or n.startswith(members))):
            while name not in legacy:  # `Cell.from_config`: the class is the inner chain
                node = node.value
                name = ctx.names.canonical(node)
            if node not in ctx.handled:
                yield node, name

    def plan(self, ctx) -> None:
        for node, name in self.references(ctx):
            swap = self._swaps[name]
            parent = ctx.names.parents.get(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                self.rewrite_call(ctx, parent, swap)
            else:
                self.rewrite_reference(ctx, node, swap)

    # ------------------------------------------------------------------------------- references
    def rewrite_reference(self, ctx, node: cst.CSTNode, swap: Swap) -> None:
        """The class used other than by a call: the replacement class, a subclass reported."""
        self.replace(ctx, node, swap)
        subclass = self.subclass_of(ctx, node)
        if subclass is not None and self.spec.subclass_rule is not None:
            ctx.report(self.spec.subclass_rule, node, name=subclass.name.value, cls=swap.name, **swap.fields)

    def replace(self, ctx, node: cst.CSTNode, swap: Swap) -> None:
        ctx.edit(node, lambda _: ctx.replacement(swap.replacement), consumes=node)
        if self.spec.cell:
            ctx.cells[node] = MigratedCell(swap.signature, self.spec.sequence_layer)

    @staticmethod
    def subclass_of(ctx, node: cst.CSTNode) -> cst.ClassDef | None:
        """The class statement that lists `node` among its bases, else None."""
        base = ctx.names.parents.get(node)
        holder = ctx.names.parents.get(base)
        if isinstance(base, cst.Arg) and isinstance(holder, cst.ClassDef) and base in holder.bases:
            return holder
        return None

    # ------------------------------------------------------------------------------------ calls
    def rewrite_call(self, ctx, call: cst.Call, swap: Swap) -> None:
        """A construction: checked against the signature, then the replacement with its arguments."""
        if not swap.checked:
            self.replace(ctx, call.func, swap)
            return
        dropped: set[int] | None = set()
        if any(arg.star for arg in call.args) and self.spec.star_rule is not None:
            ctx.report(self.spec.star_rule, call, cls=swap.name, **swap.fields)
        else:
            bound = self.bind(ctx, call, swap)
            if bound is None:
                return
            dropped = self.dropped(ctx, call, swap, bound)
        if dropped is None:
            return
        self.replace(ctx, call.func, swap)
        if dropped:
            kept = [i for i in range(len(call.args)) if i not in dropped]
            self.rescue_dropped(ctx, call, dropped, kept)
            ctx.edit(call, lambda updated: updated.with_changes(
                args=_calls.relaid(updated, [(updated.args[i], i) for i in kept])))

    def bind(self, ctx, call: cst.Call, swap: Swap) -> Bound | None:
        """The call's arguments bound to the class's constructor; a mismatch is reported (None)."""
        try:
            positional = [a for a in call.args if a.keyword is None and not a.star]
            if swap.keyword_only and positional:
                raise Mismatch("TF2N011", "positional arguments; it takes keywords only")
            if len(positional) > len(swap.signature):
                raise Mismatch("TF2N011", f"{len(positional)} positional arguments, at most {len(swap.signature)}")
            return bind(call, swap.signature + swap.keywords + tuple(self.spec.dropped), required=swap.required)
        except Mismatch as mismatch:
            ctx.report(_findings.RULES[mismatch.code], call, api=swap.name, reason=mismatch.reason)
            return None

    def dropped(self, ctx, call: cst.Call, swap: Swap, bound: Bound) -> set[int] | None:
        """Indices of the keywords to drop; None (reported) when one holds more than its no-op default."""
        for argument, default in self.spec.dropped.items():
            if argument in bound and not is_literal(bound.value(argument), default):
                assert self.spec.dropped_rule is not None
                ctx.report(self.spec.dropped_rule, call, cls=swap.name, argument=argument,
                           fix=self.spec.dropped_fixes[argument], **swap.fields)
                return None
        return {bound.index[a] for a in self.spec.dropped if a in bound}

    @staticmethod
    def rescue_dropped(ctx, call: cst.Call, dropped: set[int], kept: list[int]) -> None:
        """The comments of dropped arguments whose place goes move above the statement."""
        for index in sorted(dropped - _calls.kept_in_place(call, set(kept))):
            ctx.rescue_comments(call, call.args[index])
