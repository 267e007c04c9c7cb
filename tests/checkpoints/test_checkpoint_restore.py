"""Converted and TF1 values in the replacement layers reproduce what real TF 1.15 computed (SEQUENCE_ATOL).

Every expected number here was computed by TF 1.15 (fixtures/checkpoints/*/golden.npz and
model.npz, written by fixtures/tf1/make_checkpoints.py); no NumPy reference is involved.
"""

from __future__ import annotations

import weakref
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import (
    SEQUENCE_ATOL,
    convert_fixture,
    fixture,
    golden,
)
from tf2norm.checkpoints import CheckpointError, load_tf1_weights, restore, restore_into
from tf2norm.checkpoints.kinds.lstm_cell import run_cell
from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell

ATOL = SEQUENCE_ATOL  # checkpoint_helpers.py says why
LN = "layer_norm_basic_lstm_cell"
CELL0 = f"rnn/multi_rnn_cell/cell_0/{LN}"
CELL1 = f"rnn/multi_rnn_cell/cell_1/{LN}"
LSTM_FIXTURES = ["ln_lstm", "ln_lstm_bidir", "tf10_naming", "tf012_naming"]
BN_FIXTURES = ["bn_convnet", "bn_extras"]


def max_err(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))


def check_cell(cell, fields):
    init = (fields["initial_c"], fields["initial_h"])
    out, (c, h) = run_cell(cell, fields["inputs"], fields["sequence_length"], init)
    errors = [max_err(out, fields["outputs"]), max_err(c, fields["final_c"]),
              max_err(h, fields["final_h"])]
    assert max(errors) <= ATOL, errors
    return max(errors)


def check_batch_norm(layer_for, fields):
    """layer_for(input_shape) -> a freshly loaded layer; checks both passes and the statistics."""
    layer = layer_for(fields["infer_inputs"].shape)
    y = layer(fields["infer_inputs"], training=False)
    assert max_err(y, fields["infer_outputs"]) <= ATOL
    layer = layer_for(fields["train_inputs"].shape)
    y = layer(fields["train_inputs"], training=True)
    errors = {"train_outputs": max_err(y, fields["train_outputs"])}
    for key, want in fields.items():
        if key.startswith("train_") and key not in ("train_inputs", "train_outputs"):
            errors[key] = max_err(getattr(layer, key[len("train_"):]), want)
    assert len(errors) >= 3 and max(errors.values()) <= ATOL, errors


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("converted")
    return {name: convert_fixture(name, base / name) for name in LSTM_FIXTURES + BN_FIXTURES}


@pytest.mark.parametrize("name", LSTM_FIXTURES)
def test_restored_cells_reproduce_tf1(name, converted):
    layers = restore(converted[name])
    expected = golden(name)
    assert sorted(layers) == sorted(expected)
    for scope, cell in layers.items():
        assert isinstance(cell, LayerNormBasicLSTMCell)
        check_cell(cell, expected[scope])


@pytest.mark.parametrize("name", ["ln_lstm", "tf10_naming", "tf012_naming"])
def test_restored_stack_reproduces_the_tf1_model(name, converted):
    """dynamic_rnn(MultiRNNCell([LN cell, no-LN cell])) from a zero state, end to end."""
    with np.load(fixture(name, "model.npz")) as m:
        x, lengths, want = m["inputs"], m["sequence_length"], m["outputs"]
    for cell in restore(converted[name]).values():  # manifest order: cell 0, then cell 1
        x, _ = run_cell(cell, x, lengths)
    assert max_err(x, want) <= ATOL


def test_restored_bidirectional_reproduces_tf1(converted):
    with np.load(fixture("ln_lstm_bidir", "model.npz")) as m:
        x, lengths, out_fw, out_bw = m["inputs"], m["sequence_length"], m["outputs_fw"], m["outputs_bw"]
    layers = restore(converted["ln_lstm_bidir"])
    fw = layers[f"encoder/bidirectional_rnn/fw/{LN}"]
    bw = layers[f"encoder/bidirectional_rnn/bw/{LN}"]
    assert fw.forget_bias == bw.forget_bias == 0.5

    def reverse(a):
        a = np.array(a)
        for b, n in enumerate(lengths):
            a[b, :n] = a[b, :n][::-1]
        return a

    assert max_err(run_cell(fw, x, lengths)[0], out_fw) <= ATOL
    assert max_err(reverse(run_cell(bw, reverse(x), lengths)[0]), out_bw) <= ATOL


@pytest.mark.parametrize("name", BN_FIXTURES)
def test_restored_batch_norms_reproduce_tf1(name, converted):
    expected = golden(name)
    for scope, fields in expected.items():
        check_batch_norm(lambda shape: restore(converted[name], [scope],
                                               input_shapes={scope: shape})[scope], fields)


@pytest.mark.parametrize("name", LSTM_FIXTURES + BN_FIXTURES)
def test_object_based_tf2_checkpoints_restore_with_tensorflow_alone(name, converted):
    """convert also writes tf2/<group>/ckpt: tf.train.Checkpoint(layer=...).read() reproduces TF1."""
    import json

    import tensorflow as tf

    root = Path(converted[name])
    manifest = json.loads((root / "manifest.json").read_text())
    expected = golden(name)
    for entry in manifest["groups"]:
        path = str(root / entry["tf2_checkpoint"])

        def fresh(shape, entry=entry, path=path):
            cls = LayerNormBasicLSTMCell if entry["kind"] == "lstm_cell" else BatchNormalization
            layer = cls(**entry["config"])
            layer.build(tuple(shape))
            tf.train.Checkpoint(layer=layer).read(path).assert_existing_objects_matched()
            return layer

        if entry["kind"] == "lstm_cell":
            check_cell(fresh(entry["build_input_shape"]), expected[entry["scope"]])
        else:
            check_batch_norm(fresh, expected[entry["scope"]])


def test_restore_builds_from_the_manifest(converted):
    layers = restore(converted["bn_convnet"])
    b3, b4 = layers["block3/BatchNorm"], layers["block4/BatchNorm"]
    assert (b3.axis, b3.fused, b3.momentum, b3.scale, b3.center, b3.name) == (
        1, False, 0.9, True, True, "block3__BatchNorm")
    assert (b4.epsilon, b4.scale, b4.center, b4.gamma, b4.beta) == (1e-4, False, False, None, None)
    extras = restore(converted["bn_extras"])
    assert extras["features/BatchNorm"].zero_debias_moving_mean
    assert float(extras["features/BatchNorm"].moving_mean_local_step.numpy()) == 3.0
    assert extras["renorm/BatchNorm"].renorm and extras["renorm/BatchNorm"].renorm_momentum == 0.9


def test_restore_into_a_users_keras_model(converted):
    """The user's own model, with their layer names; TF1's example 0 runs the full length."""
    model = keras.Sequential([
        keras.Input((None, 5)),
        keras.layers.RNN(LayerNormBasicLSTMCell(8), return_sequences=True, name="encoder"),
        keras.layers.RNN(LayerNormBasicLSTMCell(6, layer_norm=False), return_sequences=True,
                         name="decoder"),
    ])
    restore_into(model, converted["tf10_naming"], {CELL0: "encoder", CELL1: "decoder"})
    with np.load(fixture("tf10_naming", "model.npz")) as m:
        assert m["sequence_length"][0] == m["inputs"].shape[1]
        got = model(m["inputs"][:1]).numpy()
        assert max_err(got, m["outputs"][:1]) <= ATOL

    bn = BatchNormalization(axis=1, scale=True, momentum=0.9, fused=False, name="bn3")
    net = keras.Sequential([keras.Input((4, 6, 6)), bn])
    restore_into(net, converted["bn_convnet"], {"block3/BatchNorm": "bn3"})
    fields = golden("bn_convnet")["block3/BatchNorm"]
    assert max_err(net(fields["infer_inputs"], training=False), fields["infer_outputs"]) <= ATOL


def test_restore_into_warns_about_configuration_and_rejects_mismatches(converted):
    cell = LayerNormBasicLSTMCell(4, forget_bias=1.0)
    with pytest.warns(UserWarning, match=r"forget_bias=1\.0 \(TF1 group: 0\.5\)"):
        restore_into(keras.layers.RNN(cell), converted["ln_lstm_bidir"],
                     {f"encoder/bidirectional_rnn/fw/{LN}": cell})
    with pytest.raises(CheckpointError, match="does not match converted group .*: converted group .* "
                                              "has bias which the layer lacks; the layer has "
                                              "forget_beta, forget_gamma"):
        restore_into(keras.Sequential([keras.Input((None, 8)),
                                       keras.layers.RNN(LayerNormBasicLSTMCell(6), name="d")]),
                     converted["ln_lstm"], {CELL1: "d"})
    with pytest.raises(CheckpointError, match="no layer named 'nope'"):
        restore_into(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]),
                     converted["ln_lstm"], {CELL0: "nope"})
    with pytest.raises(CheckpointError, match="is a BatchNormalization, not a tf2norm replacement"):
        plain = keras.Sequential([keras.Input((4, 6, 6)), keras.layers.BatchNormalization(axis=1,
                                                                                          name="b")])
        restore_into(plain, converted["bn_convnet"], {"block3/BatchNorm": "b"})
    with pytest.raises(CheckpointError, match="has no group other/BatchNorm"):
        restore_into(plain, converted["bn_convnet"], {"other/BatchNorm": "b"})


@pytest.mark.parametrize("name, scope", [("tf10_naming", CELL0), ("tf10_naming", CELL1),
                                         ("tf012_naming", "RNN/MultiRNNCell/Cell0/LayerNormBasicLSTMCell"),
                                         ("ln_lstm", CELL1)])
def test_load_tf1_weights_into_a_cell(name, scope):
    fields = golden(name)[scope]
    cell = LayerNormBasicLSTMCell(fields["final_c"].shape[1], layer_norm="Cell0" in scope or
                                  "cell_0" in scope)
    assert load_tf1_weights(cell, fixture(name), scope) is cell  # built here from the kernel
    check_cell(cell, fields)


def test_load_tf1_weights_into_batch_norms():
    expected = golden("bn_extras")

    def features(shape):
        layer = BatchNormalization(scale=True, momentum=0.9, zero_debias_moving_mean=True)
        layer.build(shape)
        return load_tf1_weights(layer, fixture("bn_extras"), "features/BatchNorm")

    check_batch_norm(features, expected["features/BatchNorm"])

    def renorm(shape):
        layer = BatchNormalization(scale=True, momentum=0.9, renorm=True, renorm_momentum=0.9)
        layer.build(shape)
        return load_tf1_weights(layer, fixture("bn_extras", "model.ckpt"), "renorm/BatchNorm")

    check_batch_norm(renorm, expected["renorm/BatchNorm"])


@pytest.mark.parametrize("make, scope, message", [
    (lambda: LayerNormBasicLSTMCell(8, layer_norm=False), CELL0,
     "does not match TF1 group .*: TF1 group .* has forget_beta, .* which the layer lacks; the "
     "layer has bias which TF1 group .* lacks"),
    (lambda: LayerNormBasicLSTMCell(7), CELL0, r"\.kernel has shape \[12, 28\], TF1 group .* has \[13, 32\]"),
    (lambda: LayerNormBasicLSTMCell(8), "rnn/missing", "no recognised group at scope 'rnn/missing'"),
    (lambda: BatchNormalization(), CELL0, "is a lstm_cell group, .* a BatchNormalization"),
    (lambda: BatchNormalization(), "block1/BatchNorm", "build .* first"),
    (lambda: keras.layers.LayerNormalization(), CELL0, "not a tf2norm replacement"),
])
def test_load_tf1_weights_rejects_mismatches(make, scope, message):
    ckpt = fixture("bn_convnet") if "block" in scope else fixture("ln_lstm")
    with pytest.raises(CheckpointError, match=message):
        load_tf1_weights(make(), ckpt, scope)


def test_load_tf1_weights_checks_every_shape_before_assigning():
    layer = BatchNormalization(scale=False)
    layer.build((None, 4))
    with pytest.raises(CheckpointError, match="the layer lacks"):
        load_tf1_weights(layer, fixture("bn_convnet"), "block1/BatchNorm")  # has gamma
    np.testing.assert_array_equal(layer.moving_variance.numpy(), np.ones(4, np.float32))


def test_convert_streams_one_tensor_at_a_time(tmp_path, monkeypatch):
    """convert never holds two tensors read from the TF1 checkpoint at once."""
    from tf2norm.checkpoints import reader

    alive, peak = [], []
    real = reader.Tf1Checkpoint.read_tensor

    def read(self, name):
        value = real(self, name)
        alive[:] = [r for r in alive if r() is not None]
        alive.append(weakref.ref(value))
        peak.append(len(alive))
        return value

    monkeypatch.setattr(reader.Tf1Checkpoint, "read_tensor", read)
    from tf2norm.checkpoints import convert

    convert(fixture("ln_lstm"), tmp_path / "out")
    assert len(peak) == 13 and max(peak) == 1
