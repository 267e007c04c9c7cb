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

from tf2norm.rewriters import _arg_scopes, _layer_calls
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._signature import is_literal, literal

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
ORDER = ("axis", "begin_norm_axis", "begin_params_axis", "epsilon", "center", "scale", "activation", "trainable",
         "name")

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
    Rule("TF2N404", "arg_scope over layer_norm: {reason}; where the keras target made that a Keras layer, no "
                    "arg_scope reaches it (the list now names tf2norm's layer_norm, which it does reach)",
                    "pass these defaults to that call, or migrate the code it reaches with --target compat"),
    Rule("TF2N410", "layer_norm(reuse=...): this file creates {names} with get_variable(), which TF1's layer_norm "
                    "reused by scope and a Keras layer cannot take over; left unchanged",
                    "use --target compat (tf2norm.replacements.layer_norm reuses get_variable's variables)"),
)

_LAYER_NORM_VARIABLES = ("beta", "gamma")
_GET_VARIABLE = ("tensorflow.get_variable", "tensorflow.compat.v1.get_variable")


def _get_variable_names(ctx) -> list[str]:
    """The layer-norm variable names ('beta', 'gamma') the file creates with get_variable (first
    argument or name=, a literal), sorted."""
    found = set()
    for node in ctx.names.of_kind(cst.Call):
        if ctx.names.canonical(node.func) not in _GET_VARIABLE:
            continue
        for i, arg in enumerate(node.args):
            if arg.keyword is None and i == 0 or arg.keyword is not None and arg.keyword.value == "name":
                value = literal(arg.value)
                if value in _LAYER_NORM_VARIABLES:
                    found.add(value)
    return sorted(found)

def _check(ctx, args: _layer_calls.Arguments, reuses: bool):
    """(rule, message fields) for what the Keras layers cannot express, else None."""
    for name in NO_KERAS_EQUIVALENT:
        if args.given(name):
            return RULES["TF2N401"], {"argument": name}
    reason = REWRITER.unshared_reuse(args, reuses)
    if reason:
        return RULES["TF2N402"], {"reason": reason}
    reusing = args.given("reuse") and not is_literal(args.value("reuse"), False)
    created = _get_variable_names(ctx) if reusing or reuses else []
    if created:
        # TF1's layer_norm took over variables get_variable had made in its scope; a Keras layer
        # makes its own (scoped_layer(..., reuse=True) found no layer there and raised).
        return RULES["TF2N410"], {"names": " and ".join(repr(n) for n in created)}
    scope = literal(args.value("scope"))
    if (reusing or reuses) and isinstance(scope, str) and _DEFAULT_SCOPE.fullmatch(scope.split("/")[-1]):
        # The variables of a call without scope= (TF1 named them LayerNorm, LayerNorm_1, ...),
        # whose Keras layer has no scope to be found by.
        return RULES["TF2N402"], {"reason": f"scope={scope!r} is TF1's default scope, which calls without scope= "
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


def _constructor(ctx, args: _layer_calls.Arguments, activation_around: bool):
    """keras.layers.LayerNormalization where it provably computes TF1's numbers, else LayerNorm, and
    its arguments: [(keyword, getter of its value, index of the call argument it stands for or None)]."""
    axis = _keras_axis(ctx, args) if not args.given("activation_fn") or activation_around else None
    if _scope_path(args.value("scope")):
        axis = None  # keras.layers.LayerNormalization rejects "/" in its name; LayerNorm keeps the path
    keras = ctx.module_name("keras") if axis is not None else None
    if keras is None:
        axis = None

    def layer() -> cst.BaseExpression:
        if keras is not None:
            return cst.parse_expression(f"{keras.value}.layers.LayerNormalization")
        return ctx.replacement("LayerNorm")

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
        elif name == "scope" and is_literal(args.value(name), None):
            continue
        elif name in RENAMED:
            items.append((RENAMED[name], args.getter(name), source))
    return layer, sorted(items, key=lambda item: ORDER.index(item[0]))


def _scope_path(node) -> bool:
    """A literal TF1 scope path ('block/ln'): a name only tf2norm's LayerNorm takes (Keras 3 rejects "/"
    in layer names; LayerNorm keeps the path for TF1's variable names in graphs)."""
    value = literal(node) if node is not None else None
    return isinstance(value, str) and "/" in value


REWRITER = _layer_calls.LayerCallRewriter(_layer_calls.LayerCall(
    api="layer_norm", signature=SIGNATURE, compat="layer_norm", value_rule=RULES["TF2N403"], check=_check,
    constructor=_constructor, activation="activation_fn",
    reuse_without_scope="reuse= without scope= (TF1 raised for it too)",
    arg_scope=_arg_scopes.Spec(LEGACY, "layer_norm", RULES["TF2N404"]),
), LEGACY, RULES)
