"""contrib.rnn's `stack_bidirectional_dynamic_rnn` and `stack_bidirectional_rnn`, which went with `tf.contrib`.

TF 1.15's functions (`tensorflow/contrib/rnn/python/ops/rnn.py`) line for line, on
`tf.compat.v1.nn.bidirectional_dynamic_rnn` / `static_bidirectional_rnn`, which TF 2.16+ still has: the
same checks and errors, the same variable scopes, so a TF1 `Saver` checkpoint restores unchanged:

    stack_bidirectional_rnn/cell_<i>/bidirectional_rnn/{fw,bw}/<cell scope>/...   (dynamic)
    stack_bidirectional_rnn/cell_<i>/{fw,bw}/<cell scope>/...                     (static)

(`scope=` replaces `stack_bidirectional_rnn`). Layer i's forward and backward outputs, concatenated on
the last axis, are layer i+1's input. The cells are TF1 cells (tf2norm's replacements: `LSTMCell`,
`LayerNormBasicLSTMCell`, `LSTMBlockCell`, ..., or a hand-written `RNNCell`). They are tf.compat.v1
graph code, as in TF1; eagerly they run too, with the cells' Keras weights.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = ["stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn"]


def _check(cells_fw, cells_bw, initial_states_fw, initial_states_bw) -> None:
    """TF 1.15's argument checks, with its messages."""
    if not cells_fw:
        raise ValueError("Must specify at least one fw cell for BidirectionalRNN.")
    if not cells_bw:
        raise ValueError("Must specify at least one bw cell for BidirectionalRNN.")
    if not isinstance(cells_fw, list):
        raise ValueError("cells_fw must be a list of RNNCells (one per layer).")
    if not isinstance(cells_bw, list):
        raise ValueError("cells_bw must be a list of RNNCells (one per layer).")
    if len(cells_fw) != len(cells_bw):
        raise ValueError("Forward and Backward cells must have the same depth.")
    if initial_states_fw is not None and (not isinstance(initial_states_fw, list)
                                          or len(initial_states_fw) != len(cells_fw)):
        raise ValueError("initial_states_fw must be a list of state tensors (one per layer).")
    if initial_states_bw is not None and (not isinstance(initial_states_bw, list)
                                          or len(initial_states_bw) != len(cells_bw)):
        raise ValueError("initial_states_bw must be a list of state tensors (one per layer).")


def _initial(states, i):
    return states[i] if states else None


def stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None,
                                    dtype=None, sequence_length=None, parallel_iterations=None, time_major=False,
                                    scope=None, swap_memory=False):
    """TF 1.15's `tf.contrib.rnn.stack_bidirectional_dynamic_rnn`: returns `(outputs, states_fw, states_bw)`.

    `outputs` `[batch, time, fw + bw depth of the last layer]` (time-major with `time_major=True`);
    `states_fw` / `states_bw`: tuples of each layer's final state. `cells_fw` and `cells_bw` are lists of
    the same length; `initial_states_fw` / `_bw` lists of one state per layer (default: zeros of `dtype`).
    """
    _check(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw = [], []
    prev_layer = inputs
    with tf.compat.v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with tf.compat.v1.variable_scope("cell_%d" % i):
                outputs, (state_fw, state_bw) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
                    cell_fw, cell_bw, prev_layer, initial_state_fw=_initial(initial_states_fw, i),
                    initial_state_bw=_initial(initial_states_bw, i), sequence_length=sequence_length,
                    parallel_iterations=parallel_iterations, dtype=dtype, swap_memory=swap_memory,
                    time_major=time_major)
                # Concat the outputs to create the new input.
                prev_layer = tf.concat(outputs, 2)
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return prev_layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None, initial_states_bw=None, dtype=None,
                            sequence_length=None, scope=None):
    """TF 1.15's `tf.contrib.rnn.stack_bidirectional_rnn` (static): `inputs` a list of `[batch, depth]` tensors,
    one per step; returns `(outputs, states_fw, states_bw)`, `outputs` a list of the last layer's
    depth-concatenated forward and backward outputs per step."""
    _check(cells_fw, cells_bw, initial_states_fw, initial_states_bw)
    states_fw, states_bw = [], []
    prev_layer = inputs
    with tf.compat.v1.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with tf.compat.v1.variable_scope("cell_%d" % i) as cell_scope:
                prev_layer, state_fw, state_bw = tf.compat.v1.nn.static_bidirectional_rnn(
                    cell_fw, cell_bw, prev_layer, initial_state_fw=_initial(initial_states_fw, i),
                    initial_state_bw=_initial(initial_states_bw, i), sequence_length=sequence_length, dtype=dtype,
                    scope=cell_scope)
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return prev_layer, tuple(states_fw), tuple(states_bw)
