"""MultiRNNCell, DropoutWrapper and LSTMStateTuple: TF1's wrappers, which raise on Keras 3, as tf2norm's.

TF1-style calls (dynamic_rnn) get TF1's scopes and dropout rule; Keras calls get Keras' (dropout only
when training). The cells' numbers are in their own tests; these wrappers add no arithmetic but dropout.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm.replacements import (
    DropoutWrapper,
    LayerNormBasicLSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
)

X = np.random.RandomState(4).normal(0, 1, (3, 5, 2)).astype(np.float32)


def test_dropout_wrapper_and_multi_rnn_cell_in_graph_mode():
    with tf.Graph().as_default():
        cells = [DropoutWrapper(LayerNormBasicLSTMCell(4), output_keep_prob=0.9) for _ in range(2)]
        x = tf.compat.v1.placeholder(tf.float32, [2, 6, 3])
        outputs, states = tf.compat.v1.nn.dynamic_rnn(MultiRNNCell(cells), x, dtype=tf.float32)
        assert outputs.shape == (2, 6, 4)
        assert isinstance(states[1], LSTMStateTuple)
        names = sorted(v.op.name for v in tf.compat.v1.global_variables())
        assert names[0] == "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell/forget/beta"
    with pytest.raises(NotImplementedError, match="variational_recurrent"):
        DropoutWrapper(LayerNormBasicLSTMCell(4), variational_recurrent=True)


def test_keras_output_dropout_only_when_training_and_never_on_the_state():
    cell = LayerNormBasicLSTMCell(4)
    wrapped = DropoutWrapper(cell, output_keep_prob=0.5, seed=7)
    plain = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    dropped = keras.layers.RNN(wrapped, return_sequences=True, return_state=True)
    outputs, c, h = (np.asarray(t) for t in plain(X))
    for training in (None, False):
        same = dropped(X, training=training)
        assert all(np.array_equal(np.asarray(a), b) for a, b in zip(same, (outputs, c, h)))
    d_outputs, d_c, d_h = (np.asarray(t) for t in dropped(X, training=True))
    # The wrapper's state is the cell's: output dropout leaves it alone, and each output is kept
    # (scaled by 1 / keep_prob) or zeroed.
    np.testing.assert_array_equal(d_c, c)
    np.testing.assert_array_equal(d_h, h)
    kept = d_outputs != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(d_outputs[kept], 2.0 * outputs[kept], rtol=1e-6)


def test_tf1_style_calls_drop_unless_the_keep_probability_is_the_float_1():
    cell = LayerNormBasicLSTMCell(4)
    state = cell.zero_state(3, tf.float32)
    expected, _ = cell(X[:, 0], state)
    kept, _ = DropoutWrapper(cell, output_keep_prob=1.0)(X[:, 0], state)
    np.testing.assert_array_equal(kept, expected)
    dropped, _ = DropoutWrapper(cell, output_keep_prob=0.5, seed=3)(X[:, 0], state)
    assert np.any(np.asarray(dropped) == 0) and np.any(np.asarray(dropped) != 0)


def test_multi_rnn_cell_stacks_in_keras_and_keeps_one_state_per_cell():
    cells = [LayerNormBasicLSTMCell(4), LayerNormBasicLSTMCell(3)]
    outputs, *states = keras.layers.RNN(MultiRNNCell(cells), return_sequences=True, return_state=True)(X)
    # Keras returns the nested state as it is: one [c, h] per cell.
    assert outputs.shape == (3, 5, 3)
    assert [[tuple(t.shape) for t in s] for s in states] == [[(3, 4), (3, 4)], [(3, 3), (3, 3)]]
    first = keras.layers.RNN(cells[0], return_sequences=True)(X)
    second = keras.layers.RNN(cells[1], return_sequences=True)(first)
    np.testing.assert_allclose(outputs, second, atol=1e-6)


def test_what_tf1_deprecated_or_tf2norm_cannot_do_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="state_is_tuple=False"):
        MultiRNNCell([LayerNormBasicLSTMCell(4)], state_is_tuple=False)
    with pytest.raises(ValueError, match="at least one cell"):
        MultiRNNCell([])
    with pytest.raises(NotImplementedError, match="dropout_state_filter_visitor"):
        DropoutWrapper(LayerNormBasicLSTMCell(4), dropout_state_filter_visitor=lambda s: True)
    mixed = LSTMStateTuple(tf.zeros([1], tf.float32), tf.zeros([1], tf.float64))
    with pytest.raises(TypeError, match="Inconsistent internal state"):
        mixed.dtype
