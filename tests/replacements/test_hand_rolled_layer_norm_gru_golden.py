"""LayerNormGRUCell against real TF 1.15 (fixtures/golden/lngru_*.npz), in four modes.

The goldens come from the hand-rolled TF1 cell in fixtures/tf1/hand_rolled_layer_norm_gru.py.

* graph: tf.compat.v1 graph code, `tf.compat.v1.nn.dynamic_rnn` / `bidirectional_dynamic_rnn`
  (and MultiRNNCell), variables created by the cell under TF1's names, loaded by name, gradients;
* eager: the same TF1-style calls executed eagerly, with the cell's Keras weights;
* keras: `keras.layers.RNN` (masking for sequence_length, Bidirectional), eager and tf.function;
* model: inside a functional keras.Model, with gradients through `tf.GradientTape`.

Whole sequences and gradients must match TF1 within the bound tests/tolerance.py derives for each
array: gradients sum 24 steps of float32 products, and in `lngru_two_layers`, where a layer norm
meets a chunk of variance 1.5e-3, TF 1.15's own float32 gradients are several 1e-6 away from the
float64 truth, which the bound measures.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import Golden, case_ids, cases
from tf2norm.replacements import DropoutWrapper, LayerNormGRUCell, MultiRNNCell

GOLDEN = {g.name: g for g in cases("lngru_")}
IDS = case_ids("lngru_")


def _make_cell(cfg, keep_prob=1.0):
    return LayerNormGRUCell(
        cfg["num_units"],
        activation=None if cfg["activation"] == "tanh" else cfg["activation"],
        layer_norm=cfg["layer_norm"],
        norm_gain=cfg["norm_gain"],
        norm_shift=cfg["norm_shift"],
        dropout_keep_prob=keep_prob,
    )


def _cell_prefixes(cfg):
    """TF1 scope of each cell, in the order the tests build them."""
    if cfg["bidirectional"]:
        return ["bidirectional_rnn/fw/layer_norm_gru_cell/", "bidirectional_rnn/bw/layer_norm_gru_cell/"]
    if cfg["layers"] > 1:
        return [f"rnn/multi_rnn_cell/cell_{k}/layer_norm_gru_cell/" for k in range(cfg["layers"])]
    return ["rnn/layer_norm_gru_cell/"]


def _load_keras_weights(cell, golden: Golden, prefix: str):
    """TF1 name -> Keras weight: gates/kernel -> gates_kernel, reset/gamma -> reset_gamma, ..."""
    values = golden.with_prefix("var:" + prefix)
    assert sorted(w.name for w in cell.weights) == sorted(n.replace("/", "_") for n in values)
    for name, value in values.items():
        getattr(cell, name.replace("/", "_")).assign(value)


def _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob, make_cell=None):
    """What the TF1 program did, with tf2norm's cells; returns (outputs dict, cells, combined)."""
    make_cell = make_cell or (lambda: _make_cell(cfg, keep_prob))
    cells = [make_cell() for _ in range(2 if cfg["bidirectional"] else cfg["layers"])]
    outs = {}
    if cfg["bidirectional"]:
        (fw, bw), (st_fw, st_bw) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
            cells[0], cells[1], inputs, sequence_length=sequence_length, dtype=tf.float32
        )
        outs.update(outputs_fw=fw, outputs_bw=bw, state_fw=st_fw, state_bw=st_bw)
        combined = tf.concat([fw, bw], -1)
    elif cfg["layers"] == 1:
        combined, st = tf.compat.v1.nn.dynamic_rnn(cells[0], inputs, sequence_length=sequence_length, dtype=tf.float32)
        outs.update(outputs=combined, state=st)
    else:
        combined, states = tf.compat.v1.nn.dynamic_rnn(
            MultiRNNCell(cells), inputs, sequence_length=sequence_length, dtype=tf.float32
        )
        outs["outputs"] = combined
        for k, st in enumerate(states):
            outs[f"state_{k}"] = st
    return outs, cells, combined


def _assert_outputs(actual: dict, golden: Golden):
    expected = golden.with_prefix("out:")
    assert set(actual) == set(expected)
    for key in expected:
        tolerance.check(actual[key], golden, "out:" + key)


def _feeds(golden, placeholder):
    """(inputs, sequence_length, keep_prob, feed) built with `placeholder(dtype, shape, value)`."""
    cfg = golden.config
    feed = {}
    inputs = placeholder(tf.float32, golden["in:inputs"].shape, golden["in:inputs"], feed)
    sequence_length = None
    if cfg["uses_sequence_length"]:
        sequence_length = placeholder(tf.int32, [cfg["batch"]], golden["in:sequence_length"], feed)
    keep_prob = 1.0
    if cfg["dropout_keep_prob"] == "placeholder":
        keep_prob = placeholder(tf.float32, [], golden["in:keep_prob"], feed)
    return inputs, sequence_length, keep_prob, feed


def _graph_placeholder(dtype, shape, value, feed):
    p = tf.compat.v1.placeholder(dtype, shape)
    feed[p] = value
    return p


@pytest.mark.parametrize("name", IDS)
def test_graph_mode_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    graph = tf.Graph()
    with graph.as_default():
        inputs, sequence_length, keep_prob, feed = _feeds(golden, _graph_placeholder)
        outs, _, combined = _tf1_style_rnn(golden.config, inputs, sequence_length, keep_prob)
        variables = tf.compat.v1.global_variables()
        # The cell created exactly TF1's variables, under exactly TF1's names.
        assert sorted(v.op.name for v in variables) == sorted(golden.with_prefix("var:"))
        loss = tf.reduce_sum(combined * golden["in:loss_weights"])
        grads = tf.gradients(loss, [inputs] + variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in variables:
                v.load(golden["var:" + v.op.name], sess)
            actual, grad_values = sess.run([outs, grads], feed)
    _assert_outputs(actual, golden)
    for target, value in zip(["inputs"] + [v.op.name for v in variables], grad_values):
        tolerance.check(value, golden, "grad:" + target)


def test_graph_mode_initial_values_are_the_spec():
    """Before any loading: gamma = norm_gain, beta = norm_shift, GRUCell's biases 1.0 and 0.0."""
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 5])
        tf.compat.v1.nn.dynamic_rnn(LayerNormGRUCell(4, norm_gain=0.7, norm_shift=0.2), x, dtype=tf.float32, scope="a")
        tf.compat.v1.nn.dynamic_rnn(LayerNormGRUCell(4, layer_norm=False), x, dtype=tf.float32, scope="b")
        variables = tf.compat.v1.global_variables()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = dict(zip([v.op.name for v in variables], sess.run(variables)))
    assert list(values) == [
        "a/layer_norm_gru_cell/gates/kernel", "a/layer_norm_gru_cell/reset/gamma", "a/layer_norm_gru_cell/reset/beta",
        "a/layer_norm_gru_cell/update/gamma", "a/layer_norm_gru_cell/update/beta",
        "a/layer_norm_gru_cell/candidate/kernel", "a/layer_norm_gru_cell/candidate/gamma",
        "a/layer_norm_gru_cell/candidate/beta",
        "b/layer_norm_gru_cell/gates/kernel", "b/layer_norm_gru_cell/gates/bias",
        "b/layer_norm_gru_cell/candidate/kernel", "b/layer_norm_gru_cell/candidate/bias",
    ]  # fmt: skip
    for gate in ("reset", "update", "candidate"):
        np.testing.assert_array_equal(values[f"a/layer_norm_gru_cell/{gate}/gamma"], np.full(4, 0.7, np.float32))
        np.testing.assert_array_equal(values[f"a/layer_norm_gru_cell/{gate}/beta"], np.full(4, 0.2, np.float32))
    np.testing.assert_array_equal(values["b/layer_norm_gru_cell/gates/bias"], np.ones(8, np.float32))
    np.testing.assert_array_equal(values["b/layer_norm_gru_cell/candidate/bias"], np.zeros(4, np.float32))
    # glorot-uniform kernels: inside sqrt(6 / (fan_in + fan_out)) and not constant.
    kernel = values["a/layer_norm_gru_cell/gates/kernel"]
    assert np.abs(kernel).max() <= np.sqrt(6 / (9 + 8)) and kernel.std() > 0.1


@pytest.mark.parametrize("name", IDS)
def test_eager_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    inputs, sequence_length, keep_prob, _ = _feeds(golden, lambda dtype, shape, value, feed: tf.constant(value, dtype))
    # Build the cells on a first call, load TF1's values, then run for real with the same cells.
    _, cells, _ = _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob)
    for cell, prefix in zip(cells, _cell_prefixes(cfg)):
        _load_keras_weights(cell, golden, prefix)
    rebuilt = iter(cells)
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outs, _, combined = _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob, make_cell=lambda: next(rebuilt))
        loss = tf.reduce_sum(combined * golden["in:loss_weights"])
    _assert_outputs({k: v.numpy() for k, v in outs.items()}, golden)
    weights = [(prefix + w.name.replace("_", "/", 1), w)
               for cell, prefix in zip(cells, _cell_prefixes(cfg)) for w in cell.weights]
    grads = tape.gradient(loss, [inputs] + [w for _, w in weights])
    for target, value in zip(["inputs"] + [n for n, _ in weights], grads):
        tolerance.check(value.numpy(), golden, "grad:" + target)


def _keras_rnn(cfg):
    """(layer, cells) with keras.layers.RNN over tf2norm cells, weights built."""
    if cfg["bidirectional"]:
        layer = keras.layers.Bidirectional(
            keras.layers.RNN(_make_cell(cfg), return_sequences=True, return_state=True, zero_output_for_mask=True),
            backward_layer=keras.layers.RNN(
                _make_cell(cfg), return_sequences=True, return_state=True, go_backwards=True, zero_output_for_mask=True
            ),
            merge_mode=None,
        )
        layer.build((cfg["batch"], cfg["steps"], cfg["input_depth"]))
        # Bidirectional rebuilds its layers from their configs (so this also round-trips the cell's config).
        return layer, [layer.forward_layer.cell, layer.backward_layer.cell]
    cells = [_make_cell(cfg) for _ in range(cfg["layers"])]
    cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    layer.build((cfg["batch"], cfg["steps"], cfg["input_depth"]))
    return layer, cells


def _named_results(cfg, result):
    if cfg["bidirectional"]:
        fw, bw, st_fw, st_bw = result
        return dict(outputs_fw=fw, outputs_bw=bw, state_fw=st_fw, state_bw=st_bw)
    outputs, *states = result
    flat = tf.nest.flatten(states)
    if cfg["layers"] == 1:
        return dict(outputs=outputs, state=flat[0])
    return dict(outputs=outputs, **{f"state_{k}": flat[k] for k in range(cfg["layers"])})


def _mask(golden):
    cfg = golden.config
    if not cfg["uses_sequence_length"]:
        return None
    return np.arange(cfg["steps"])[None, :] < golden["in:sequence_length"][:, None]


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
@pytest.mark.parametrize("name", [n for n in IDS if GOLDEN[n].config["dropout_keep_prob"] != "placeholder"])
def test_keras_rnn_matches_tf1(name, mode):
    golden = GOLDEN[name]
    cfg = golden.config
    layer, cells = _keras_rnn(cfg)
    for cell, prefix in zip(cells, _cell_prefixes(cfg)):
        _load_keras_weights(cell, golden, prefix)
    fn = lambda x, m: layer(x, mask=m, training=False)  # noqa: E731
    if mode == "tf_function":
        fn = tf.function(fn)
    result = fn(tf.constant(golden["in:inputs"]), _mask(golden))
    _assert_outputs({k: np.asarray(v) for k, v in _named_results(cfg, result).items()}, golden)


@pytest.mark.parametrize("name", ["lngru_one_layer", "lngru_no_layer_norm", "lngru_sequence_length"])
def test_inside_a_keras_model_with_gradients(name):
    golden = GOLDEN[name]
    cfg = golden.config
    inputs = keras.Input((cfg["steps"], cfg["input_depth"]))
    mask_in = keras.Input((cfg["steps"],), dtype="bool")
    cell = _make_cell(cfg, keep_prob=0.5)  # dropout off: the model is called with training=False
    outputs = keras.layers.RNN(cell, return_sequences=True, zero_output_for_mask=True)(inputs, mask=mask_in)
    model = keras.Model([inputs, mask_in], outputs)
    _load_keras_weights(cell, golden, "rnn/layer_norm_gru_cell/")
    mask = _mask(golden)
    if mask is None:
        mask = np.ones((cfg["batch"], cfg["steps"]), bool)
    x = tf.constant(golden["in:inputs"])

    @tf.function
    def step(x, mask):
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = model([x, mask], training=False)
            loss = tf.reduce_sum(out * golden["in:loss_weights"])
        return out, tape.gradient(loss, [x] + cell.weights)

    out, grads = step(x, mask)
    tolerance.check(out, golden, "out:outputs")
    targets = ["inputs"] + ["rnn/layer_norm_gru_cell/" + w.name.replace("_", "/", 1) for w in cell.weights]
    for target, value in zip(targets, grads):
        tolerance.check(value.numpy(), golden, "grad:" + target)


def test_dropout_wrapper_around_the_cell_in_graph_mode_keeps_tf1_names():
    golden = GOLDEN["lngru_two_layers"]
    cfg = golden.config
    with tf.Graph().as_default() as graph:
        x = tf.compat.v1.placeholder(tf.float32, golden["in:inputs"].shape)
        keep = tf.compat.v1.placeholder_with_default(1.0, [])
        cell = MultiRNNCell([DropoutWrapper(_make_cell(cfg), output_keep_prob=keep) for _ in range(2)])
        outputs, _ = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        variables = tf.compat.v1.global_variables()
        assert sorted(v.op.name for v in variables) == sorted(golden.with_prefix("var:"))
        with tf.compat.v1.Session(graph=graph) as sess:
            for v in variables:
                v.load(golden["var:" + v.op.name], sess)
            actual = sess.run(outputs, {x: golden["in:inputs"]})
    tolerance.check(actual, golden, "out:outputs")


def test_every_golden_case_is_covered():
    # The fixture generator promises these structures; a missing file would silently shrink the tests.
    assert {"lngru_one_layer", "lngru_two_layers", "lngru_no_layer_norm", "lngru_sequence_length"} <= set(IDS)
    assert {"lngru_bidirectional", "lngru_norm_gain_shift", "lngru_keep_prob_placeholder"} <= set(IDS)
    assert GOLDEN["lngru_no_layer_norm"].config["checked_equal_to_tf_gru_cell"] is True
    assert all(GOLDEN[n].config["steps"] >= 20 and GOLDEN[n].config["tf_version"] == "1.15.0" for n in IDS)
