"""tf.layers batch-norm groups: the real TF 1.15 checkpoint fixtures/checkpoints/layers_bn (written by
`fixtures/tf1/layers_batch_normalization.py checkpoints`) through inspect / convert / verify, and loaded into
tf2norm's replacements (the Keras BatchNormalization(tf1_api="layers") and, for --target compat, TF1's
own Saver into batch_normalization) reproducing the outputs TF 1.15 recorded (golden.npz)."""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checkpoints.checkpoint_helpers import (
    SEQUENCE_ATOL,
    cli,
    fixture,
    golden,
    read_all,
    write_checkpoint,
)
from tf2norm.checkpoints import CheckpointError, load_tf1_weights, restore, restore_into
from tf2norm.checkpoints.naming import recognise
from tf2norm.replacements import BatchNormalization, batch_normalization

NAME = "layers_bn"
CKPT = fixture(NAME, "model.ckpt")
GOLDEN = fixture(NAME, "golden.npz")
# What TF1 was called with that the checkpoint cannot record (the rest are tf.layers' defaults).
CONFIG = ["--config", "net/batch_normalization_1:momentum=0.9",
          "--config", "net/batch_normalization_1:renorm_momentum=0.9",
          "--config", "net/batch_normalization_2:epsilon=1e-5", "--config", "net/ghost_bn:virtual_batch_size=2",
          "--data-format", "net/batch_normalization_2=NC"]
# scope -> (channels, center, renorm, virtual batch variable shape or None)
GROUPS = {
    "net/batch_normalization": (4, True, False, None),
    "net/batch_normalization_1": (4, True, True, None),
    "net/batch_normalization_2": (4, True, False, None),
    "net/ghost_bn": (6, False, False, [1, 1, 6]),
}
ATOL = SEQUENCE_ATOL  # checkpoint_helpers.py says why


def _close(got, want, what):
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=ATOL, err_msg=what)


def _rows(stdout):
    return {line.split()[0]: (" ".join(line.split()[2:4]), line.split()[6]) for line in stdout.splitlines()[1:-1]}


# -- inspect ----------------------------------------------------------------------------------------

def test_inspect_finds_the_tf_layers_groups_with_their_defaults():
    run = cli("inspect", fixture(NAME), "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    found = {g["scope"]: (g["channels"], g["config"]["center"], g["config"]["renorm"]) for g in report["groups"]}
    assert found == {s: v[:3] for s, v in GROUPS.items()}
    assert {g["naming"] for g in report["groups"]} == {"tf.layers.batch_normalization"}
    assert all(g["config"]["tf1_api"] == "layers" and g["config"]["momentum"] == 0.99 for g in report["groups"])
    assert all(not g["problems"] for g in report["groups"])
    ghost = report["groups"][-1]
    # The virtual-batch shape [1, 1, C] records the layout (rank 2), not the virtual batch size.
    assert (ghost["data_format"], ghost["data_format_given"], ghost["config"]["virtual_batch_size"]) == (
        "NC", True, None)
    assert [v["name"] for v in report["unrecognised"]] == ["net/conv1/kernel", "net/conv2/kernel", "net/proj/kernel"]
    text = cli("inspect", fixture(NAME)).stdout.splitlines()
    i = text.index("  net/ghost_bn  [tf.layers.batch_normalization]")
    assert text[i + 1] == (
        "    channels=6 center=False scale=True tf1_api=layers virtual_batch_size=? (not in the checkpoint: "
        "converted and verified once --config net/ghost_bn:virtual_batch_size=N gives it) data_format=NC")
    assert text[i + 2] == "    gamma            [1, 1, 6]  float32  <- net/ghost_bn/gamma"


def _groups(names):
    inv = recognise([(n, s, "float32") for n, s in names])
    return {g.scope: g for g in inv.groups}, inv.problems


def test_virtual_batch_shapes_give_the_layout():
    def bn(scope, shape):
        return [(f"{scope}/{n}", shape) for n in ("gamma", "beta", "moving_mean", "moving_variance")]

    groups, problems = _groups(bn("a", [1, 1, 1, 1, 8]) + bn("b", [1, 1, 8, 1, 1]) + bn("c", [1, 1, 5, 1])
                               + bn("d/batch_normalization_3", [7]) + bn("e", [1, 1, 1, 1]))
    assert problems == []
    layouts = {s: (g.data_format, g.config["axis"], g.channels, g.naming) for s, g in groups.items()}
    assert layouts == {
        "a": ("NHWC", -1, 8, "tf.layers.batch_normalization"),
        "b": ("NCHW", 1, 8, "tf.layers.batch_normalization"),
        "c": ("NCW", 1, 5, "tf.layers.batch_normalization"),
        "d/batch_normalization_3": ("NHWC", -1, 7, "tf.layers.batch_normalization"),
        "e": ("NWC", -1, 1, "tf.layers.batch_normalization"),
    }
    assert groups["a"].required == {"virtual_batch_size": "a TF1 checkpoint does not record tf.layers' "
                                    "virtual_batch_size (its variables only show that one was used)"}
    assert groups["d/batch_normalization_3"].required == {}
    assert groups["d/batch_normalization_3"].config["momentum"] == 0.99


@pytest.mark.parametrize("names, message", [
    ([("x/moving_mean", [1, 1, 4]), ("x/moving_variance", [4])],
     "inconsistent batch_norm group x: x/moving_variance has shape [4], expected [1, 1, 4]"),
    ([("x/moving_mean", [1, 1, 4, 1, 3]), ("x/moving_variance", [1, 1, 4, 1, 3])],
     "inconsistent batch_norm group x: x/moving_mean has shape [1, 1, 4, 1, 3], expected [channels]"),
    ([("x/moving_mean", [1, 1, 1, 4, 1]), ("x/moving_variance", [1, 1, 1, 4, 1])],
     "inconsistent batch_norm group x: x/moving_mean has the virtual-batch shape [1, 1, 1, 4, 1]: a layout "
     "tf2norm cannot name (channel axis 2 of rank 4)"),
])
def test_inconsistent_virtual_batch_groups(names, message):
    _, problems = _groups(names)
    assert problems == [message]


# -- convert ----------------------------------------------------------------------------------------

def test_convert_keeps_tf1_shapes_and_leaves_the_virtual_batch_group_until_its_size_is_given(tmp_path):
    out = tmp_path / "conv"
    run = cli("convert", fixture(NAME), "--out", out)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[0] == f"converted 3 groups (3 batch_norm) from {CKPT} into {out}"
    manifest = json.loads((out / "manifest.json").read_text())
    assert "net/ghost_bn/gamma" in manifest["not_converted"]

    run = cli("convert", fixture(NAME), "--out", out, "--force", *CONFIG)
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"converted 4 groups (4 batch_norm) from {CKPT} into {out}"
    assert lines[4] == (
        "  net/ghost_bn -> BatchNormalization(center=False, scale=True, axis=-1, momentum=0.99, epsilon=0.001, "
        "fused=None, renorm_momentum=0.99, renorm=False, zero_debias_moving_mean=False, tf1_api='layers', "
        "virtual_batch_size=2) data_format=NC")
    manifest = json.loads((out / "manifest.json").read_text())
    entries = {e["scope"]: e for e in manifest["groups"]}
    assert {s: e["build_input_shape"] for s, e in entries.items()} == {
        "net/batch_normalization": [None, None, None, 4], "net/batch_normalization_1": [None, None, None, 4],
        "net/batch_normalization_2": [None, 4], "net/ghost_bn": [None, 6]}
    assert entries["net/batch_normalization_1"]["config"]["momentum"] == 0.9
    values = read_all(CKPT)
    with h5py.File(out / "weights.h5") as h5:
        for scope, entry in entries.items():
            group = h5[entry["h5_group"]]
            assert sorted(group) == sorted(entry["weights"])
            for key, weight in entry["weights"].items():
                np.testing.assert_array_equal(group[key][()], values[weight["tf1_name"]])


def test_convert_rejects_a_bad_virtual_batch_size(tmp_path):
    run = cli("convert", fixture(NAME), "--out", tmp_path / "conv", "--config", "net/ghost_bn:virtual_batch_size=0")
    assert run.exit_code == 2
    assert "virtual_batch_size must be a positive integer" in run.stderr
    assert not (tmp_path / "conv").exists()


# -- verify -----------------------------------------------------------------------------------------

def test_verify_against_tf1_and_the_reference():
    # The golden file records how TF1 was called (decay, epsilon, virtual_batch_size, tf1_api).
    run = cli("verify", fixture(NAME), "--golden", GOLDEN, "--atol", str(ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("TF1 golden", "pass") for s in GROUPS}
    run = cli("verify", fixture(NAME), *CONFIG)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("NumPy reference", "pass") for s in GROUPS}


def test_verify_converted_against_tf1(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    run = cli("verify", fixture(NAME), "--converted", out, "--golden", GOLDEN, "--atol", str(ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(_rows(run.stdout).values()) == {("TF1 golden", "pass")}


def test_verify_fails_on_contrib_rules_momentum_or_altered_values(tmp_path):
    # contrib's rules fuse rank 2 (Bessel-corrected moving variance): not what tf.layers computed.
    run = cli("verify", fixture(NAME), "--golden", GOLDEN, "--config", "net/batch_normalization_2:tf1_api=contrib",
              "--config", "net/batch_normalization:momentum=0.999")
    assert run.exit_code == 1
    rows = _rows(run.stdout)
    assert rows["net/batch_normalization_2"] == ("TF1 golden", "FAIL")
    assert rows["net/batch_normalization"] == ("TF1 golden", "FAIL")
    assert rows["net/ghost_bn"] == ("TF1 golden", "pass")
    values = read_all(CKPT)
    values["net/ghost_bn/moving_mean"] = values["net/ghost_bn/moving_mean"] + 0.01
    altered = write_checkpoint(tmp_path / "altered" / "model.ckpt", values)
    run = cli("verify", altered, "--golden", GOLDEN, "--atol", str(ATOL))
    assert run.exit_code == 1
    assert _rows(run.stdout)["net/ghost_bn"] == ("TF1 golden", "FAIL")
    assert _rows(run.stdout)["net/batch_normalization"] == ("TF1 golden", "pass")


def test_verify_without_the_virtual_batch_size_skips_that_group():
    without = [
        "--config", "net/batch_normalization_1:momentum=0.9",
        "--config", "net/batch_normalization_1:renorm_momentum=0.9",
        "--config", "net/batch_normalization_2:epsilon=1e-5", "--data-format", "net/batch_normalization_2=NC"]
    run = cli("verify", fixture(NAME), *without)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(_rows(run.stdout)) == set(GROUPS) - {"net/ghost_bn"}


# -- loading into the replacements ----------------------------------------------------------------

def _train_and_infer(layer, fields, what):
    _close(layer(tf.constant(fields["infer_inputs"]), training=False), fields["infer_outputs"], f"{what} infer")
    _close(layer(tf.constant(fields["train_inputs"]), training=True), fields["train_outputs"], f"{what} train")
    for key in ("moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev"):
        if f"train_{key}" in fields:
            _close(getattr(layer, key).numpy(), fields[f"train_{key}"], f"{what} {key} after training")


def test_restore_reproduces_tf1(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    layers = restore(out)
    assert list(layers) == list(GROUPS)
    fields = golden(NAME)
    for scope, layer in layers.items():
        assert isinstance(layer, BatchNormalization) and layer.tf1_api == "layers"
        if GROUPS[scope][3] is not None:
            assert list(layer.moving_mean.shape) == GROUPS[scope][3]
        _train_and_infer(layer, fields[scope], scope)


def test_restore_into_a_keras_model_and_the_tf2_checkpoint(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    inputs = keras.Input((6,))
    ghost = BatchNormalization(momentum=0.99, center=False, scale=True, virtual_batch_size=2, tf1_api="layers",
                               name="ghost")
    model = keras.Model(inputs, ghost(inputs))
    restore_into(model, out, {"net/ghost_bn": "ghost"})
    fields = golden(NAME)["net/ghost_bn"]
    _train_and_infer(model.get_layer("ghost"), fields, "restore_into")
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(e for e in manifest["groups"] if e["scope"] == "net/batch_normalization_1")
    layer = BatchNormalization(momentum=0.9, scale=True, renorm=True, renorm_momentum=0.9, tf1_api="layers")
    layer.build((None, 6, 6, 4))
    tf.train.Checkpoint(layer=layer).read(str(out / entry["tf2_checkpoint"])).assert_existing_objects_matched()
    _train_and_infer(layer, golden(NAME)["net/batch_normalization_1"], "tf2 checkpoint")


def test_load_tf1_weights_straight_from_the_checkpoint():
    fields = golden(NAME)["net/batch_normalization_2"]
    layer = BatchNormalization(momentum=0.99, epsilon=1e-5, scale=True, tf1_api="layers")
    layer.build((None, 4))
    load_tf1_weights(layer, CKPT, "net/batch_normalization_2")
    _train_and_infer(layer, fields, "net/batch_normalization_2")
    with pytest.raises(CheckpointError, match="shape"):
        plain = BatchNormalization(center=False, scale=True, tf1_api="layers")
        plain.build((None, 6))
        load_tf1_weights(plain, CKPT, "net/ghost_bn")  # [6] weights against TF1's [1, 1, 6]


def test_the_tf1_checkpoint_restores_unchanged_into_compat_batch_normalization():
    """--target compat: TF1's own Saver restores every group into the tf.compat.v1 replacement."""
    fields = golden(NAME)
    graph = tf.Graph()
    with graph.as_default():
        inputs = {s: tf.compat.v1.placeholder(tf.float32, fields[s]["infer_inputs"].shape) for s in GROUPS}
        training = tf.compat.v1.placeholder(tf.bool, [])
        with tf.compat.v1.variable_scope("net"):
            taps = [batch_normalization(inputs["net/batch_normalization"], training=training),
                    batch_normalization(inputs["net/batch_normalization_1"], training=training, momentum=0.9,
                                        renorm=True, renorm_momentum=0.9),
                    batch_normalization(inputs["net/batch_normalization_2"], training=training, epsilon=1e-5),
                    batch_normalization(inputs["net/ghost_bn"], training=training, virtual_batch_size=2, center=False,
                                        name="ghost_bn")]
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        checkpoint = read_all(CKPT)
        assert {n: v.shape.as_list() for n, v in variables.items()} == {
            n: list(a.shape) for n, a in checkpoint.items() if not n.endswith("/kernel")}
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, CKPT)
            infer = sess.run(taps, {training: False, **{inputs[s]: fields[s]["infer_inputs"] for s in GROUPS}})
            feed = {training: True, **{inputs[s]: fields[s]["train_inputs"] for s in GROUPS}}
            train = sess.run(taps + [updates], feed)
            after = sess.run(variables)
    for k, scope in enumerate(GROUPS):
        _close(infer[k], fields[scope]["infer_outputs"], f"{scope} infer")
        _close(train[k], fields[scope]["train_outputs"], f"{scope} train")
        for key, value in fields[scope].items():
            if key.startswith("train_") and key not in ("train_inputs", "train_outputs"):
                _close(after[f"{scope}/{key[len('train_'):]}"], value, f"{scope} {key}")


def test_a_candidate_group_left_out_is_said_on_stderr_and_in_the_manifest(tmp_path):
    ckpt = fixture("layers_bn", "model.ckpt")
    out = tmp_path / "conv"
    run = cli("convert", ckpt, "--out", out)
    assert run.exit_code == 0, run.stderr
    note = ("note: net/ghost_bn (a batch_norm candidate) was not converted: a TF1 checkpoint does not "
            "record tf.layers' virtual_batch_size (its variables only show that one was used); pass "
            "--config net/ghost_bn:virtual_batch_size=VALUE")
    assert note in run.stderr.splitlines()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["left_out"] == [note[len("note: "):]]
    assert "net/ghost_bn/gamma" in manifest["not_converted"]
    run = cli("verify", ckpt)
    assert run.exit_code == 0
    assert note.replace("not converted", "not verified") in run.stderr.splitlines()
