"""Legacy `tf.contrib.rnn.LayerNormBasicLSTMCell` (however imported or aliased) ->
`tf2norm.replacements.LayerNormBasicLSTMCell`, same TF1 constructor, in both targets.

The replacement is a Keras 3 RNN cell that is also callable as a TF1 cell by
`tf.compat.v1.nn.dynamic_rnn`, and in graph mode creates TF1's variable names, so the arguments stay
as they are. The wrappers around it (MultiRNNCell, DropoutWrapper, dynamic_rnn) are the business of
`rnn_cell_wrappers`, which reads the cells planned here.
"""

from __future__ import annotations

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules

LEGACY = frozenset({
    "tensorflow.contrib.rnn.LayerNormBasicLSTMCell",
    "tensorflow.contrib.rnn.python.ops.rnn_cell.LayerNormBasicLSTMCell",
})

# TF 0.12-1.15; the replacement takes the same arguments.
SIGNATURE = ("num_units", "forget_bias", "input_size", "activation", "layer_norm", "norm_gain", "norm_shift",
             "dropout_keep_prob", "dropout_prob_seed", "reuse")

RULES = rules(
    Rule("TF2N201", "class {name} subclasses LayerNormBasicLSTMCell: it now subclasses tf2norm's Keras cell, whose "
                    "internals (build, call, _norm) are not TF1's",
                    "check the methods {name} overrides against tf2norm.replacements.LayerNormBasicLSTMCell"),
)


REWRITER = ClassSwapRewriter(ClassSwap(
    classes=(Swap(LEGACY, "LayerNormBasicLSTMCell", SIGNATURE, required=1, checked=False),),
    subclass_rule=RULES["TF2N201"], cell=True, sequence_layer="LayerNormBasicLSTM",
), RULES)
