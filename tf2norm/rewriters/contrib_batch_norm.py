"""Legacy `tf.contrib.layers.batch_norm` / `slim.batch_norm` (however imported or aliased) ->
`tf2norm.replacements.BatchNormalization(...)(x, training=...)` (keras target) or `batch_norm` (compat).

Keras target: TF1 argument names become Keras ones (decay -> momentum, is_training -> training,
data_format -> axis, param_initializers -> *_initializer, renorm_decay -> renorm_momentum,
scope -> name, activation_fn applied around the layer, batch_weights -> the layer call's
`batch_weights=`, adjustment kept: the layer applies both where TF 1.15 did, updates_collections=None
-> forced_updates=True), and `momentum=` and
`scale=` are always written because keras.layers.BatchNormalization's defaults (0.99, True) differ from TF1's (0.999,
False). A call that shares variables (`scope=` with `reuse=`, or any scoped call in a file that
reuses variable scopes) becomes `scoped_layer(scope, lambda: BatchNormalization(...), reuse=...)`.
Where batch_norm is passed as a value (`normalizer_fn=slim.batch_norm`, `functools.partial`), its
caller passes TF1 arguments, so both targets use the TF1-compatible `batch_norm` function there.

Compat target: `batch_norm(...)` with the TF1 arguments untouched, for tf.compat.v1 graph code whose
TF1 checkpoints must restore unchanged.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters import _arg_scopes, _layer_calls
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._signature import code, is_literal, literal

LEGACY = frozenset({
    "tensorflow.contrib.layers.batch_norm",
    "tensorflow.contrib.slim.batch_norm",
    "tensorflow.contrib.layers.python.layers.batch_norm",
    "tensorflow.contrib.layers.python.layers.layers.batch_norm",
})

# TF 1.15's signature; only `inputs` is required.
SIGNATURE = (
    "inputs", "decay", "center", "scale", "epsilon", "activation_fn", "param_initializers",
    "param_regularizers", "updates_collections", "is_training", "reuse", "variables_collections",
    "outputs_collections", "trainable", "batch_weights", "fused", "data_format",
    "zero_debias_moving_mean", "scope", "renorm", "renorm_clipping", "renorm_decay", "adjustment",
)

# TF1 argument -> BatchNormalization argument with the same meaning.
RENAMED = {
    "decay": "momentum", "center": "center", "scale": "scale", "epsilon": "epsilon",
    "trainable": "trainable", "fused": "fused", "zero_debias_moving_mean": "zero_debias_moving_mean",
    "renorm": "renorm", "renorm_clipping": "renorm_clipping", "renorm_decay": "renorm_momentum",
    "scope": "name", "adjustment": "adjustment",
}

# Written even when the call leaves them out: keras.layers.BatchNormalization's defaults differ.
TF1_DEFAULTS = (("decay", "momentum", "0.999"), ("scale", "scale", "False"))

PARAM_DICTS = {
    "param_initializers": {"beta": "beta_initializer", "gamma": "gamma_initializer",
                           "moving_mean": "moving_mean_initializer",
                           "moving_variance": "moving_variance_initializer"},
    "param_regularizers": {"beta": "beta_regularizer", "gamma": "gamma_regularizer"},
}

# BatchNormalization's own argument order, which the emitted calls follow.
KERAS_ORDER = ("axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
               "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
               "renorm", "renorm_clipping", "renorm_momentum", "fused", "zero_debias_moving_mean", "adjustment",
               "forced_updates", "trainable", "name")

AXIS = {"NHWC": None, "NCHW": "1"}  # None: Keras' default axis=-1

# No Keras equivalent: the call is left unchanged unless they are absent or None.
NO_KERAS_EQUIVALENT = {"variables_collections": "TF2N101", "outputs_collections": "TF2N101"}

# The Keras layer needs Python values here (TF1 also took a tensor decay).
PYTHON_VALUES = ("decay", "center", "scale", "epsilon", "fused", "zero_debias_moving_mean", "renorm", "trainable",
                 "data_format", "renorm_decay")

RULES = rules(
    Rule("TF2N101", "batch_norm({argument}=...): the Keras layer has no {argument}; left unchanged",
                    "drop the argument, or use --target compat"),
    Rule("TF2N103", "batch_norm(updates_collections={value}): the Keras layer puts its updates in UPDATE_OPS in graph "
                    "mode (or runs them with the output: forced_updates=True, for updates_collections=None) and "
                    "applies them in place in eager/tf.function; left unchanged",
                    "drop the argument in eager or tf.function code; use --target compat for graph-mode code"),
    Rule("TF2N104", "batch_norm: {reason}; Keras layers share weights by object, not by variable scope; left "
                    "unchanged",
                    "pass scope='...' so tf2norm can emit scoped_layer(), or use --target compat"),
    Rule("TF2N105", "batch_norm({argument}=...): only a literal {kind} can be mapped; left unchanged",
                    "write the value literally, or use --target compat"),
    Rule("TF2N106", "batch_norm({argument}=...): a tensor where the Keras layer needs a Python value; left unchanged",
                    "pass a Python value"),
    Rule("TF2N107", "batch_norm(activation_fn={value}): may be None when it runs, so it cannot be applied around the "
                    "layer; left unchanged",
                    "pass the function itself, or apply it after the call"),
    Rule("TF2N108", "batch_norm passed as a value ({usage}): its caller passes TF1 arguments, so it became "
                    "tf2norm.replacements.batch_norm (TF1 semantics, tf.compat.v1 graph mode), not the Keras layer",
                    "move to BatchNormalization(...)(x, training=...) by hand when the caller is migrated"),
    Rule("TF2N109", "arg_scope over batch_norm: {reason}; where the keras target made that a Keras layer, no "
                    "arg_scope reaches it (the list now names tf2norm's batch_norm, which it does reach)",
                    "pass these defaults to that call, or migrate the code it reaches with --target compat"),
)


def _check(ctx, args: _layer_calls.Arguments, reuses: bool):
    """(rule, message fields) for what the Keras layer cannot express, else None."""
    for name, finding in NO_KERAS_EQUIVALENT.items():
        if args.given(name):
            return RULES[finding], {"argument": name}
    updates = args.value("updates_collections")
    if updates is not None and not _is_update_ops(ctx, updates) and not is_literal(updates, None):
        return RULES["TF2N103"], {"value": code(updates)}
    for name in PYTHON_VALUES:
        if args.given(name) and ctx.names.makes_tensor(args.value(name)):
            return RULES["TF2N106"], {"argument": name}
    if args.given("data_format") and literal(args.value("data_format")) not in AXIS:
        return RULES["TF2N105"], {"argument": "data_format", "kind": "'NHWC' or 'NCHW'"}
    for name, keys in PARAM_DICTS.items():
        if args.given(name) and _literal_dict(ctx, args.value(name), keys) is None:
            return RULES["TF2N105"], {"argument": name, "kind": f"dict with keys {', '.join(keys)}"}
    if args.given("activation_fn") and not _layer_calls.surely_callable(ctx, args.value("activation_fn")):
        return RULES["TF2N107"], {"value": code(args.value("activation_fn"))}
    reason = REWRITER.unshared_reuse(args, reuses)
    return (RULES["TF2N104"], {"reason": reason}) if reason else None


def _constructor(ctx, args: _layer_calls.Arguments, activation_around: bool):
    """BatchNormalization and its arguments: [(Keras keyword, getter of its value, index of the call
    argument it stands for or None)]."""
    items: list[_layer_calls.Item] = [(keras, _parsed(v), None) for tf1, keras, v in TF1_DEFAULTS
                                      if args.value(tf1) is None]
    for name in args.names():
        source = args.bound.index.get(name)
        if name == "updates_collections" and is_literal(args.value(name), None):
            # TF1's forced updates (the output depends on them), the most common GAN idiom.
            items.append(("forced_updates", _parsed("True"), source))
        elif name == "data_format" and args.given(name):
            axis = AXIS[literal(args.value(name))]
            if axis is not None:
                items.append(("axis", _parsed(axis), source))
        elif name in PARAM_DICTS and args.given(name):
            entries = _literal_dict(ctx, args.value(name), PARAM_DICTS[name]) or []  # checked literal by _check
            for i, (keras, get) in enumerate(entries):
                items.append((keras, _composed(get, args.getter(name)), source if i == 0 else None))
        elif name in RENAMED and not (name in ("fused", "adjustment") and is_literal(args.value(name), None)):
            items.append((RENAMED[name], args.getter(name), source))
    return lambda: ctx.replacement("BatchNormalization"), sorted(items, key=lambda item: KERAS_ORDER.index(item[0]))


def _parsed(code_text: str):
    """A getter of a fresh `code_text` expression, whatever the updated call."""
    return lambda updated: cst.parse_expression(code_text)


def _composed(inner, outer):
    """A getter of `inner(outer(updated))`: an entry of a dict argument."""
    return lambda updated: inner(outer(updated))


def _is_update_ops(ctx, node: cst.BaseExpression) -> bool:
    name = ctx.names.canonical(node)
    if name is not None and name.startswith("tensorflow.") and name.endswith("GraphKeys.UPDATE_OPS"):
        return True
    return is_literal(node, "update_ops")


def _literal_dict(ctx, node: cst.BaseExpression, keys: dict):
    """[(keras keyword, getter from the argument's updated value)] for a literal dict, or for a name
    assigned a literal dict once (read as `name["key"]`); None when that cannot be known."""
    literal_dict = ctx.names.bound_value(node)
    if not isinstance(literal_dict, cst.Dict):
        return None
    entries = []
    for i, element in enumerate(literal_dict.elements):
        key = literal(element.key) if isinstance(element, cst.DictElement) else None
        if key not in keys:
            return None
        if literal_dict is node:
            entries.append((keys[key], lambda value, i=i: value.elements[i].value))
        else:
            entries.append((keys[key], lambda value, key=key: cst.Subscript(
                value=value, slice=[cst.SubscriptElement(cst.Index(cst.SimpleString(f'"{key}"')))])))
    return entries


REWRITER = _layer_calls.LayerCallRewriter(_layer_calls.LayerCall(
    api="batch_norm", signature=SIGNATURE, compat="batch_norm", value_rule=RULES["TF2N108"], check=_check,
    constructor=_constructor, training="is_training", training_default="True", activation="activation_fn",
    arg_scope=_arg_scopes.Spec(LEGACY, "batch_norm", RULES["TF2N109"]),
    call_arguments=("batch_weights",),
), LEGACY, RULES)
