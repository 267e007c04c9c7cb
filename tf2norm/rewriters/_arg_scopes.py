"""`with slim.arg_scope([slim.batch_norm, ...], is_training=t, decay=0.9):` kept working after migration.

arg_scope gives default arguments to the functions it lists, for every call made while the block
runs, wherever the call is written: directly, as a layer's `normalizer_fn`, in helpers of other
modules, in slim's own nets. tf2norm's `batch_norm` and `layer_norm` are tf_slim arg_scope
functions (tf2norm.replacements.contrib_slim) and contrib_slim turns the arg_scope into tf_slim's,
so the list names tf2norm's function instead of slim's, and the arg_scope stays: it reaches every
call of the replacement as it reached TF1's function. An arg_scope is never removed or emptied.

The keras target turns direct calls into Keras layers, which no arg_scope reaches: a direct call
inside the block gets the defaults as explicit arguments (its own arguments win); where the block may
reach such a call out of tf2norm's sight (a helper of another module or a function value, a scope
kept with `as`, defaults hidden in `**kwargs`), the list entry is reported. The compat target's
calls are all tf2norm's function, which the arg_scope reaches: nothing to report there.

An arg_scope is recognised as contrib's, slim's or tf_slim's function however it is reached, an
alias of it (`arg_scope = contrib_framework.arg_scope`), or a function named `arg_scope` imported
from another module of the project (`from ops import arg_scope`, as model zoos define it).
"""

from __future__ import annotations

import dataclasses
import sys

import libcst as cst

from tf2norm.rewriters._findings import Rule
from tf2norm.rewriters._signature import code

#: contrib's arg_scope (slim's is the same function) and tf_slim's, which contrib_slim migrates it to.
ARG_SCOPES = frozenset({
    "tensorflow.contrib.framework.arg_scope",
    "tensorflow.contrib.slim.arg_scope",
    "tensorflow.contrib.framework.python.ops.arg_scope.arg_scope",
    "tensorflow.contrib.slim.python.slim.arg_scope",
    "tf_slim.arg_scope",
    "tf_slim.ops.arg_scope.arg_scope",
})
_SAFE_MODULES = ("tensorflow", "tf_slim", "numpy", "builtins", *sys.stdlib_module_names)


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the arg_scope machinery needs to know about one legacy function."""

    legacy: frozenset[str]  # canonical names of the function
    compat: str  # tf2norm.replacements' arg_scope function that takes its place in the list
    rule: Rule  # reported (keras target) where the block may reach a call that became a Keras layer

    @property
    def name(self) -> str:
        """The function's own name, for messages (`batch_norm`)."""
        return min(self.legacy).rsplit(".", 1)[-1]


@dataclasses.dataclass
class _Block:
    with_node: cst.With
    entries: list[cst.BaseExpression]
    defaults: dict[str, cst.BaseExpression]
    reasons: list[str] = dataclasses.field(default_factory=list)


_DEFS = (cst.FunctionDef, cst.Lambda, cst.ClassDef)


def plan(ctx, spec: Spec) -> dict[cst.Call, dict[str, cst.BaseExpression]]:
    """Plans the list entries; returns, for each direct call inside such blocks, its inherited defaults."""
    blocks = sorted(_blocks(ctx, spec), key=lambda b: len(list(ctx.names.ancestors(b.with_node))))
    direct: dict[cst.Call, dict[str, cst.BaseExpression]] = {}
    looked_into: dict[cst.FunctionDef, bool] = {}  # functions of the file: do they reach the function?
    for block in blocks:  # outer blocks first: an inner block's defaults win
        for call in ctx.names.descendants(block.with_node.body, _DEFS):
            if not isinstance(call, cst.Call):
                continue
            if ctx.names.canonical(call.func) in spec.legacy:
                direct[call] = {**direct.get(call, {}), **block.defaults}
            elif ctx.target == "keras":
                reason = _opaque(ctx, spec, call, looked_into)
                if reason:
                    block.reasons.append(reason)
    for block in blocks:
        for entry in block.entries:
            ctx.edit(entry, lambda _: ctx.replacement(spec.compat), consumes=entry)
            if ctx.target == "keras" and block.reasons:
                ctx.report(spec.rule, entry, reason=block.reasons[0])
    return direct


def is_arg_scope(ctx, func: cst.BaseExpression) -> bool:
    """contrib's, slim's or tf_slim's arg_scope, or an `arg_scope` imported from another module."""
    if ctx.names.canonical(func) in ARG_SCOPES:
        return True
    qualified = ctx.names.qualified(func)
    return qualified is not None and qualified.rsplit(".", 1)[-1] == "arg_scope"


def _blocks(ctx, spec: Spec):
    for node in ctx.names.of_kind(cst.With):
        for item in node.items:
            call = item.item
            if not isinstance(call, cst.Call) or not is_arg_scope(ctx, call.func):
                continue
            ops = call.args[0].value if call.args and call.args[0].keyword is None else None
            listed = _keyword(call, "list_ops_or_scope")
            ops = listed.value if listed else ops
            if not isinstance(ops, (cst.List, cst.Tuple)):
                continue
            entries = [e.value for e in ops.elements if ctx.names.canonical(e.value) in spec.legacy]
            if not entries:
                continue
            block = _Block(node, entries,
                           {a.keyword.value: a.value for a in call.args if a.keyword is not None
                            and a.keyword.value != "list_ops_or_scope"})
            if any(a.star for a in call.args):
                block.reasons.append("**kwargs hide its defaults")
            if item.asname is not None:
                block.reasons.append("its scope is kept with `as` and may be entered elsewhere")
            yield block


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def _opaque(ctx, spec: Spec, call: cst.Call, looked_into: dict) -> str | None:
    """Why `call` may reach a direct call of the legacy function out of tf2norm's sight, or None.

    TensorFlow (slim's layers, repeat, nets: they reach batch_norm only through normalizer_fn, which
    becomes tf2norm's function), tf_slim, NumPy and the standard library are safe; a function of this
    file is looked into.
    """
    func = call.func
    name = ctx.names.canonical(func)
    if name is not None:
        if name.split(".")[0] in _SAFE_MODULES:
            return None
        return f"it calls {code(func)}(), which may call {spec.name}"
    root = func
    while isinstance(root, cst.Attribute):
        root = root.value
    if isinstance(func, cst.Attribute) and not (isinstance(root, cst.Name) and root.value in ("self", "cls")):
        return None  # a method of a local value (a tensor, a list): not a layer function
    definition = _local_function(ctx, func)
    if definition is not None:
        if definition not in looked_into:
            looked_into[definition] = False  # a recursive call adds nothing
            looked_into[definition] = any(
                isinstance(inner, cst.Call) and (ctx.names.canonical(inner.func) in spec.legacy
                                                 or _opaque(ctx, spec, inner, looked_into) is not None)
                for inner in ctx.names.descendants(definition.body))
        return f"it calls {code(func)}(), which calls {spec.name}" if looked_into[definition] else None
    # A function value (a lambda, a functools.partial), a method of self.
    return f"it calls {code(func)}(), which may call {spec.name}"


def _local_function(ctx, func: cst.BaseExpression) -> cst.FunctionDef | None:
    """The one `def` of this file a plain name refers to, else None."""
    if not isinstance(func, cst.Name):
        return None
    assignment = ctx.names.binding(func)
    node = getattr(assignment, "node", None)
    return node if isinstance(node, cst.FunctionDef) else None
