"""Group recognition from TF1 variable names: every naming of NUMERICS.md, from name lists alone."""

from __future__ import annotations

import sys

import pytest

from tf2norm.checkpoints.manifest import apply_options, build_input_shape
from tf2norm.checkpoints.errors import CheckpointError
from tf2norm.checkpoints.model import parse_data_format, role_of
from tf2norm.checkpoints.naming import recognise

F = "float32"
GATES = [f"{g}/{p}" for g in ("input", "transform", "forget", "output", "state") for p in ("gamma", "beta")]


def ln_cell(scope, d=5, h=8, kernel="kernel", dtype=F):
    return [(f"{scope}/{kernel}", (d + h, 4 * h), dtype)] + [(f"{scope}/{g}", (h,), F) for g in GATES]


def plain_cell(scope, d=5, h=6, kernel="kernel", bias="bias"):
    return [(f"{scope}/{kernel}", (d + h, 4 * h), F), (f"{scope}/{bias}", (4 * h,), F)]


def bn(scope, c=4, center=True, scale=True):
    out = [(f"{scope}/moving_mean", (c,), F), (f"{scope}/moving_variance", (c,), F)]
    if center:
        out.append((f"{scope}/beta", (c,), F))
    if scale:
        out.append((f"{scope}/gamma", (c,), F))
    return out


def summary(inv):
    return {g.scope: (g.kind, g.naming, sorted(g.weights)) for g in inv.groups}


LN_WEIGHTS = sorted(["kernel"] + [g.replace("/", "_") for g in GATES])


def test_tf115_multi_rnn_cell_with_and_without_layer_norm():
    inv = recognise(ln_cell("rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell")
                    + plain_cell("rnn/multi_rnn_cell/cell_1/layer_norm_basic_lstm_cell", d=8))
    assert summary(inv) == {
        "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell": ("lstm_cell", "TF 1.2-1.15", LN_WEIGHTS),
        "rnn/multi_rnn_cell/cell_1/layer_norm_basic_lstm_cell": ("lstm_cell", "TF 1.2-1.15",
                                                                 ["bias", "kernel"]),
    }
    g0, g1 = inv.groups
    assert (g0.config, g0.input_depth, g0.role) == (
        {"num_units": 8, "layer_norm": True, "forget_bias": 1.0}, 5, "MultiRNNCell layer 0")
    assert (g1.config, g1.input_depth, g1.role) == (
        {"num_units": 6, "layer_norm": False, "forget_bias": 1.0}, 8, "MultiRNNCell layer 1")
    assert g0.weights["state_beta"] == "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell/state/beta"
    assert inv.problems == [] and inv.unrecognised == []


def test_tf10_weights_and_biases():
    inv = recognise(ln_cell("rnn/layer_norm_basic_lstm_cell", kernel="weights")
                    + plain_cell("other/layer_norm_basic_lstm_cell", kernel="weights", bias="biases"))
    assert summary(inv) == {
        "other/layer_norm_basic_lstm_cell": ("lstm_cell", "TF 1.0-1.1", ["bias", "kernel"]),
        "rnn/layer_norm_basic_lstm_cell": ("lstm_cell", "TF 1.0-1.1", LN_WEIGHTS),
    }
    assert inv.groups[0].weights == {"kernel": "other/layer_norm_basic_lstm_cell/weights",
                                     "bias": "other/layer_norm_basic_lstm_cell/biases"}


def test_tf012_linear_scope():
    inv = recognise(ln_cell("RNN/MultiRNNCell/Cell0/LayerNormBasicLSTMCell", kernel="linear/weights")
                    + plain_cell("RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell", d=8,
                                 kernel="linear/weights", bias="linear/b"))
    assert summary(inv) == {
        "RNN/MultiRNNCell/Cell0/LayerNormBasicLSTMCell": ("lstm_cell", "TF 0.12", LN_WEIGHTS),
        "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell": ("lstm_cell", "TF 0.12", ["bias", "kernel"]),
    }
    assert inv.groups[1].weights["bias"] == "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell/linear/b"
    assert [g.role for g in inv.groups] == ["MultiRNNCell layer 0", "MultiRNNCell layer 1"]


def test_bidirectional_and_custom_scopes():
    names = (ln_cell("enc/bidirectional_rnn/fw/layer_norm_basic_lstm_cell", h=4)
             + ln_cell("enc/bidirectional_rnn/bw/layer_norm_basic_lstm_cell", h=4)
             + ln_cell("stack_bidirectional_rnn/cell_1/bidirectional_rnn/fw/layer_norm_basic_lstm_cell")
             # an explicit scope= replaces the cell's own name: recognised by its norm variables
             + ln_cell("decoder/my_cell"))
    inv = recognise(names)
    assert {g.scope: g.role for g in inv.groups} == {
        "decoder/my_cell": "",
        "enc/bidirectional_rnn/bw/layer_norm_basic_lstm_cell": "bidirectional backward",
        "enc/bidirectional_rnn/fw/layer_norm_basic_lstm_cell": "bidirectional forward",
        "stack_bidirectional_rnn/cell_1/bidirectional_rnn/fw/layer_norm_basic_lstm_cell":
            "stacked bidirectional layer 1, bidirectional forward",
    }
    assert role_of("BiRNN/BW/LayerNormBasicLSTMCell") == "bidirectional backward"


def test_uniquified_cell_name_without_layer_norm():
    inv = recognise(plain_cell("rnn/layer_norm_basic_lstm_cell_1"))
    assert [g.scope for g in inv.groups] == ["rnn/layer_norm_basic_lstm_cell_1"]


@pytest.mark.parametrize("names", [
    plain_cell("rnn/basic_lstm_cell"),            # BasicLSTMCell: same shapes, not ours
    [("dense/kernel", (6, 2), F), ("dense/bias", (2,), F)],
    [("conv/kernel", (3, 3, 3, 4), F)],
    [("global_step", (), "int64"), ("beta1_power", (), F)],
])
def test_look_alikes_are_not_recognised(names):
    inv = recognise(names)
    assert inv.groups == [] and inv.problems == []
    assert sorted(v.name for v in inv.unrecognised) == sorted(n for n, _, _ in names)


def test_optimizer_slots_are_left_out_and_attributed():
    scope = "rnn/layer_norm_basic_lstm_cell"
    names = ln_cell(scope) + [(f"{scope}/kernel/Adam", (13, 32), F), (f"{scope}/input/gamma/Adam_1", (8,), F),
                              ("BatchNorm/gamma/Momentum", (4,), F)] + bn("BatchNorm")
    inv = recognise(names)
    assert [g.scope for g in inv.groups] == ["BatchNorm", scope]
    assert {v.name: inv.slot_owner(v.name) for v in inv.unrecognised} == {
        "BatchNorm/gamma/Momentum": "BatchNorm/gamma",
        f"{scope}/input/gamma/Adam_1": f"{scope}/input/gamma",
        f"{scope}/kernel/Adam": f"{scope}/kernel",
    }


def test_batch_norm_scale_center_and_extras():
    names = (bn("block1/BatchNorm") + bn("block2/BatchNorm", scale=False)
             + bn("block4/BatchNorm", center=False, scale=False)
             + bn("features/BatchNorm", c=5)
             + [("features/BatchNorm/features/BatchNorm/moving_mean/biased", (5,), F),
                ("features/BatchNorm/features/BatchNorm/moving_mean/local_step", (), F)]
             + bn("renorm/batch_normalization", c=3)
             + [(f"renorm/batch_normalization/{n}", (3,), F)
                for n in ("moving_stddev", "renorm_mean", "renorm_stddev")])
    inv = recognise(names)
    assert inv.problems == []
    by = {g.scope: g for g in inv.groups}
    assert list(by) == ["block1/BatchNorm", "block2/BatchNorm", "block4/BatchNorm",
                        "features/BatchNorm", "renorm/batch_normalization"]
    flags = {s: (g.channels, g.config["center"], g.config["scale"], g.config["renorm"],
                 g.config["zero_debias_moving_mean"]) for s, g in by.items()}
    assert flags == {
        "block1/BatchNorm": (4, True, True, False, False),
        "block2/BatchNorm": (4, True, False, False, False),
        "block4/BatchNorm": (4, False, False, False, False),
        "features/BatchNorm": (5, True, True, False, True),
        "renorm/batch_normalization": (3, True, True, True, False),
    }
    assert by["features/BatchNorm"].weights["moving_mean_local_step"] == \
        "features/BatchNorm/features/BatchNorm/moving_mean/local_step"
    assert by["renorm/batch_normalization"].naming == "tf.layers.batch_normalization"
    assert sorted(by["renorm/batch_normalization"].weights) == sorted(
        ["beta", "gamma", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean",
         "renorm_stddev"])
    # TF1 defaults for what a checkpoint cannot hold; NHWC assumed
    g = by["block1/BatchNorm"]
    assert (g.config["momentum"], g.config["epsilon"], g.config["axis"], g.data_format,
            g.data_format_given) == (0.999, 0.001, -1, "NHWC", False)


@pytest.mark.parametrize("names, message", [
    (ln_cell("c/layer_norm_basic_lstm_cell")[:-1],
     "inconsistent LayerNormBasicLSTMCell group c/layer_norm_basic_lstm_cell: layer norm variables "
     "missing: state/beta"),
    ([(n, (9,) if n.endswith("state/gamma") else s, t) for n, s, t in ln_cell("c/x")],
     "inconsistent LayerNormBasicLSTMCell group c/x: c/x/state/gamma has shape [9], expected [8] "
     "for num_units=8"),
    ([("c/layer_norm_basic_lstm_cell/kernel", (11, 30), F), ("c/layer_norm_basic_lstm_cell/bias", (30,), F)],
     "inconsistent LayerNormBasicLSTMCell group c/layer_norm_basic_lstm_cell: kernel "
     "c/layer_norm_basic_lstm_cell/kernel has shape [11, 30], expected [input_depth + num_units, "
     "4 * num_units]"),
    ([("c/layer_norm_basic_lstm_cell/kernel", (6, 24), F), ("c/layer_norm_basic_lstm_cell/bias", (24,), F)],
     "inconsistent LayerNormBasicLSTMCell group c/layer_norm_basic_lstm_cell: kernel "
     "c/layer_norm_basic_lstm_cell/kernel has shape [6, 24]: 6 rows leave no input depth for "
     "num_units=6"),
    (plain_cell("c/layer_norm_basic_lstm_cell")[:1] + [("c/layer_norm_basic_lstm_cell/bias", (20,), F)],
     "inconsistent LayerNormBasicLSTMCell group c/layer_norm_basic_lstm_cell: "
     "c/layer_norm_basic_lstm_cell/bias has shape [20], expected [24] for num_units=6"),
    (ln_cell("c/x") + [("c/x/bias", (32,), F)],
     "inconsistent LayerNormBasicLSTMCell group c/x: has both a bias (c/x/bias) and layer norm "
     "variables; TF1 creates the bias only when layer_norm=False"),
    (bn("b/BatchNorm") + [("b/BatchNorm/gamma", (5,), F)],
     "inconsistent batch_norm group b/BatchNorm: b/BatchNorm/gamma has shape [5], expected [4]"),
    (bn("b/BatchNorm") + [("b/BatchNorm/renorm_mean", (4,), F)],
     "inconsistent batch_norm group b/BatchNorm: has renorm_mean but not all of moving_stddev, "
     "renorm_mean, renorm_stddev"),
    (ln_cell("c/x", dtype="float64"),
     "c/x/kernel: unsupported dtype float64 (tf2norm converts float32 checkpoints only)"),
    (bn("b/BatchNorm")[:1] + [("b/BatchNorm/moving_variance", (4,), "int32")],
     "b/BatchNorm/moving_variance: unsupported dtype int32 (tf2norm converts float32 checkpoints only)"),
])
def test_inconsistent_groups_are_reported(names, message):
    inv = recognise(names)
    assert inv.problems == [message]
    assert len(inv.groups) == 1 and inv.groups[0].problems == [message]


def test_options_set_layout_and_constructor_arguments():
    inv = recognise(bn("a/BatchNorm") + bn("b/BatchNorm", c=3) + ln_cell("r/layer_norm_basic_lstm_cell"))
    apply_options(inv, ["b/BatchNorm=nchw"], ["momentum=0.9", "a/BatchNorm:fused=false",
                                              "forget_bias=0.5"])
    a, b, cell = (inv.group(s) for s in ("a/BatchNorm", "b/BatchNorm", "r/layer_norm_basic_lstm_cell"))
    assert (b.data_format, b.data_format_given, b.config["axis"]) == ("NCHW", True, 1)
    assert build_input_shape(b) == [None, 3, None, None]
    assert build_input_shape(a) == [None, None, None, 4]
    assert build_input_shape(cell) == [None, 5]
    assert (a.config["momentum"], b.config["momentum"], a.config["fused"], b.config["fused"]) == (
        0.9, 0.9, False, None)
    assert cell.config["forget_bias"] == 0.5
    apply_options(inv, ["NC"])
    assert build_input_shape(a) == [None, 4] and build_input_shape(b) == [None, 3]


@pytest.mark.parametrize("data_formats, settings, message", [
    (["x/BatchNorm=NCHW"], [], "--data-format x/BatchNorm=NCHW: no recognised group at scope "
                               "x/BatchNorm (groups: a/BatchNorm, r/layer_norm_basic_lstm_cell)"),
    (["a/BatchNorm=CHWN"], [], "--data-format a/BatchNorm=CHWN: unknown data format 'CHWN' (one of "
                               "NC, NWC, NHWC, NDHWC, NCW, NCHW, NCDHW)"),
    (["r/layer_norm_basic_lstm_cell=NCHW"], [],
     "--data-format r/layer_norm_basic_lstm_cell=NCHW: r/layer_norm_basic_lstm_cell is a "
     "lstm_cell group, which has no data format"),
    ([], ["a/BatchNorm:forget_bias=2"],
     "--config a/BatchNorm:forget_bias=2: forget_bias cannot be set on a batch_norm group "
     "(settable: axis, momentum, epsilon, fused, renorm_momentum, renorm_clipping, virtual_batch_size, tf1_api)"),
    ([], ["colour=red"], "--config colour=red: no group takes colour (settable: axis, "
                         "dropout_keep_prob, dropout_prob_seed, epsilon, forget_bias, fused, "
                         "momentum, renorm_clipping, renorm_momentum, tf1_api, virtual_batch_size)"),
    ([], ["momentum"], "--config momentum: expected [SCOPE:]KEY=VALUE"),
])
def test_bad_options(data_formats, settings, message):
    inv = recognise(bn("a/BatchNorm") + ln_cell("r/layer_norm_basic_lstm_cell"))
    with pytest.raises(CheckpointError) as err:
        apply_options(inv, data_formats, settings)
    assert str(err.value) == message


def test_data_formats():
    assert [parse_data_format(f) for f in ("NHWC", "nchw", "NC", "NCDHW")] == [
        (-1, 4), (1, 4), (-1, 2), (1, 5)]


def test_naming_needs_no_tensorflow():
    import subprocess

    # In a fresh interpreter: other tests import TensorFlow into this one.

    code = ("import sys, tf2norm.checkpoints.naming, tf2norm.checkpoints.command; "
            "assert 'tensorflow' not in sys.modules and 'h5py' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
