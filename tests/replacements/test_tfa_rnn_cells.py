"""LayerNormLSTMCell / LayerNormSimpleRNNCell as Keras 3 cells: dropout, saving, config, layer-norm paths, errors.

The numbers against real tfa are in test_tfa_rnn_cells_golden.py; here the NumPy reference
(tf2norm.reference) or the cells themselves (dropout folded into the kernels) are the oracle.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell
from tf2norm.replacements.tfa_rnn_cells import (
    Keras2LayerNormalization,
    _keras2_activation,
)

X = np.random.RandomState(7).normal(0, 1, (2, 6, 3)).astype(np.float32)
CELLS = [LayerNormLSTMCell, LayerNormSimpleRNNCell]


def seeded(seed):
    """Fixed kernels: with a layer norm over a few units, some random draws are ill-conditioned enough
    to amplify float32 rounding past the tolerances, so no test depends on an unseeded draw."""
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
            "recurrent_initializer": keras.initializers.Orthogonal(seed=seed + 1)}


def _built(cls, depth=3, **kwargs):
    cell = cls(4, **kwargs)
    cell.build((None, depth))
    return cell


# -- layer norm: Keras 2's two paths -----------------------------------------------------------------


@pytest.mark.parametrize("epsilon, fused", [(1e-3, True), (1.001e-5, True), (1e-5, False), (1e-12, False)])
def test_layer_norm_path_follows_keras2_threshold(epsilon, fused):
    norm = Keras2LayerNormalization(epsilon=epsilon)
    rng = np.random.RandomState(1)
    x = rng.normal(0, 2, (5, 16)).astype(np.float32)
    norm.build(x.shape)
    norm.gamma.assign(rng.uniform(0.5, 1.5, 16))
    norm.beta.assign(rng.uniform(-0.5, 0.5, 16))
    assert norm.fused is fused
    expected = reference.keras2_layer_norm(x, norm.gamma.numpy(), norm.beta.numpy(), epsilon)
    # float32 rsqrt: the reference rounds 1/sqrt twice, Eigen once.
    np.testing.assert_allclose(norm(x).numpy(), expected, rtol=0, atol=5e-7)


def test_layer_norm_float64_variables_never_fused():
    # Keras 2: fused_batch_norm only takes float32 variables.
    norm = Keras2LayerNormalization(epsilon=1e-3, dtype="float64")
    x = np.random.RandomState(2).normal(0, 2, (5, 8))
    norm.build(x.shape)
    assert norm.fused is False
    y = norm(x).numpy()
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, expected, atol=1e-12)


def test_cells_norm_layers_take_tfa_epsilons():
    lstm = _built(LayerNormLSTMCell)
    srnn = _built(LayerNormSimpleRNNCell)
    assert [n.epsilon for n in (lstm.kernel_norm, lstm.recurrent_norm, lstm.state_norm)] == [1e-3] * 3
    assert lstm.kernel_norm.fused and not srnn.layernorm.fused  # tfa's defaults land on both paths
    assert srnn.layernorm.epsilon == 1e-5 and srnn.layernorm.beta is None


def test_hard_sigmoid_is_keras2s():
    x = tf.constant(np.linspace(-4, 4, 33, dtype=np.float32))
    ours = _keras2_activation(keras.activations.get("hard_sigmoid"))(x).numpy()
    np.testing.assert_allclose(ours, np.clip(0.2 * x.numpy() + 0.5, 0, 1), atol=1e-7)
    assert np.abs(ours - keras.activations.hard_sigmoid(x).numpy()).max() > 0.08  # Keras 3's: x / 6 + 0.5
    assert _keras2_activation(keras.activations.tanh) is keras.activations.tanh


# -- numbers: Keras RNN against the NumPy reference --------------------------------------------------


def _reference_weights(cell):
    """The reference's keys: tfa's weight names under the cell."""
    weights = {"kernel": cell.kernel.numpy(), "recurrent_kernel": cell.recurrent_kernel.numpy()}
    if cell.use_bias:
        weights["bias"] = cell.bias.numpy()
    if isinstance(cell, LayerNormSimpleRNNCell):
        weights["gamma"] = cell.layernorm.gamma.numpy()
    else:
        for norm in ("kernel_norm", "recurrent_norm", "state_norm"):
            weights[norm + "/gamma"] = getattr(cell, norm).gamma.numpy()
            weights[norm + "/beta"] = getattr(cell, norm).beta.numpy()
    return weights


@pytest.mark.parametrize("use_bias", [True, False])
def test_lstm_matches_numpy_reference(use_bias):
    cell = LayerNormLSTMCell(4, use_bias=use_bias, norm_epsilon=1e-3, **seeded(3))
    outputs, h, c = keras.layers.RNN(cell, return_sequences=True, return_state=True)(X)
    weights = _reference_weights(cell)
    assert ("bias" in weights) is use_bias
    zeros = np.zeros((2, 4), np.float32)
    expected, (eh, ec) = reference.keras_rnn(lambda x, s: reference.tfa_ln_lstm_step(x, s, weights), X, (zeros, zeros))
    np.testing.assert_allclose(outputs.numpy(), expected, atol=2e-6)
    np.testing.assert_allclose(c.numpy(), ec, atol=2e-6)
    np.testing.assert_allclose(h.numpy(), eh, atol=2e-6)


@pytest.mark.parametrize("epsilon", [1e-5, 1e-3])
def test_simple_rnn_matches_numpy_reference(epsilon):
    cell = LayerNormSimpleRNNCell(4, layernorm_epsilon=epsilon, activation="relu", **seeded(5))
    outputs = keras.layers.RNN(cell, return_sequences=True)(X)
    weights = _reference_weights(cell)
    assert sorted(weights) == ["bias", "gamma", "kernel", "recurrent_kernel"]
    expected, _ = reference.keras_rnn(
        lambda x, s: reference.tfa_ln_simple_rnn_step(x, s, weights, layernorm_epsilon=epsilon, activation="relu"),
        X, (np.zeros((2, 4), np.float32),))
    np.testing.assert_allclose(outputs.numpy(), expected, atol=2e-6)


# -- dropout: Keras semantics --------------------------------------------------------------------------


def _masks_of_one_call(layer, x, training):
    """Run `layer` and return the (input, recurrent) dropout masks its cell used in that call."""
    cell, captured = layer.cell, []
    original = cell.reset_dropout_mask

    def capture():
        captured.append((cell._dropout_mask, cell._recurrent_dropout_mask))
        original()

    cell.reset_dropout_mask = capture
    try:
        outputs = layer(x, training=training)
    finally:
        cell.reset_dropout_mask = original
    (masks,) = captured
    return outputs, masks


def _first(mask):
    return (mask[0] if isinstance(mask, (list, tuple)) else mask).numpy()


@pytest.mark.parametrize("cls", CELLS)
def test_dropout_is_one_mask_per_sequence_on_inputs_and_state(cls):
    # Batch 1, so each mask folds into a kernel: (x * m) @ K == x @ (diag(m) K).
    x = np.random.RandomState(3).normal(0, 1, (1, 7, 3)).astype(np.float32)
    layer = keras.layers.RNN(cls(4, dropout=0.5, recurrent_dropout=0.4, seed=3, **seeded(7)), return_sequences=True)
    layer.build(x.shape)
    outputs, (mask, recurrent_mask) = _masks_of_one_call(layer, x, training=True)
    mask, recurrent_mask = _first(mask), _first(recurrent_mask)
    # Inverted dropout: kept units scaled by 1 / (1 - rate).
    assert set(np.unique(mask)) <= {np.float32(0), np.float32(2)}
    assert set(np.unique(recurrent_mask)) <= {np.float32(0), np.float32(1 / 0.6)}
    assert 0 in mask or 0 in recurrent_mask
    twin = keras.layers.RNN(cls(4), return_sequences=True)
    twin.build(x.shape)
    weights = layer.get_weights()
    weights[0] = weights[0] * mask.reshape(-1, 1)
    weights[1] = weights[1] * recurrent_mask.reshape(-1, 1)
    twin.set_weights(weights)
    np.testing.assert_allclose(outputs.numpy(), twin(x).numpy(), atol=2e-6)


@pytest.mark.parametrize("cls", CELLS)
def test_dropout_only_when_training_and_new_masks_per_call(cls):
    layer = keras.layers.RNN(cls(4, dropout=0.5, recurrent_dropout=0.5, seed=1, **seeded(9)), return_sequences=True)
    twin = keras.layers.RNN(cls(4), return_sequences=True)
    layer.build(X.shape)
    twin.build(X.shape)
    twin.set_weights(layer.get_weights())
    np.testing.assert_array_equal(layer(X).numpy(), twin(X).numpy())
    np.testing.assert_array_equal(layer(X, training=False).numpy(), twin(X).numpy())
    first, second = layer(X, training=True).numpy(), layer(X, training=True).numpy()
    assert np.abs(first - twin(X).numpy()).max() > 1e-3
    assert np.abs(first - second).max() > 1e-3


# -- Keras integration -----------------------------------------------------------------------------------


def test_weights_order_names_and_shapes_are_tfas():
    lstm = _built(LayerNormLSTMCell, depth=5)
    assert [w.path.split("/", 1)[1] for w in lstm.weights] == [
        "kernel", "recurrent_kernel", "bias", "kernel_norm/gamma", "kernel_norm/beta",
        "recurrent_norm/gamma", "recurrent_norm/beta", "state_norm/gamma", "state_norm/beta"]
    assert [tuple(w.shape) for w in lstm.weights] == [(5, 16), (4, 16), (16,)] + [(16,)] * 4 + [(4,)] * 2
    np.testing.assert_array_equal(lstm.bias.numpy(), np.repeat([0, 1, 0, 0], 4))  # unit_forget_bias
    srnn = _built(LayerNormSimpleRNNCell, depth=5, use_bias=False)
    assert [w.path.split("/", 1)[1] for w in srnn.weights] == ["kernel", "recurrent_kernel", "layernorm/gamma"]
    assert srnn.bias is None


@pytest.mark.parametrize("cls", CELLS)
def test_config_round_trip(cls):
    cell = cls(5, activation="relu", dropout=0.25, kernel_initializer="he_normal", seed=4, name="c")
    config = cell.get_config()
    again = cls.from_config(config)
    assert again.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cell))
    assert type(restored) is cls and restored.get_config() == config


def test_keras_file_round_trip_with_bidirectional_and_stacking(tmp_path):
    model = keras.Sequential([
        keras.Input((6, 3)),
        keras.layers.Bidirectional(keras.layers.RNN(
            LayerNormLSTMCell(4, recurrent_activation="hard_sigmoid", norm_epsilon=1e-6), return_sequences=True)),
        keras.layers.RNN(keras.layers.StackedRNNCells([LayerNormSimpleRNNCell(3), LayerNormSimpleRNNCell(2)])),
    ])
    expected = model(X).numpy()
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded(X).numpy(), expected)
    cell = loaded.layers[0].backward_layer.cell
    assert type(cell) is LayerNormLSTMCell and cell.norm_epsilon == 1e-6 and not cell.kernel_norm.fused


def test_trains_in_a_compiled_model():
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.RNN(LayerNormLSTMCell(4, dropout=0.1)),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = [w.numpy().copy() for w in model.weights]
    history = model.fit(X, np.ones((2, 1), np.float32), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.abs(b - w.numpy()).max() > 0 for b, w in zip(before, model.weights))


def test_mixed_precision_normalises_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        cell = LayerNormSimpleRNNCell(4, **seeded(11))
        outputs = keras.layers.RNN(cell, return_sequences=True)(X)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert outputs.dtype == "float16" and cell.layernorm.gamma.dtype == "float32"
    twin = keras.layers.RNN(LayerNormSimpleRNNCell(4), return_sequences=True)
    twin.build(X.shape)
    twin.set_weights([w.numpy() for w in cell.weights])
    np.testing.assert_allclose(outputs.numpy().astype(np.float32), twin(X).numpy(), atol=1e-2)


# -- errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CELLS)
def test_bad_arguments_raise_clear_errors(cls):
    with pytest.raises(ValueError, match="units"):
        cls(0)
    with pytest.raises(ValueError, match="not_an_activation"):
        cls(4, activation="not_an_activation")
    with pytest.raises((TypeError, ValueError), match="no_such_argument"):
        cls(4, no_such_argument=1)
