"""The widely copied hand-written TF1 `class BNLSTMCell(RNNCell)` (recurrent batch norm) defined in a file ->
its instantiations there become `tf2norm.replacements.BatchNormLSTMCell(...)`, in both targets.

TF 1.x had no batch-normalised LSTM; one `BNLSTMCell` was copied from repository to repository
(NUMERICS.md section 3; the TF1 cell is written out in fixtures/tf1/hand_rolled_bn_lstm.py). A
class is that cell when it is named `BNLSTMCell`, derives from TF1's `RNNCell` (however imported,
or through a class of the file), and its source says so:

* `__init__(self, num_units, is_training_tensor, max_bn_steps, initial_scale=0.1,
  activation=tf.tanh, decay=0.95)`, optionally with a trailing `forget_bias=...` (other literal
  defaults are fine: they are written into the new calls);
* it batch-normalises three terms, calling a method of its own with the scope names `'xh'`
  (with `no_offset=True`), `'hh'` and `'c'`, and creates `W_xh`, `W_hh`, `scale`, `offset`,
  `pop_mean` and `pop_var` (TF1's variable names, which the replacement keeps);
* it splits the gates as `f, i, o, j = tf.split(...)` and never stops normalising after a
  number of steps (no `tf.cond` on `max_bn_steps`; one copy does that).

Each `BNLSTMCell(num_units, is_training_tensor, max_bn_steps, ...)` call in the file becomes
`BatchNormLSTMCell(num_units, max_bn_steps=..., training=is_training_tensor, ...)`, plus any
default of the class (or its `_batch_norm`'s `epsilon`) that differs from the replacement's. The
class itself is user code: it is reported (now unused), never deleted. A class named BNLSTMCell
that fails a check is reported with the reason and nothing is changed; so is a use of the class
that is not a plain call (passed as a value, subclassed, star-args). Calls in other files that
import the class are not visible here: the class is then reported as not instantiated.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters import _calls, _findings, _tf1_cells
from tf2norm.rewriters._context import MigratedCell
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._rewriter import PlanRewriter
from tf2norm.rewriters._signature import Mismatch, bind, code, literal

# The cell is a user class: what ties it to TF1 is its base, TF1's RNNCell.
LEGACY = _tf1_cells.BASES

CLASS_NAME = "BNLSTMCell"
REPLACEMENT = "BatchNormLSTMCell"
#: The copied constructor, after self; `forget_bias` may follow (some copies added it).
SIGNATURE = ("num_units", "is_training_tensor", "max_bn_steps", "initial_scale", "activation", "decay")
OPTIONAL = ("forget_bias",)
#: The TF1 argument -> BatchNormLSTMCell's.
RENAMED = {"num_units": "num_units", "is_training_tensor": "training", "max_bn_steps": "max_bn_steps",
           "initial_scale": "initial_scale", "activation": "activation", "decay": "decay",
           "forget_bias": "forget_bias", "epsilon": "epsilon"}
#: BatchNormLSTMCell's defaults: a class default equal to these is not written out.
DEFAULTS = {"initial_scale": 0.1, "decay": 0.95, "forget_bias": 0.0, "epsilon": 1e-5}
TANH = frozenset({"tensorflow.tanh", "tensorflow.nn.tanh", "tensorflow.math.tanh"})
VARIABLES = ("W_xh", "W_hh", "scale", "offset", "pop_mean", "pop_var")

RULES = rules(
    Rule("TF2N851", "class BNLSTMCell (the widely copied TF1 recurrent batch-norm LSTM cell) is no longer used: its "
                    "{count} instantiation(s) in this file became tf2norm.replacements.BatchNormLSTMCell; the class "
                    "was left in place",
                    "delete the class once nothing imports it (its TF1 RNNCell base raises on Keras 3, so the file "
                    "only imports without it); TF1 wrappers around the new cells tf2norm could follow became "
                    "tf2norm's; convert the TF1 checkpoints with `tf2norm checkpoint convert` (group kind "
                    "bn_lstm_cell)"),
    Rule("TF2N852", "class BNLSTMCell differs from the widely copied TF1 cell ({reason}); it and its uses were left "
                    "unchanged",
                    "if it computes what tf2norm.replacements.BatchNormLSTMCell's docstring specifies, construct "
                    "BatchNormLSTMCell(num_units, max_bn_steps, training=...) yourself"),
    Rule("TF2N853", "BNLSTMCell {usage}: only calls can be rewritten; left unchanged, so the class stays in use",
                    "call tf2norm.replacements.BatchNormLSTMCell(num_units, max_bn_steps=..., training=...) here "
                    "instead"),
    Rule("TF2N854", "class BNLSTMCell (the widely copied TF1 recurrent batch-norm LSTM cell) is not instantiated in "
                    "this file; calls in the files that import it are not rewritten",
                    "replace BNLSTMCell(num_units, is_training_tensor, max_bn_steps, ...) there by "
                    "tf2norm.replacements.BatchNormLSTMCell(num_units, max_bn_steps=..., training=is_training_tensor, "
                    "...)"),
)


def plan(ctx) -> None:
    for node in ctx.names.of_kind(cst.ClassDef):
        if node.name.value == CLASS_NAME:
            _plan_class(ctx, node)
    # The bases are never rewritten, so one bound more than once (try/except imports) is no reason
    # for the shared "left unchanged, bind it once" finding (TF2N012).
    for node in list(ctx.names.contexts):
        if isinstance(node, (cst.Name, cst.Attribute)) and node not in ctx.handled \
                and ctx.names.qualified(node) is None and _tf1_cells.possible_bases(ctx, node):
            ctx.handled.add(node)


REWRITER = PlanRewriter(LEGACY, RULES, plan)


def _plan_class(ctx, classdef: cst.ClassDef) -> None:
    if not any(_is_tf1_cell(ctx, arg.value) for arg in classdef.bases):
        return  # a Keras layer, a torch module, ...: another class that happens to share the name
    # The class stays as it is, base included (every finding below says so): tf1_rnn_cells would
    # give it tf2norm's RNNCell.
    _tf1_cells.keep_bases(ctx, classdef)
    params, defaults, reason = _copied_cell(ctx, classdef)
    if reason is not None:
        ctx.report(RULES["TF2N852"], classdef.name, reason=reason)
        return
    uses = _uses(ctx, classdef)
    rewritten = 0
    for name in uses:
        parent = ctx.names.parents.get(name)
        if isinstance(parent, cst.Call) and parent.func is name:
            rewritten += _rewrite_call(ctx, parent, params, defaults)
        else:
            ctx.report(RULES["TF2N853"], name, usage=_usage(ctx, name))
    if not uses:
        ctx.report(RULES["TF2N854"], classdef.name)
    elif rewritten == len(uses):
        ctx.report(RULES["TF2N851"], classdef.name, count=rewritten)


def _is_tf1_cell(ctx, base: cst.BaseExpression) -> bool:
    # `object` and other builtins are no TF1 cell (and have no defining node to look into).
    if (ctx.names.qualified(base) or "").startswith("builtins."):
        return False
    return _tf1_cells.base_of(ctx, base) is not None


def _uses(ctx, classdef: cst.ClassDef) -> list[cst.Name]:
    """The loads of the class's name outside its own body (`super(BNLSTMCell, self)` is not a use)."""
    scope = ctx.names.scopes.get(classdef)
    if scope is None:
        return []
    found = []
    for assignment in scope.assignments[classdef.name.value]:
        if assignment.node is not classdef:
            continue
        for access in assignment.references:
            node = access.node
            if isinstance(node, cst.Name) and classdef not in ctx.names.ancestors(node):
                found.append(node)
    return found


# -------------------------------------------------------------------------- recognising the class


def _copied_cell(ctx, classdef: cst.ClassDef):
    """(its parameters, the defaults to write into the calls, None) for the copied cell, else
    (None, None, reason)."""
    init = next((s for s in classdef.body.body if isinstance(s, cst.FunctionDef) and s.name.value == "__init__"), None)
    if init is None:
        return None, None, "it has no __init__"
    params = init.params
    names = tuple(p.name.value for p in params.params)
    expected = ("self",) + SIGNATURE
    if params.star_arg not in (None, cst.MaybeSentinel.DEFAULT) or params.star_kwarg is not None \
            or params.kwonly_params or params.posonly_params \
            or names not in (expected, expected + OPTIONAL) \
            or any(p.default is not None for p in params.params[:4]) \
            or any(p.default is None for p in params.params[4:]):
        shown = ", ".join(names[1:])
        return None, None, (f"its __init__ takes ({shown}), not (num_units, is_training_tensor, max_bn_steps, "
                      "initial_scale=0.1, activation=tf.tanh, decay=0.95[, forget_bias=...])")
    defaults = {}
    for param in params.params[4:]:
        name = param.name.value
        if name == "activation":
            if ctx.names.canonical(param.default) not in TANH:
                defaults[name] = param.default
            continue
        assert param.default is not None  # the signature check above: these parameters have defaults
        value = literal(param.default)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return None, None, f"its {name} default {code(param.default)} is not a number"
        if value != DEFAULTS[name]:
            defaults[name] = param.default
    calls, strings = _scan(ctx, classdef)
    groups = {}
    for call in calls:
        scope_name = literal(call.args[1].value) if len(call.args) > 1 and call.args[1].keyword is None else None
        if scope_name in ("xh", "hh", "c"):
            groups[scope_name] = call
    missing = [g for g in ("xh", "hh", "c") if g not in groups]
    if missing:
        terms = {"xh": "input-to-hidden", "hh": "hidden-to-hidden", "c": "cell"}
        missed = ", ".join(terms[g] for g in missing)
        return None, None, f"it does not batch-normalise the {missed} term (no {missing[0]!r})"
    if not _keyword_is(groups["xh"], "no_offset", True) or _keyword_is(groups["hh"], "no_offset", True) \
            or _keyword_is(groups["c"], "no_offset", True):
        return None, None, "its offsets differ (only 'xh' may pass no_offset=True)"
    absent = [v for v in VARIABLES if v not in strings]
    if absent:
        return None, None, f"its variables are not named as the copied cell's (no {absent[0]!r})"
    split = _split_order(ctx, classdef)
    if split != ("f", "i", "o", "j"):
        return None, None, f"its gates are split as ({', '.join(split) if split else 'unknown'}), not (f, i, o, j)"
    if _stops_normalising(ctx, classdef):
        return None, None, "a tf.cond on max_bn_steps stops normalising after max_bn_steps - 1 steps"
    epsilon = _batch_norm_epsilon(ctx, classdef, groups["xh"])
    if isinstance(epsilon, str):
        return None, None, epsilon
    if epsilon is not None:
        defaults["epsilon"] = epsilon
    return names[1:], defaults, None


def _scan(ctx, classdef):
    """`self.<method>(...)` calls and every string literal in the class."""
    calls, strings = [], set()
    for node in ctx.names.descendants(classdef):
        if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) \
                and isinstance(node.func.value, cst.Name) and node.func.value.value == "self":
            calls.append(node)
        elif isinstance(node, cst.SimpleString):
            value = literal(node)
            if isinstance(value, str):
                strings.add(value)
    return calls, strings


def _keyword_is(call: cst.Call, name: str, value) -> bool:
    return any(a.keyword is not None and a.keyword.value == name and literal(a.value, object()) is value
               for a in call.args)


def _split_order(ctx, classdef):
    """The names `a, b, c, d = tf.split(...)` assigns in the class (None if there is no such split)."""
    for node in ctx.names.descendants(classdef):
        if isinstance(node, cst.Assign) and isinstance(node.value, cst.Call) \
                and ctx.names.canonical(node.value.func) == "tensorflow.split" and len(node.targets) == 1 \
                and isinstance(node.targets[0].target, (cst.Tuple, cst.List)):
            elements = node.targets[0].target.elements
            return tuple(e.value.value if isinstance(e.value, cst.Name) else "?" for e in elements)
    return None


def _stops_normalising(ctx, classdef) -> bool:
    for node in ctx.names.descendants(classdef):
        if isinstance(node, cst.Call) and ctx.names.canonical(node.func) == "tensorflow.cond" and node.args:
            predicate = node.args[0].value
            if any(isinstance(n, (cst.Name, cst.Attribute)) and "max_bn_steps" in code(n)
                   for n in ctx.names.descendants(predicate)):
                return True
    return False


def _batch_norm_epsilon(ctx, classdef, call: cst.Call):
    """The batch-norm method's `epsilon` default when it is not 1e-5 (None when it is), or a reason."""
    assert isinstance(call.func, cst.Attribute)  # `self.<method>(...)`, as _scan found it
    method = call.func.attr.value
    for statement in classdef.body.body:
        if isinstance(statement, cst.FunctionDef) and statement.name.value == method:
            for param in statement.params.params:
                if param.name.value == "epsilon" and param.default is not None:
                    value = literal(param.default)
                    if not isinstance(value, (int, float)) or isinstance(value, bool):
                        return f"its epsilon default {code(param.default)} is not a number"
                    return None if value == DEFAULTS["epsilon"] else param.default
    return None


# ----------------------------------------------------------------------------------- the calls


def _rewrite_call(ctx, call: cst.Call, params: tuple[str, ...], defaults: dict) -> int:
    """1 when the call was planned for rewriting, 0 when it was reported instead."""
    try:
        bound = bind(call, params, required=3)
    except Mismatch as mismatch:
        ctx.report(_findings.RULES[mismatch.code], call, api=CLASS_NAME, reason=mismatch.reason)
        return 0

    def build(updated: cst.Call) -> cst.Call:
        items: list[tuple[cst.Arg, int | None]] = []
        for name, i in sorted(bound.index.items(), key=lambda item: item[1]):
            arg = updated.args[i]
            if name == "num_units" and arg.keyword is None:
                items.append((arg, i))
            else:
                items.append((_calls.keyword(RENAMED[name], arg.value, like=arg), i))
        for name, value in defaults.items():
            if name not in bound.index:
                items.append((_calls.keyword(RENAMED[name], value.deep_clone()), None))
        return updated.with_changes(func=ctx.replacement(REPLACEMENT), args=_calls.relaid(updated, items))

    ctx.edit(call, build, consumes=call.func)
    # rnn_cell_wrappers migrates the MultiRNNCell / DropoutWrapper / dynamic_rnn around this cell.
    ctx.cells[call.func] = MigratedCell(params)
    return 1


def _usage(ctx, node: cst.Name) -> str:
    parent = ctx.names.parents.get(node)
    if isinstance(parent, cst.Arg):
        owner = ctx.names.parents.get(parent)
        if isinstance(owner, cst.ClassDef):
            return f"is subclassed by class {owner.name.value}"
        if isinstance(owner, cst.Call):
            return f"is passed to {code(owner.func)}()"
    if isinstance(parent, (cst.Assign, cst.AssignTarget)):
        return "is assigned to a name"
    return "is used as a value"
