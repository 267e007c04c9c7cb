"""Legacy `tf.contrib.rnn.stack_bidirectional_dynamic_rnn` / `stack_bidirectional_rnn` (however imported or aliased)
-> `tf2norm.replacements`' functions of the same names, same arguments, in both targets.

TF 2.0 removed them with tf.contrib (tf_upgrade_v2 only reports them). tf2norm's are TF 1.15's code on
`tf.compat.v1.nn.bidirectional_dynamic_rnn` / `static_bidirectional_rnn`: the same checks, variable
scopes (`stack_bidirectional_rnn/cell_0/bidirectional_rnn/fw/...`) and numbers, so only the function
changes:

    tf.contrib.rnn.stack_bidirectional_dynamic_rnn(fw, bw, x, dtype=tf.float32)
        ->  stack_bidirectional_dynamic_rnn(fw, bw, x, dtype=tf.float32)

Every reference is rewritten: calls (bound to TF 1.15's signature; a call that does not bind is
reported, TF2N011, and left), and the function as a value. The cells it takes are migrated by their
own rewriters (tf1_rnn_cells, layer_norm_basic_lstm_cell, ...).
"""

from __future__ import annotations

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import rules

MODULES = ("tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python.ops.rnn")
#: TF 1.15's signatures.
SIGNATURES = {
    "stack_bidirectional_dynamic_rnn": ("cells_fw", "cells_bw", "inputs", "initial_states_fw", "initial_states_bw",
                                        "dtype", "sequence_length", "parallel_iterations", "time_major", "scope",
                                        "swap_memory"),
    "stack_bidirectional_rnn": ("cells_fw", "cells_bw", "inputs", "initial_states_fw", "initial_states_bw", "dtype",
                                "sequence_length", "scope"),
}

RULES = rules()

REWRITER = ClassSwapRewriter(ClassSwap(
    classes=tuple(Swap(frozenset(f"{m}.{name}" for m in MODULES), name, signature, required=3)
                  for name, signature in SIGNATURES.items()),
), RULES)
