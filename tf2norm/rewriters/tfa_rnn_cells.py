"""Legacy `tfa.rnn.LayerNormLSTMCell` / `LayerNormSimpleRNNCell` (tensorflow-addons, however imported or aliased)
-> `tf2norm.replacements.LayerNormLSTMCell` / `LayerNormSimpleRNNCell`, same arguments, in both targets.

tensorflow-addons does not install on TF 2.16+. tf2norm's cells take tfa's constructor argument for
argument (same order and defaults), hold tfa's weights in tfa's order and compute tfa's numbers
(Keras 2.15's layer norm and hard_sigmoid included), so only the class changes:

    tfa.rnn.LayerNormLSTMCell(64, recurrent_dropout=0.1)  ->  LayerNormLSTMCell(64, recurrent_dropout=0.1)

Every reference is rewritten: calls, the class used as a value (`cell_class=...`, `isinstance`,
`functools.partial`, `custom_objects`), `LayerNormLSTMCell.from_config(...)`, and a base class (then
reported, TF2N601: it now subclasses a Keras 3 cell). Reached as `import tensorflow_addons as tfa`,
`from tensorflow_addons import rnn`, `from tensorflow_addons.rnn import LayerNormLSTMCell as C`, the
defining modules (`tensorflow_addons.rnn.layer_norm_lstm_cell`, tfa <= 0.9's `tensorflow_addons.rnn.cell`)
and aliases of those. tfa's import goes when nothing else uses it.

Keras 2's base-layer keywords that Keras 3 rejects (`batch_input_shape`, `batch_size`, `weights`,
`dynamic`) are dropped when they hold their no-op default and reported otherwise (TF2N602, left
unchanged); `**kwargs` that may hide them are passed on and reported (TF2N603). A call tfa itself
rejected (unknown keyword, too many positional arguments) is reported and left as it is (TF2N011).
tf.contrib's `LayerNormBasicLSTMCell`, which tf_upgrade_v2 points to tfa's cell for, is another cell
(its own rewriter, layer_norm_basic_lstm_cell); nothing maps one onto the other.
"""

from __future__ import annotations

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules

# tfa 0.23 modules, and tfa 0.8-0.9's single `rnn/cell.py`.
_MODULES = {
    "LayerNormLSTMCell": ("tensorflow_addons.rnn", "tensorflow_addons.rnn.layer_norm_lstm_cell",
                          "tensorflow_addons.rnn.cell"),
    "LayerNormSimpleRNNCell": ("tensorflow_addons.rnn", "tensorflow_addons.rnn.layer_norm_simple_rnn_cell",
                               "tensorflow_addons.rnn.cell"),
}
LEGACY = frozenset(f"{module}.{cls}" for cls, modules in _MODULES.items() for module in modules)

# tfa 0.23's constructors; tf2norm.replacements' are the same.
SIGNATURES = {
    "LayerNormLSTMCell": (
        "units", "activation", "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
        "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
        "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout", "recurrent_dropout",
        "norm_gamma_initializer", "norm_beta_initializer", "norm_epsilon"),
    "LayerNormSimpleRNNCell": (
        "units", "activation", "use_bias", "layernorm_epsilon", "kernel_initializer", "recurrent_initializer",
        "bias_initializer", "gamma_initializer", "kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
        "gamma_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "gamma_constraint",
        "dropout", "recurrent_dropout"),
}
# Keras 2's base Layer keywords: those the replacements take (Keras 3's, plus `implementation`, which
# tfa's cells ignored), and those Keras 3 rejects, with the no-op default that may be dropped.
BASE_KEPT = ("trainable", "name", "dtype", "activity_regularizer", "autocast", "input_shape", "input_dim",
             "implementation")
BASE_DROPPED = {"batch_input_shape": None, "batch_size": None, "weights": None, "dynamic": False}

RULES = rules(
    Rule("TF2N601", "class {name} subclasses tfa's {cls}: it now subclasses tf2norm.replacements.{cls}, a Keras 3 "
                    "{base} whose internals (build, call, the norm sublayers) are not Keras 2's",
                    "check the methods {name} overrides against tf2norm.replacements.{cls}"),
    Rule("TF2N602", "{cls}({argument}=...): Keras 3 layers take no {argument}; left unchanged", "{fix}"),
    Rule("TF2N603", "{cls}(...) with **kwargs: migrated, but Keras 3 rejects Keras 2's batch_input_shape, batch_size, "
                    "weights and dynamic, which they may hold",
                    "make sure the keyword arguments hold none of them"),
)

_BASES = {"LayerNormLSTMCell": "keras.layers.LSTMCell", "LayerNormSimpleRNNCell": "keras.layers.SimpleRNNCell"}
_DROPPED_FIX = {
    "batch_input_shape": "start the model with keras.Input(batch_shape=...); a cell never needed it",
    "batch_size": "start the model with keras.Input(batch_size=...); a cell never needed it",
    "weights": "call cell.set_weights(...) once the cell is built",
    "dynamic": "drop it (Keras 3: model.compile(run_eagerly=True))",
}


REWRITER = ClassSwapRewriter(ClassSwap(
    classes=tuple(Swap(frozenset(f"{module}.{cls}" for module in modules), cls, SIGNATURES[cls], required=1,
                       keywords=BASE_KEPT, fields={"base": _BASES[cls]})
                  for cls, modules in _MODULES.items()),
    subclass_rule=RULES["TF2N601"], dropped=BASE_DROPPED, dropped_rule=RULES["TF2N602"], dropped_fixes=_DROPPED_FIX,
    star_rule=RULES["TF2N603"], members=True,
), RULES)
