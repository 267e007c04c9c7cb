"""tf2norm.reference (the NumPy second oracle) against real TF 1.15 / tfa golden files and TF1's own vectors.

Needs no TensorFlow. The reference's float32 replay of every golden case (tests/golden_reference.py)
is one more float32 evaluation of TF1's math, so it must be within the same bound as tf2norm
(tests/tolerance.py) of every recorded array; its float64 replay is what that bound measures TF1's
own error against, and the table of those errors (fixtures/golden/float32_error.json) is checked here.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from tests import golden_reference as GR
from tests import tolerance
from tests.golden import Golden
from tf2norm import apis
from tf2norm import reference as R

GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "golden"
GOLDEN_PATHS = tolerance.golden_paths()
LSTM_FILES = sorted(GOLDEN.glob("lstm_*.npz"))
BN_FILES = sorted(GOLDEN.glob("bn_*.npz"))
TLBN_FILES = sorted(p for p in GOLDEN.glob("tlbn_*.npz") if p.stem != "tlbn_naming")


def load(path):
    with np.load(path) as z:
        data = {k: z[k] for k in z.files}
    return json.loads(str(data.pop("config"))), data


def assert_close_abs(actual, expected, atol, what):
    actual = np.asarray(actual)
    expected = np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    err = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    assert err <= atol, "%s: max abs error %.3g > %.3g" % (what, err, atol)


def test_golden_files_exist():
    names = {p.stem for p in GOLDEN.glob("*.npz")}
    for required in ("lstm_one_layer", "lstm_two_layers", "lstm_no_layer_norm",
                     "lstm_forget_bias_zero", "lstm_sequence_length", "lstm_bidirectional",
                     "lstm_norm_gain_shift", "lstm_keep_prob_placeholder",
                     "bn_rank4_nhwc_fused_default", "bn_rank4_nchw_nonfused",
                     "bn_rank2_fused_updates_none", "bn_rank3", "bn_rank5_nchw", "bn_zero_debias",
                     "bn_renorm", "bn_renorm_clipping", "bn_scale_true",
                     "bn_is_training_placeholder", "bn_epsilon_clamp",
                     "bn_tf1_vector_clamp", "bn_tf1_vector_bessel",
                     "lngru_one_layer", "lngru_two_layers", "lngru_no_layer_norm", "lngru_sequence_length",
                     "lngru_bidirectional", "lngru_norm_gain_shift", "lngru_keep_prob_placeholder",
                     "tfa_norm_gn_rank4_groups2", "tfa_norm_in_default", "tfa_norm_in_axis_neg2",
                     "tfa_norm_gn_mixed_float16", "tfa_norm_gn_large_offset"):
        assert required in names, required
    assert len([n for n in names if n.startswith("tfa_norm_") and not n.startswith("tfa_norm_model_")]) == 29
    assert len([n for n in names if n.startswith("bnlstm_")]) >= 6
    total = sum(p.stat().st_size for p in GOLDEN.glob("*.npz"))
    # 2.25 MiB: issue 13's contrib cells and stacked bidirectional RNNs (about 100 KiB) took the goldens past 2 MiB
    assert total < 2.25 * 1024 * 1024


# ------------------------------------------------------------------------------------------------
# Every golden array, replayed in float32
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", GOLDEN_PATHS, ids=lambda p: p.stem)
def test_float32_replay_of_every_golden_array_is_within_the_bound(path):
    golden = Golden(path)
    values = GR.reference_values(golden)
    assert set(values) == {k for k in golden.arrays if k.startswith(("out:", "after:"))}
    for key, value in values.items():
        assert np.asarray(value).dtype == golden[key].dtype or golden[key].dtype != np.float16, key
        tolerance.check(value, golden, key, "NumPy reference (float32)")


@pytest.mark.parametrize("path", BN_FILES + TLBN_FILES, ids=lambda p: p.stem)
def test_batch_norm_steps_from_tf1s_own_state(path):
    # Each step restarted from TF's after:<k-1> values: no drift can hide a wrong single step.
    golden = Golden(path)
    if path.stem.startswith("tlbn_"):
        for k, y, state, names in GR.tlbn_steps(golden.config, golden.arrays, chain=False):
            tolerance.check(y, golden, f"out:step{k}", "per step")
            for role, value in state.items():
                tolerance.check(value, golden, f"after:{k}:{names[role]}", "per step")
        return
    for k, y, state in GR.bn_steps(golden.config, golden.arrays, chain=False):
        tolerance.check(y, golden, f"out:step{k}", "per step")
        for name, var in GR.BN_VARIABLES.items():
            if name in state:
                tolerance.check(state[name], golden, f"after:{k}:{var}", "per step")


# ------------------------------------------------------------------------------------------------
# TF1's own float32 error: the table every golden bound is made of
# ------------------------------------------------------------------------------------------------


def test_float32_error_table_matches_the_golden_files():
    # A regenerated golden needs its errors measured again: `python -m tests.tolerance --write`.
    table = tolerance.table()
    assert sorted(table) == sorted(p.stem for p in GOLDEN_PATHS)
    for path in GOLDEN_PATHS:
        entry = table[path.stem]
        assert entry["sha256"] == tolerance.sha256(path), f"{path.name} changed since its errors were measured"
        golden = Golden(path)
        assert set(entry["tf1_error"]) == {k for k in golden.arrays if k.startswith(("out:", "after:", "grad:"))}


def test_recorded_comparisons_are_summarised_per_api(tmp_path, monkeypatch):
    # TF2NORM_RECORD_BOUNDS: each golden comparison is recorded with its bound and E, and the summary
    # keeps each API's worst (README's "worst error" column is measured this way on a machine).
    record = tmp_path / "bounds.jsonl"
    monkeypatch.setenv("TF2NORM_RECORD_BOUNDS", str(record))
    golden = Golden(GOLDEN_PATHS[0])
    key = next(k for k in sorted(golden.arrays) if k.startswith("out:") and tolerance.float32_error(golden, k) > 0)
    expected = np.asarray(golden[key], np.float64)
    error = tolerance.float32_error(golden, key)  # off by one E: a quarter of the bound, or less with the ulps
    tolerance.check(expected + error, golden, key)
    tolerance.check_against(np.ones(3), np.ones(3), np.ones(3), np.ones(3), "migrated tagger (keras)")
    with pytest.raises(AssertionError):
        tolerance.check(expected + 2 * tolerance.bound(golden, key), golden, key)  # recorded, then refused
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    assert [(r["case"], r["key"]) for r in lines] == [
        (golden.name, key), ("migrated tagger (keras)", "out:migrated tagger (keras)"), (golden.name, key)]
    summary = tolerance.bounds_summary(str(record)).splitlines()
    api = next(a.id for a in apis.APIS if any(golden.name.startswith(p) for p in a.goldens))
    row = next(line.split() for line in summary if line.startswith(api + " "))
    assert row[1:3] == ["2", "0"]  # two comparisons of that API's golden, neither bit for bit
    assert float(row[4]) > 1.9  # the refused one: twice its bound
    assert float(row[5]) == pytest.approx(2 * tolerance.bound(golden, key) / error, rel=1e-2)
    assert next(line.split() for line in summary if line.startswith("(other) migrated tagger (keras)"))[4:6] == [
        "1", "1"]  # one comparison, bit for bit


def test_goldens_regenerated_elsewhere_are_compared_in_units_of_e(tmp_path):
    # `python -m tests.tolerance --rerun DIR`: TF1's own spread between machines, against the bounds.
    path = next(p for p in GOLDEN_PATHS if not p.stem.startswith("tfa_"))
    golden = Golden(path)
    key = next(k for k in sorted(golden.arrays) if k.startswith("out:") and tolerance.float32_error(golden, k) > 0)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    moved = (arrays[key].astype(np.float64) + 3 * tolerance.float32_error(golden, key)).astype(arrays[key].dtype)
    expected = np.max(np.abs(moved.astype(np.float64) - arrays[key])) / tolerance.float32_error(golden, key)
    arrays[key] = moved  # 3 E, and the rounding to the golden's dtype
    np.savez(tmp_path / path.name, **arrays)
    lines = tolerance.rerun_summary(str(tmp_path)).splitlines()
    values = sum(1 for k in golden.arrays if k.startswith(("out:", "after:")))
    assert lines[0] == f"value arrays: {values}, bit for bit: {values - 1}"
    ratio, where = lines[1].removeprefix("largest values / E: ").split(" ", 1)
    assert float(ratio) == pytest.approx(expected, abs=0.005) and where == f"({golden.name} {key})"
    arrays[next(k for k in sorted(arrays) if k.startswith("in:"))] += 1  # another input: not comparable
    np.savez(tmp_path / path.name, **arrays)
    assert "not comparable" in tolerance.rerun_summary(str(tmp_path)).splitlines()[-1]


@pytest.mark.parametrize("path", GOLDEN_PATHS, ids=lambda p: p.stem)
def test_measured_errors_are_float32_rounding_errors(path):
    # The guards of tests/tolerance.py: the float64 reference computes what TF1 computed.
    tolerance.guard(Golden(path), tolerance.table()[path.stem])


@pytest.mark.slow
def test_float32_error_table_is_reproducible():
    table = tolerance.table()
    for path in GOLDEN_PATHS:
        measured = tolerance.measure(Golden(path))
        recorded = table[path.stem]
        for field in ("tf1_error", "reference_float32_error"):
            assert sorted(measured[field]) == sorted(recorded[field]), (path.stem, field)
            for key, value in measured[field].items():
                # float64 rounding (BLAS order) and the central differences' own error (1e-9 of the
                # loss) are far below the float32 errors recorded
                assert abs(value - recorded[field][key]) <= 1e-3 * abs(recorded[field][key]) + 1e-12, \
                    (path.stem, field, key, value, recorded[field][key])


@pytest.mark.parametrize("name", ["bn_scale_true", "bn_renorm_clipping", "tlbn_rank3_axis1"])
def test_batch_norm_closed_form_gradients_equal_central_differences(name):
    # Two float64 routes to TF1's training gradient (r and d held, as TF1's stop_gradient):
    # central differences at 1e-4 of the spread are exact to about 1e-8 of the gradient's scale.
    golden = Golden(GOLDEN / f"{name}.npz")
    differenced = GR.reference_gradients(golden)
    cfg = golden.config
    if name.startswith("tlbn_"):
        kw = cfg["kwargs"]
        names = GR.tlbn_variables(cfg)
        axis, eps = kw.get("axis", -1), kw.get("epsilon", 1e-3)
        fused = R.layers_uses_fused(cfg["rank"], axis)
        gamma_key, beta_key = "grad:" + names["gamma"], "grad:" + names["beta"]
        gamma = golden["var:" + names["gamma"]]
        clipping = None
    else:
        opts, _, _ = GR.bn_options(cfg)
        axis, eps, fused, clipping = opts["axis"], opts["epsilon"], opts["fused"], opts["renorm_clipping"]
        gamma_key, beta_key = "grad:BatchNorm/gamma", "grad:BatchNorm/beta"
        gamma = golden.arrays.get("var:BatchNorm/gamma")
    r = d = None
    if cfg["kwargs"].get("renorm"):
        r, d = GR._first_step_renorm(golden["in:step0"], axis, eps, clipping, golden["var:BatchNorm/renorm_mean"],
                                     golden["var:BatchNorm/renorm_stddev"])
    closed = R.batch_norm_training_grads(golden["in:step0"], golden["in:loss_weights"], axis=axis, gamma=gamma,
                                         epsilon=eps, fused=fused, renorm_r=r, renorm_d=d)
    for ours, key in (("inputs", "grad:inputs"), ("gamma", gamma_key), ("beta", beta_key)):
        if key in differenced:
            scale = float(np.max(np.abs(closed[ours])))
            assert float(np.max(np.abs(closed[ours] - differenced[key]))) <= 1e-6 * scale, (name, key)


# ------------------------------------------------------------------------------------------------
# LayerNormBasicLSTMCell
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [p for p in LSTM_FILES if load(p)[0]["uses_sequence_length"]], ids=lambda p: p.stem)
def test_lstm_outputs_are_zero_past_sequence_length(path):
    cfg, data = load(path)
    for b, n in enumerate(data["in:sequence_length"]):
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


@pytest.mark.parametrize("path", BN_FILES, ids=lambda p: p.stem)
def test_bn_fused_rule_and_untouched_parameters(path):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    assert GR.bn_options(cfg)[0]["fused"] == cfg["graph_has_fused_op"], "contrib_uses_fused disagrees with TF's graph"
    for k in range(len(cfg["steps"])):
        for p in ("beta", "gamma"):  # batch_norm itself never touches them
            key = "after:%d:BatchNorm/%s" % (k, p)
            if key in data:
                np.testing.assert_array_equal(data[key], data["var:BatchNorm/" + p])


def test_bn_nchw_fused_rule_via_transpose():
    """Fused NCHW (no CPU kernel in TF 1.15) equals fused NHWC on the transposed input."""
    cfg_c, nchw = load(GOLDEN / "bn_rank4_nchw_nonfused.npz")
    nhwc = Golden(GOLDEN / "bn_rank4_nhwc_fused_from_nchw.npz")
    state = {"moving_mean": nchw["var:BatchNorm/moving_mean"],
             "moving_variance": nchw["var:BatchNorm/moving_variance"]}
    for k, step in enumerate(cfg_c["steps"]):
        x = nchw["in:step%d" % k]
        np.testing.assert_array_equal(nhwc["in:step%d" % k], x.transpose(0, 2, 3, 1))
        y, state = R.batch_norm(x, axis=1, training=step["training"], fused=True,
                                beta=nchw["var:BatchNorm/beta"], decay=0.9,
                                decay_in_float32=True, **state)
        tolerance.check(y.transpose(0, 2, 3, 1), nhwc, "out:step%d" % k, "NCHW")
        for name in state:
            tolerance.check(state[name], nhwc, "after:%d:BatchNorm/%s" % (k, name), "NCHW")


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
    assert GR.bn_options(cfg)[0]["decay_in_float32"] == float32_decay

    def mismatches(rule):
        opts, zero_debias, renorm = GR.bn_options(cfg)
        opts["decay_in_float32"] = rule
        bad = 0
        for k, _, state in GR.bn_steps(cfg, data, options=(opts, zero_debias, renorm)):
            for n, var in GR.BN_VARIABLES.items():
                key = "after:%d:%s" % (k, var)
                if key in data:
                    bad += int(np.sum(state[n] != data[key]))
        return bad

    assert mismatches(float32_decay) == 0
    assert mismatches(not float32_decay) > 0


# ------------------------------------------------------------------------------------------------
# tf.contrib.layers.layer_norm (fixtures/golden/layernorm_*.npz), tfa GroupNormalization (tfa_norm_*)
# ------------------------------------------------------------------------------------------------


def test_layer_norm_axes_follow_tf1():
    assert R.layer_norm_axes(4) == ((1, 2, 3), (3,))
    assert R.layer_norm_axes(4, -1, -2) == ((3,), (2, 3))
    assert R.layer_norm_axes(3, 0, 1) == ((0, 1, 2), (1, 2))
    assert R.layer_norm_axes(2, 1, -5) == ((1,), (0, 1))  # a slice: below -rank is every axis
    with pytest.raises(ValueError):
        R.layer_norm_axes(3, 3)
    with pytest.raises(ValueError):
        R.layer_norm_axes(3, 1, 3)


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
# LayerNormGRUCell, tfa cells
# ------------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("tfa_cell_*.npz")), ids=lambda p: p.stem)
def test_tfa_cell_golden_masking(path):
    cfg, data = load(path)
    assert cfg["tfa_version"] == "0.23.0" and cfg["keras_version"].startswith("2.15")
    if not cfg["masked"]:
        return
    # Keras' Bidirectional forces zero outputs at masked steps; a plain RNN repeats the last one.
    dead = ~data["in:mask"]
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


@pytest.mark.parametrize("path", TLBN_FILES, ids=lambda p: p.stem)
def test_tlbn_fused_rule_and_untouched_parameters(path):
    cfg, data = load(path)
    assert cfg["tf_version"] == "1.15.0"
    kw = cfg["kwargs"]
    fused = R.layers_uses_fused(cfg["rank"], kw.get("axis", -1), kw.get("fused"), bool(kw.get("renorm")),
                                kw.get("virtual_batch_size"), kw.get("adjustment"))
    assert fused == cfg["graph_has_fused_op"], "layers_uses_fused disagrees with TF's graph"
    names = GR.tlbn_variables(cfg)
    for k in range(len(cfg["steps"])):
        for p in ("beta", "gamma"):
            if p in names:
                np.testing.assert_array_equal(data["after:%d:%s" % (k, names[p])], data["var:" + names[p]])


def test_tlbn_reference_would_catch_contrib_rules():
    # tf.layers' rank-2 call ran the moments path; contrib's fused rules (Bessel, clamp) differ.
    cfg, data = load(GOLDEN / "tlbn_epsilon_small_rank2.npz")
    assert not R.layers_uses_fused(2) and R.contrib_uses_fused(2, None, False)
    names = GR.tlbn_variables(cfg)
    args = dict(axis=-1, training=True, beta=data["var:" + names["beta"]], gamma=data["var:" + names["gamma"]],
                moving_mean=data["var:" + names["moving_mean"]],
                moving_variance=data["var:" + names["moving_variance"]],
                epsilon=1e-6, momentum=0.9)
    y_fused, _ = R.layers_batch_normalization(data["in:step0"], fused=True, **args)
    y_plain, _ = R.layers_batch_normalization(data["in:step0"], fused=False, **args)
    tolerance.check(y_plain, Golden(GOLDEN / "tlbn_epsilon_small_rank2.npz"), "out:step0")
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


# ------------------------------------------------------------------------------------------------
# The copied TF1 BNLSTMCell (fixtures/golden/bnlstm_*.npz, fixtures/tf1/hand_rolled_bn_lstm.py)
# ------------------------------------------------------------------------------------------------


def test_bnlstm_first_example_picks_the_row():
    # In the sequence_length case the first example stops at 3: every later step uses row 3.
    cfg, data = load(GOLDEN / "bnlstm_sequence_length.npz")
    assert data["in:sequence_length"][0] == 3 < cfg["max_bn_steps"] - 1
    layers = GR.bnlstm_layers(data, cfg, "var:")
    _, _, (stats,) = R.bn_lstm_sequence(data["in:0:inputs"], layers, max_bn_steps=cfg["max_bn_steps"],
                                        training=True, sequence_length=data["in:sequence_length"])
    before, after = layers[0]["c/pop_mean"], data["after:0:" + cfg["cell_scopes"][0] + "/c/pop_mean"]
    assert np.array_equal(after[4:], before[4:])  # rows past 3 never touched
    assert not np.allclose(after[3], before[3])
    tolerance.check(stats["c/pop_mean"], Golden(GOLDEN / "bnlstm_sequence_length.npz"),
                    "after:0:" + cfg["cell_scopes"][0] + "/c/pop_mean")


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
