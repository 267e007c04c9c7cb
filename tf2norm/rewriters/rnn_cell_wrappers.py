"""Legacy `MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper`, `DeviceWrapper`, `LSTMStateTuple`, `tf.nn.dynamic_rnn`
(and `bidirectional_dynamic_rnn`) -> tf2norm.replacements' own, `LayerNormBasicLSTM`, `tf.compat.v1.nn.dynamic_rnn`.

The TF1 wrappers raise "not available with Keras 3" on TF 2.16+, whatever they wrap; tf2norm's take
any cell TF1 code can call as `cell(x, state)` (its own cells, hand-written cells on its `RNNCell`,
cells built in another module) with TF1's scoping and numbers, so every wrapper is migrated, and a
wrapped cell tf2norm cannot migrate is reported where it is built (its own rewriter's finding).
`LSTMStateTuple` becomes tf2norm's, which is TensorFlow's own class (so `isinstance` holds against
states other code makes).

`dynamic_rnn` left the TF2 namespace but `tf.compat.v1.nn.dynamic_rnn` runs any cell that is
callable as `cell(x, state)`; it is rewritten where it runs cells that were migrated: those of the
other rewriters, `ctx.cells` (every API with `cells` in tf2norm.apis runs first: LayerNormBasicLSTMCell
calls, which may also become the cell's sequence layer, TF1's core cells, a hand-written BNLSTMCell
turned into BatchNormLSTMCell), and the wrappers, followed through names, lists,
`cells.append(cell)`, comprehensions, helper functions returning cells and `self.cell` attributes.

Keras target: `dynamic_rnn(cell, x, ...)` over one migrated LayerNormBasicLSTMCell (built inline, or
a name bound once to one that nothing else calls: `cell.zero_state(...)`, `state_size` and
`output_size` may be read) becomes the fast sequence layer over that cell, with dynamic_rnn's TF1
contract (returns `outputs, LSTMStateTuple(c, h)`, TF1's dropout rule):

    tf.nn.dynamic_rnn(cell, x, lengths, dtype=tf.float32, scope="enc")
    -> LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, sequence_length=lengths)

`sequence_length`, `initial_state` and `time_major` are kept (as keywords). `dtype` is dropped when
it is float32: the layer computes in the cell's dtype (float32 unless the cell is built with
`dtype=`); any other dtype is kept, so that `dynamic_rnn` checks it and a float64 program fails
loudly instead of losing precision. `parallel_iterations` and `swap_memory` (performance hints of
TF1's while loop) are dropped. `scope` is kept: in a tf.compat.v1 graph the layer's dynamic_rnn runs
TF1's own dynamic_rnn under it, so the variables keep TF1's names and a Saver checkpoint restores.
Variables are shared by scope only across cell objects: in a file that reuses variable
scopes (`variable_scope(reuse=...)`, `reuse_variables()`), or for a cell built with `reuse=`,
`dynamic_rnn` stays `tf.compat.v1.nn.dynamic_rnn`, whose cell creates TF1's variables in graph
mode. So do MultiRNNCell, DropoutWrapper, cells tf2norm cannot follow, bidirectional_dynamic_rnn,
and the compat target. Callers in other files that reuse the scope need no check: in a graph the
layer's dynamic_rnn is TF1's, whose cell shares TF1's variables by scope as TF1 did.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import BaseAssignment, ImportAssignment

from tf2norm.rewriters import _calls, _findings
from tf2norm.rewriters._context import MigratedCell
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._rewriter import PlanRewriter
from tf2norm.rewriters._signature import Mismatch, bind, code, is_literal

_MODULES = ("tensorflow.contrib.rnn", "tensorflow.nn.rnn_cell", "tensorflow.python.ops.rnn_cell_impl",
            "tensorflow.python.ops.rnn_cell")
# name -> (TF1 signature, the arguments holding the wrapped cells)
WRAPPERS = {
    "MultiRNNCell": (("cells", "state_is_tuple"), ("cells",)),
    "DropoutWrapper": (("cell", "input_keep_prob", "output_keep_prob", "state_keep_prob", "variational_recurrent",
                        "input_size", "dtype", "seed", "dropout_state_filter_visitor"), ("cell",)),
    "ResidualWrapper": (("cell", "residual_fn"), ("cell",)),
    "DeviceWrapper": (("cell", "device"), ("cell",)),
}
# DropoutWrapper arguments tf2norm's version lacks, with the TF1 default that may be dropped.
DROPOUT_UNSUPPORTED = {"variational_recurrent": False, "input_size": None, "dtype": None,
                       "dropout_state_filter_visitor": None}
RNN_FUNCTIONS = {
    "tensorflow.nn.dynamic_rnn": (("cell", "inputs"), ("cell",)),
    "tensorflow.nn.bidirectional_dynamic_rnn": (("cell_fw", "cell_bw", "inputs"), ("cell_fw", "cell_bw")),
}
LEGACY = frozenset({f"{m}.{n}" for m in _MODULES for n in (*WRAPPERS, "LSTMStateTuple")} | set(RNN_FUNCTIONS))

# TF 1.15's dynamic_rnn; what LayerNormBasicLSTM.dynamic_rnn does not take; defaults not written out.
DYNAMIC_RNN = ("cell", "inputs", "sequence_length", "initial_state", "dtype", "parallel_iterations",
               "swap_memory", "time_major", "scope")
DROPPED = ("parallel_iterations", "swap_memory")
DROPPED_DEFAULTS = {"sequence_length": None, "initial_state": None, "time_major": False}
FLOAT32 = frozenset({"tensorflow.float32", "tensorflow.dtypes.float32", "numpy.float32"})
# Reading these does not call the cell, so they do not stop dynamic_rnn from becoming the layer.
CELL_READS = frozenset({"zero_state", "state_size", "output_size"})

_NESTED = (cst.FunctionDef, cst.Lambda, cst.ClassDef)  # their bodies run later, not here

RULES = rules(
    Rule("TF2N302", "DropoutWrapper({argument}=...): tf2norm.replacements.DropoutWrapper has no {argument}; left "
                    "unchanged",
                    "drop the argument"),
    Rule("TF2N303", "{api}: spelled without a `tensorflow` module before `.nn`; left unchanged",
                    "write tf.compat.v1.nn.{name}"),
    Rule("TF2N304", "MultiRNNCell(state_is_tuple=...): tf2norm.replacements.MultiRNNCell keeps states as tuples only "
                    "(TF1 deprecated concatenated states); left unchanged",
                    "use state_is_tuple=True and index the state tuple"),
)


def plan(ctx) -> None:
    references = [(n, name) for n, name in ctx.names.references(LEGACY.__contains__) if n not in ctx.handled]
    wrapper_calls = {}
    for node, name in references:
        parent = ctx.names.parents.get(node)
        if isinstance(parent, cst.Call) and parent.func is node and name.rsplit(".", 1)[-1] in WRAPPERS:
            wrapper_calls[parent] = _cell_arguments(parent, WRAPPERS[name.rsplit(".", 1)[-1]])
    # Every wrapper is migrated, so a dynamic_rnn over one runs migrated code.
    taint = _Taint(ctx, set(ctx.cells) | set(wrapper_calls), wrapper_calls)
    layer_calls = _layer_calls(ctx, references) if ctx.target == "keras" else {}
    for node, name in references:
        short = name.rsplit(".", 1)[-1]
        parent = ctx.names.parents.get(node)
        called = isinstance(parent, cst.Call) and parent.func is node
        if short == "LSTMStateTuple":
            ctx.edit(node, lambda _: ctx.replacement("LSTMStateTuple"), consumes=node)
        elif name in RNN_FUNCTIONS:
            raw = ctx.names.qualified(node)
            if called and parent in layer_calls:
                _layer(ctx, parent, *layer_calls[parent])
            elif called and not raw.startswith("tensorflow.compat.") \
                    and taint.any(_cell_arguments(parent, RNN_FUNCTIONS[name])):
                _compat_v1(ctx, node, short)
        elif called:
            _wrapper(ctx, parent, short)
        else:
            ctx.edit(node, lambda _, short=short: ctx.replacement(short), consumes=node)


REWRITER = PlanRewriter(LEGACY, RULES, plan)


def _cell_arguments(call: cst.Call, spec) -> list[cst.BaseExpression]:
    """The expressions passed as the cell arguments of `call` (all of them if it uses star-args)."""
    params, cells = spec
    if any(a.star for a in call.args):
        return [a.value for a in call.args]
    found = []
    for i, arg in enumerate(call.args):
        name = arg.keyword.value if arg.keyword is not None else (params[i] if i < len(params) else None)
        if name in cells:
            found.append(arg.value)
    return found


def _wrapper(ctx, call: cst.Call, short: str) -> None:
    signature = WRAPPERS[short][0]
    drop = set()
    if short == "MultiRNNCell":
        try:
            bound = bind(call, signature, required=1)
        except Mismatch as mismatch:
            return ctx.report(_findings.RULES[mismatch.code], call, api="MultiRNNCell", reason=mismatch.reason)
        if "state_is_tuple" in bound and not is_literal(bound.value("state_is_tuple"), True):
            return ctx.report(RULES["TF2N304"], call)
    if short == "DropoutWrapper":
        try:
            bound = bind(call, signature, required=1)
        except Mismatch as mismatch:
            return ctx.report(_findings.RULES[mismatch.code], call, api="DropoutWrapper", reason=mismatch.reason)
        for name, default in DROPOUT_UNSUPPORTED.items():
            if name in bound:
                if not is_literal(bound.value(name), default):
                    return ctx.report(RULES["TF2N302"], call, argument=name)
                drop.add(bound.index[name])
    ctx.edit(call.func, lambda _: ctx.replacement(short), consumes=call.func)
    if drop:
        for index in drop:
            ctx.rescue_comments(call, call.args[index])

        def without_unsupported(updated: cst.Call) -> cst.Call:
            # Positional arguments after a dropped one must become keywords.
            items, gap = [], False
            for i, arg in enumerate(updated.args):
                if i in drop:
                    gap = True
                    continue
                if gap and arg.keyword is None:
                    arg = _calls.keyword(signature[i], arg.value)
                items.append((arg, i))
            return updated.with_changes(args=_calls.relaid(updated, items))

        ctx.edit(call, without_unsupported)


def _compat_v1(ctx, node: cst.BaseExpression, short: str) -> None:
    nn = node.value if isinstance(node, cst.Attribute) else None
    if not (isinstance(nn, cst.Attribute) and nn.attr.value == "nn" and ctx.names.qualified(nn.value) == "tensorflow"):
        return ctx.report(RULES["TF2N303"], node, api=code(node), name=short)
    ctx.edit(node, lambda updated: cst.parse_expression(f"{code(updated.value.value)}.compat.v1.nn.{short}"))


def _layer_calls(ctx, references) -> dict:
    """The dynamic_rnn calls that become LayerNormBasicLSTM, each with its arguments bound.

    Reports the calls over one cell that cannot be bound (they stay tf.compat.v1.nn.dynamic_rnn).
    """
    if ctx.reuses_variable_scopes():
        return {}
    calls: dict[cst.Call, tuple] = {}
    by_binding: dict[object, list[cst.Call]] = {}
    for node, name in references:
        call = ctx.names.parents.get(node)
        if name != "tensorflow.nn.dynamic_rnn" or not (isinstance(call, cst.Call) and call.func is node):
            continue
        first = call.args[0] if call.args else None
        try:
            bound = bind(call, DYNAMIC_RNN, required=2)
        except Mismatch as mismatch:
            single = _single_cell(ctx, first.value) \
                if first is not None and not first.star and first.keyword is None else None
            if single is not None:
                ctx.report(_findings.RULES[mismatch.code], call, api=f"dynamic_rnn -> {single[1].sequence_layer}",
                           reason=mismatch.reason)
            continue
        cell_argument = bound.value("cell")
        single = _single_cell(ctx, cell_argument) if cell_argument is not None else None
        if single is not None:
            binding, cell = single
            calls[call] = (bound, cell.sequence_layer)
            by_binding.setdefault(binding, []).append(call)
    for binding, users in by_binding.items():
        if not isinstance(binding, BaseAssignment):  # _INLINE
            continue
        cell_arguments = {calls[c][0].value("cell") for c in users}
        for access in binding.references:
            parent = ctx.names.parents.get(access.node)
            if access.node in cell_arguments or isinstance(parent, cst.Attribute) and parent.value is access.node \
                    and parent.attr.value in CELL_READS:
                continue
            # Called or passed on elsewhere: in a tf.compat.v1 graph TF1-style calls create TF1's
            # variables, which the layer's Keras weights would not share.
            for c in users:
                del calls[c]
            break
    return calls


_INLINE = object()


def _single_cell(ctx, cell: cst.BaseExpression) -> tuple[object, MigratedCell] | None:
    """(`_INLINE` for a migrated cell constructed right there, or the assignment for a name bound once
    to one; the cell) for a cell a sequence layer can run, else None. A cell built with TF1's `reuse=`
    shares variables by scope: None."""
    binding = _INLINE
    if isinstance(cell, cst.Name):
        binding = ctx.names.binding(cell)
        statement = None if binding is None else ctx.names.assign_of(binding)
        if statement is None:
            return None
        cell = statement.value
    migrated = ctx.cells.get(cell.func) if isinstance(cell, cst.Call) else None
    if not isinstance(cell, cst.Call) or migrated is None or migrated.sequence_layer is None:
        return None
    try:
        constructor = bind(cell, migrated.signature, required=1)
    except Mismatch:
        return None
    if "reuse" in constructor and not is_literal(constructor.value("reuse"), None, False):
        return None
    return binding, migrated


def _layer(ctx, call: cst.Call, bound, sequence_layer: str) -> None:
    """`LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(inputs, ...)` (the cell's `sequence_layer`),
    arguments after inputs as keywords."""
    kept = []
    for name, index in sorted(bound.index.items(), key=lambda item: item[1]):
        value = bound.value(name)
        if name == "cell" or name in DROPPED \
                or name in DROPPED_DEFAULTS and is_literal(value, DROPPED_DEFAULTS[name]):
            continue
        if name == "dtype" and (is_literal(value, None, "float32") or ctx.names.canonical(value) in FLOAT32):
            continue
        kept.append((name, index))
    # Comments of what goes away move above the statement: the dropped arguments, the comma after the
    # cell (its value moves into from_cell() with its own comments) and, when the last argument goes,
    # the comma of the new last one, which takes the closing layout (trailing comma, line break).
    last, final = len(call.args) - 1, kept[-1][1]
    for name, index in bound.index.items():
        if name == "cell" or index == final != last:
            ctx.rescue_comments(call, call.args[index].comma)
        elif (name, index) not in kept:
            ctx.rescue_comments(call, call.args[index])

    def build(updated: cst.Call) -> cst.Call:
        items = []
        for name, index in kept:
            arg = updated.args[index]
            items.append((arg if name == "inputs" else _calls.keyword(name, arg.value, like=arg), index))
        if final != last:  # the dropped last argument's comments were moved up, not left to the new last
            tail = updated.args[last]
            updated = updated.with_changes(args=[*updated.args[:last], tail.with_changes(
                comma=_uncommented(tail.comma), whitespace_after_arg=_uncommented(tail.whitespace_after_arg))])
        cell = updated.args[bound.index["cell"]].value
        layer = cst.Call(func=cst.Attribute(value=ctx.replacement(sequence_layer), attr=cst.Name("from_cell")),
                         args=[cst.Arg(value=cell)])
        return cst.Call(func=cst.Attribute(value=layer, attr=cst.Name("dynamic_rnn")),
                        args=_calls.relaid(updated, items), whitespace_before_args=updated.whitespace_before_args,
                        lpar=updated.lpar, rpar=updated.rpar)

    ctx.handled.add(call.func)
    ctx.edit(call, build, consumes=call.func)


def _uncommented(node):
    """`node` (a comma or whitespace) without its comments."""
    return node.visit(_StripComments()) if isinstance(node, cst.CSTNode) else node


class _StripComments(cst.CSTTransformer):
    def leave_TrailingWhitespace(self, original, updated):
        return updated.with_changes(whitespace=cst.SimpleWhitespace(""), comment=None)

    def leave_EmptyLine(self, original, updated):
        return cst.RemoveFromParent() if updated.comment is not None else updated


class _Taint:
    """Which expressions hold a migrated cell: followed through names, containers, helpers."""

    def __init__(self, ctx, seeds, wrapper_calls: dict):
        self.ctx = ctx
        self.nodes = set(seeds)
        self._bindings: set = set()
        self._attributes: set[str] = set()
        self._visible: dict[cst.Name, set] = {}  # Name node -> the assignments it may refer to
        self._below: dict[cst.CSTNode, list] = {}
        # Without a seed nothing is followed: most files hold no TF1 cell, and reading every binding
        # of every scope is most of this rewriter's time there.
        sources = list(self._sources()) if self.nodes else []
        changed = bool(self.nodes)
        while changed:
            changed = False
            for key, expressions in sources:
                if key not in self._bindings and key not in self._attributes and self.any(expressions):
                    (self._attributes if isinstance(key, str) else self._bindings).add(key)
                    changed = True
            for call, cells in wrapper_calls.items():
                if call not in self.nodes and self.any(cells):
                    self.nodes.add(call)
                    changed = True

    def any(self, expressions) -> bool:
        return any(self._holds(e) for e in expressions if e is not None)

    def _holds(self, expression: cst.CSTNode) -> bool:
        if expression not in self._below:
            self._below[expression] = list(self.ctx.names.descendants(expression))
        for node in self._below[expression]:
            if node in self.nodes:
                return True
            if isinstance(node, cst.Name) and self.ctx.names.is_load(node):
                if any(a in self._bindings for a in self._assignments(node)):
                    return True
            elif isinstance(node, cst.Attribute) and node.attr.value in self._attributes \
                    and self.ctx.names.is_load(node):
                return True
        return False

    def _assignments(self, name: cst.Name):
        if name not in self._visible:
            scope = self.ctx.names.scopes.get(name)
            self._visible[name] = set(scope[name.value]) if scope is not None else set()
        return self._visible[name]

    def _sources(self):
        """(assignment or attribute name, expressions whose value it may take)."""
        names = self.ctx.names
        for scope in {s for s in names.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                if isinstance(assignment, ImportAssignment):
                    continue
                node = assignment.node
                if isinstance(node, cst.FunctionDef):
                    returns = [r.value for r in names.descendants(node.body, _NESTED)
                               if isinstance(r, cst.Return) and r.value is not None]
                    yield assignment, returns
                    if isinstance(names.parents.get(names.parents.get(node)), cst.ClassDef):
                        yield node.name.value, returns
                elif isinstance(node, cst.Name):
                    value = _bound_by(names, node)
                    if value is not None:
                        yield assignment, [value]
        for node in names.of_kind(cst.Call, cst.Assign):
            if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                    and node.func.attr.value in ("append", "extend", "insert") \
                    and isinstance(node.func.value, cst.Name):
                for assignment in self._assignments(node.func.value):
                    yield assignment, [a.value for a in node.args]
            elif isinstance(node, cst.Assign):
                for target in node.targets:
                    if isinstance(target.target, cst.Attribute):
                        yield target.target.attr.value, [node.value]
                    elif isinstance(target.target, cst.Subscript) and isinstance(target.target.value, cst.Name):
                        for assignment in self._assignments(target.target.value):
                            yield assignment, [node.value]


def _bound_by(names, target: cst.Name) -> cst.BaseExpression | None:
    """The expression an assignment target takes its value from (`x = v`, `for x in v`, `with v as x`)."""
    for ancestor in names.ancestors(target):
        if isinstance(ancestor, (cst.Assign, cst.AnnAssign, cst.AugAssign, cst.NamedExpr)):
            return ancestor.value
        if isinstance(ancestor, (cst.For, cst.CompFor)):
            return ancestor.iter
        if isinstance(ancestor, cst.WithItem):
            return ancestor.item
        if isinstance(ancestor, (cst.BaseStatement, cst.Param, cst.Lambda)):
            return None
    return None

