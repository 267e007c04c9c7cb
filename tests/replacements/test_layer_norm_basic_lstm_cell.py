"""LayerNormBasicLSTMCell as a Keras 3 cell and as a TF1 cell: API, dropout rules, saving, scoping.

The numbers against real TF1 are in test_layer_norm_basic_lstm_cell_golden.py; here the NumPy reference
(tf2norm.reference) serves as the oracle where numbers are needed.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import LayerNormBasicLSTMCell, LSTMStateTuple, MultiRNNCell

RNG = np.random.RandomState(3)
X = RNG.normal(0, 1, (2, 6, 3)).astype(np.float32)


def _reference_weights(cell):
    weights = {"kernel": cell.kernel.numpy()}
    if cell.layer_norm:
        for norm in ("input", "transform", "forget", "output", "state"):
            weights[f"{norm}/gamma"] = getattr(cell, f"{norm}_gamma").numpy()
            weights[f"{norm}/beta"] = getattr(cell, f"{norm}_beta").numpy()
    else:
        weights["bias"] = cell.bias.numpy()
    return weights


@pytest.mark.parametrize("layer_norm", [True, False])
def test_keras_rnn_matches_numpy_reference(layer_norm):
    cell = LayerNormBasicLSTMCell(5, layer_norm=layer_norm, forget_bias=0.5)
    outputs = keras.layers.RNN(cell, return_sequences=True)(X)
    expected, _ = reference.ln_lstm_sequence(X, _reference_weights(cell), forget_bias=0.5, layer_norm=layer_norm)
    np.testing.assert_allclose(outputs.numpy(), expected, atol=2e-6)


def test_weights_shapes_and_initialisers():
    cell = LayerNormBasicLSTMCell(4, norm_gain=0.7, norm_shift=0.2)
    cell.build((None, 3))
    assert [w.name for w in cell.weights][:3] == ["kernel", "input_gamma", "input_beta"]
    assert cell.kernel.shape == (7, 16)
    np.testing.assert_allclose(cell.forget_gamma.numpy(), 0.7)
    np.testing.assert_allclose(cell.state_beta.numpy(), 0.2)
    plain = LayerNormBasicLSTMCell(4, layer_norm=False)
    plain.build((None, 3))
    assert [w.name for w in plain.weights] == ["kernel", "bias"]
    assert np.abs(plain.bias.numpy()).max() > 0  # glorot-initialised, not zeros, as TF1


def test_bidirectional_and_stacking_in_keras():
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            keras.layers.Bidirectional(keras.layers.RNN(LayerNormBasicLSTMCell(4), return_sequences=True)),
            keras.layers.RNN(MultiRNNCell([LayerNormBasicLSTMCell(5), LayerNormBasicLSTMCell(2)])),
        ]
    )
    assert model(X).shape == (2, 2)
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells([LayerNormBasicLSTMCell(5), LayerNormBasicLSTMCell(2)]))
    assert stacked(X).shape == (2, 2)


def test_keras_dropout_only_when_training_true():
    cell = LayerNormBasicLSTMCell(8, dropout_keep_prob=0.5, dropout_prob_seed=1)
    layer = keras.layers.RNN(cell, return_sequences=True)
    inference = layer(X)
    np.testing.assert_array_equal(layer(X, training=False).numpy(), inference.numpy())
    expected, _ = reference.ln_lstm_sequence(X, _reference_weights(cell))
    np.testing.assert_allclose(inference.numpy(), expected, atol=2e-6)
    assert np.abs(layer(X, training=True).numpy() - inference.numpy()).max() > 1e-3


def test_legacy_calls_apply_dropout_as_tf1_did():
    cell = LayerNormBasicLSTMCell(8, dropout_keep_prob=0.5, dropout_prob_seed=1)
    state = cell.zero_state(2, tf.float32)
    assert isinstance(state, LSTMStateTuple)
    h, new_state = cell(X[:, 0], state)
    assert isinstance(new_state, LSTMStateTuple)
    no_dropout = LayerNormBasicLSTMCell(8)
    no_dropout.build((None, 3))
    for a, b in zip(no_dropout.weights, cell.weights):
        a.assign(b)
    h_plain, _ = no_dropout(X[:, 0], state)
    assert np.abs(h.numpy() - h_plain.numpy()).max() > 1e-4
    # A keep probability tensor of 1.0 (a fed placeholder in TF1) changes nothing.
    keep = tf.Variable(1.0)
    cell_keep = LayerNormBasicLSTMCell(8, dropout_keep_prob=keep)
    cell_keep.build((None, 3))
    for a, b in zip(cell_keep.weights, cell.weights):
        a.assign(b)
    h_keep, _ = cell_keep(X[:, 0], state)
    np.testing.assert_array_equal(h_keep.numpy(), h_plain.numpy())


def test_input_size_is_ignored_with_a_warning():
    with pytest.warns(UserWarning, match="input_size is ignored"):
        LayerNormBasicLSTMCell(4, input_size=3)


def test_config_round_trip_and_keras_file(tmp_path):
    cell = LayerNormBasicLSTMCell(4, forget_bias=0.0, activation="relu", layer_norm=False, dropout_keep_prob=0.8)
    clone = LayerNormBasicLSTMCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.RNN(LayerNormBasicLSTMCell(4, norm_gain=0.5))])
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored(X).numpy(), model(X).numpy())
    with pytest.raises(ValueError, match="tensor"):
        LayerNormBasicLSTMCell(4, dropout_keep_prob=tf.constant(0.5)).get_config()


def test_graph_mode_scopes_reuse_and_static_unrolling():
    with tf.Graph().as_default():
        cell = LayerNormBasicLSTMCell(4)
        x = tf.compat.v1.placeholder(tf.float32, [2, 6, 3])
        state = cell.zero_state(2, tf.float32)
        # static_rnn style: the same cell called at every step shares one set of variables.
        with tf.compat.v1.variable_scope("unrolled"):
            for t in range(3):
                _, state = cell(x[:, t], state)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        assert names[0] == "unrolled/layer_norm_basic_lstm_cell/kernel"
        assert len(names) == 11
        # As in TF1, a second cell in the same scope collides (the classic "already exists").
        other = LayerNormBasicLSTMCell(4)
        with tf.compat.v1.variable_scope("unrolled"):
            with pytest.raises(ValueError, match="already exists"):
                other(x[:, 0], other.zero_state(2, tf.float32))
        # ... and reuse=True shares the first cell's variables instead.
        shared = LayerNormBasicLSTMCell(4, reuse=True)
        with tf.compat.v1.variable_scope("unrolled"):
            shared(x[:, 0], shared.zero_state(2, tf.float32))
        assert len(tf.compat.v1.global_variables()) == 11


# NUMERICS.md: TF 1.x's own test vectors, a two-layer MultiRNNCell of LayerNormBasicLSTMCell(2),
# every variable 0.5 except gamma=1 and beta=0, one step.
_VECTOR_STATE = ((0.1 * np.array([[0, 1]]), 0.1 * np.array([[2, 3]])),
                 (0.1 * np.array([[4, 5]]), 0.1 * np.array([[6, 7]])))
_VECTORS = {
    True: dict(h=[[-0.38079708, 0.38079708]], c0=[[-1.0, 1.0]], c1=[[-1.0, 1.0]]),
    False: dict(h=[[0.70230919, 0.72581059]], c0=[[0.8020075, 0.89599884]], h0=[[0.56668288, 0.60858738]],
                c1=[[1.17500675, 1.26892781]]),
}


def _check_vector(layer_norm, h, states):
    expected = _VECTORS[layer_norm]
    np.testing.assert_allclose(h, expected["h"], atol=1e-6)
    np.testing.assert_allclose(states[0].c, expected["c0"], atol=1e-6)
    np.testing.assert_allclose(states[1].c, expected["c1"], atol=1e-6)
    if "h0" in expected:
        np.testing.assert_allclose(states[0].h, expected["h0"], atol=1e-6)


def _vector_state():
    return tuple(LSTMStateTuple(tf.constant(c, tf.float32), tf.constant(h, tf.float32)) for c, h in _VECTOR_STATE)


@pytest.mark.parametrize("layer_norm", [True, False])
def test_tf1_public_vectors_in_graph_mode(layer_norm):
    with tf.Graph().as_default():
        with tf.compat.v1.variable_scope("root", initializer=tf.compat.v1.constant_initializer(0.5)):
            cell = MultiRNNCell([LayerNormBasicLSTMCell(2, layer_norm=layer_norm) for _ in range(2)])
            h, states = cell(tf.constant([[1.0, 1.0]]), _vector_state())
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            _check_vector(layer_norm, *sess.run([h, states]))


@pytest.mark.parametrize("layer_norm", [True, False])
def test_tf1_public_vectors_in_eager_mode(layer_norm):
    cells = [LayerNormBasicLSTMCell(2, layer_norm=layer_norm) for _ in range(2)]
    for cell, depth in zip(cells, (2, 2)):
        cell.build((None, depth))
        for weight in cell.weights:  # gamma=1 and beta=0 are the initialisers already
            if weight.name in ("kernel", "bias"):
                weight.assign(np.full(weight.shape, 0.5, np.float32))
    h, states = MultiRNNCell(cells)(tf.constant([[1.0, 1.0]]), _vector_state())
    _check_vector(layer_norm, h.numpy(), [LSTMStateTuple(s.c.numpy(), s.h.numpy()) for s in states])
