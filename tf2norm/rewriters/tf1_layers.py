"""Legacy `tf.layers` / `tf.compat.v1.layers` `dense`, `conv1d/2d/3d`, `conv2d_transpose`, `separable_conv2d`,
`dropout`, `flatten`, pooling, their classes and the base `Layer` -> tf2norm.replacements' of the same names.

On TF 2.16+ with Keras 3 every `tf.compat.v1.layers.X` raises "not available with Keras 3" (what
tf_upgrade_v2 writes for `tf.layers.X`, or leaves as `tf.layers.X`, which no longer exists). tf2norm's
functions and classes take TF 1.15's signatures, create TF1's variables under TF1's names in
tf.compat.v1 graphs (`dense/kernel`, `conv2d_1/bias`: a TF1 Saver checkpoint restores unchanged) and
run TF 1.15's ops, so only the name changes, in both targets:

    tf.compat.v1.layers.conv2d(x, 32, 3, activation=tf.nn.relu)  ->  conv2d(x, 32, 3, activation=tf.nn.relu)
    class Projection(tf.layers.Layer): ...                         ->  class Projection(Layer): ...

Every reference is rewritten (calls, the function as a value, base classes); a user layer deriving
from `Layer` runs unchanged on TF1's base. A class deriving from a concrete layer (`Dense`, `Conv2D`,
...) is rewritten and reported (TF2N760): tf2norm's class has TF1's attributes (`kernel`, `bias`,
`units`, `filters`, ...) and methods (`build`, `call`) but not Keras 2's internals (`_convolution_op`,
`input_spec` checks).

Reported and left unchanged: `conv3d_transpose` / `Conv3DTranspose` and `separable_conv1d` /
`SeparableConv1D` (TF2N761), which tf2norm does not replace; `tf.layers.batch_normalization` is
rewriter layers_batch_normalization's.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._signature import code

#: TF 1.15 modules that define or export tf.layers' names.
MODULES = ("tensorflow.layers", "tensorflow.python.layers.layers", "tensorflow.python.layers.core",
           "tensorflow.python.layers.convolutional", "tensorflow.python.layers.pooling",
           "tensorflow.python.layers.base")
FUNCTIONS = ("dense", "dropout", "flatten", "conv1d", "conv2d", "conv3d", "conv2d_transpose", "separable_conv2d",
             "max_pooling1d", "max_pooling2d", "max_pooling3d", "average_pooling1d", "average_pooling2d",
             "average_pooling3d")
CLASSES = ("Dense", "Dropout", "Flatten", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "SeparableConv2D",
           "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D",
           "AveragePooling3D")
#: TF 1.15's own aliases (pooling.py's `max_pool2d` is what tf.layers exports as `max_pooling2d`).
ALIASES = {"max_pool2d": "max_pooling2d", "MaxPool2D": "MaxPooling2D"}
BASE = "Layer"
#: tf.layers names tf2norm does not replace: {name: the one-line fix}.
UNMAPPED = {
    "conv3d_transpose": "keras.layers.Conv3DTranspose(filters, kernel_size, ...)(x) (Keras names its variables "
                        "otherwise: rename conv3d_transpose/kernel and bias in the checkpoint)",
    "Conv3DTranspose": "keras.layers.Conv3DTranspose (Keras names its variables otherwise: rename "
                       "conv3d_transpose/kernel and bias in the checkpoint)",
    "separable_conv1d": "keras.layers.SeparableConv1D(filters, kernel_size, ...)(x) (Keras names its variables "
                        "otherwise: rename separable_conv1d/depthwise_kernel, pointwise_kernel and bias)",
    "SeparableConv1D": "keras.layers.SeparableConv1D (Keras names its variables otherwise: rename "
                       "separable_conv1d/depthwise_kernel, pointwise_kernel and bias)",
}
UNMAPPED_LEGACY = {f"{m}.{n}": n for m in MODULES for n in UNMAPPED}

RULES = rules(
    Rule("TF2N760", "class {name} subclasses TF1's tf.layers.{cls}: it now subclasses tf2norm.replacements.{cls}, "
                    "which has TF1's variables, build and call but not Keras 2's internals",
         "check the attributes {name} uses (Keras 2 internals such as _convolution_op do not exist), or derive "
         "it from tf2norm.replacements.Layer"),
    Rule("TF2N761", "{api}: tf.layers' {cls} has no replacement in tf2norm; it raises on TF 2.16+ and was left "
                    "unchanged", "{fix}"),
)


def _swap(name: str, replacement: str) -> Swap:
    # Not bound to a signature: the replacement takes TF 1.15's, and rejects what TF1 rejected.
    return Swap(frozenset(f"{m}.{name}" for m in MODULES), replacement, checked=False)


class Tf1LayersRewriter(ClassSwapRewriter):
    """The ClassSwap of tf.layers' functions and classes, plus the report of the names it cannot map."""

    def __init__(self, spec: ClassSwap, rules_):
        super().__init__(spec, rules_)
        self.legacy = spec.legacy | frozenset(UNMAPPED_LEGACY)

    def plan(self, ctx) -> None:
        for node, name in self.references(ctx):
            parent = ctx.names.parents.get(node)
            is_call = isinstance(parent, cst.Call) and parent.func is node
            if name in UNMAPPED_LEGACY:
                cls = UNMAPPED_LEGACY[name]
                ctx.report(RULES["TF2N761"], parent if is_call else node, api=code(node), cls=cls,
                           fix=UNMAPPED[cls])
                continue
            swap = self._swaps[name]
            if is_call:
                self.rewrite_call(ctx, parent, swap)
            else:
                self.rewrite_reference(ctx, node, swap)

    def rewrite_reference(self, ctx, node, swap: Swap) -> None:
        if swap.replacement == BASE:
            # A user layer on TF1's base runs unchanged on tf2norm's: nothing to report.
            self.replace(ctx, node, swap)
            return
        super().rewrite_reference(ctx, node, swap)


REWRITER = Tf1LayersRewriter(ClassSwap(
    classes=(*(_swap(name, name) for name in (*FUNCTIONS, *CLASSES, BASE)),
             *(_swap(alias, name) for alias, name in ALIASES.items())),
    subclass_rule=RULES["TF2N760"],
), RULES)
