"""LayerNormGRUCell as a Keras 3 cell and as a TF1 cell: API, dropout rules, saving, scoping, errors.

The numbers against real TF1 are in test_hand_rolled_layer_norm_gru_golden.py; here the NumPy reference
(tf2norm.reference.ln_gru_*) is the oracle where numbers are needed.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import DropoutWrapper, LayerNormGRUCell, MultiRNNCell

RNG = np.random.RandomState(7)
X = RNG.normal(0, 1, (2, 6, 3)).astype(np.float32)
LN_WEIGHTS = [
    "gates_kernel", "reset_gamma", "reset_beta", "update_gamma", "update_beta",
    "candidate_kernel", "candidate_gamma", "candidate_beta",
]  # fmt: skip


def _reference_weights(cell):
    return {w.name.replace("_", "/", 1): w.numpy() for w in cell.weights}


def _perturb(cell, seed=0):
    rng = np.random.RandomState(seed)
    for w in cell.weights:
        w.assign(w.numpy() + rng.uniform(-0.5, 0.5, w.shape).astype(np.float32))


@pytest.mark.parametrize("layer_norm", [True, False])
def test_keras_rnn_matches_numpy_reference(layer_norm):
    cell = LayerNormGRUCell(5, layer_norm=layer_norm)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    layer(X)
    _perturb(cell)
    outputs, state = layer(X)
    expected, h = reference.ln_gru_sequence(X, _reference_weights(cell), layer_norm=layer_norm)
    np.testing.assert_allclose(outputs.numpy(), expected, atol=2e-6)
    np.testing.assert_allclose(state.numpy(), h, atol=2e-6)


def test_weights_names_shapes_and_initialisers():
    cell = LayerNormGRUCell(4, norm_gain=0.7, norm_shift=0.2)
    cell.build((None, 3))
    assert [w.name for w in cell.weights] == LN_WEIGHTS
    assert cell.gates_kernel.shape == (7, 8) and cell.candidate_kernel.shape == (7, 4)
    for gate in ("reset", "update", "candidate"):
        np.testing.assert_array_equal(getattr(cell, f"{gate}_gamma").numpy(), np.full(4, 0.7, np.float32))
        np.testing.assert_array_equal(getattr(cell, f"{gate}_beta").numpy(), np.full(4, 0.2, np.float32))
    plain = LayerNormGRUCell(4, layer_norm=False)
    plain.build((None, 3))
    assert [w.name for w in plain.weights] == ["gates_kernel", "gates_bias", "candidate_kernel", "candidate_bias"]
    np.testing.assert_array_equal(plain.gates_bias.numpy(), np.ones(8, np.float32))  # GRUCell's 1.0
    np.testing.assert_array_equal(plain.candidate_bias.numpy(), np.zeros(4, np.float32))
    assert np.abs(plain.gates_kernel.numpy()).max() <= np.sqrt(6 / (7 + 8))  # glorot-uniform


def test_kernel_and_bias_initializers_in_keras_and_graph_code():
    cell = LayerNormGRUCell(3, layer_norm=False, kernel_initializer="ones",
                            bias_initializer=keras.initializers.Constant(0.5))
    cell.build((None, 2))
    np.testing.assert_array_equal(cell.gates_kernel.numpy(), np.ones((5, 6), np.float32))
    np.testing.assert_array_equal(cell.gates_bias.numpy(), np.full(6, 0.5, np.float32))
    np.testing.assert_array_equal(cell.candidate_bias.numpy(), np.full(3, 0.5, np.float32))
    with tf.Graph().as_default():
        graph_cell = LayerNormGRUCell(
            3, layer_norm=False, kernel_initializer=tf.compat.v1.constant_initializer(0.25), bias_initializer="zeros"
        )
        x = tf.compat.v1.placeholder(tf.float32, [1, 2, 2])
        tf.compat.v1.nn.dynamic_rnn(graph_cell, x, dtype=tf.float32)
        variables = tf.compat.v1.global_variables()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = dict(zip([v.op.name for v in variables], sess.run(variables)))
    np.testing.assert_array_equal(values["rnn/layer_norm_gru_cell/candidate/kernel"], np.full((5, 3), 0.25, np.float32))
    np.testing.assert_array_equal(values["rnn/layer_norm_gru_cell/gates/bias"], np.zeros(6, np.float32))


def test_bidirectional_and_stacking_in_keras():
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            keras.layers.Bidirectional(keras.layers.RNN(LayerNormGRUCell(4), return_sequences=True)),
            keras.layers.RNN(MultiRNNCell([LayerNormGRUCell(5), LayerNormGRUCell(2)])),
        ]
    )
    assert model(X).shape == (2, 2)
    stacked = keras.layers.RNN(keras.layers.StackedRNNCells([LayerNormGRUCell(5), LayerNormGRUCell(2)]))
    assert stacked(X).shape == (2, 2)


def test_multi_rnn_cell_in_keras_equals_the_layers_run_one_after_the_other():
    cells = [LayerNormGRUCell(5), LayerNormGRUCell(4, layer_norm=False)]
    stacked = keras.layers.RNN(MultiRNNCell(cells), return_sequences=True, return_state=True)
    stacked(X)
    for k, cell in enumerate(cells):
        _perturb(cell, seed=k)
    outputs, *states = stacked(X)
    h0, h1 = tf.nest.flatten(states)  # Keras keeps MultiRNNCell's per-cell structure: [[h0], [h1]]
    # The two cells differ in layer_norm, so the reference runs them one after the other.
    first, e0 = reference.ln_gru_sequence(X, _reference_weights(cells[0]), layer_norm=True)
    expected, e1 = reference.ln_gru_sequence(first, _reference_weights(cells[1]), layer_norm=False)
    np.testing.assert_allclose(outputs.numpy(), expected, atol=2e-6)
    np.testing.assert_allclose(h0.numpy(), e0, atol=2e-6)
    np.testing.assert_allclose(h1.numpy(), e1, atol=2e-6)


def test_keras_dropout_only_when_training_true_also_as_a_tensor_in_tf_function():
    cell = LayerNormGRUCell(8, dropout_keep_prob=0.5, dropout_prob_seed=1)
    layer = keras.layers.RNN(cell, return_sequences=True)
    inference = layer(X)
    np.testing.assert_array_equal(layer(X, training=False).numpy(), inference.numpy())
    expected, _ = reference.ln_gru_sequence(X, _reference_weights(cell))
    np.testing.assert_allclose(inference.numpy(), expected, atol=2e-6)
    assert np.abs(layer(X, training=True).numpy() - inference.numpy()).max() > 1e-3
    run = tf.function(lambda x, t: layer(x, training=t))
    np.testing.assert_allclose(run(X, tf.constant(False)).numpy(), inference.numpy(), atol=1e-7)
    assert np.abs(run(X, tf.constant(True)).numpy() - inference.numpy()).max() > 1e-3


def test_legacy_calls_apply_dropout_as_tf1_did():
    cell = LayerNormGRUCell(8, dropout_keep_prob=0.5, dropout_prob_seed=1)
    state = cell.zero_state(2, tf.float32)
    assert state.shape == (2, 8)
    h, new_state = cell(X[:, 0], state)
    assert new_state is h  # TF1's GRU returns (new_h, new_h)
    no_dropout = LayerNormGRUCell(8)
    no_dropout.build((None, 3))
    for a, b in zip(no_dropout.weights, cell.weights):
        a.assign(b)
    h_plain, _ = no_dropout(X[:, 0], state)
    assert np.abs(h.numpy() - h_plain.numpy()).max() > 1e-4
    np.testing.assert_allclose(
        h_plain.numpy(), reference.ln_gru_step(X[:, 0], np.zeros((2, 8)), _reference_weights(cell)), atol=1e-6
    )
    # A keep probability tensor of 1.0 (a fed placeholder in TF1) changes nothing.
    cell_keep = LayerNormGRUCell(8, dropout_keep_prob=tf.Variable(1.0))
    cell_keep.build((None, 3))
    for a, b in zip(cell_keep.weights, cell.weights):
        a.assign(b)
    h_keep, _ = cell_keep(X[:, 0], state)
    np.testing.assert_array_equal(h_keep.numpy(), h_plain.numpy())


def test_dynamic_rnn_eagerly_with_initial_state_and_time_major():
    cell = LayerNormGRUCell(4)
    h0 = RNG.normal(0, 1, (2, 4)).astype(np.float32)
    outputs, state = tf.compat.v1.nn.dynamic_rnn(
        cell, tf.constant(np.transpose(X, (1, 0, 2))), initial_state=tf.constant(h0), time_major=True
    )
    expected, h = reference.ln_gru_sequence(X, _reference_weights(cell), initial_state=h0)
    np.testing.assert_allclose(np.transpose(outputs.numpy(), (1, 0, 2)), expected, atol=2e-6)
    np.testing.assert_allclose(state.numpy(), h, atol=2e-6)


def test_config_round_trip_and_keras_file(tmp_path):
    cell = LayerNormGRUCell(
        4, activation="relu", layer_norm=False, dropout_keep_prob=0.8,
        kernel_initializer=keras.initializers.Orthogonal()
    )
    clone = LayerNormGRUCell.from_config(cell.get_config())
    assert clone.get_config() == cell.get_config()
    assert isinstance(clone.kernel_initializer, keras.initializers.Orthogonal)
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.RNN(LayerNormGRUCell(4, norm_gain=0.5))])
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.layers[0].cell, LayerNormGRUCell)
    np.testing.assert_array_equal(restored(X).numpy(), model(X).numpy())
    with pytest.raises(ValueError, match="dropout_keep_prob is a tensor"):
        LayerNormGRUCell(4, dropout_keep_prob=tf.constant(0.5)).get_config()


def test_graph_mode_scopes_reuse_and_static_unrolling():
    with tf.Graph().as_default():
        cell = LayerNormGRUCell(4)
        x = tf.compat.v1.placeholder(tf.float32, [2, 6, 3])
        state = cell.zero_state(2, tf.float32)
        # static_rnn style: the same cell called at every step shares one set of variables.
        with tf.compat.v1.variable_scope("unrolled"):
            for t in range(3):
                _, state = cell(x[:, t], state)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        assert names == ["unrolled/layer_norm_gru_cell/" + w.replace("_", "/", 1) for w in LN_WEIGHTS]
        # As in TF1, a second cell in the same scope collides (the classic "already exists").
        other = LayerNormGRUCell(4)
        with tf.compat.v1.variable_scope("unrolled"):
            with pytest.raises(ValueError, match="already exists"):
                other(x[:, 0], other.zero_state(2, tf.float32))
        # ... and reuse=True shares the first cell's variables instead.
        shared = LayerNormGRUCell(4, reuse=True)
        with tf.compat.v1.variable_scope("unrolled"):
            shared(x[:, 0], shared.zero_state(2, tf.float32))
        # An explicit scope= puts the variables right under it, as TF1's RNNCell did.
        explicit = LayerNormGRUCell(4, layer_norm=False)
        explicit(x[:, 0], explicit.zero_state(2, tf.float32), scope="mine")
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        assert len(names) == 12 and names[-4:] == [
            "mine/gates/kernel", "mine/gates/bias", "mine/candidate/kernel", "mine/candidate/bias"]


def test_dropout_wrapper_and_multi_rnn_cell_in_graph_mode():
    with tf.Graph().as_default():
        cells = [DropoutWrapper(LayerNormGRUCell(4), state_keep_prob=0.9, output_keep_prob=0.9) for _ in range(2)]
        x = tf.compat.v1.placeholder(tf.float32, [2, 6, 3])
        outputs, states = tf.compat.v1.nn.dynamic_rnn(MultiRNNCell(cells), x, dtype=tf.float32)
        assert outputs.shape == (2, 6, 4)
        assert len(states) == 2 and states[1].shape == (2, 4)
        names = sorted(v.op.name for v in tf.compat.v1.global_variables())
        assert names[0] == "rnn/multi_rnn_cell/cell_0/layer_norm_gru_cell/candidate/beta" and len(names) == 16


def test_mixed_float16_policy_computes_in_float16_with_float32_weights():
    cell = LayerNormGRUCell(4, dtype="mixed_float16")
    outputs = keras.layers.RNN(cell, return_sequences=True, dtype="mixed_float16")(X)
    assert outputs.dtype == tf.float16 and cell.gates_kernel.dtype == "float32"
    expected, _ = reference.ln_gru_sequence(X, _reference_weights(cell))
    # float16 arithmetic (and TF1's float16 layer-norm epsilon of 1e-3): close, not equal.
    np.testing.assert_allclose(outputs.numpy().astype(np.float32), expected, atol=2e-2)


def test_bad_arguments_give_clear_errors():
    with pytest.raises(ValueError, match="num_units must be a positive integer"):
        LayerNormGRUCell(0)
    cell = LayerNormGRUCell(4)
    with pytest.raises(ValueError, match="state is one tensor"):
        cell(X[:, 0], (tf.zeros((2, 4)), tf.zeros((2, 4))))
    with pytest.raises(ValueError, match="last input dimension must be known"):
        LayerNormGRUCell(4).build((None, None))
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, None])
        graph_cell = LayerNormGRUCell(4)
        with pytest.raises(ValueError, match="LayerNormGRUCell: the input depth must be statically known"):
            graph_cell(x, graph_cell.zero_state(2, tf.float32))
