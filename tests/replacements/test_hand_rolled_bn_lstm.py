"""BatchNormLSTMCell beyond the goldens: arguments, training resolution, Keras integration, config.

The numbers themselves are held to real TF 1.15 in test_hand_rolled_bn_lstm_golden.py; here the
expected values come from tf2norm.reference (the NumPy second oracle) or from the spec directly.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import BatchNormLSTMCell

B, T, D, H, ROWS = 6, 4, 3, 2, 3


def data(seed=0, steps=T):
    return np.random.RandomState(seed).normal(0.0, 1.0, (B, steps, D)).astype(np.float32)


def built_cell(**kwargs):
    cell = BatchNormLSTMCell(H, ROWS, **kwargs)
    cell.build((None, D))
    return cell


def tf1_weights(cell):
    """The cell's values keyed by TF1 name relative to the cell scope (tf2norm.reference's keys)."""
    return {name: np.array(weight) for name, weight in cell.tf1_named_weights().items()}


def reference_run(cell, x, training, weights=None):
    return reference.bn_lstm_sequence(x, [weights or tf1_weights(cell)], max_bn_steps=ROWS, training=training,
                                      decay=cell.decay, epsilon=cell.epsilon, forget_bias=cell.forget_bias)


# ------------------------------------------------------------------------------ constructor


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_units": 0, "max_bn_steps": 3}, "num_units must be a positive integer"),
        ({"num_units": 2.5, "max_bn_steps": 3}, "num_units must be a positive integer"),
        ({"num_units": 2, "max_bn_steps": 0}, "max_bn_steps must be a positive integer"),
        ({"num_units": 2, "max_bn_steps": True}, "max_bn_steps must be a positive integer"),
        ({"num_units": 2, "max_bn_steps": 3, "decay": 1.5}, r"decay must be in \[0, 1\]"),
        ({"num_units": 2, "max_bn_steps": 3, "epsilon": -1.0}, "epsilon must be >= 0"),
    ],
)
def test_bad_arguments_are_rejected_with_their_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BatchNormLSTMCell(**kwargs)


def test_initial_values_are_the_copied_cells():
    cell = built_cell()
    weights = tf1_weights(cell)
    assert sorted(weights) == sorted(
        ["W_xh", "W_hh", "xh/scale", "hh/scale", "hh/offset", "c/scale", "c/offset"]
        + [f"{g}/{s}" for g in ("xh", "hh", "c") for s in ("pop_mean", "pop_var")]
    )
    assert weights["W_xh"].shape == (D, 4 * H) and weights["W_hh"].shape == (H, 4 * H)
    for group, size in (("xh", 4 * H), ("hh", 4 * H), ("c", H)):
        np.testing.assert_array_equal(weights[f"{group}/scale"], np.full(size, 0.1, np.float32))
        np.testing.assert_array_equal(weights[f"{group}/pop_mean"], np.zeros((ROWS, size), np.float32))
        np.testing.assert_array_equal(weights[f"{group}/pop_var"], np.ones((ROWS, size), np.float32))
    np.testing.assert_array_equal(weights["hh/offset"], [1.0] * H + [0.0] * 3 * H)  # forget quarter first
    np.testing.assert_array_equal(weights["c/offset"], np.zeros(H))
    # Orthogonal recurrent kernel: W_hh W_hh^T = I (H rows of a 4H-wide orthogonal matrix).
    np.testing.assert_allclose(weights["W_hh"] @ weights["W_hh"].T, np.eye(H), atol=1e-5)
    trainable = {w.name for w in cell.trainable_weights}
    assert trainable == {"W_xh", "W_hh", "xh_scale", "hh_scale", "hh_offset", "c_scale", "c_offset"}


def test_state_is_c_h_and_a_step_counter():
    cell = built_cell()
    assert cell.state_size == (H, H, 1) and cell.output_size == H
    zeros = cell.get_initial_state(batch_size=B)
    assert [tuple(z.shape) for z in zeros] == [(B, H), (B, H), (B, 1)]
    assert isinstance(cell.zero_state(B, tf.float32), tuple)


# ------------------------------------------------------------------------------ training


def test_keras_training_run_updates_each_step_row_once_and_matches_the_reference():
    cell = built_cell(decay=0.8)
    x = data()
    expected_outputs, _, (stats,) = reference_run(cell, x, training=True)
    rnn = keras.layers.RNN(cell, return_sequences=True)
    outputs = rnn(x, training=True)
    np.testing.assert_allclose(outputs, expected_outputs, atol=2e-6)
    for name, value in stats.items():
        np.testing.assert_allclose(np.array(getattr(cell, name.replace("/", "_"))), value, atol=1e-6, err_msg=name)


def test_one_step_sequence_moves_its_row_by_exactly_one_update():
    # keras.layers.RNN calls the cell an extra time on the first step to learn its output shape;
    # that call must not move the statistics: row 0 takes exactly decay * 0 + (1 - decay) * mean.
    cell = built_cell(decay=0.5)
    x = data(steps=1)
    keras.layers.RNN(cell)(x, training=True)
    xh = x[:, 0] @ np.array(cell.W_xh)
    np.testing.assert_allclose(np.array(cell.xh_pop_mean)[0], 0.5 * xh.mean(0), atol=1e-6)
    np.testing.assert_array_equal(np.array(cell.xh_pop_mean)[1:], 0.0)


@pytest.mark.parametrize("unroll", [False, True])
def test_tf_function_and_unrolled_loops_update_like_eager(unroll):
    x = data(1, steps=5)  # steps past ROWS - 1 share the last row
    eager, compiled = built_cell(), built_cell()
    compiled.set_weights(eager.get_weights())
    keras.layers.RNN(eager)(x, training=True)
    layer = keras.layers.RNN(compiled, unroll=unroll)
    tf.function(lambda t: layer(t, training=tf.constant(True)))(tf.constant(x))
    for a, b in zip(eager.weights, compiled.weights):
        np.testing.assert_allclose(np.array(a), np.array(b), atol=1e-6, err_msg=a.name)
    assert np.any(np.array(eager.c_pop_var) != 1.0)


def test_inference_leaves_the_statistics_and_uses_the_step_rows():
    cell = built_cell()
    rng = np.random.RandomState(3)
    for name in ("xh", "hh", "c"):
        size = getattr(cell, f"{name}_pop_mean").shape[1]
        getattr(cell, f"{name}_pop_mean").assign(rng.normal(0, 0.5, (ROWS, size)))
        getattr(cell, f"{name}_pop_var").assign(rng.uniform(0.5, 2.0, (ROWS, size)))
    before = [np.array(w) for w in cell.weights]
    x = data(4, steps=5)
    expected, _, _ = reference_run(cell, x, training=False)
    got = keras.layers.RNN(cell, return_sequences=True)(x, training=False)
    np.testing.assert_allclose(got, expected, atol=2e-6)
    for old, w in zip(before, cell.weights):
        np.testing.assert_array_equal(old, np.array(w))


def test_training_falls_back_to_the_constructor_then_to_inference():
    x = tf.constant(data()[:, 0])
    for default, moves in ((True, True), (False, False), (None, False)):
        cell = built_cell(training=default)
        states = cell.get_initial_state(batch_size=B)
        cell(x, states, training=None)  # a Keras call that passes no training value
        assert bool(np.any(np.array(cell.c_pop_var) != 1.0)) is moves, default
    cell = built_cell(training=True)
    cell(x, cell.get_initial_state(batch_size=B), training=False)  # Keras' own value wins
    np.testing.assert_array_equal(np.array(cell.c_pop_var), 1.0)


def test_tf1_style_call_uses_the_constructor_flag_and_a_variable_flag_is_read_at_run_time():
    flag = tf.Variable(False)
    cell = built_cell(training=flag)
    x = data(5)
    state = cell.zero_state(B, tf.float32)
    _, state = cell(tf.constant(x[:, 0]), state)
    np.testing.assert_array_equal(np.array(cell.xh_pop_mean), 0.0)
    flag.assign(True)
    _, state = cell(tf.constant(x[:, 1]), state)
    moved = np.array(cell.xh_pop_mean)
    assert np.all(moved[1] != 0.0) and np.all(moved[[0, 2]] == 0.0)  # row of step 1 only
    np.testing.assert_array_equal(state[2], np.full((B, 1), 2.0))


def test_bad_training_and_state_are_rejected():
    cell = built_cell(training=tf.constant([True, False]))
    with pytest.raises(ValueError, match="training must be a scalar"):
        cell(tf.constant(data()[:, 0]), cell.zero_state(B, tf.float32))
    cell = built_cell()
    x = tf.constant(data()[:, 0])
    with pytest.raises(ValueError, match=r"the state is \(c, h, step\)"):
        cell(x, (tf.zeros((B, H)), tf.zeros((B, H))))


# ------------------------------------------------------------------------------ Keras integration


def test_gradients_reach_every_trainable_weight_and_not_the_statistics():
    cell = built_cell()
    rnn = keras.layers.RNN(cell)
    x = tf.constant(data())
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(rnn(x, training=True) ** 2)
    grads = tape.gradient(loss, cell.trainable_weights)
    assert all(g is not None and np.any(np.array(g) != 0) for g in grads)
    assert len(cell.non_trainable_weights) == 6


def test_config_round_trip_and_saved_model(tmp_path):
    cell = BatchNormLSTMCell(H, ROWS, initial_scale=0.2, decay=0.9, epsilon=1e-3, activation="softsign",
                             forget_bias=0.5, training=True, name="bnlstm")
    clone = BatchNormLSTMCell.from_config(cell.get_config())
    for key in ("num_units", "max_bn_steps", "initial_scale", "decay", "epsilon", "forget_bias", "default_training"):
        assert getattr(clone, key) == getattr(cell, key), key
    model = keras.Sequential([keras.Input((T, D)), keras.layers.RNN(cell)])
    x = data()
    model(x, training=True)  # move the statistics, so the saved file must carry them
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    loaded_cell = loaded.layers[0].cell
    assert isinstance(loaded_cell, BatchNormLSTMCell)
    np.testing.assert_array_equal(np.array(loaded_cell.c_pop_mean), np.array(cell.c_pop_mean))


def test_a_tensor_training_flag_cannot_be_serialised():
    with pytest.raises(ValueError, match="training is a tensor and cannot be serialised"):
        BatchNormLSTMCell(H, ROWS, training=tf.constant(True)).get_config()
