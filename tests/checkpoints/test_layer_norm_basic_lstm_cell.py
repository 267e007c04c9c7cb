"""LayerNormBasicLSTMCell groups recognised from TF1 variable names: every naming of NUMERICS.md, from name
lists alone (the real checkpoints are in test_checkpoint_cli.py and test_checkpoint_restore.py)."""

from __future__ import annotations

import pytest

from tests.checkpoints.names import LN_WEIGHTS, F, ln_cell, plain_cell, summary
from tf2norm.checkpoints.model import role_of
from tf2norm.checkpoints.naming import recognise


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
