"""LayerNormBasicLSTM (the fast sequence layer) against the step-by-step cell and real TF 1.15.

The reference is `keras.layers.RNN(cell)` over the very cell the layer owns, run in the same
compilation mode: plain `tf.function` for `jit_compile=False`, `tf.function(jit_compile=True)`
for the default `jit_compile=True` (XLA's tanh/sigmoid/rsqrt differ from TensorFlow's by about
an ulp, so each mode is compared with the cell in that mode). Outputs and states must agree
within 1e-6 (they are in fact equal); gradients, which the layer computes by hand in another
order, within 1e-5 of the gradient's magnitude. The golden fixtures hold the layer to real TF 1.15
within the bound tests/tolerance.py derives (as tests/replacements/test_layer_norm_basic_lstm_cell_golden.py)
in both modes.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import cases, max_abs_error
from tf2norm.replacements import LayerNormBasicLSTM, LayerNormBasicLSTMCell

ATOL = 1e-6
GRAD_RTOL = 1e-5
B, T, D, H = 3, 11, 5, 8
MODES = ["graph", "xla"]


def _perturb(cell, rng):
    """LN gammas/betas away from 1/0 (as the golden fixtures do), so a swapped one would show."""
    for v in cell.weights:
        if v.path.endswith("gamma"):
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
        elif v.path.endswith("beta"):
            v.assign(rng.uniform(-0.5, 0.5, v.shape).astype("float32"))


def _cell_and_inputs(seed=0, batch=B, steps=T, **cell_kwargs):
    rng = np.random.default_rng(seed)
    cell = LayerNormBasicLSTMCell(H, **cell_kwargs)
    cell.build((batch, D))
    _perturb(cell, rng)
    x = rng.normal(size=(batch, steps, D)).astype("float32")
    return cell, x, rng


def _loss_weights(shape, k):
    """Fixed, distinct weights for the k-th output, so every output and state feeds the loss."""
    n = int(np.prod(shape))
    return tf.reshape(tf.sin(tf.range(n, dtype=tf.float32) * 0.37 + k), shape)


def _run(layer, mode, x, weights, call_kwargs):
    """Outputs (as a list) and gradients of a weighted sum of all of them w.r.t. x, states and weights."""
    watched = {"x": tf.constant(x)}
    if "initial_state" in call_kwargs:
        watched["c0"], watched["h0"] = (tf.constant(s) for s in call_kwargs["initial_state"])
    extra = {k: v for k, v in call_kwargs.items() if k != "initial_state"}

    def fn(watched):
        with tf.GradientTape() as tape:
            tape.watch(watched)
            kwargs = dict(extra)
            if "c0" in watched:
                kwargs["initial_state"] = [watched["c0"], watched["h0"]]
            outs = tf.nest.flatten(layer(watched["x"], **kwargs))
            loss = tf.add_n([tf.reduce_sum(o * _loss_weights(o.shape, k)) for k, o in enumerate(outs)])
        return outs, tape.gradient(loss, [watched, weights])

    outs, grads = tf.function(fn, jit_compile=(mode == "xla"))(watched)
    return [np.asarray(o) for o in outs], tf.nest.map_structure(np.asarray, grads)


def _assert_close_to_cell(layer_kwargs, call_kwargs, mode, cell_kwargs=None, seed=0, patch=None):
    cell, x, _ = _cell_and_inputs(seed, **(cell_kwargs or {}))
    if patch:
        patch(cell)
    reference = keras.layers.RNN(cell, **layer_kwargs)
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=(mode == "xla"), **layer_kwargs)
    weights = cell.trainable_variables
    expected, expected_grads = _run(reference, mode, x, weights, call_kwargs)
    # The layer runs its own XLA loops: call it from a plain tf.function.
    actual, actual_grads = _run(layer, "graph", x, weights, call_kwargs)
    assert len(actual) == len(expected)
    for k, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape
        err = max_abs_error(a, e)
        assert err <= ATOL, f"output {k}: max abs error {err:.3g} > {ATOL}"
    flat_a, flat_e = tf.nest.flatten(actual_grads), tf.nest.flatten(expected_grads)
    assert len(flat_a) == len(flat_e)
    for k, (a, e) in enumerate(zip(flat_a, flat_e)):
        err = max_abs_error(a, e)
        scale = max(1.0, float(np.abs(e).max()))
        assert err <= GRAD_RTOL * scale, f"gradient {k}: max abs error {err:.3g} (scale {scale:.3g})"


def _right_padded_mask(lengths, steps=T):
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


OPTIONS = {
    "last_output": ({}, {}, {}),
    "sequences_and_state": (dict(return_sequences=True, return_state=True), {}, {}),
    "no_layer_norm": (dict(return_sequences=True, return_state=True), {}, dict(layer_norm=False)),
    "forget_bias_gain_shift": (
        dict(return_sequences=True),
        {},
        dict(forget_bias=0.0, norm_gain=0.7, norm_shift=0.2),
    ),
    "go_backwards": (dict(return_sequences=True, return_state=True, go_backwards=True), {}, {}),
    "mask_zero_output": (
        dict(return_sequences=True, return_state=True, zero_output_for_mask=True),
        dict(mask=_right_padded_mask([T, 7, 2])),
        {},
    ),
    "mask_previous_output": (
        dict(return_sequences=True, return_state=True),
        dict(mask=_right_padded_mask([4, T, 9])),
        {},
    ),
    "mask_go_backwards": (
        dict(return_sequences=True, return_state=True, go_backwards=True, zero_output_for_mask=True),
        dict(mask=_right_padded_mask([T, 7, 2])),
        {},
    ),
    "mask_no_layer_norm_last_output": ({}, dict(mask=_right_padded_mask([5, T, 1])), dict(layer_norm=False)),
    "initial_state": (
        dict(return_sequences=True, return_state=True),
        dict(initial_state=[np.full((B, H), 0.3, np.float32),
                            np.linspace(-0.5, 0.5, B * H, dtype=np.float32).reshape(B, H)]),
        {},
    ),
    "initial_state_mask_backwards": (
        dict(return_sequences=True, return_state=True, go_backwards=True),
        dict(
            initial_state=[np.full((B, H), -0.2, np.float32), np.full((B, H), 0.4, np.float32)],
            mask=_right_padded_mask([3, T, 6]),
        ),
        {},
    ),
}


# XLA compilation of the reference makes every xla case take seconds: a few run by default,
# the rest are marked slow (CI runs them all).
FAST_XLA = {"sequences_and_state"}


def _option_params():
    for option in sorted(OPTIONS):
        yield pytest.param(option, "graph", id=f"{option}-graph")
        marks = () if option in FAST_XLA else (pytest.mark.slow,)
        yield pytest.param(option, "xla", id=f"{option}-xla", marks=marks)


@pytest.mark.parametrize("option, mode", list(_option_params()))
def test_matches_step_by_step_cell(option, mode):
    layer_kwargs, call_kwargs, cell_kwargs = OPTIONS[option]
    _assert_close_to_cell(layer_kwargs, call_kwargs, mode, cell_kwargs)


@pytest.mark.parametrize("mode", ["graph", pytest.param("xla", marks=pytest.mark.slow)])
def test_dropout_applies_to_g_only_when_training(mode):
    # A fixed mask stands in for the random one, so the layer's placement of the dropout
    # (the candidate g, every step, training only) can be compared number for number.
    fixed = np.random.default_rng(5).uniform(size=(B, H)) < 0.6
    multiplier = tf.constant(fixed / 0.6, tf.float32)

    def patch(cell):
        cell.drop = lambda g: g * multiplier

    layer_kwargs = dict(return_sequences=True, return_state=True)
    cell_kwargs = dict(dropout_keep_prob=0.6)
    _assert_close_to_cell(layer_kwargs, dict(training=True), mode, cell_kwargs, patch=patch)
    _assert_close_to_cell(layer_kwargs, dict(training=False), mode, cell_kwargs, patch=patch)


def test_random_dropout_only_when_training():
    cell, x, _ = _cell_and_inputs(dropout_keep_prob=0.5, dropout_prob_seed=3)
    layer = LayerNormBasicLSTM.from_cell(cell, return_sequences=True)
    plain = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(H), return_sequences=True)
    plain.build(x.shape)
    plain.set_weights(layer.get_weights())
    no_dropout = np.asarray(plain(x))
    assert max_abs_error(layer(x, training=False), no_dropout) == 0.0
    assert max_abs_error(layer(x), no_dropout) == 0.0  # Keras: training defaults to inference
    dropped = np.asarray(layer(x, training=True))
    assert max_abs_error(dropped, no_dropout) > 1e-3
    assert np.all(np.isfinite(dropped))

    @tf.function
    def with_tensor_flag(flag):
        return layer(x, training=flag)

    assert max_abs_error(with_tensor_flag(tf.constant(False)), no_dropout) == 0.0
    assert max_abs_error(with_tensor_flag(tf.constant(True)), no_dropout) > 1e-3


@pytest.mark.parametrize("mode", MODES)
def test_stateful_carries_state_between_calls(mode):
    cell, x, _ = _cell_and_inputs(steps=2 * T)
    kwargs = dict(return_sequences=True, stateful=True)
    reference = keras.layers.RNN(cell, **kwargs)
    layer = LayerNormBasicLSTM.from_cell(cell, jit_compile=(mode == "xla"), **kwargs)
    ref_fn = tf.function(reference, jit_compile=(mode == "xla"))
    layer_fn = tf.function(layer)
    first, second = x[:, :T], x[:, T:]
    for chunk in (first, second):
        err = max_abs_error(layer_fn(chunk), ref_fn(chunk))
        assert err <= ATOL
    for a, e in zip(layer.states, reference.states):
        assert max_abs_error(a, e) <= ATOL
    # The second chunk really started from the first one's state.
    layer.reset_state()
    assert max_abs_error(layer.states[0], np.zeros((B, H))) == 0.0
    assert max_abs_error(layer_fn(second), ref_fn(first)) > 1e-3


def test_gradient_of_an_inference_call_is_still_right():
    # training=False runs the lean forward; a gradient then recomputes what it needs.
    cell, x, _ = _cell_and_inputs()
    layer = LayerNormBasicLSTM.from_cell(cell, return_sequences=True, jit_compile=False)
    reference = keras.layers.RNN(cell, return_sequences=True)
    expected = _run(reference, "graph", x, cell.trainable_variables, dict(training=False))
    actual = _run(layer, "graph", x, cell.trainable_variables, dict(training=False))
    for a, e in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)):
        assert max_abs_error(a, e) <= GRAD_RTOL * max(1.0, float(np.abs(e).max()))


def test_other_activation_falls_back_to_the_cell_loop():
    cell, x, _ = _cell_and_inputs(activation="relu")
    layer = LayerNormBasicLSTM.from_cell(cell, return_sequences=True)
    reference = keras.layers.RNN(cell, return_sequences=True)
    assert max_abs_error(layer(x), reference(x)) == 0.0


def test_weights_are_the_cells():
    layer = LayerNormBasicLSTM(H, return_sequences=True)
    layer.build((B, T, D))
    assert isinstance(layer.cell, LayerNormBasicLSTMCell)
    names = sorted(v.path.split("/")[-1] for v in layer.weights)
    expected = ["kernel"] + [f"{n}_{p}" for n in ("input", "transform", "forget", "output", "state")
                             for p in ("gamma", "beta")]
    assert names == sorted(expected)
    assert layer.cell.kernel.shape == (D + H, 4 * H)
    no_ln = LayerNormBasicLSTM(H, layer_norm=False)
    no_ln.build((B, T, D))
    assert sorted(v.path.split("/")[-1] for v in no_ln.weights) == ["bias", "kernel"]


def test_from_cell_shares_the_cell_and_rejects_conflicts():
    cell = LayerNormBasicLSTMCell(H, forget_bias=0.5)
    layer = LayerNormBasicLSTM.from_cell(cell, return_state=True)
    assert layer.cell is cell and layer.units == H and layer.forget_bias == 0.5 and layer.return_state
    with pytest.raises(ValueError, match="forget_bias"):
        LayerNormBasicLSTM(H, forget_bias=0.0, cell=cell)
    with pytest.raises(ValueError, match="num_units"):
        LayerNormBasicLSTM(H + 1, cell=cell)
    with pytest.raises(TypeError):
        LayerNormBasicLSTM(H, cell=keras.layers.LSTMCell(H))


def test_config_round_trip_and_keras_file(tmp_path):
    layer = LayerNormBasicLSTM(
        H,
        forget_bias=0.5,
        layer_norm=True,
        norm_gain=0.9,
        norm_shift=0.1,
        dropout_keep_prob=0.8,
        dropout_prob_seed=7,
        return_sequences=True,
        return_state=True,
        go_backwards=True,
        zero_output_for_mask=True,
        jit_compile=False,
        name="lnlstm",
    )
    config = layer.get_config()
    clone = LayerNormBasicLSTM.from_config(config)
    assert clone.get_config() == config
    assert config["units"] == H and config["dropout_keep_prob"] == 0.8 and config["jit_compile"] is False

    inputs = keras.Input((T, D))
    outputs = LayerNormBasicLSTM(H, return_sequences=True, forget_bias=0.0)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2)(outputs))
    _perturb(model.layers[1].cell, np.random.default_rng(1))
    x = np.random.default_rng(2).normal(size=(B, T, D)).astype("float32")
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.layers[1]) is LayerNormBasicLSTM
    assert loaded.layers[1].forget_bias == 0.0
    assert max_abs_error(loaded(x), model(x)) == 0.0


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_fit_under_keras_defaults():
    # model.fit compiles its step with XLA on CPU (jit_compile="auto"): the layer's own compiled
    # loops and hand-written gradient must work inside that.
    inputs = keras.Input((T, D))
    out = LayerNormBasicLSTM(H)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(out))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, T, D)).astype("float32"), rng.normal(size=(8, 1)).astype("float32")
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before


# ------------------------------------------------------------------- real TF 1.15
GOLDEN = {g.name: g for g in cases("lstm_")}


def _golden_layer(cfg, mode, **kwargs):
    return LayerNormBasicLSTM(
        cfg["num_units"],
        forget_bias=cfg["forget_bias"],
        layer_norm=cfg["layer_norm"],
        norm_gain=cfg["norm_gain"],
        norm_shift=cfg["norm_shift"],
        return_sequences=True,
        return_state=True,
        zero_output_for_mask=True,
        jit_compile=(mode == "xla"),
        **kwargs,
    )


def _load(cell, golden, prefix):
    for name, value in golden.with_prefix("var:" + prefix).items():
        getattr(cell, name.replace("/", "_")).assign(value)


def _golden_params():
    for name in sorted(GOLDEN):
        yield pytest.param(name, "graph", id=f"{name}-graph")
        marks = () if name == "lstm_sequence_length" else (pytest.mark.slow,)
        yield pytest.param(name, "xla", id=f"{name}-xla", marks=marks)


@pytest.mark.parametrize("name, mode", list(_golden_params()))
def test_matches_real_tf1(name, mode):
    golden = GOLDEN[name]
    cfg = golden.config
    inputs = tf.constant(golden["in:inputs"])
    mask = None
    if cfg["uses_sequence_length"]:
        mask = tf.constant(_right_padded_mask(golden["in:sequence_length"], cfg["steps"]))
    if cfg["bidirectional"]:
        layer = keras.layers.Bidirectional(
            _golden_layer(cfg, mode), backward_layer=_golden_layer(cfg, mode, go_backwards=True), merge_mode=None
        )
        layer.build(inputs.shape)
        cells = [layer.forward_layer.cell, layer.backward_layer.cell]
        prefixes = ["bidirectional_rnn/fw/layer_norm_basic_lstm_cell/",
                    "bidirectional_rnn/bw/layer_norm_basic_lstm_cell/"]
    else:
        layers = [_golden_layer(cfg, mode) for _ in range(cfg["layers"])]
        shape = inputs.shape
        for lay in layers:
            lay.build(shape)
            shape = shape[:2] + (cfg["num_units"],)
        cells = [lay.cell for lay in layers]
        if cfg["layers"] == 1:
            prefixes = ["rnn/layer_norm_basic_lstm_cell/"]
        else:
            prefixes = [f"rnn/multi_rnn_cell/cell_{k}/layer_norm_basic_lstm_cell/" for k in range(cfg["layers"])]
    for cell, prefix in zip(cells, prefixes):
        _load(cell, golden, prefix)
    variables = {prefix + n: getattr(cell, n.replace("/", "_"))
                 for cell, prefix in zip(cells, prefixes) for n in golden.with_prefix("var:" + prefix)}

    @tf.function
    def run(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            outs = {}
            if cfg["bidirectional"]:
                fw, bw, fw_c, fw_h, bw_c, bw_h = layer(x, mask=mask, training=False)
                outs.update(outputs_fw=fw, outputs_bw=bw, state_fw_c=fw_c, state_fw_h=fw_h, state_bw_c=bw_c,
                            state_bw_h=bw_h)
                combined = tf.concat([fw, bw], -1)
            else:
                seq = x
                for k, lay in enumerate(layers):
                    seq, c, h = lay(seq, mask=mask, training=False)
                    suffix = "" if cfg["layers"] == 1 else f"_{k}"
                    outs[f"state_c{suffix}"], outs[f"state_h{suffix}"] = c, h
                outs["outputs"] = combined = seq
            loss = tf.reduce_sum(combined * golden["in:loss_weights"])
        grads = tape.gradient(loss, {"inputs": x, **variables})
        return outs, grads

    outs, grads = run(inputs)
    expected = golden.with_prefix("out:")
    assert set(outs) == set(expected)
    for key in expected:
        tolerance.check(outs[key], golden, "out:" + key, mode)
    for key in golden.with_prefix("grad:"):
        tolerance.check(grads[key], golden, "grad:" + key, mode)
