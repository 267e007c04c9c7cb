"""LayerNormBasicLSTM.dynamic_rnn (what migrated dynamic_rnn calls run) against TF1's dynamic_rnn.

The reference is `tf.compat.v1.nn.dynamic_rnn` over the very cell the layer shares, both run in
plain TensorFlow graph mode (the layer with `jit_compile=False`: XLA's tanh/sigmoid differ from
TensorFlow's by about an ulp, see the module docstring): outputs and the final state within 1e-6,
gradients within 1e-5 of their magnitude. Real TF 1.15 (fixtures/golden/lstm_*.npz) within the
bound tests/tolerance.py derives, in a tf.compat.v1 graph with placeholders and a Session, and under
XLA in a tf.function. The same graph must also initialise with global_variables_initializer() and train.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import cases, max_abs_error
from tf2norm.replacements import (
    LayerNormBasicLSTM,
    LayerNormBasicLSTMCell,
    LSTMStateTuple,
)

ATOL = 1e-6
GRAD_RTOL = 1e-5
B, T, D, H = 3, 11, 5, 8


def _cell_and_inputs(seed=0, **cell_kwargs):
    """A built cell with LN gammas/betas away from 1/0 (a swapped one would show), and inputs."""
    rng = np.random.default_rng(seed)
    cell = LayerNormBasicLSTMCell(H, **cell_kwargs)
    cell.build((B, D))
    for v in cell.weights:
        if v.path.endswith("gamma"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
        elif v.path.endswith("beta"):
            v.assign(rng.uniform(-0.5, 0.5, v.shape).astype("float32"))
    x = rng.normal(size=(B, T, D)).astype("float32")
    return cell, x


def _state(seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(-0.5, 0.5, (B, H)).astype("float32"), rng.uniform(-0.5, 0.5, (B, H)).astype("float32")


def _flat(result):
    outputs, state = result
    return [outputs, state.c, state.h]


def _run_with_gradients(rnn, x, state, weights):
    """The rnn's outputs and final state, and the gradients of a weighted sum of all three with respect
    to the inputs, the initial state (if any) and the weights; in one plain tf.function."""

    @tf.function(autograph=False)
    def fn(x, state):
        sources = [x, weights] + ([] if state is None else [list(state)])
        with tf.GradientTape() as tape:
            tape.watch(sources[:1] + sources[2:])
            outs = _flat(rnn(x, state))
            # Fixed, distinct weights for each output, so every output and state feeds the loss.
            loss = tf.add_n([tf.reduce_sum(o * tf.reshape(tf.sin(tf.range(tf.size(o), dtype=o.dtype) * 0.37 + k),
                                                          tf.shape(o)))
                             for k, o in enumerate(outs)])
        return outs, tape.gradient(loss, sources)

    outs, grads = fn(tf.constant(x), state)
    return [np.asarray(o) for o in outs], [np.asarray(g) for g in tf.nest.flatten(grads)]


CASES = {
    # name: (keyword arguments of both calls, with "state" standing for the initial state)
    "no_length": {},
    "right_padded_lengths": dict(sequence_length=np.array([T, 7, 0], np.int32)),
    "initial_state": dict(initial_state="state"),
    "initial_state_and_lengths": dict(initial_state="state", sequence_length=np.array([4, T, 1], np.int32)),
    "time_major": dict(time_major=True),
    "time_major_lengths_state": dict(time_major=True, sequence_length=np.array([2, 9, T], np.int64),
                                     initial_state="state"),
}
CELLS = {
    "layer_norm": {},
    "no_layer_norm": dict(layer_norm=False),
    "forget_bias_gain_shift": dict(forget_bias=0.0, norm_gain=0.7, norm_shift=0.2),
}


def _compare(cell, x, kwargs, layer):
    kwargs = dict(kwargs)
    time_major = kwargs.get("time_major", False)
    if time_major:
        x = np.ascontiguousarray(np.transpose(x, [1, 0, 2]))
    state = None
    if kwargs.get("initial_state") == "state":
        state = LSTMStateTuple(*(tf.constant(s) for s in _state(1)))
    kwargs.pop("initial_state", None)

    def reference(x, s):
        return tf.compat.v1.nn.dynamic_rnn(cell, x, initial_state=s, dtype=None if s else tf.float32, **kwargs)

    def migrated(x, s):
        return layer.dynamic_rnn(x, initial_state=s, **kwargs)

    weights = cell.trainable_variables
    expected, expected_grads = _run_with_gradients(reference, x, state, weights)
    actual, actual_grads = _run_with_gradients(migrated, x, state, weights)
    errors = []
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, k
        errors.append(max_abs_error(a, e))
    assert max(errors) <= ATOL, f"outputs, c, h: max abs errors {errors}"
    assert len(actual_grads) == len(expected_grads)
    for k, (a, e) in enumerate(zip(actual_grads, expected_grads)):
        err = max_abs_error(a, e)
        assert err <= GRAD_RTOL * max(1.0, float(np.abs(e).max())), f"gradient {k}: {err:.3g}"
    return max(errors)


@pytest.mark.parametrize("cell_name", sorted(CELLS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_tf1_dynamic_rnn_over_the_same_cell(case, cell_name):
    cell, x = _cell_and_inputs(**CELLS[cell_name])
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=False)
    _compare(cell, x, CASES[case], layer)


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_other_activation_runs_the_cell_step_by_step():
    cell, x = _cell_and_inputs(activation="relu")
    layer = LayerNormBasicLSTM.from_cell(cell)
    for case in ("right_padded_lengths", "time_major_lengths_state"):
        _compare(cell, x, CASES[case], layer)


def test_returns_tf1_structures_and_static_shapes():
    cell, x = _cell_and_inputs()
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=False)
    outputs, state = layer.dynamic_rnn(x, sequence_length=[T, 3, 5], initial_state=_state(2))
    assert isinstance(state, LSTMStateTuple)
    assert outputs.shape == (B, T, H) and state.c.shape == state.h.shape == (B, H)
    # Zero past each length; the state is the one after the last valid step.
    assert np.all(np.asarray(outputs)[1, 3:] == 0) and np.all(np.asarray(outputs)[2, 5:] == 0)
    np.testing.assert_array_equal(np.asarray(state.h)[1], np.asarray(outputs)[1, 2])
    time_major, _ = layer.dynamic_rnn(np.transpose(x, [1, 0, 2]), time_major=True)
    assert time_major.shape == (T, B, H)


def test_float64_cell():
    cell = LayerNormBasicLSTMCell(H, dtype="float64")
    x = np.random.default_rng(3).normal(size=(B, T, D))
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=False)
    outputs, state = layer.dynamic_rnn(x, sequence_length=[T, 4, 2], dtype=tf.float64)
    expected, expected_state = tf.compat.v1.nn.dynamic_rnn(cell, x, sequence_length=[T, 4, 2], dtype=tf.float64)
    assert outputs.dtype == tf.float64 and state.c.dtype == tf.float64
    assert max_abs_error(outputs, expected) <= 1e-12 and max_abs_error(state.c, expected_state.c) <= 1e-12


def test_rejects_what_has_no_dynamic_rnn_meaning():
    cell, x = _cell_and_inputs()
    with pytest.raises(ValueError, match="dtype=float64, but the cell computes in float32"):
        LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, dtype=tf.float64)
    with pytest.raises(ValueError, match="go_backwards"):
        LayerNormBasicLSTM.from_cell(cell, go_backwards=True).dynamic_rnn(x)
    with pytest.raises(TypeError, match="nested"):
        LayerNormBasicLSTM.from_cell(cell).dynamic_rnn((x, x))


# --------------------------------------------------------------------------------------- dropout
def test_dropout_as_tf1_ran_it_when_training_is_none():
    # A fixed mask stands in for the random one, so where the dropout goes (the candidate g, every
    # step) and when it runs can be compared number for number with TF1's per-step cell calls.
    fixed = np.random.default_rng(5).uniform(size=(B, H)) < 0.6
    multiplier = tf.constant(fixed / 0.6, tf.float32)
    cell, x = _cell_and_inputs(dropout_keep_prob=0.6)
    cell.drop = lambda g: g * multiplier
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=False)
    lengths = np.array([T, 6, 2], np.int32)
    with_dropout = tf.compat.v1.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
    plain_cell = LayerNormBasicLSTMCell(H)
    plain_cell.build((B, D))
    plain_cell.set_weights(cell.get_weights())
    without = tf.compat.v1.nn.dynamic_rnn(plain_cell, x, sequence_length=lengths, dtype=tf.float32)
    assert max_abs_error(with_dropout[0], without[0]) > 1e-3
    for training, expected in ((None, with_dropout), (True, with_dropout), (False, without)):
        actual = layer.dynamic_rnn(x, sequence_length=lengths, training=training)
        for a, e in zip(_flat(actual), _flat(expected)):
            assert max_abs_error(a, e) <= ATOL, training


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_random_dropout_follows_keep_prob_and_training():
    cell, x = _cell_and_inputs(dropout_keep_prob=0.5, dropout_prob_seed=3)
    layer = LayerNormBasicLSTM.from_cell(cell)
    no_dropout = np.asarray(layer.dynamic_rnn(x, training=False)[0])
    dropped = np.asarray(layer.dynamic_rnn(x)[0])
    assert max_abs_error(dropped, no_dropout) > 1e-3 and np.all(np.isfinite(dropped))
    # keep_prob the float 1.0: no dropout at all, whatever training says.
    plain = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(H))
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    assert max_abs_error(plain.dynamic_rnn(x)[0], no_dropout) == 0.0
    assert max_abs_error(plain.dynamic_rnn(x, training=True)[0], no_dropout) == 0.0

    @tf.function
    def with_tensor_flag(flag):
        return layer.dynamic_rnn(x, training=flag)[0]

    assert max_abs_error(with_tensor_flag(tf.constant(False)), no_dropout) == 0.0
    assert max_abs_error(with_tensor_flag(tf.constant(True)), no_dropout) > 1e-3


# ------------------------------------------------------------------------ tf.compat.v1 graph
def test_tf1_graph_builds_initialises_and_trains():
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, T, D])
        lengths = tf.compat.v1.placeholder(tf.int32, [None])
        keep_prob = tf.compat.v1.placeholder_with_default(1.0, [])
        cell = LayerNormBasicLSTMCell(H, dropout_keep_prob=keep_prob)
        outputs, state = LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(inputs, sequence_length=lengths)
        # The same cell object again: the same weights, as TF1 shared them.
        again, _ = LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(inputs * 2.0, initial_state=state)
        assert outputs.shape.as_list() == [None, T, H] and state.h.shape.as_list() == [None, H]
        # In a graph it is TF1's dynamic_rnn: TF1's variables, created once, shared by the second call
        # as TF 1.15 shared them (11 variables there too, for the same program).
        assert [v.op.name for v in tf.compat.v1.global_variables()] == [
            f"rnn/layer_norm_basic_lstm_cell/{name}" for name in (
                "kernel", *(f"{gate}/{p}" for gate in ("input", "transform", "forget", "output", "state")
                            for p in ("gamma", "beta")))]
        loss = tf.reduce_mean(tf.square(again - 0.5)) + tf.reduce_mean(tf.square(state.h))
        train_op = tf.compat.v1.train.AdamOptimizer(0.05).minimize(loss)
        rng = np.random.default_rng(0)
        feed = {inputs: rng.normal(size=(4, T, D)).astype("float32"), lengths: [T, 6, 1, 0]}
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            first = session.run(loss, feed)
            for _ in range(20):
                session.run(train_op, feed)
            assert session.run(loss, feed) < 0.8 * first
            out, dropped = session.run(outputs, feed), session.run(outputs, {**feed, keep_prob: 0.5})
    assert np.all(out[1, 6:] == 0) and np.all(out[3] == 0)
    assert max_abs_error(out, dropped) > 1e-3


def test_tf1_graph_keeps_the_scope_of_the_call():
    """issue 13: dynamic_rnn(cell, x, scope='encoder') became the fast layer without its scope, so a TF1
    Saver checkpoint's `encoder/layer_norm_basic_lstm_cell/kernel` was not found."""
    with tf.Graph().as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, T, D])
        with tf.compat.v1.variable_scope("model"):
            LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(H)).dynamic_rnn(inputs, scope="encoder")
        names = [v.op.name for v in tf.compat.v1.global_variables()]
    assert names[:2] == ["model/encoder/layer_norm_basic_lstm_cell/kernel",
                         "model/encoder/layer_norm_basic_lstm_cell/input/gamma"]
    assert len(names) == 11


def _encoder(inputs):
    """The keras target's output for an encoder in a module that never mentions reuse."""
    _, state = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(H)).dynamic_rnn(inputs, scope="enc")
    return state.h


def test_tf1_graph_towers_share_when_the_caller_reuses_the_scope():
    """issue 13 item 5: variable_scope(reuse=True) around a caller in another module: one set of
    variables, as TF 1.15's get_variable shared them (11 for one LN-LSTM cell), not two."""
    with tf.Graph().as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, T, D])
        with tf.compat.v1.variable_scope("generator"):
            _encoder(inputs)
        with tf.compat.v1.variable_scope("generator", reuse=True):
            _encoder(inputs)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
    assert len(names) == 11 and all(n.startswith("generator/enc/layer_norm_basic_lstm_cell/") for n in names)


# --------------------------------------------------------------------------------- real TF 1.15
GOLDEN = {g.name: g for g in cases("lstm_") if not g.config["bidirectional"] and g.config["layers"] == 1}
PREFIX = "rnn/layer_norm_basic_lstm_cell/"


def _golden_cell(golden, keep_prob=1.0):
    cfg = golden.config
    return LayerNormBasicLSTMCell(cfg["num_units"], forget_bias=cfg["forget_bias"], layer_norm=cfg["layer_norm"],
                                  norm_gain=cfg["norm_gain"], norm_shift=cfg["norm_shift"],
                                  dropout_keep_prob=keep_prob)


def _keras_weight(cell, tf1_name):
    return getattr(cell, tf1_name.replace("/", "_"))


def _check_golden(golden, outs, grads):
    errors = {}
    for key in golden.with_prefix("out:"):
        errors[key] = tolerance.check(outs[key], golden, "out:" + key)
    for key in golden.with_prefix("grad:"):
        tolerance.check(grads[key], golden, "grad:" + key)
    return errors


def test_golden_cases_are_the_single_cell_ones():
    assert {"lstm_one_layer", "lstm_sequence_length", "lstm_no_layer_norm", "lstm_forget_bias_zero",
            "lstm_norm_gain_shift", "lstm_keep_prob_placeholder"} == set(GOLDEN)


@pytest.mark.parametrize("fast_loop", [False, True], ids=["tf1_dynamic_rnn", "fast_loop"])
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_matches_real_tf1_in_a_tf1_graph(name, fast_loop):
    """In a graph, dynamic_rnn is TF1's (TF1's variables); with `training=` given, the layer's loop."""
    golden = GOLDEN[name]
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None] + list(golden["in:inputs"].shape[1:]))
        feed = {inputs: golden["in:inputs"]}
        kwargs = {}
        if cfg["uses_sequence_length"]:
            kwargs["sequence_length"] = tf.compat.v1.placeholder(tf.int32, [None])
            feed[kwargs["sequence_length"]] = golden["in:sequence_length"]
        keep_prob = 1.0
        if cfg["dropout_keep_prob"] == "placeholder":
            keep_prob = tf.compat.v1.placeholder(tf.float32, [])
            feed[keep_prob] = golden["in:keep_prob"]
        if fast_loop:
            kwargs["training"] = True
        cell = _golden_cell(golden, keep_prob)
        outputs, state = LayerNormBasicLSTM.from_cell(cell, jit_compile=False).dynamic_rnn(
            inputs, dtype=tf.float32, **kwargs)
        loss = tf.reduce_sum(outputs * golden["in:loss_weights"])
        names = sorted(golden.with_prefix("var:" + PREFIX))
        if fast_loop:
            variables = [_keras_weight(cell, n).value for n in names]
        else:
            by_name = {v.op.name: v for v in tf.compat.v1.global_variables()}
            variables = [by_name[PREFIX + n] for n in names]
            assert len(by_name) == len(names)
        grads = tf.gradients(loss, [inputs] + variables)
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for n, v in zip(names, variables):
                v.load(golden["var:" + PREFIX + n], session)
            outs, grad_values = session.run(
                [dict(outputs=outputs, state_c=state.c, state_h=state.h), grads], feed)
    grads = dict(zip(["inputs"] + [PREFIX + n for n in names], grad_values))
    _check_golden(golden, outs, grads)


@pytest.mark.parametrize("name", ["lstm_sequence_length",
                                  *[pytest.param(n, marks=pytest.mark.slow)
                                    for n in sorted(GOLDEN) if n != "lstm_sequence_length"]])
def test_matches_real_tf1_under_xla_in_tf_function(name):
    golden = GOLDEN[name]
    cfg = golden.config
    keep_prob = tf.constant(golden["in:keep_prob"]) if cfg["dropout_keep_prob"] == "placeholder" else 1.0
    cell = _golden_cell(golden, keep_prob)
    cell.build(golden["in:inputs"].shape[::2])
    for n, value in golden.with_prefix("var:" + PREFIX).items():
        _keras_weight(cell, n).assign(value)
    layer = LayerNormBasicLSTM.from_cell(cell)  # jit_compile=True: XLA loops
    lengths = golden["in:sequence_length"] if cfg["uses_sequence_length"] else None
    variables = {PREFIX + n: _keras_weight(cell, n) for n in golden.with_prefix("var:" + PREFIX)}

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, state = layer.dynamic_rnn(x, sequence_length=lengths)
            loss = tf.reduce_sum(outputs * golden["in:loss_weights"])
        return dict(outputs=outputs, state_c=state.c, state_h=state.h), tape.gradient(loss, {"inputs": x, **variables})

    outs, grads = run(tf.constant(golden["in:inputs"]))
    _check_golden(golden, {k: np.asarray(v) for k, v in outs.items()}, {k: np.asarray(v) for k, v in grads.items()})
