"""Legacy `tf.layers.batch_normalization` / `tf.layers.BatchNormalization` (and `tf.compat.v1.layers.*`,
tf_upgrade_v2's output, which raises on Keras 3) -> `BatchNormalization(..., tf1_api="layers")` (keras
target) or `batch_normalization` / `LayersBatchNormalization` (compat), all from tf2norm.replacements.

Keras target: the arguments keep their names (tf.layers and the Keras layer share them), `training`
moves to the call and is always written (tf.layers' default was False), `momentum=0.99` and
`scale=True` are always written (tf2norm's BatchNormalization has contrib's 0.999 and False), and
`tf1_api="layers"` selects tf.layers' rules (rank 2 not fused, fused=True falling back, frozen layers
not updating their statistics). A call that shares variables (`name=` with `reuse=`, or any named call
in a file that reuses variable scopes) becomes `scoped_layer(name, lambda: BatchNormalization(...),
reuse=...)`; `layer.apply(x, ...)` on a converted layer object becomes `layer(x, ...)`.

Compat target: the replacements have tf.layers' signatures, defaults and variable names, so the
arguments stay as they are and TF1 checkpoints restore unchanged. Both targets use them where the
function or class is passed as a value (`normalizer_fn=tf.layers.batch_normalization`, a subclass).
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters import _calls, _findings, _layer_calls
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._signature import Mismatch, bind, code, is_literal

_FUNCTION_NAMES = ("batch_normalization",)
_CLASS_NAMES = ("BatchNormalization",)
FUNCTIONS = frozenset(
    {f"tensorflow.layers.{n}" for n in _FUNCTION_NAMES}
    | {f"tensorflow.python.layers.layers.{n}" for n in _FUNCTION_NAMES}
    | {f"tensorflow.python.layers.normalization.{n}" for n in (*_FUNCTION_NAMES, "batch_norm")}
)
CLASSES = frozenset(
    {f"tensorflow.layers.{n}" for n in _CLASS_NAMES}
    | {f"tensorflow.python.layers.layers.{n}" for n in _CLASS_NAMES}
    | {f"tensorflow.python.layers.normalization.{n}" for n in (*_CLASS_NAMES, "BatchNorm")}
)
LEGACY = FUNCTIONS | CLASSES

# TF 1.15's signatures; only `inputs` is required. The class took `**kwargs` for Layer's `dtype`
# and the private `_scope` / `_reuse` that the function passed.
FUNCTION_SIGNATURE = (
    "inputs", "axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
    "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
    "beta_constraint", "gamma_constraint", "training", "trainable", "name", "reuse", "renorm", "renorm_clipping",
    "renorm_momentum", "fused", "virtual_batch_size", "adjustment",
)
CLASS_SIGNATURE = (
    "axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
    "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
    "beta_constraint", "gamma_constraint", "renorm", "renorm_clipping", "renorm_momentum", "fused", "trainable",
    "virtual_batch_size", "adjustment", "name",
)
CLASS_KEYWORDS = ("dtype", "_scope", "_reuse")

# Written even when the call leaves them out: tf2norm's BatchNormalization has contrib's defaults.
TF1_DEFAULTS = (("momentum", "0.99"), ("scale", "True"))

# BatchNormalization's own argument order, which the emitted calls follow.
KERAS_ORDER = (
    "axis", "momentum", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
    "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer", "gamma_regularizer",
    "beta_constraint", "gamma_constraint", "renorm", "renorm_clipping", "renorm_momentum", "fused",
    "virtual_batch_size", "adjustment", "tf1_api", "trainable", "name", "dtype",
)

# The Keras layer needs Python values here (TF1 also took some tensors).
PYTHON_VALUES = ("axis", "momentum", "epsilon", "center", "scale", "renorm", "renorm_momentum", "fused",
                 "trainable", "virtual_batch_size")

RULES = rules(
    Rule("TF2N501", "{api}(axis={value}): several axes (multi-axis batch normalization) are not supported by "
                    "tf2norm's replacements; left unchanged",
                    "normalise over one axis, or keep this call on TF 2.15 / tf-keras"),
    Rule("TF2N502", "{api}: {reason}; Keras layers share weights by object, not by variable scope; left unchanged",
                    "pass name='...' so tf2norm can emit scoped_layer(), or use --target compat"),
    Rule("TF2N503", "{api}({argument}=...): a tensor where the Keras layer needs a Python value; left unchanged",
                    "pass a Python value, or use --target compat"),
    Rule("TF2N504", "{api}({argument}=...): a private tf.layers argument with no Keras equivalent; left unchanged",
                    "use tf2norm.replacements.batch_normalization(..., name=..., reuse=...), or --target compat"),
    Rule("TF2N505", "{api}: a layer object in a file that reuses variable scopes may take over another layer's "
                    "variables at its first call, which Keras layers cannot; left unchanged",
                    "share the layer object itself, or use --target compat"),
    Rule("TF2N506", "{api} passed as a value ({usage}): its caller passes TF1 arguments, so it became "
                    "tf2norm.replacements.{replacement} (TF1 semantics, tf.compat.v1 graph mode), not the Keras layer",
                    "move to BatchNormalization(..., tf1_api='layers')(x, training=...) by hand when the caller is "
                    "migrated"),
    Rule("TF2N508", "{name}.{attribute}: the converted layer is a Keras 3 layer, which has no {attribute}; left "
                    "unchanged",
                    "in graph code read tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS) (the layer "
                    "puts its updates there); eager and tf.function code updates in place"),
    Rule("TF2N507", "class {name} subclasses {api}: it now subclasses tf2norm.replacements.LayersBatchNormalization, "
                    "whose internals (build, call, _fused_batch_norm, ...) are not TF1's Keras layer's",
                    "check the methods {name} overrides against tf2norm.replacements.LayersBatchNormalization"),
)

_API = {"function": "tf.layers.batch_normalization", "class": "tf.layers.BatchNormalization"}


class _Rewriter(_layer_calls.LayerCallRewriter):
    """The function is a layer call (the engine); the class and its objects' `.apply` are swapped here."""

    def plan(self, ctx) -> None:
        reuses = ctx.reuses_variable_scopes()
        layers: set[str] = set()  # names bound once to a converted layer object (their .apply calls)
        for node, name in self.references(ctx):
            kind = "class" if name in CLASSES else "function"
            replacement = "LayersBatchNormalization" if kind == "class" else "batch_normalization"
            parent = ctx.names.parents.get(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                if kind == "function":
                    self.rewrite_call(ctx, parent, {}, reuses)
                elif ctx.target == "compat":
                    _compat_class_call(ctx, parent)
                elif _keras_class_call(ctx, parent, reuses):
                    bound = _bound_name(ctx, parent)
                    if bound is not None:
                        layers.add(bound)
                continue
            ctx.edit(node, lambda _, r=replacement: ctx.replacement(r), consumes=node)
            subclass = ctx.names.parents.get(parent)
            if isinstance(parent, cst.Arg) and isinstance(subclass, cst.ClassDef) and parent in subclass.bases:
                ctx.report(RULES["TF2N507"], node, name=subclass.name.value, api=_API[kind])
            elif ctx.target == "keras":
                ctx.report(RULES["TF2N506"], node, api=_API[kind], usage=_layer_calls.usage(ctx, node),
                           replacement=replacement)
        if layers:
            _plan_apply_calls(ctx, layers)


# ------------------------------------------------------------------------------ compat target
# The replacements take TF1's signatures: any call (**kwargs included) keeps its arguments; only
# several axes, which they reject, are worth stopping for.
def _compat_refused(ctx, call: cst.Call, kind: str = "function") -> bool:
    try:
        bound = bind(call, FUNCTION_SIGNATURE if kind == "function" else CLASS_SIGNATURE + CLASS_KEYWORDS)
    except Mismatch:
        return False
    problem = _multi_axis(bound, kind)
    if problem is not None:
        ctx.report(RULES["TF2N501"], call, **problem)
    return problem is not None


def _compat_class_call(ctx, call: cst.Call) -> None:
    if not _compat_refused(ctx, call, "class"):
        ctx.edit(call.func, lambda _: ctx.replacement("LayersBatchNormalization"), consumes=call.func)


# ------------------------------------------------------------------------------ keras target
def _check(ctx, args: _layer_calls.Arguments, reuses: bool):
    """(rule, message fields) for a function call the Keras layer cannot express, else None."""
    problem = _problem(ctx, args.bound, "function")
    if problem is not None:
        return problem
    reason = REWRITER.unshared_reuse(args, reuses)
    return (RULES["TF2N502"], {"api": _API["function"], "reason": reason}) if reason else None


def _problem(ctx, bound, kind: str):
    axes = _multi_axis(bound, kind)
    if axes is not None:
        return RULES["TF2N501"], axes
    return _tensor_argument(ctx, bound, kind)


def _constructor(ctx, args: _layer_calls.Arguments, activation_around: bool):
    return lambda: ctx.replacement("BatchNormalization"), _constructor_arguments(args.bound)


def _keras_class_call(ctx, call: cst.Call, reuses: bool) -> bool:
    bound = _bind(ctx, call, "class")
    if bound is None:
        return False
    problem = _problem(ctx, bound, "class")
    if problem is not None:
        rule, fields = problem
        ctx.report(rule, call, **fields)
        return False
    for private in ("_scope", "_reuse"):
        if private in bound:
            ctx.report(RULES["TF2N504"], call, api=_API["class"], argument=private)
            return False
    if reuses:
        ctx.report(RULES["TF2N505"], call, api=_API["class"])
        return False
    items = _constructor_arguments(bound)
    _rescue_comments(ctx, call, bound, {i for _, _, i in items if i is not None})
    ctx.edit(call, lambda updated: _layer(ctx, updated, items).with_changes(lpar=updated.lpar, rpar=updated.rpar),
             consumes=call.func)
    return True


def _layer(ctx, updated: cst.Call, items) -> cst.Call:
    constructor = [(_calls.keyword(kw, get(updated), updated.args[i] if i is not None else None), i)
                   for kw, get, i in items]
    return cst.Call(func=ctx.replacement("BatchNormalization"), args=_calls.relaid(updated, constructor),
                    whitespace_before_args=updated.whitespace_before_args)


def _constructor_arguments(bound):
    """[(Keras keyword, getter of its value from the updated call, index of the argument or None)]."""
    items = [(kw, lambda u, v=v: cst.parse_expression(v), None) for kw, v in TF1_DEFAULTS if kw not in bound]
    items.append(("tf1_api", lambda u: cst.SimpleString('"layers"'), None))
    for name, index in bound.index.items():
        if name in ("inputs", "training", "reuse"):
            continue
        if name == "fused" and is_literal(bound.value(name), None):
            continue
        getter = _getter(bound, name)
        if name == "axis" and _single_axis(bound.value(name)):
            getter = lambda u, i=index: u.args[i].value.elements[0].value  # noqa: E731
        items.append((name, getter, index))
    return sorted(items, key=lambda item: KERAS_ORDER.index(item[0]))


# ------------------------------------------------------------------------------ layer.apply(...)
def _bound_name(ctx, call: cst.Call) -> str | None:
    """`bn` for `bn = tf.layers.BatchNormalization(...)`, when that is the only binding of `bn`."""
    target = ctx.names.parents.get(call)
    if not isinstance(target, cst.Assign) or len(target.targets) != 1:
        return None
    name = target.targets[0].target
    if not isinstance(name, cst.Name):
        return None
    assignment = ctx.names.binding(name)
    return name.value if assignment is not None and ctx.names.assign_of(assignment) is target else None


# tf.layers Layer attributes a Keras 3 layer lacks (besides `apply`, which is rewritten).
_TF1_ONLY_ATTRIBUTES = ("updates", "get_updates_for", "scope_name")


def _plan_apply_calls(ctx, layers: set[str]) -> None:
    """The converted object's `bn.apply(x, ...)` becomes `bn(x, ...)` (Keras 3 layers have no
    `apply`); its TF1-only attributes (`bn.updates`, ...) are reported."""
    for node in list(ctx.names.parents):
        if not (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value in layers
                and node.attr.value in ("apply",) + _TF1_ONLY_ATTRIBUTES):
            continue
        assignment = ctx.names.binding(node.value)
        statement = None if assignment is None else ctx.names.assign_of(assignment)
        if statement is None or not isinstance(statement.value, cst.Call) or statement.value not in ctx.handled:
            continue
        call = ctx.names.parents.get(node)
        if node.attr.value == "apply" and isinstance(call, cst.Call) and call.func is node:
            ctx.edit(node, lambda updated: updated.value)
        elif node.attr.value != "apply":
            ctx.report(RULES["TF2N508"], node, name=node.value.value, attribute=node.attr.value)


# ------------------------------------------------------------------------------ checks
def _bind(ctx, call: cst.Call, kind: str):
    params = FUNCTION_SIGNATURE if kind == "function" else CLASS_SIGNATURE + CLASS_KEYWORDS
    try:
        bound = bind(call, params, required=1 if kind == "function" else 0)
        if kind == "class" and any(call.args[i].keyword is None for n, i in bound.index.items() if n in CLASS_KEYWORDS):
            raise Mismatch("TF2N011", f"{len(call.args)} positional arguments, at most {len(CLASS_SIGNATURE)}")
    except Mismatch as mismatch:
        ctx.report(_findings.RULES[mismatch.code], call, api=_API[kind], reason=mismatch.reason)
        return None
    return bound


def _multi_axis(bound, kind: str) -> dict | None:
    """The fields of TF2N501 for a call over several axes, else None."""
    axis = bound.value("axis")
    if isinstance(axis, (cst.List, cst.Tuple)) and not _single_axis(axis):
        return {"api": _API[kind], "value": code(axis)}
    return None


def _single_axis(node) -> bool:
    return isinstance(node, (cst.List, cst.Tuple)) and len(node.elements) == 1 \
        and not isinstance(node.elements[0], cst.StarredElement)


def _tensor_argument(ctx, bound, kind: str):
    for name in PYTHON_VALUES:
        if _given(bound, name) and _makes_tensor(ctx, bound.value(name)):
            return RULES["TF2N503"], {"api": _API[kind], "argument": name}
    return None


def _makes_tensor(ctx, node) -> bool:
    """A TensorFlow call's result, also indexed or in arithmetic (`tf.shape(x)[0] // 2`)."""
    if isinstance(node, cst.Subscript):
        return _makes_tensor(ctx, node.value)
    if isinstance(node, cst.BinaryOperation):
        return _makes_tensor(ctx, node.left) or _makes_tensor(ctx, node.right)
    if isinstance(node, cst.UnaryOperation):
        return _makes_tensor(ctx, node.expression)
    return ctx.names.makes_tensor(node)


def _given(bound, name: str) -> bool:
    """Present and not a literal None."""
    return name in bound and not is_literal(bound.value(name), None)


def _getter(bound, name: str):
    return lambda updated, i=bound.index[name]: updated.args[i].value


def _rescue_comments(ctx, call: cst.Call, bound, used: set[int]) -> None:
    """Comments of the arguments whose place in the class call goes away move above the statement."""
    kept = _calls.kept_in_place(call, used)
    for index in bound.index.values():
        if index not in kept:
            ctx.rescue_comments(call, call.args[index])


REWRITER = _Rewriter(_layer_calls.LayerCall(
    api=_API["function"], signature=FUNCTION_SIGNATURE, compat="batch_normalization", value_rule=RULES["TF2N506"],
    check=_check, constructor=_constructor, scope="name", training="training", compat_check=_compat_refused,
), LEGACY, RULES)
