"""tf2norm.reference (the NumPy second oracle) against real TF 1.15 golden files and TF1's own vectors.

Needs no TensorFlow: the golden files under fixtures/golden were written by
the generators of fixtures/tf1/ under TF 1.15.0.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tf2norm import reference as R

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
LSTM_FILES = sorted(GOLDEN.glob("lstm_*.npz"))
BN_FILES = sorted(GOLDEN.glob("bn_*.npz"))
LSTM_ATOL = 2e-6
BN_TOL = dict(rtol=1e-6, atol=1e-6)


def load(path):
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    return json.loads(str(data.pop("config"))), data


def cell_weights(data, prefix):
    """The ``var:`` arrays under ``prefix`` keyed relative to the cell scope."""
    prefix = "var:" + prefix + "layer_norm_basic_lstm_cell/"
    w = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
    assert "kernel" in w, prefix
    return w


def assert_close_abs(actual, expected, atol, what):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert err <= atol, "%s: max abs error %.3g > %.3g" % (what, err, atol)


def test_golden_files_exist():
    names = {p.stem for p in LSTM_FILES + BN_FILES}
    for required in ("lstm_one_layer", "lstm_two_layers", "lstm_no_layer_norm",
                     "lstm_forget_bias_zero", "lstm_sequence_length", "lstm_bidirectional",
                     "lstm_norm_gain_shift", "lstm_keep_prob_placeholder",
                     "bn_rank4_nhwc_fused_default", "bn_rank4_nchw_nonfused",
                     "bn_rank2_fused_updates_none", "bn_rank3", "bn_rank5_nchw", "bn_zero_debias",
                     "bn_renorm", "bn_renorm_clipping", "bn_scale_true",
                     "bn_is_training_placeholder", "bn_epsilon_clamp",
                     "bn_tf1_vector_clamp", "bn_tf1_vector_bessel"):
        assert required in names, required
    total = sum(p.stat().st_size for p in GOLDEN.glob("*.npz"))
    assert total < 2 * 1024 * 1024


# ------------------------------------------------------------------------------------------------
# LayerNormBasicLSTMCell
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", LSTM_FILES, ids=lambda p: p.stem)
def test_lstm_golden(path):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    kw = dict(forget_bias=cfg["forget_bias"], layer_norm=cfg["layer_norm"],
              sequence_length=data.get("in:sequence_length"))
    x = data["in:inputs"]
    assert x.shape == (cfg["batch"], cfg["steps"], cfg["input_depth"])
    if not cfg["layer_norm"]:
        assert not any(k.endswith("/gamma") for k in data if k.startswith("var:"))
    if cfg["bidirectional"]:
        w_fw = cell_weights(data, "bidirectional_rnn/fw/")
        w_bw = cell_weights(data, "bidirectional_rnn/bw/")
        (o_fw, o_bw), ((c_fw, h_fw), (c_bw, h_bw)) = R.ln_lstm_bidirectional(x, w_fw, w_bw, **kw)
        expected = {"outputs_fw": o_fw, "outputs_bw": o_bw, "state_fw_c": c_fw,
                    "state_fw_h": h_fw, "state_bw_c": c_bw, "state_bw_h": h_bw}
    elif cfg["layers"] == 1:
        out, (c, h) = R.ln_lstm_sequence(x, cell_weights(data, "rnn/"), **kw)
        expected = {"outputs": out, "state_c": c, "state_h": h}
    else:
        ws = [cell_weights(data, "rnn/multi_rnn_cell/cell_%d/" % k) for k in range(cfg["layers"])]
        out, states = R.ln_lstm_multi_sequence(x, ws, **kw)
        expected = {"outputs": out}
        for k, (c, h) in enumerate(states):
            expected["state_c_%d" % k] = c
            expected["state_h_%d" % k] = h
    golden_outs = {k[4:] for k in data if k.startswith("out:")}
    assert golden_outs == set(expected)
    for name, value in expected.items():
        assert_close_abs(value, data["out:" + name], LSTM_ATOL, name)
    if kw["sequence_length"] is not None:
        for b, n in enumerate(kw["sequence_length"]):
            for key in ("outputs", "outputs_fw", "outputs_bw"):
                if "out:" + key in data:
                    assert np.all(data["out:" + key][b, n:] == 0.0)


def test_lstm_norm_gain_shift_initial_values():
    cfg, data = load(GOLDEN / "lstm_norm_gain_shift.npz")
    for k, v in data.items():
        if k.startswith("var:") and k.endswith("/gamma"):
            np.testing.assert_array_equal(v, np.float32(cfg["norm_gain"]))
        if k.startswith("var:") and k.endswith("/beta"):
            np.testing.assert_array_equal(v, np.float32(cfg["norm_shift"]))


def _public_weights(layer_norm, depth=2, units=2):
    w = {"kernel": np.full((depth + units, 4 * units), 0.5, np.float32)}
    if layer_norm:
        for gate in R.LN_GATES + ("state",):
            w[gate + "/gamma"] = np.ones(units, np.float32)
            w[gate + "/beta"] = np.zeros(units, np.float32)
    else:
        w["bias"] = np.full(4 * units, 0.5, np.float32)
    return w


def _public_two_layer_step(layer_norm):
    x = np.array([[1.0, 1.0]], np.float32)
    s0 = (0.1 * np.array([[0.0, 1.0]]), 0.1 * np.array([[2.0, 3.0]]))
    s1 = (0.1 * np.array([[4.0, 5.0]]), 0.1 * np.array([[6.0, 7.0]]))
    h0, st0 = R.ln_lstm_step(x, s0, _public_weights(layer_norm), layer_norm=layer_norm)
    h1, st1 = R.ln_lstm_step(h0, s1, _public_weights(layer_norm), layer_norm=layer_norm)
    return h1, st0, st1


def test_lstm_public_vector_layer_norm():
    h, (c0, h0), (c1, h1) = _public_two_layer_step(True)
    expected_h = np.array([[-0.38079708, 0.38079708]])
    assert_close_abs(h, expected_h, 1e-6, "h")
    assert_close_abs(c0, [[-1.0, 1.0]], 1e-6, "c0")
    assert_close_abs(c1, [[-1.0, 1.0]], 1e-6, "c1")
    assert_close_abs(h0, expected_h, 1e-6, "h0")
    assert_close_abs(h1, expected_h, 1e-6, "h1")


def test_lstm_public_vector_no_layer_norm():
    h, (c0, h0), (c1, h1) = _public_two_layer_step(False)
    assert_close_abs(h, [[0.70230919, 0.72581059]], 1e-6, "h")
    assert_close_abs(c0, [[0.8020075, 0.89599884]], 1e-6, "c0")
    assert_close_abs(h0, [[0.56668288, 0.60858738]], 1e-6, "h0")
    assert_close_abs(c1, [[1.17500675, 1.26892781]], 1e-6, "c1")
    assert_close_abs(h1, h, 0.0, "h1")


def test_layer_norm_epsilon_is_1e_12():
    # A chunk with variance ~1e-10: TF1's eps=1e-12 normalises it, Keras' 1e-3 would flatten it.
    x = np.array([[1.0, 1.0 + 2e-5, 1.0 - 2e-5, 1.0]], np.float32)
    y = R.layer_norm(x, np.ones(4, np.float32), np.zeros(4, np.float32))
    assert abs(float(y[0, 1])) > 1.0


# ------------------------------------------------------------------------------------------------
# tf.contrib.layers.batch_norm
# ------------------------------------------------------------------------------------------------


def bn_setup(cfg, data):
    kw = cfg["kwargs"]
    rank = cfg["rank"]
    updates_default = kw.get("updates_collections", "UPDATE_OPS") == "UPDATE_OPS"
    zero_debias = bool(kw.get("zero_debias_moving_mean", False))
    renorm = bool(kw.get("renorm", False))
    fused = R.contrib_uses_fused(rank, kw.get("fused"), renorm)
    f32_decay = R.contrib_decay_in_float32(
        rank, kw.get("fused"), renorm, zero_debias_moving_mean=zero_debias,
        updates_collections_default=updates_default)
    return dict(
        axis=1 if cfg["data_format"] == "NCHW" else -1,
        epsilon=kw.get("epsilon", 1e-3),
        decay=kw.get("decay", 0.999),
        fused=fused,
        decay_in_float32=f32_decay,
        renorm_clipping=kw.get("renorm_clipping"),
        renorm_decay=kw.get("renorm_decay", 0.99),
    ), zero_debias, renorm


VAR_KEYS = {
    "moving_mean": "BatchNorm/moving_mean",
    "moving_variance": "BatchNorm/moving_variance",
    "biased": "BatchNorm/BatchNorm/moving_mean/biased",
    "local_step": "BatchNorm/BatchNorm/moving_mean/local_step",
    "moving_stddev": "BatchNorm/moving_stddev",
    "renorm_mean": "BatchNorm/renorm_mean",
    "renorm_stddev": "BatchNorm/renorm_stddev",
}


def run_bn_case(cfg, data, chain=True, setup=None):
    """Replays every step with the reference; yields (k, y, state) per step.

    chain=True carries the reference's own state from step to step (the stronger check);
    chain=False restarts each step from TF's ``after:<k-1>`` values.
    """
    opts, zero_debias, renorm = setup or bn_setup(cfg, data)
    kw = cfg["kwargs"]
    path = R.contrib_path(cfg["rank"], kw.get("fused"), renorm, zero_debias_moving_mean=zero_debias,
                          updates_collections_default=kw.get("updates_collections", "UPDATE_OPS") == "UPDATE_OPS")
    frozen = not kw.get("trainable", True) and path.startswith("core")
    beta = data.get("var:BatchNorm/beta")
    gamma = data.get("var:BatchNorm/gamma")
    state = {k: data["var:" + v] for k, v in VAR_KEYS.items() if "var:" + v in data}
    for k, step in enumerate(cfg["steps"]):
        if not chain and k > 0:
            state = {n: data["after:%d:%s" % (k - 1, v)] for n, v in VAR_KEYS.items()
                     if "var:" + v in data}
        zd = {n: state[n] for n in ("biased", "local_step")} if zero_debias else None
        rn = ({n: state[n] for n in ("moving_stddev", "renorm_mean", "renorm_stddev")}
              if renorm else None)
        y, updated = R.batch_norm(
            data["in:step%d" % k], training=step["training"], beta=beta, gamma=gamma,
            moving_mean=state["moving_mean"], moving_variance=state["moving_variance"],
            zero_debias_state=zd, renorm_state=rn, **opts)
        if not frozen:  # a frozen tf.layers layer's updates never ran
            state = updated
        yield k, y, state


@pytest.mark.parametrize("chain", [True, False], ids=["chained", "per_step"])
@pytest.mark.parametrize("path", BN_FILES, ids=lambda p: p.stem)
def test_bn_golden(path, chain):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    opts, _, _ = bn_setup(cfg, data)
    assert opts["fused"] == cfg["graph_has_fused_op"], "contrib_uses_fused disagrees with TF's graph"
    for k, y, state in run_bn_case(cfg, data, chain=chain):
        np.testing.assert_allclose(y, data["out:step%d" % k], err_msg="out:step%d" % k, **BN_TOL)
        for name, var in VAR_KEYS.items():
            key = "after:%d:%s" % (k, var)
            if key in data:
                np.testing.assert_allclose(state[name], data[key], err_msg=key, **BN_TOL)
        # beta/gamma are never touched by batch_norm itself.
        for p in ("beta", "gamma"):
            key = "after:%d:BatchNorm/%s" % (k, p)
            if key in data:
                np.testing.assert_array_equal(data[key], data["var:BatchNorm/" + p])


def test_bn_nchw_fused_rule_via_transpose():
    """Fused NCHW (no CPU kernel in TF 1.15) equals fused NHWC on the transposed input."""
    cfg_c, nchw = load(GOLDEN / "bn_rank4_nchw_nonfused.npz")
    cfg_h, nhwc = load(GOLDEN / "bn_rank4_nhwc_fused_from_nchw.npz")
    state = {"moving_mean": nchw["var:BatchNorm/moving_mean"],
             "moving_variance": nchw["var:BatchNorm/moving_variance"]}
    for k, step in enumerate(cfg_c["steps"]):
        x = nchw["in:step%d" % k]
        np.testing.assert_array_equal(nhwc["in:step%d" % k], x.transpose(0, 2, 3, 1))
        y, state = R.batch_norm(x, axis=1, training=step["training"], fused=True,
                                beta=nchw["var:BatchNorm/beta"], decay=0.9,
                                decay_in_float32=True, **state)
        np.testing.assert_allclose(y.transpose(0, 2, 3, 1), nhwc["out:step%d" % k], **BN_TOL)
        for name in state:
            np.testing.assert_allclose(state[name], nhwc["after:%d:BatchNorm/%s" % (k, name)],
                                       **BN_TOL)


def test_bn_public_vector_clamp():
    x = np.ones((5, 3, 3, 3), np.float32) * 9
    full = lambda v: np.full(3, v, np.float32)  # noqa: E731
    y, state = R.batch_norm(x, axis=-1, training=False, beta=full(5), gamma=full(2),
                            moving_mean=full(5), moving_variance=full(4), epsilon=0.0, fused=True)
    np.testing.assert_array_equal(y, np.float32(8.999995231628418))
    np.testing.assert_array_equal(state["moving_mean"], full(5))
    _, data = load(GOLDEN / "bn_tf1_vector_clamp.npz")
    np.testing.assert_array_equal(data["out:step0"], np.float32(8.999995231628418))


def test_bn_public_vector_bessel():
    cfg, data = load(GOLDEN / "bn_tf1_vector_bessel.npz")
    x = data["in:step0"]
    n = x.size // x.shape[-1]
    assert n == 40
    state = {"moving_mean": np.zeros(3, np.float32), "moving_variance": np.ones(3, np.float32)}
    for _ in range(10):
        _, state = R.batch_norm(x, axis=-1, training=True, decay=0.1, fused=True, **state)
    mean = x.astype(np.float64).mean(axis=(0, 1, 2))
    var = x.astype(np.float64).var(axis=(0, 1, 2))
    np.testing.assert_allclose(state["moving_mean"], mean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(state["moving_variance"], var * 40 / 39, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(data["after:9:BatchNorm/moving_variance"], var * 40 / 39,
                               rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("rank,fused,renorm,zd,updates_default,expected", [
    (4, None, False, False, True, "core_fused"),
    (4, True, False, False, True, "core_fused"),
    (4, False, False, False, True, "core_nonfused"),
    (4, None, False, True, True, "contrib_fused"),
    (4, None, False, False, False, "contrib_fused"),
    (4, False, False, False, False, "contrib_nonfused"),
    (4, None, True, False, True, "core_nonfused"),
    (2, None, False, False, True, "contrib_fused"),
    (2, False, False, False, True, "core_nonfused"),
    (3, None, False, False, True, "core_nonfused"),
    (3, True, False, False, True, "core_nonfused"),
    (5, None, False, True, True, "contrib_nonfused"),
])
def test_contrib_path(rank, fused, renorm, zd, updates_default, expected):
    assert R.contrib_path(rank, fused, renorm, zero_debias_moving_mean=zd,
                          updates_collections_default=updates_default) == expected
    assert R.contrib_uses_fused(rank, fused, renorm) == expected.endswith("_fused")


def test_renorm_with_non_default_updates_raises():
    with pytest.raises(ValueError):
        R.contrib_path(4, None, True, updates_collections_default=False)


@pytest.mark.parametrize("path", [p for p in BN_FILES if "grad:inputs" in np.load(p).files],
                         ids=lambda p: p.stem)
def test_bn_training_grads(path):
    """TF 1.15's gradients of sum(out:step0 * loss_weights) against the analytic BN backward."""
    cfg, data = load(path)
    assert cfg["steps"][0]["training"]
    opts, _, renorm = bn_setup(cfg, data)
    x = data["in:step0"]
    r = d = None
    if renorm:
        red = tuple(i for i in range(x.ndim) if i != opts["axis"] % x.ndim)
        mean = R.reduce_mean(x, red)
        dev = (x - np.expand_dims(mean, red)).astype(np.float32)
        var = R.reduce_mean(dev * dev, red)
        r, d = R.renorm_correction(mean, var, data["var:BatchNorm/renorm_mean"],
                                   data["var:BatchNorm/renorm_stddev"], opts["epsilon"],
                                   opts["renorm_clipping"])
    grads = R.batch_norm_training_grads(
        x, data["in:loss_weights"], axis=opts["axis"], gamma=data.get("var:BatchNorm/gamma"),
        epsilon=opts["epsilon"], fused=opts["fused"], renorm_r=r, renorm_d=d)
    scale = float(np.max(np.abs(data["grad:inputs"])))
    np.testing.assert_allclose(grads["inputs"], data["grad:inputs"], rtol=1e-5, atol=2e-6 * scale)
    for p in ("beta", "gamma"):
        key = "grad:BatchNorm/" + p
        if key in data:
            np.testing.assert_allclose(grads[p], data[key], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,float32_decay", [
    ("bn_rank4_nhwc_fused_default", True),
    ("bn_rank4_nhwc_fused_true_decay09", True),
    ("bn_rank4_nhwc_fused_updates_none", False),
    ("bn_rank2_fused_default", False),
    ("bn_rank4_nhwc_nonfused", False),
    ("bn_zero_debias", False),
])
def test_bn_decay_float32_rule_bit_exact(name, float32_decay):
    """Which path computes ``1 - decay`` in float32 (only the core layer's fused path).

    A last-bit effect, invisible at 1e-6, so checked bit for bit: on these small NHWC cases the
    reference's float32 reductions happen in TF's order and every moving statistic matches exactly
    with the right rule and not with the other one.
    """
    cfg, data = load(GOLDEN / (name + ".npz"))
    assert bn_setup(cfg, data)[0]["decay_in_float32"] == float32_decay

    def mismatches(rule):
        opts, zero_debias, renorm = bn_setup(cfg, data)
        opts["decay_in_float32"] = rule
        bad = 0
        for k, _, state in run_bn_case(cfg, data, setup=(opts, zero_debias, renorm)):
            for n, var in VAR_KEYS.items():
                key = "after:%d:%s" % (k, var)
                if key in data:
                    bad += int(np.sum(state[n] != data[key]))
        return bad

    assert mismatches(float32_decay) == 0
    assert mismatches(not float32_decay) > 0


# ------------------------------------------------------------------------------------------------
# tf.contrib.layers.layer_norm (fixtures/golden/layernorm_*.npz, fixtures/tf1/contrib_layer_norm.py)
# ------------------------------------------------------------------------------------------------

LN_FILES = sorted(GOLDEN.glob("layernorm_*.npz"))


def _ln_calls(cfg, data):
    for call in cfg["calls"]:
        kwargs = dict(cfg["kwargs"], **call["kwargs"])
        axes = dict(begin_norm_axis=kwargs.get("begin_norm_axis", 1),
                    begin_params_axis=kwargs.get("begin_params_axis", -1))
        beta = data.get("var:%s/beta" % call["scope"])
        gamma = data.get("var:%s/gamma" % call["scope"])
        assert (beta is not None) == kwargs.get("center", True)
        assert (gamma is not None) == kwargs.get("scale", True)
        yield call, kwargs, axes, beta, gamma


@pytest.mark.parametrize("path", LN_FILES, ids=[p.stem for p in LN_FILES])
def test_layer_norm_golden(path):
    cfg, data = load(path)
    for call, kwargs, axes, beta, gamma in _ln_calls(cfg, data):
        x = data["in:" + call["in"]]
        relu = kwargs.get("activation_fn") == "relu"
        y = R.contrib_layer_norm(x, beta, gamma, activation=(lambda t: np.maximum(t, 0)) if relu else None, **axes)
        expected = data["out:" + call["out"]]
        assert y.dtype == expected.dtype
        if x.dtype == np.float16:
            # float16 arithmetic: within an ulp or two of TF's kernels.
            np.testing.assert_allclose(y.astype(np.float32), expected.astype(np.float32), rtol=2e-3, atol=2e-3)
        elif cfg["data"]["mean"] >= 1000 and len(x.shape) - axes["begin_norm_axis"] > 1 and axes["begin_norm_axis"] > 0:
            # Mean 1000, std 0.05 over 60 values: float32 sums in another order move the mean by an
            # ulp of 1000 (6e-5), 1e-3 of the std. TF's own result carries the same rounding.
            assert_close_abs(y, expected, 3e-3, path.stem)
        else:
            assert_close_abs(y, expected, 1e-6, "%s %s" % (path.stem, call["out"]))


@pytest.mark.parametrize("path", LN_FILES, ids=[p.stem for p in LN_FILES])
def test_layer_norm_golden_gradients(path):
    cfg, data = load(path)
    for call, kwargs, axes, beta, gamma in _ln_calls(cfg, data):
        x = data["in:" + call["in"]]
        w = data["in:" + call["loss_weights"]].astype(np.float64)
        if kwargs.get("activation_fn") == "relu":
            w = w * (data["out:" + call["out"]] > 0)
        grads = R.contrib_layer_norm_grads(x, w, beta, gamma, **axes)
        shared = [c for c in cfg["calls"] if c["scope"] == call["scope"]]
        checks = [("inputs", "grad:" + call["in"])]
        if len(shared) == 1:  # a variable reused by another call sums both calls' gradients
            checks += [(p, "grad:%s/%s" % (call["scope"], p)) for p in ("beta", "gamma") if p in grads]
        for name, key in checks:
            expected = data[key].astype(np.float64)
            scale = max(1.0, float(np.abs(expected).max()))
            # float64 here; TF's float32 mean of values near 1000 is off by up to an ulp of 1000,
            # 1e-3 of the 0.05 std, so its gradients carry errors of a few 1e-3 there.
            tol = 5e-3 if x.dtype == np.float16 else (1e-2 if cfg["data"]["mean"] >= 1000 else 2e-6)
            err = float(np.abs(grads[name] - expected).max()) / scale
            assert err <= tol, "%s %s: relative error %.3g" % (path.stem, key, err)


def test_layer_norm_axes_follow_tf1():
    assert R.layer_norm_axes(4) == ((1, 2, 3), (3,))
    assert R.layer_norm_axes(4, -1, -2) == ((3,), (2, 3))
    assert R.layer_norm_axes(3, 0, 1) == ((0, 1, 2), (1, 2))
    assert R.layer_norm_axes(2, 1, -5) == ((1,), (0, 1))  # a slice: below -rank is every axis
    with pytest.raises(ValueError):
        R.layer_norm_axes(3, 3)
    with pytest.raises(ValueError):
        R.layer_norm_axes(3, 1, 3)


# -- tensorflow-addons GroupNormalization / InstanceNormalization (fixtures/tfa/tfa_normalization.py) --

TFA_NORM_FILES = [p for p in sorted(GOLDEN.glob("tfa_norm_*.npz")) if not p.stem.startswith("tfa_norm_model_")]


def _tfa_norm_case(path):
    cfg, data = load(path)
    kwargs = cfg["kwargs"]
    prefix = "var:%s/" % cfg["layer_name"]
    return cfg, data, dict(
        gamma=data.get(prefix + "gamma"), beta=data.get(prefix + "beta"),
        groups=-1 if cfg["layer"] == "InstanceNormalization" else kwargs.get("groups", 32),
        axis=kwargs.get("axis", -1), epsilon=kwargs.get("epsilon", 1e-3))


def _tfa_norm_conditioning(cfg, data, epsilon):
    """Relative error float32 sums in another order may cause: 8 ulps of the largest input over
    the smallest std. Only the cases far from zero (offset) make it matter: 1000 +- 0.1 and
    0.5 +- 0.004, where TF's own result carries the same rounding."""
    if cfg["offset"] == 0.0:
        return 0.0
    x = data["in:inputs"]
    return 8 * float(np.spacing(np.abs(x).max())) / np.sqrt(cfg["spread"] ** 2 + epsilon)


def test_tfa_norm_golden_files_exist():
    names = {p.stem for p in TFA_NORM_FILES}
    assert {"tfa_norm_gn_rank4_groups2", "tfa_norm_in_default", "tfa_norm_in_axis_neg2",
            "tfa_norm_gn_mixed_float16", "tfa_norm_gn_large_offset"} <= names
    assert len(names) == 29


@pytest.mark.parametrize("path", TFA_NORM_FILES, ids=[p.stem for p in TFA_NORM_FILES])
def test_tfa_group_norm_golden(path):
    cfg, data, args = _tfa_norm_case(path)
    expected = data["out:outputs"]
    if cfg["kwargs"].get("dtype") == "mixed_float16":
        y = R.tfa_group_norm(data["in:inputs"], dtype=np.float16, **args)
        assert y.dtype == np.float16
        # float16 emulated op by op in NumPy: an intermediate may round the other way.
        tol = 2 * float(np.spacing(np.abs(expected).max()))
    else:
        y = R.tfa_group_norm(data["in:inputs"], **args)
        gamma = 1.0 if args["gamma"] is None else float(np.abs(args["gamma"]).max())
        tol = max(1e-6, _tfa_norm_conditioning(cfg, data, args["epsilon"]) * gamma)
    assert_close_abs(y, expected, tol, path.stem)


@pytest.mark.parametrize("path", TFA_NORM_FILES, ids=[p.stem for p in TFA_NORM_FILES])
def test_tfa_group_norm_golden_gradients(path):
    cfg, data, args = _tfa_norm_case(path)
    grads = R.tfa_group_norm_grads(data["in:inputs"], data["in:loss_weights"], **args)
    keys = {"inputs": "grad:inputs"}
    keys.update({p: "grad:%s/%s" % (cfg["layer_name"], p) for p in ("gamma", "beta") if args[p] is not None})
    assert set(keys.values()) == {k for k in data if k.startswith("grad:")}
    for name, key in keys.items():
        expected = data[key].astype(np.float64)
        scale = max(1.0, float(np.abs(expected).max()))
        # tfa's float16 gradients are rounded to float16 on the way (2^-8 relative covers it).
        tol = 2.0 ** -8 if cfg["kwargs"].get("dtype") == "mixed_float16" else max(
            2e-6, _tfa_norm_conditioning(cfg, data, args["epsilon"]))
        err = float(np.abs(grads[name] - expected).max()) / scale
        assert err <= tol, "%s %s: relative error %.3g > %.3g" % (path.stem, key, err, tol)


def test_tfa_group_norm_layout_follows_tfa():
    # Several channels per group: reshape, reduce all but batch and group.
    assert R.tfa_group_norm_layout((2, 4, 5, 8), 2) == ((2, 4, 5, 2, 4), (1, 2, 4), (1, 1, 1, 2, 4))
    assert R.tfa_group_norm_layout((2, 8, 4, 5), 2, axis=1) == ((2, 2, 4, 4, 5), (2, 3, 4), (1, 2, 4, 1, 1))
    # One channel per group: no reshape; tfa drops reduction axis `axis - 1` (the bug for -2).
    assert R.tfa_group_norm_layout((2, 4, 5, 8), -1) == ((2, 4, 5, 8), (1, 2), (1, 1, 1, 8))
    assert R.tfa_group_norm_layout((2, 4, 6, 3), -1, axis=-2) == ((2, 4, 6, 3), (2, 3), (1, 1, 6, 1))
    with pytest.raises(IndexError):
        R.tfa_group_norm_layout((2, 6, 3), -1, axis=-2)
    with pytest.raises(ValueError):
        R.tfa_group_norm_layout((2, 6, 8), 3)
    with pytest.raises(ValueError):
        R.tfa_group_norm_layout((2, 6, 8), 2, axis=0)


# ------------------------------------------------------------------------------------------------
# LayerNormGRUCell (hand-rolled TF1 layer-norm GRU, fixtures/golden/lngru_*.npz)
# ------------------------------------------------------------------------------------------------

LNGRU_FILES = sorted(GOLDEN.glob("lngru_*.npz"))


def _lngru_weights(data, prefix):
    prefix = "var:" + prefix + "layer_norm_gru_cell/"
    w = {k[len(prefix):]: v for k, v in data.items() if k.startswith(prefix)}
    assert {"gates/kernel", "candidate/kernel"} <= set(w), prefix
    return w


def test_lngru_golden_files_exist():
    names = {p.stem for p in LNGRU_FILES}
    assert {"lngru_one_layer", "lngru_two_layers", "lngru_no_layer_norm", "lngru_sequence_length",
            "lngru_bidirectional", "lngru_norm_gain_shift", "lngru_keep_prob_placeholder"} <= names


@pytest.mark.parametrize("path", LNGRU_FILES, ids=lambda p: p.stem)
def test_lngru_golden(path):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    relu = lambda a: np.maximum(a, np.float32(0))  # noqa: E731
    kw = dict(layer_norm=cfg["layer_norm"], sequence_length=data.get("in:sequence_length"),
              activation={"tanh": np.tanh, "relu": relu}[cfg["activation"]])
    x = data["in:inputs"]
    assert x.shape == (cfg["batch"], cfg["steps"], cfg["input_depth"])
    has_gamma = any(k.endswith("/gamma") for k in data if k.startswith("var:"))
    has_bias = any(k.endswith("/bias") for k in data if k.startswith("var:"))
    assert (has_gamma, has_bias) == (cfg["layer_norm"], not cfg["layer_norm"])
    if cfg["bidirectional"]:
        w_fw = _lngru_weights(data, "bidirectional_rnn/fw/")
        w_bw = _lngru_weights(data, "bidirectional_rnn/bw/")
        (o_fw, o_bw), (h_fw, h_bw) = R.ln_gru_bidirectional(x, w_fw, w_bw, **kw)
        expected = {"outputs_fw": o_fw, "outputs_bw": o_bw, "state_fw": h_fw, "state_bw": h_bw}
    elif cfg["layers"] == 1:
        outputs, h = R.ln_gru_sequence(x, _lngru_weights(data, "rnn/"), **kw)
        expected = {"outputs": outputs, "state": h}
    else:
        ws = [_lngru_weights(data, "rnn/multi_rnn_cell/cell_%d/" % k) for k in range(cfg["layers"])]
        outputs, hs = R.ln_gru_multi_sequence(x, ws, **kw)
        expected = {"outputs": outputs}
        expected.update({"state_%d" % k: h for k, h in enumerate(hs)})
    assert set(expected) == {k[4:] for k in data if k.startswith("out:")}
    for key, value in expected.items():
        assert_close_abs(value, data["out:" + key], LSTM_ATOL, "%s %s" % (path.stem, key))


def test_lngru_step_without_layer_norm_is_tf1_gru_cell():
    # GRUCell written out from rnn_cell_impl.py in float64, on random weights: the reference agrees.
    rng = np.random.RandomState(5)
    x, h = rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 4)).astype(np.float32)
    w = {"gates/kernel": rng.normal(size=(7, 8)), "gates/bias": rng.normal(size=8),
         "candidate/kernel": rng.normal(size=(7, 4)), "candidate/bias": rng.normal(size=4)}
    w = {k: v.astype(np.float32) for k, v in w.items()}
    value = 1 / (1 + np.exp(-(np.concatenate([x, h], 1) @ w["gates/kernel"] + w["gates/bias"])))
    r, u = value[:, :4], value[:, 4:]
    c = np.tanh(np.concatenate([x, r * h], 1) @ w["candidate/kernel"] + w["candidate/bias"])
    assert_close_abs(R.ln_gru_step(x, h, w, layer_norm=False), u * h + (1 - u) * c, 1e-6, "GRUCell")


# ------------------------------------------------------------------------------------------------
# tensorflow-addons 0.23 cells: tfa.rnn.LayerNormLSTMCell / LayerNormSimpleRNNCell (golden: real tfa)
# ------------------------------------------------------------------------------------------------

TFA_CELL_FILES = sorted(GOLDEN.glob("tfa_cell_*.npz"))
# tfa_cell_srnn_epsilon_fused: one example's pre-activation variance is 0.003 at step 4; the layer
# norm amplifies the float32 tanh kernel's last-bit differences about 15x there (see
# tests/replacements/test_tfa_rnn_cells_golden.py).
TFA_CELL_ATOL = {"tfa_cell_srnn_epsilon_fused": 6e-6}


def _tfa_stepper(cfg, weights):
    kw = cfg["kwargs"]
    if cfg["cell"] == "LayerNormLSTMCell":
        return lambda x, s: R.tfa_ln_lstm_step(
            x, s, weights, norm_epsilon=kw.get("norm_epsilon", 1e-3), activation=kw.get("activation", "tanh"),
            recurrent_activation=kw.get("recurrent_activation", "sigmoid"))
    return lambda x, s: R.tfa_ln_simple_rnn_step(
        x, s, weights, layernorm_epsilon=kw.get("layernorm_epsilon", 1e-5), activation=kw.get("activation", "tanh"))


def _tfa_cell_weights(cfg, data, cell_scope):
    """The ``var:`` arrays of one cell, by tfa's names under the cell (``kernel``, ``kernel_norm/gamma``)."""
    return {n[len(cell_scope):]: data["var:" + n] for n in cfg["weights"] if n.startswith(cell_scope)}


@pytest.mark.parametrize("path", TFA_CELL_FILES, ids=lambda p: p.stem)
def test_tfa_cell_golden(path):
    cfg, data = load(path)
    assert cfg["tfa_version"] == "0.23.0" and cfg["keras_version"].startswith("2.15")
    # Each cell's weights start with its kernel: `<cell scope>/kernel`.
    scopes = sorted(n[:-len("kernel")] for n in cfg["weights"] if n.rsplit("/", 1)[-1] == "kernel")
    lstm = cfg["cell"] == "LayerNormLSTMCell"
    x = data["in:inputs"]
    zeros = np.zeros((cfg["batch"], cfg["units"]), np.float32)
    n_states = 2 if lstm else 1
    initial = [data["in:initial_state_%d" % k] for k in range(n_states)] if cfg["initial_state"] \
        else [zeros] * n_states
    mask = data["in:mask"] if cfg["masked"] else None
    if cfg["structure"] == "bidirectional":
        assert [s.split("/")[1] for s in scopes] == ["backward_rnn", "forward_rnn"]
        steps = [_tfa_stepper(cfg, _tfa_cell_weights(cfg, data, s)) for s in (scopes[1], scopes[0])]
        outputs, fw, bw = R.keras_bidirectional(steps[0], steps[1], x, initial, mask=mask)
        results = [outputs, *fw, *bw]
    else:
        (scope,) = scopes
        weights = _tfa_cell_weights(cfg, data, scope)
        assert ("bias" in weights) is cfg["kwargs"].get("use_bias", True)
        outputs, state = R.keras_rnn(_tfa_stepper(cfg, weights), x, initial, mask=mask)
        results = [outputs, *state]
    atol = TFA_CELL_ATOL.get(path.stem, LSTM_ATOL)
    assert len(results) == len(cfg["outputs"])
    for name, value in zip(cfg["outputs"], results):
        assert_close_abs(value, data["out:" + name], atol, "%s %s" % (path.stem, name))
    if mask is not None:
        # Keras' Bidirectional forces zero outputs at masked steps; a plain RNN repeats the last one.
        dead = ~mask
        if cfg["structure"] == "bidirectional":
            assert np.all(data["out:outputs"][dead] == 0.0)
        else:
            last = np.asarray(cfg["lengths"]) - 1
            assert np.all(data["out:outputs"][2, 3:] == data["out:outputs"][2, last[2]])


def test_keras2_layer_norm_paths_differ_only_in_rounding():
    rng = np.random.RandomState(11)
    x = rng.normal(0, 3, (4, 16)).astype(np.float32)
    gamma, beta = rng.uniform(0.5, 1.5, 16), rng.uniform(-0.5, 0.5, 16)
    fused = R.keras2_layer_norm(x, gamma, beta, R.KERAS2_FUSED_MIN_EPSILON)
    plain = R.keras2_layer_norm(x, gamma, beta, R.KERAS2_FUSED_MIN_EPSILON * 0.999)
    exact = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.astype(np.float64).var(-1, keepdims=True) + 1.001e-5)
    exact = exact * gamma + beta
    assert_close_abs(fused, exact, 2e-6, "fused")
    assert_close_abs(plain, exact, 2e-6, "moments")
    assert np.any(fused != plain)


def test_keras2_hard_sigmoid():
    x = np.array([-3.0, -2.5, -1.0, 0.0, 0.5, 2.5, 4.0], np.float32)
    assert_close_abs(R.keras2_activation("hard_sigmoid")(x), [0.0, 0.0, 0.3, 0.5, 0.6, 1.0, 1.0], 1e-7, "hard_sigmoid")


# ------------------------------------------------------------------------------------------------
# tf.layers.batch_normalization / tf.layers.BatchNormalization (fixtures/tf1/layers_batch_normalization.py)
# ------------------------------------------------------------------------------------------------

TLBN_FILES = sorted(p for p in GOLDEN.glob("tlbn_*.npz") if p.stem != "tlbn_naming")
TLBN_EXTRAS = ("moving_stddev", "renorm_mean", "renorm_stddev")


def tlbn_variables(cfg):
    """Role (gamma, moving_mean, ...) -> full TF1 variable name."""
    return {name.rsplit("/", 1)[-1]: name for name, _ in cfg["variables"]}


def run_tlbn_case(cfg, data, chain=True):
    """Replays every step with the reference; yields (k, y, state, names) per step."""
    kw = cfg["kwargs"]
    names = tlbn_variables(cfg)
    renorm = bool(kw.get("renorm"))
    adjustment = kw.get("adjustment")
    fused = R.layers_uses_fused(cfg["rank"], kw.get("axis", -1), kw.get("fused"), renorm,
                                kw.get("virtual_batch_size"), adjustment)
    state = {k: data["var:" + names[k]] for k in ("moving_mean", "moving_variance") + TLBN_EXTRAS if k in names}
    for k, step in enumerate(cfg["steps"]):
        if not chain and k > 0:
            state = {n: data["after:%d:%s" % (k - 1, names[n])] for n in state}
        y, state = R.layers_batch_normalization(
            data["in:step%d" % k], axis=kw.get("axis", -1), training=step["training"],
            beta=data.get("var:" + names.get("beta", "")), gamma=data.get("var:" + names.get("gamma", "")),
            moving_mean=state["moving_mean"], moving_variance=state["moving_variance"],
            epsilon=kw.get("epsilon", 1e-3), momentum=kw.get("momentum", 0.99), fused=fused,
            renorm_state={n: state[n] for n in TLBN_EXTRAS} if renorm else None,
            renorm_clipping=kw.get("renorm_clipping"), renorm_momentum=kw.get("renorm_momentum", 0.99),
            virtual_batch_size=kw.get("virtual_batch_size"),
            adjustment=None if adjustment is None else (adjustment["scale"], adjustment["bias"]),
            update=bool(step["updates_of"]) and kw.get("trainable", True))
        yield k, y, state, names


@pytest.mark.parametrize("chain", [True, False], ids=["chained", "per_step"])
@pytest.mark.parametrize("path", TLBN_FILES, ids=lambda p: p.stem)
def test_tlbn_golden(path, chain):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    kw = cfg["kwargs"]
    fused = R.layers_uses_fused(cfg["rank"], kw.get("axis", -1), kw.get("fused"), bool(kw.get("renorm")),
                                kw.get("virtual_batch_size"), kw.get("adjustment"))
    assert fused == cfg["graph_has_fused_op"], "layers_uses_fused disagrees with TF's graph"
    for k, y, state, names in run_tlbn_case(cfg, data, chain=chain):
        np.testing.assert_allclose(y, data["out:step%d" % k], err_msg="out:step%d" % k, **BN_TOL)
        for role, value in state.items():
            key = "after:%d:%s" % (k, names[role])
            np.testing.assert_allclose(value, data[key], err_msg=key, **BN_TOL)
        for p in ("beta", "gamma"):
            if p in names:
                np.testing.assert_array_equal(data["after:%d:%s" % (k, names[p])], data["var:" + names[p]])


def test_tlbn_reference_would_catch_contrib_rules():
    # tf.layers' rank-2 call ran the moments path; contrib's fused rules (Bessel, clamp) differ.
    cfg, data = load(GOLDEN / "tlbn_epsilon_small_rank2.npz")
    assert not R.layers_uses_fused(2) and R.contrib_uses_fused(2, None, False)
    names = tlbn_variables(cfg)
    args = dict(axis=-1, training=True, beta=data["var:" + names["beta"]], gamma=data["var:" + names["gamma"]],
                moving_mean=data["var:" + names["moving_mean"]],
                moving_variance=data["var:" + names["moving_variance"]],
                epsilon=1e-6, momentum=0.9)
    y_fused, _ = R.layers_batch_normalization(data["in:step0"], fused=True, **args)
    y_plain, _ = R.layers_batch_normalization(data["in:step0"], fused=False, **args)
    np.testing.assert_allclose(y_plain, data["out:step0"], **BN_TOL)
    assert np.max(np.abs(y_fused - data["out:step0"])) > 1e-3


def test_tlbn_virtual_batches_are_strided():
    # TF 1.15 reshaped [B, ...] to [v, B/v, ...]: virtual batch g is examples g, g + B/v, ...
    x = np.arange(8, dtype=np.float32).reshape(8, 1) * np.ones((1, 2), np.float32)
    ones, zeros = np.ones(2, np.float32), np.zeros(2, np.float32)
    y, state = R.layers_batch_normalization(x, training=True, moving_mean=zeros, moving_variance=ones,
                                            epsilon=0.0, momentum=0.0, fused=False, virtual_batch_size=2)
    # v=2: the virtual batches are {0, 4}, {1, 5}, {2, 6}, {3, 7}: each normalises to -1, +1.
    np.testing.assert_allclose(y[:, 0], [-1, -1, -1, -1, 1, 1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(state["moving_mean"], [3.5, 3.5], atol=1e-6)
    np.testing.assert_allclose(state["moving_variance"], [4.0, 4.0], atol=1e-6)


@pytest.mark.parametrize("path", [p for p in TLBN_FILES if not ({"virtual_batch_size", "adjustment"}
                                                               & set(load(p)[0]["kwargs"]))],
                         ids=lambda p: p.stem)
def test_tlbn_training_grads(path):
    """TF 1.15's gradients of sum(out:step0 * loss_weights) against the analytic BN backward."""
    cfg, data = load(path)
    kw = cfg["kwargs"]
    names = tlbn_variables(cfg)
    assert cfg["steps"][0]["training"] and cfg["steps"][0]["call"] == 0
    x, axis, eps = data["in:step0"], kw.get("axis", -1), kw.get("epsilon", 1e-3)
    r = d = None
    if kw.get("renorm"):
        red = tuple(i for i in range(x.ndim) if i != axis % x.ndim)
        mean = R.reduce_mean(x, red)
        dev = (x - np.expand_dims(mean, red)).astype(np.float32)
        var = R.reduce_mean(dev * dev, red)
        r, d = R.renorm_correction(mean, var, data["var:" + names["renorm_mean"]],
                                   data["var:" + names["renorm_stddev"]], eps, kw.get("renorm_clipping"))
    fused = R.layers_uses_fused(cfg["rank"], axis, kw.get("fused"), bool(kw.get("renorm")))
    grads = R.batch_norm_training_grads(x, data["in:loss_weights"], axis=axis,
                                        gamma=data.get("var:" + names.get("gamma", "")), epsilon=eps,
                                        fused=fused, renorm_r=r, renorm_d=d)
    scale = float(np.max(np.abs(data["grad:inputs"])))
    np.testing.assert_allclose(grads["inputs"], data["grad:inputs"], rtol=1e-5, atol=2e-6 * scale)
    for p in ("beta", "gamma"):
        if p in names:
            np.testing.assert_allclose(grads[p], data["grad:" + names[p]], rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------
# The copied TF1 BNLSTMCell (fixtures/golden/bnlstm_*.npz, fixtures/tf1/hand_rolled_bn_lstm.py)
# ------------------------------------------------------------------------------------------------

BNLSTM_FILES = sorted(GOLDEN.glob("bnlstm_*.npz"))
BNLSTM_ACTIVATIONS = {"tanh": np.tanh, "softsign": lambda a: (a / (1 + np.abs(a))).astype(np.float32)}


def bnlstm_layers(data, cfg, prefix):
    """Per stacked cell, its ``prefix`` arrays keyed relative to the cell scope."""
    return [{k[len(prefix) + len(scope) + 1:]: v for k, v in data.items() if k.startswith(f"{prefix}{scope}/")}
            for scope in cfg["cell_scopes"]]


def test_bnlstm_golden_files_exist():
    assert len(BNLSTM_FILES) >= 6


@pytest.mark.parametrize("path", BNLSTM_FILES, ids=[p.stem for p in BNLSTM_FILES])
def test_bnlstm_golden(path):
    # Every run replayed in order from the case's initial values: outputs, final states of the last
    # cell, and the population statistics after each run.
    cfg, data = load(path)
    layers = bnlstm_layers(data, cfg, "var:")
    lengths = data.get("in:sequence_length")
    for k, run in enumerate(cfg["runs"]):
        outputs, states, stats = R.bn_lstm_sequence(
            data[f"in:{k}:inputs"], layers, max_bn_steps=cfg["max_bn_steps"], training=run["training"],
            decay=cfg["decay"], epsilon=cfg["epsilon"], forget_bias=cfg["forget_bias"],
            activation=BNLSTM_ACTIVATIONS[cfg["activation"]], sequence_length=lengths)
        assert_close_abs(outputs, data[f"out:{k}:outputs"], LSTM_ATOL, f"{path.stem} run {k} outputs")
        for n, (c, h, step) in enumerate(states):
            suffix = "" if len(states) == 1 else f"_{n}"
            for part, value in (("c", c), ("h", h), ("step", step)):
                assert_close_abs(value, data[f"out:{k}:state_{part}{suffix}"], LSTM_ATOL, f"run {k} {part}{suffix}")
        for layer_stats, want in zip(stats, bnlstm_layers(data, cfg, f"after:{k}:")):
            assert sorted(layer_stats) == sorted(want)
            for name, value in want.items():
                assert_close_abs(layer_stats[name], value, 1e-6, f"{path.stem} after run {k}: {name}")
        layers = [{**layer, **layer_stats} for layer, layer_stats in zip(layers, stats)]


def test_bnlstm_first_example_picks_the_row():
    # In the sequence_length case the first example stops at 3: every later step uses row 3.
    cfg, data = load(GOLDEN / "bnlstm_sequence_length.npz")
    assert data["in:sequence_length"][0] == 3 < cfg["max_bn_steps"] - 1
    layers = bnlstm_layers(data, cfg, "var:")
    _, _, (stats,) = R.bn_lstm_sequence(data["in:0:inputs"], layers, max_bn_steps=cfg["max_bn_steps"],
                                        training=True, sequence_length=data["in:sequence_length"])
    before, after = layers[0]["c/pop_mean"], data["after:0:" + cfg["cell_scopes"][0] + "/c/pop_mean"]
    assert np.array_equal(after[4:], before[4:])  # rows past 3 never touched
    assert not np.allclose(after[3], before[3])
    assert_close_abs(stats["c/pop_mean"], after, 1e-6, "c/pop_mean")


def test_bnlstm_batch_norm_formula():
    z = np.array([[1.0, 2.0], [3.0, 6.0]], np.float32)
    y, mean, var = R.bn_lstm_batch_norm(z, [1.0, 0.5], None, [0.0, 0.0], [1.0, 1.0], training=True, decay=0.9,
                                        epsilon=0.0)
    np.testing.assert_allclose(y, [[-1.0, -0.5], [1.0, 0.5]], atol=1e-6)
    np.testing.assert_allclose(mean, [0.2, 0.4], atol=1e-6)   # 0.9 * 0 + 0.1 * (2, 4)
    np.testing.assert_allclose(var, [1.0, 1.3], atol=1e-6)    # 0.9 * 1 + 0.1 * (1, 4)


# ---------------------------------------------------------------- TF1's core cells (tf1cell_*.npz)
TF1_CELL_STEPS = {"BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell"}
TF1_CELL_FILES = [p for p in sorted(GOLDEN.glob("tf1cell_*.npz"))
                  if all(s["class"] in TF1_CELL_STEPS and not s["wrappers"]
                         for s in json.loads(str(np.load(p)["config"]))["cells"])]


def test_tf1_cell_golden_files_exist():
    # every case without wrappers, hand-written or LN cells: the plain cells, stacked or not
    assert [p.stem for p in TF1_CELL_FILES] == [
        "tf1cell_basic_lstm", "tf1cell_basic_lstm_concat_state", "tf1cell_basic_rnn", "tf1cell_basic_rnn_relu_named",
        "tf1cell_gru", "tf1cell_gru_relu", "tf1cell_lstm_default", "tf1cell_lstm_proj_concat_state",
        "tf1cell_lstm_proj_peep_clip", "tf1cell_static_rnn_lstm",
    ]


@pytest.mark.parametrize("path", TF1_CELL_FILES, ids=lambda p: p.stem)
def test_tf1_cell_golden(path):
    from tf2norm.reference import tf1_rnn_cells as cells

    data = dict(np.load(path))
    cfg = json.loads(str(data.pop("config")))
    (spec,) = cfg["cells"]
    scope = "rnn/" + spec["kwargs"].get("name", _TF1_CELL_SCOPES[spec["class"]]) + "/"
    weights = {k[len("var:" + scope):]: v for k, v in data.items() if k.startswith("var:" + scope)}
    assert len(weights) == len(cfg["variables"])
    outputs, (state,) = cells.dynamic_rnn(
        data["in:inputs"], [cells.cell_step(spec["class"], spec["kwargs"])],
        [cells.zero_state(spec["class"], spec["kwargs"], cfg["batch"])], [weights],
        sequence_length=data.get("in:sequence_length"))
    np.testing.assert_allclose(outputs, data["out:outputs"], rtol=0, atol=2e-6)
    if spec["kwargs"].get("state_is_tuple", True):
        expected = [data[f"out:state_{i}"] for i in range(len(state))]
    else:  # concatenated (c, h)
        expected = np.split(data["out:state_0"], [spec["kwargs"]["num_units"]], axis=1)
    for value, want in zip(state, expected):
        np.testing.assert_allclose(value, want, rtol=0, atol=2e-6)


_TF1_CELL_SCOPES = {"BasicRNNCell": "basic_rnn_cell", "BasicLSTMCell": "basic_lstm_cell", "LSTMCell": "lstm_cell",
                    "GRUCell": "gru_cell"}
