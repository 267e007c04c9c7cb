"""LayerNormBasicLSTMCell against real TF 1.15 (fixtures/golden/lstm_*.npz), in three modes.

* graph: tf.compat.v1 graph code, `tf.compat.v1.nn.dynamic_rnn` / `bidirectional_dynamic_rnn`
  (and MultiRNNCell), variables created by the cell under TF1's names and loaded by name;
* eager: the same TF1-style calls executed eagerly, with the cell's Keras weights;
* keras: `keras.layers.RNN` (masking for sequence_length, Bidirectional), eager and tf.function.

The whole sequence, and in graph mode every gradient, must match TF1 within the bound
tests/tolerance.py derives for each array (tanh/sigmoid kernels and matmul rounding differ between
TF 1.15 and TF 2.x and between machines, so bit equality is not expected).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import Golden, case_ids, cases
from tf2norm.replacements import LayerNormBasicLSTMCell, MultiRNNCell

GOLDEN = {g.name: g for g in cases("lstm_")}
IDS = case_ids("lstm_")


def _make_cell(cfg, keep_prob=1.0):
    return LayerNormBasicLSTMCell(
        cfg["num_units"],
        forget_bias=cfg["forget_bias"],
        layer_norm=cfg["layer_norm"],
        norm_gain=cfg["norm_gain"],
        norm_shift=cfg["norm_shift"],
        dropout_keep_prob=keep_prob,
    )


def _cell_prefixes(cfg):
    """TF1 scope of each cell, in the order the test builds them."""
    if cfg["bidirectional"]:
        return ["bidirectional_rnn/fw/layer_norm_basic_lstm_cell/", "bidirectional_rnn/bw/layer_norm_basic_lstm_cell/"]
    if cfg["layers"] > 1:
        return [f"rnn/multi_rnn_cell/cell_{k}/layer_norm_basic_lstm_cell/" for k in range(cfg["layers"])]
    return ["rnn/layer_norm_basic_lstm_cell/"]


def _load_keras_weights(cell, golden: Golden, prefix: str):
    """TF1 name -> Keras weight: kernel, bias, <gate>/gamma -> <gate>_gamma."""
    for name, value in golden.with_prefix("var:" + prefix).items():
        getattr(cell, name.replace("/", "_")).assign(value)


def _expected_outputs(golden):
    return {k: v for k, v in golden.with_prefix("out:").items()}


def _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob):
    """What the TF1 program did, with tf2norm's cells; returns (outputs dict, cells, combined)."""
    cells = [_make_cell(cfg, keep_prob) for _ in range(2 if cfg["bidirectional"] else cfg["layers"])]
    outs = {}
    if cfg["bidirectional"]:
        (fw, bw), (st_fw, st_bw) = tf.compat.v1.nn.bidirectional_dynamic_rnn(
            cells[0], cells[1], inputs, sequence_length=sequence_length, dtype=tf.float32
        )
        outs.update(outputs_fw=fw, outputs_bw=bw, state_fw_c=st_fw.c, state_fw_h=st_fw.h)
        outs.update(state_bw_c=st_bw.c, state_bw_h=st_bw.h)
        combined = tf.concat([fw, bw], -1)
    elif cfg["layers"] == 1:
        combined, st = tf.compat.v1.nn.dynamic_rnn(cells[0], inputs, sequence_length=sequence_length, dtype=tf.float32)
        outs.update(outputs=combined, state_c=st.c, state_h=st.h)
    else:
        combined, states = tf.compat.v1.nn.dynamic_rnn(
            MultiRNNCell(cells), inputs, sequence_length=sequence_length, dtype=tf.float32
        )
        outs["outputs"] = combined
        for k, st in enumerate(states):
            outs[f"state_c_{k}"], outs[f"state_h_{k}"] = st.c, st.h
    return outs, cells, combined


def _assert_outputs(actual: dict, golden: Golden):
    expected = _expected_outputs(golden)
    assert set(actual) == set(expected)
    for key in expected:
        tolerance.check(actual[key], golden, "out:" + key)


@pytest.mark.parametrize("name", IDS)
def test_graph_mode_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, golden["in:inputs"].shape)
        feed = {inputs: golden["in:inputs"]}
        sequence_length = None
        if cfg["uses_sequence_length"]:
            sequence_length = tf.compat.v1.placeholder(tf.int32, [cfg["batch"]])
            feed[sequence_length] = golden["in:sequence_length"]
        keep_prob = 1.0
        if cfg["dropout_keep_prob"] == "placeholder":
            keep_prob = tf.compat.v1.placeholder(tf.float32, [])
            feed[keep_prob] = golden["in:keep_prob"]
        outs, _, combined = _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob)
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


@pytest.mark.parametrize("name", IDS)
def test_eager_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    inputs = tf.constant(golden["in:inputs"])
    sequence_length = tf.constant(golden["in:sequence_length"]) if cfg["uses_sequence_length"] else None
    keep_prob = tf.constant(golden["in:keep_prob"]) if cfg["dropout_keep_prob"] == "placeholder" else 1.0

    # Build the cells on a first call, load TF1's values, then run for real.
    _, cells, _ = _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob)
    for cell, prefix in zip(cells, _cell_prefixes(cfg)):
        _load_keras_weights(cell, golden, prefix)
    rebuilt = iter(cells)
    original = _make_cell

    def reuse(cfg_, keep_prob_=1.0):
        return next(rebuilt)

    globals()["_make_cell"] = reuse
    try:
        outs, _, _ = _tf1_style_rnn(cfg, inputs, sequence_length, keep_prob)
    finally:
        globals()["_make_cell"] = original
    _assert_outputs({k: v.numpy() for k, v in outs.items()}, golden)


def _keras_rnn_outputs(cfg, golden, run):
    """keras.layers.RNN over tf2norm cells; `run(fn, *args)` executes eagerly or in tf.function."""
    inputs = golden["in:inputs"]
    mask = None
    if cfg["uses_sequence_length"]:
        mask = np.arange(cfg["steps"])[None, :] < golden["in:sequence_length"][:, None]
    if cfg["bidirectional"]:
        fw_cell, bw_cell = _make_cell(cfg), _make_cell(cfg)
        layer = keras.layers.Bidirectional(
            keras.layers.RNN(fw_cell, return_sequences=True, return_state=True, zero_output_for_mask=True),
            backward_layer=keras.layers.RNN(
                bw_cell, return_sequences=True, return_state=True, go_backwards=True, zero_output_for_mask=True
            ),
            merge_mode=None,
        )
        cells = [fw_cell, bw_cell]
    else:
        cells = [_make_cell(cfg) for _ in range(cfg["layers"])]
        cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
        layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    layer.build(inputs.shape)
    if cfg["bidirectional"]:
        # Bidirectional rebuilds its layers from their configs (so this also round-trips the cell's config).
        cells = [layer.forward_layer.cell, layer.backward_layer.cell]
    for c, prefix in zip(cells, _cell_prefixes(cfg)):
        _load_keras_weights(c, golden, prefix)
    result = run(lambda x, m: layer(x, mask=m, training=False), tf.constant(inputs), mask)
    if cfg["bidirectional"]:
        fw, bw, fw_c, fw_h, bw_c, bw_h = result
        return dict(outputs_fw=fw, outputs_bw=bw, state_fw_c=fw_c, state_fw_h=fw_h, state_bw_c=bw_c, state_bw_h=bw_h)
    if cfg["layers"] == 1:
        outputs, c, h = result
        return dict(outputs=outputs, state_c=c, state_h=h)
    outputs, *states = result
    flat = tf.nest.flatten(states)
    outs = {"outputs": outputs}
    for k in range(cfg["layers"]):
        outs[f"state_c_{k}"], outs[f"state_h_{k}"] = flat[2 * k], flat[2 * k + 1]
    return outs


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
@pytest.mark.parametrize("name", [n for n in IDS if n != "lstm_keep_prob_placeholder"])
def test_keras_rnn_matches_tf1(name, mode):
    golden = GOLDEN[name]

    def run(fn, *args):
        return (tf.function(fn) if mode == "tf_function" else fn)(*args)

    outs = _keras_rnn_outputs(golden.config, golden, run)
    _assert_outputs({k: np.asarray(v) for k, v in outs.items()}, golden)


def test_every_golden_case_is_covered():
    # The fixture generator promises these structures; a missing file would silently shrink the test.
    assert {"lstm_one_layer", "lstm_two_layers", "lstm_no_layer_norm", "lstm_forget_bias_zero"} <= set(IDS)
    assert {"lstm_sequence_length", "lstm_bidirectional", "lstm_keep_prob_placeholder"} <= set(IDS)
    assert all(GOLDEN[n].config["steps"] >= 20 for n in IDS)
