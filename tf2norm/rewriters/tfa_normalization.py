"""Legacy `tfa.layers.GroupNormalization` / `InstanceNormalization` (tensorflow-addons, however imported or
aliased) -> `keras.layers.GroupNormalization` (keras target) or `tf2norm.replacements`' exact copies (compat).

tensorflow-addons does not install on TF 2.16+. Measured against real tfa 0.23, Keras 3's own
`keras.layers.GroupNormalization` gives tfa's numbers bit for bit, with the same arguments, defaults
and weights (`gamma`, `beta` of shape `[C]`), except in two cases. So the keras target writes

    tfa.layers.GroupNormalization(8, axis=1)   ->  keras.layers.GroupNormalization(8, axis=1)
    tfa.layers.InstanceNormalization(center=False)
                                               ->  keras.layers.GroupNormalization(groups=-1, center=False)

and `tf2norm.replacements.GroupNormalization` / `InstanceNormalization` (tfa's arithmetic, same
arguments) where Keras' numbers are not provably tfa's: an `axis` that is not absent, -1 or a
positive literal (tfa's per-channel path normalises other axes for a negative one, reported as
TF2N651 where it surely runs), a `dtype` other than float32 or an `autocast` (tfa normalised in
float16 under mixed precision), or a file whose `keras` name is not the keras module. A global
mixed-precision policy set in another file cannot be seen: there Keras' layer differs from tfa by
an ulp of float16 (see tf2norm.replacements.GroupNormalization).

InstanceNormalization ignored a `groups` argument (tfa overwrote it with -1): the keras target drops
it (TF2N653). Keras 2 base-layer arguments Keras 3 does not take (`batch_input_shape`, `batch_size`,
`weights`, `dynamic`, `implementation`) are dropped when they hold their default and reported
otherwise (TF2N652). The class used as a value (`norm=tfa.layers.GroupNormalization`,
`functools.partial`) becomes the replacement class, whose calls take tfa's arguments; as a base
class too (TF2N654: its internals are Keras'); in `isinstance` GroupNormalization becomes
`keras.layers.GroupNormalization`, the class of every migrated layer, and InstanceNormalization, which
has no class of its own after migration, is reported (TF2N655; compat target: the replacement class,
which every call there becomes).

Compat target: the replacements with the arguments untouched (drop-in, tfa's numbers in every case).
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters import _calls
from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._signature import is_literal, literal

_MODULES = ("tensorflow_addons.layers", "tensorflow_addons.layers.normalizations")
_CLASSES = ("GroupNormalization", "InstanceNormalization")
LEGACY = frozenset(f"{m}.{c}" for m in _MODULES for c in _CLASSES)

# tfa 0.23's GroupNormalization(...) arguments, positional or keyword; Keras 3's layer has the same
# ones in the same order with the same defaults. InstanceNormalization(**kwargs) takes them as
# keywords (its `groups` is overwritten with -1).
SIGNATURE = ("groups", "axis", "epsilon", "center", "scale", "beta_initializer", "gamma_initializer",
             "beta_regularizer", "gamma_regularizer", "beta_constraint", "gamma_constraint")
# Keras 2's base Layer keywords: those Keras 3 takes, and those it rejects with their no-op defaults.
BASE_KEPT = ("trainable", "name", "dtype", "activity_regularizer", "autocast", "input_shape", "input_dim")
BASE_DROPPED = {"batch_input_shape": None, "batch_size": None, "weights": None, "dynamic": False,
                "implementation": None}

FLOAT32 = ("float32", None)

RULES = rules(
    Rule("TF2N651", "{cls}(axis={axis}) with one channel per group: tfa normalised over other axes than the channels "
                    "there (a tfa bug); tf2norm.replacements.{cls} keeps tfa's numbers, "
                    "keras.layers.GroupNormalization would normalise per channel",
                    "keep it if trained weights depend on it; for per-channel normalisation write "
                    "keras.layers.GroupNormalization(groups=-1, axis=<the positive channel axis>)"),
    Rule("TF2N652", "{cls}({argument}=...): Keras 3 layers take no {argument}; left unchanged", "{fix}"),
    Rule("TF2N653", "InstanceNormalization(groups=...): tfa overwrote it with -1 (one group per channel), so it was "
                    "dropped",
                    "remove the argument: it never had an effect"),
    Rule("TF2N654", "class {name} subclasses tfa's {cls}: it now subclasses tf2norm.replacements.{cls}, a "
                    "keras.layers.GroupNormalization whose internals are not tfa's",
                    "check the methods {name} overrides against keras.layers.GroupNormalization"),
    Rule("TF2N655", "{function}(..., {cls}): {why}; left unchanged", "{fix}"),
)

_TYPE_TEST = {
    "InstanceNormalization": ("migrated instance normalisations are keras.layers.GroupNormalization(groups=-1), "
                              "not a class of their own",
                              "test isinstance(layer, keras.layers.GroupNormalization) and layer.groups instead"),
    "GroupNormalization": ("the class of every migrated layer is keras.layers.GroupNormalization, and this file's "
                           "name keras is not the keras module",
                           "import keras under another name and test against keras.layers.GroupNormalization"),
}

_DROPPED_FIX = {
    "batch_input_shape": "start the model with keras.Input(batch_shape=...)",
    "batch_size": "start the model with keras.Input(batch_size=...)",
    "weights": "call layer.set_weights(...) once the layer is built",
    "dynamic": "drop it (Keras 3: model.compile(run_eagerly=True))",
    "implementation": "drop it",
}


class _Rewriter(ClassSwapRewriter):
    """tfa's classes become tf2norm's, or keras.layers.GroupNormalization where its numbers are tfa's."""

    def rewrite_call(self, ctx, call: cst.Call, swap: Swap) -> None:
        bound = self.bind(ctx, call, swap)
        dropped = None if bound is None else self.dropped(ctx, call, swap, bound)
        if bound is None or dropped is None:
            return
        cls = swap.name
        keras = ctx.module_name("keras") if ctx.target == "keras" and _keras_exact(bound) else None
        if cls == "InstanceNormalization" and "groups" in bound and ctx.target == "keras":
            dropped.add(bound.index["groups"])
            ctx.report(RULES["TF2N653"], call.args[bound.index["groups"]])
        axis = literal(bound.value("axis"))
        per_channel = cls == "InstanceNormalization" or is_literal(bound.value("groups"), -1)
        if isinstance(axis, int) and axis < -1 and per_channel:
            ctx.report(RULES["TF2N651"], call, cls=cls, axis=axis)
        kept = [i for i in range(len(call.args)) if i not in dropped]
        self.rescue_dropped(ctx, call, dropped, kept)
        instance_as_keras = keras is not None and cls == "InstanceNormalization"

        def build(updated: cst.Call) -> cst.Call:
            items: list[tuple[cst.Arg, int | None]] = [(updated.args[i], i) for i in kept]
            if instance_as_keras:
                items.insert(0, (_calls.keyword("groups", cst.UnaryOperation(cst.Minus(), cst.Integer("1"))), None))
            func = (cst.parse_expression(f"{keras.value}.layers.GroupNormalization") if keras is not None
                    else ctx.replacement(cls))
            args = _calls.relaid(updated, items) if dropped or instance_as_keras else updated.args
            return updated.with_changes(func=func, args=args)

        ctx.edit(call, build, consumes=call.func)

    def rewrite_reference(self, ctx, node: cst.CSTNode, swap: Swap) -> None:
        _reference(ctx, node, swap.name)


def _keras_exact(bound) -> bool:
    """Does keras.layers.GroupNormalization give tfa's numbers for these arguments?"""
    axis = bound.value("axis")
    if axis is not None and not (is_literal(axis, -1) or isinstance(literal(axis), int)
                                 and not isinstance(literal(axis), bool) and literal(axis) > 0):
        return False
    dtype = bound.value("dtype")
    if dtype is not None and not (is_literal(dtype, *FLOAT32)):
        return False
    return "autocast" not in bound


def _reference(ctx, node: cst.CSTNode, cls: str) -> None:
    parent = ctx.names.parents.get(node)
    holder = ctx.names.parents.get(parent)
    if isinstance(parent, cst.Arg) and isinstance(holder, cst.ClassDef) and parent in holder.bases:
        ctx.edit(node, lambda _: ctx.replacement(cls), consumes=node)
        ctx.report(RULES["TF2N654"], node, name=holder.name.value, cls=cls)
        return
    function = _type_test(ctx, node)
    if function is not None:
        keras = ctx.module_name("keras") if cls == "GroupNormalization" else None
        if ctx.target == "compat":
            ctx.edit(node, lambda _: ctx.replacement(cls), consumes=node)
        elif keras is not None:
            ctx.edit(node, lambda _: cst.parse_expression(f"{keras.value}.layers.GroupNormalization"), consumes=node)
        else:
            why, fix = _TYPE_TEST[cls]
            ctx.report(RULES["TF2N655"], node, function=function, cls=cls, why=why, fix=fix)
        return
    ctx.edit(node, lambda _: ctx.replacement(cls), consumes=node)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0].target, cst.Name):
        # `Norm = tfa.layers.GroupNormalization`, bound once: its uses now call the replacement.
        assignment = ctx.names.binding(parent.targets[0].target)
        if assignment is not None:
            ctx.handled.update(reference.node for reference in assignment.references)


def _type_test(ctx, node: cst.CSTNode) -> str | None:
    """'isinstance' / 'issubclass' when `node` is (in a tuple of) the classes such a call tests."""
    parent = ctx.names.parents.get(node)
    while isinstance(parent, (cst.Element, cst.Tuple)):
        parent = ctx.names.parents.get(parent)
    if not isinstance(parent, cst.Arg):
        return None
    call = ctx.names.parents.get(parent)
    if not isinstance(call, cst.Call) or len(call.args) != 2 or call.args[1] is not parent:
        return None
    name = ctx.names.qualified(call.func)
    return name.split(".")[1] if name in ("builtins.isinstance", "builtins.issubclass") else None


REWRITER = _Rewriter(ClassSwap(
    classes=tuple(Swap(frozenset(f"{m}.{cls}" for m in _MODULES), cls, SIGNATURE, keywords=BASE_KEPT,
                       keyword_only=cls == "InstanceNormalization")
                  for cls in _CLASSES),
    dropped=BASE_DROPPED, dropped_rule=RULES["TF2N652"], dropped_fixes=_DROPPED_FIX,
), RULES)
