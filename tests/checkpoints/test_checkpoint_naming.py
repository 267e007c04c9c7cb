"""Group recognition from TF1 variable names: every naming of NUMERICS.md, from name lists alone."""

from __future__ import annotations

import sys

import pytest

from tests.checkpoints.names import F, bn, ln_cell, plain_cell
from tf2norm.checkpoints.errors import CheckpointError
from tf2norm.checkpoints.manifest import apply_options, build_input_shape
from tf2norm.checkpoints.model import parse_data_format
from tf2norm.checkpoints.naming import recognise
from tf2norm.checkpoints.rules import RULES


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
    # ... as a coded error finding placed at the group's scope.
    (finding,) = inv.groups[0].findings
    code = "TF2N902" if "unsupported dtype" in message else "TF2N901"
    assert (finding.path, finding.code, finding.message, finding.severity) == (
        inv.groups[0].scope, code, message, "error")
    assert finding.hint == RULES[code].hint


def test_checkpoint_rules_are_the_tf2n9xx_codes():
    assert set(RULES) == {"TF2N901", "TF2N902", "TF2N903"}
    assert all(rule.code == code and rule.message and rule.hint for code, rule in RULES.items())


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
