"""Legacy `tf.contrib.layers.layer_norm` / `slim.layer_norm` (however imported or aliased) ->
`keras.layers.LayerNormalization(axis=..., epsilon=1e-12)(x)` or `tf2norm.replacements.LayerNorm(...)(x)`.

Keras target: Keras' LayerNormalization normalises and scales over the same axes, TF1 over
`[begin_norm_axis, rank)` and `[begin_params_axis, rank)`. The call becomes
`keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, ...)` only when both are provably the same
axes without knowing the rank: both the same negative literal (`begin_norm_axis=-1` with the
default begin_params_axis, or `-2` and `-2`: `axis=[-2, -1]`); epsilon is always written, Keras'
default 1e-3 being a different layer. Every other call (TF1's default begin_norm_axis=1 included)
becomes `tf2norm.replacements.LayerNorm(begin_norm_axis=..., begin_params_axis=...)`, TF1's math
for any axes. `scope` -> `name`, `activation_fn` applied around the layer (passed as `activation=`
to LayerNorm when it may be None), `scope=` + `reuse=` sharing through `scoped_layer`.
Where layer_norm is passed as a value (`normalizer_fn=slim.layer_norm`, `functools.partial`) its
caller passes TF1 arguments, so both targets use the TF1-signature `tf2norm.replacements.layer_norm`.

Compat target: `tf2norm.replacements.layer_norm(...)` with the TF1 arguments untouched (TF1
variable names, for tf.compat.v1 graph code whose TF1 checkpoints must restore unchanged).
"""

from __future__ import annotations

import re

import libcst as cst

from tf2norm.rewriters import _arg_scopes, _calls, _findings, _layer_calls
from tf2norm.rewriters._signature import Mismatch, bind, is_literal, literal
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._rewriter import PlanRewriter

LEGACY = frozenset({
    "tensorflow.contrib.layers.layer_norm",
    "tensorflow.contrib.slim.layer_norm",
    "tensorflow.contrib.layers.python.layers.layer_norm",
    "tensorflow.contrib.layers.python.layers.layers.layer_norm",
})

# TF 1.15's signature (unchanged since 1.0 but for begin_norm_axis/begin_params_axis, added in 1.2);
# only `inputs` is required.
SIGNATURE = ("inputs", "center", "scale", "activation_fn", "reuse", "variables_collections", "outputs_collections",
             "trainable", "begin_norm_axis", "begin_params_axis", "scope")

_DEFAULT_SCOPE = re.compile(r"LayerNorm(_[0-9]+)?")  # variable_scope(None, default_name="LayerNorm")

DEFAULT_AXES = {"begin_norm_axis": 1, "begin_params_axis": -1}

# TF1 argument -> constructor argument (both layers); the axes only for LayerNorm.
RENAMED = {"begin_norm_axis": "begin_norm_axis", "begin_params_axis": "begin_params_axis", "center": "center",
           "scale": "scale", "trainable": "trainable", "scope": "name"}

# The emitted constructors' own argument order.
ORDER = ("axis", "begin_norm_axis", "begin_params_axis", "epsilon", "center", "scale", "activation", "trainable", "name")

# No Keras equivalent: the call is left unchanged unless they are absent or None.
NO_KERAS_EQUIVALENT = ("variables_collections", "outputs_collections")

RULES = rules(
    Rule("TF2N401", "layer_norm({argument}=...): Keras layers have no {argument}; left unchanged",
                    "drop the argument, or use --target compat"),
    Rule("TF2N402", "layer_norm: {reason}; Keras layers share weights by object, not by variable scope; left "
                    "unchanged",
                    "pass scope='...' so tf2norm can emit scoped_layer(), or use --target compat"),
    Rule("TF2N403", "layer_norm passed as a value ({usage}): its caller passes TF1 arguments, so it became "
                    "tf2norm.replacements.layer_norm (TF1 semantics, tf.compat.v1 graph mode), not a Keras layer",
                    "move to LayerNorm(...)(x) by hand when the caller is migrated"),
    Rule("TF2N404", "arg_scope over layer_norm: {reason}; its defaults were written into the calls tf2norm can see, "
                    "the arg_scope was left unchanged",
                    "pass these defaults to the calls it reaches"),
)

_ARG_SCOPE = _arg_scopes.Spec(LEGACY, _arg_scopes.SLIM_LAYERS, RULES["TF2N404"])


def plan(ctx) -> None:
    inherited = _arg_scopes.plan(ctx, _ARG_SCOPE)
    reuses = ctx.reuses_variable_scopes()
    for node, _ in list(ctx.names.references(LEGACY.__contains__)):
        if node in ctx.handled:
            continue
        parent = ctx.names.parents.get(node)
        if isinstance(parent, cst.Call) and parent.func is node:
            if ctx.target == "compat":
                _compat_call(ctx, parent, inherited.get(parent, {}))
            else:
                _keras_call(ctx, parent, inherited.get(parent, {}), reuses)
        else:
            ctx.edit(node, lambda _: ctx.replacement("layer_norm"), consumes=node)
            if ctx.target == "keras":
                ctx.report(RULES["TF2N403"], node, usage=_layer_calls.usage(ctx, node))


REWRITER = PlanRewriter(LEGACY, RULES, plan)


def _bind(ctx, call: cst.Call):
    try:
        return bind(call, SIGNATURE, required=1)
    except Mismatch as mismatch:
        ctx.report(_findings.RULES[mismatch.code], call, api="layer_norm", reason=mismatch.reason)
        return None


def _compat_call(ctx, call: cst.Call, inherited: dict) -> None:
    extra = {}
    if inherited:
        bound = _bind(ctx, call)
        if bound is None:
            return
        extra = {k: v for k, v in inherited.items() if k not in bound}
    ctx.edit(call.func, lambda _: ctx.replacement("layer_norm"), consumes=call.func)
    if extra:
        def add_defaults(updated: cst.Call) -> cst.Call:
            items = [(a, i) for i, a in enumerate(updated.args)]
            items += [(_calls.keyword(k, v), None) for k, v in extra.items()]
            return updated.with_changes(args=_calls.relaid(updated, items))
        ctx.edit(call, add_defaults)


def _keras_call(ctx, call: cst.Call, inherited: dict, reuses: bool) -> None:
    bound = _bind(ctx, call)
    if bound is None:
        return
    args = _layer_calls.Arguments(ctx, bound, inherited, SIGNATURE)
    problem = _unmappable(args, reuses)
    if problem is not None:
        finding, fields = problem
        ctx.report(RULES[finding], call, **fields)
        return
    how = _layer_calls.sharing(ctx, args.value("reuse") if args.given("reuse") else None, args.given("scope"),
                               reuses)
    activation_around = args.given("activation_fn") and _layer_calls.surely_callable(ctx, args.value("activation_fn"))
    axis = _keras_axis(ctx, args) if not args.given("activation_fn") or activation_around else None
    keras = ctx.module_name("keras") if axis is not None else None
    items = _constructor_arguments(args, axis if keras is not None else None, activation_around)
    _rescue_comments(ctx, call, bound, {i for _, _, i in items if i is not None})

    def build(updated: cst.Call) -> cst.BaseExpression:
        constructor = [(_calls.keyword(kw, get(updated), updated.args[i] if i is not None else None), i)
                       for kw, get, i in items]
        func = (cst.parse_expression(f"{keras.value}.layers.LayerNormalization") if keras is not None
                else ctx.replacement("LayerNorm"))
        layer = cst.Call(func=func, args=_calls.relaid(updated, constructor),
                         whitespace_before_args=updated.whitespace_before_args)
        if how.shared:
            reuse = args.getter("reuse")(updated) if how.reusing else None
            layer = _layer_calls.scoped(ctx, layer, args.getter("scope")(updated), reuse, how)
        result = _calls.call(layer, _calls.positional(args.getter("inputs")(updated)))
        if activation_around:
            result = _calls.call(args.getter("activation_fn")(updated), _calls.positional(result))
        return result.with_changes(lpar=updated.lpar, rpar=updated.rpar)

    ctx.edit(call, build, consumes=call.func)


def _unmappable(args: _layer_calls.Arguments, reuses: bool):
    """(finding code, message fields) for what the Keras layers cannot express, else None."""
    for name in NO_KERAS_EQUIVALENT:
        if args.given(name):
            return "TF2N401", {"argument": name}
    reusing = args.given("reuse") and not is_literal(args.value("reuse"), False)
    if reusing and not args.given("scope"):
        return "TF2N402", {"reason": "reuse= without scope= (TF1 raised for it too)"}
    if reuses and not args.given("scope"):
        return "TF2N402", {"reason": "no scope= in a file that reuses variable scopes"}
    scope = literal(args.value("scope"))
    if (reusing or reuses) and isinstance(scope, str) and _DEFAULT_SCOPE.fullmatch(scope.split("/")[-1]):
        # The variables of a call without scope= (TF1 named them LayerNorm, LayerNorm_1, ...),
        # whose Keras layer has no scope to be found by.
        return "TF2N402", {"reason": f"scope={scope!r} is TF1's default scope, which calls without scope= "
                                     "may have made"}
    return None


def _int_value(ctx, node):
    """The int a literal (or a name assigned a literal once) holds, else None."""
    value = literal(ctx.names.bound_value(node) if isinstance(node, cst.Name) else node)
    return value if type(value) is int else None


def _keras_axis(ctx, args: _layer_calls.Arguments) -> str | None:
    """`axis=` for keras.layers.LayerNormalization when it provably normalises and scales over
    TF1's axes (the same negative begin_norm_axis and begin_params_axis), else None."""
    values = []
    for name, default in DEFAULT_AXES.items():
        node = args.value(name)
        values.append(default if node is None else _int_value(ctx, node))
    norm, params = values
    if norm is None or norm != params or norm >= 0:
        return None
    return "-1" if norm == -1 else "[" + ", ".join(str(a) for a in range(norm, 0)) + "]"


def _constructor_arguments(args: _layer_calls.Arguments, axis: str | None, activation_around: bool):
    """[(keyword, getter of its value, index of the call argument it stands for or None)]."""
    if axis is not None:
        items = [("axis", lambda u, axis=axis: cst.parse_expression(axis), None),
                 ("epsilon", lambda u: cst.Float("1e-12"), None)]
    else:
        items = []
    for name in args.names():
        source = args.bound.index.get(name)
        if name in DEFAULT_AXES and axis is not None:
            continue
        if name == "activation_fn" and not activation_around and args.given(name):
            items.append(("activation", args.getter(name), source))
        elif name == "scope" and not _usable_name(args.value(name)):
            continue
        elif name in RENAMED:
            items.append((RENAMED[name], args.getter(name), source))
    return sorted(items, key=lambda item: ORDER.index(item[0]))


def _usable_name(node) -> bool:
    # Keras layer names cannot hold "/"; such a scope still keys scoped_layer.
    value = literal(node)
    return not (isinstance(value, str) and "/" in value) and not is_literal(node, None)


def _rescue_comments(ctx, call: cst.Call, bound, used: set[int]) -> None:
    """Comments of the arguments whose place in the call goes away move above the statement."""
    kept = _calls.kept_in_place(call, used)
    for name, index in bound.index.items():
        if index not in kept:
            # A value that moves (x, activation_fn, ...) keeps its own comments; only its comma's go.
            moved = name in ("inputs", "activation_fn", "reuse", "scope")
            ctx.rescue_comments(call, call.args[index].comma if moved else call.args[index])
