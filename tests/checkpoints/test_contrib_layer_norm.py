"""layer_norm checkpoint groups: the real TF 1.15 checkpoint fixtures/checkpoints/layer_norm
(written by fixtures/tf1/contrib_layer_norm.py) through inspect / convert / verify, and loaded
into tf2norm's replacements (Keras LayerNorm, and the tf.compat.v1 layer_norm with TF1's Saver)
reproducing the outputs TF 1.15 recorded (golden.npz)."""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checkpoints.checkpoint_helpers import (
    NORMALISATION_ATOL,
    cli,
    copy_fixture,
    fixture,
    golden,
    read_all,
    write_checkpoint,
)
from tf2norm.checkpoints import (
    CheckpointError,
    kinds,
    load_tf1_weights,
    restore,
    restore_into,
)
from tf2norm.checkpoints.naming import recognise
from tf2norm.replacements import LayerNorm, layer_norm

NAME = "layer_norm"
CKPT = fixture(NAME, "model.ckpt")
GOLDEN = fixture(NAME, "golden.npz")
# The one call whose begin_norm_axis (-1) is not TF1's default: a checkpoint cannot record it.
CONFIG = ["--config", "encoder/LayerNorm_1:begin_norm_axis=-1"]
# scope -> (params shape, center, scale, begin_norm_axis TF1 used)
GROUPS = {
    "encoder/LayerNorm": ([6], True, True, 1),
    "encoder/LayerNorm_1": ([6], False, True, -1),
    "head/LayerNorm": ([4, 6], True, True, 1),
}


def _close(got, want, what):
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=NORMALISATION_ATOL, err_msg=what)


# -- inspect ----------------------------------------------------------------------------------------

def test_inspect_json_finds_the_three_groups_and_leaves_the_rest():
    run = cli("inspect", fixture(NAME), "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    found = {g["scope"]: (g["params_shape"], g["config"]["center"], g["config"]["scale"]) for g in report["groups"]}
    assert found == {s: v[:3] for s, v in GROUPS.items()}
    assert {g["kind"] for g in report["groups"]} == {"layer_norm"}
    assert all(not g["problems"] for g in report["groups"])
    assert [g["config"]["begin_params_axis"] for g in report["groups"]] == [-1, -1, -2]
    unrecognised = [v["name"] for v in report["unrecognised"]]
    assert len(unrecognised) == 31
    # A layer_norm with its own scope= is just beta and gamma, as many layers have: not taken.
    assert {"head/ln_custom/beta", "head/ln_custom/gamma", "encoder/proj/kernel", "global_step"} <= set(unrecognised)


def test_inspect_text_says_begin_norm_axis_is_not_in_the_checkpoint():
    run = cli("inspect", fixture(NAME))
    lines = run.stdout.splitlines()
    assert lines[0] == f"checkpoint {CKPT}: 36 variables, 3 groups recognised"
    assert "layer_norm groups (3):" in lines
    i = lines.index("  head/LayerNorm  [tf.contrib.layers.layer_norm]")
    assert lines[i + 1:i + 4] == [
        "    params=[4, 6] center=True scale=True begin_params_axis=-2 begin_norm_axis=1 (TF1's default: not in "
        "the checkpoint; --config to change)",
        "    beta   [4, 6]  float32  <- head/LayerNorm/beta",
        "    gamma  [4, 6]  float32  <- head/LayerNorm/gamma",
    ]
    assert "  encoder/LayerNorm/beta/Adam  [6] float32  (optimizer slot of encoder/LayerNorm/beta)" in lines


# -- recognition from name lists --------------------------------------------------------------------

def _groups(names):
    inv = recognise([(n, s, "float32") for n, s in names])
    return {g.scope: (g.kind, g.weights, list(g.params_shape or ()), g.problems) for g in inv.groups}, \
        [v.name for v in inv.unrecognised]


def test_recognised_names():
    groups, rest = _groups([("LayerNorm/beta", [8]), ("LayerNorm/gamma", [8]), ("a/b/LayerNorm_12/gamma", [3, 8]),
                            ("tower_1/LayerNorm_2/beta", [5]), ("tower_1/LayerNorm_2/beta/Momentum", [5])])
    assert groups == {
        "LayerNorm": ("layer_norm", {"beta": "LayerNorm/beta", "gamma": "LayerNorm/gamma"}, [8], []),
        "a/b/LayerNorm_12": ("layer_norm", {"gamma": "a/b/LayerNorm_12/gamma"}, [3, 8], []),
        "tower_1/LayerNorm_2": ("layer_norm", {"beta": "tower_1/LayerNorm_2/beta"}, [5], []),
    }
    assert rest == ["tower_1/LayerNorm_2/beta/Momentum"]


def test_names_that_are_not_a_layer_norm():
    groups, rest = _groups([
        ("ln/beta", [8]), ("ln/gamma", [8]),                              # its own scope: ambiguous
        ("MyLayerNorm/gamma", [8]), ("LayerNormX/beta", [8]),             # not the default name
        ("x/LayerNorm/beta", [4]), ("x/LayerNorm/w", [4, 4]),             # something else lives there
        ("rnn/layer_norm_basic_lstm_cell/input/gamma", [4]),              # a cell's gate norm
    ])
    assert groups == {}
    assert len(rest) == 7


def test_batch_norm_under_a_layer_norm_named_scope_stays_batch_norm():
    groups, _ = _groups([("LayerNorm/beta", [3]), ("LayerNorm/moving_mean", [3]), ("LayerNorm/moving_variance", [3])])
    assert [g[0] for g in groups.values()] == ["batch_norm"]


def test_inconsistent_groups_are_listed_with_their_problem():
    groups, _ = _groups([("LayerNorm/beta", [8]), ("LayerNorm/gamma", [4]), ("LayerNorm_1/gamma", [])])
    assert groups["LayerNorm"][3] == ["inconsistent layer_norm group LayerNorm: beta has shape [8], gamma [4]"]
    assert groups["LayerNorm_1"][3] == [
        "inconsistent layer_norm group LayerNorm_1: scalar gamma; layer_norm's parameters have at least one dim"]


# -- convert ----------------------------------------------------------------------------------------

def test_convert_writes_the_groups_with_the_given_begin_norm_axis(tmp_path):
    out = tmp_path / "conv"
    run = cli("convert", fixture(NAME), "--out", out, *CONFIG)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"converted 3 groups (3 layer_norm) from {CKPT} into {out}",
        "  encoder/LayerNorm -> LayerNorm(begin_norm_axis=1, begin_params_axis=-1, center=True, scale=True)",
        "  encoder/LayerNorm_1 -> LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, center=False, scale=True)",
        "  head/LayerNorm -> LayerNorm(begin_norm_axis=1, begin_params_axis=-2, center=True, scale=True)",
        "31 variables not converted (listed in manifest.json)",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    entries = {e["scope"]: e for e in manifest["groups"]}
    assert {s: e["build_input_shape"] for s, e in entries.items()} == {
        "encoder/LayerNorm": [None, 6], "encoder/LayerNorm_1": [None, 6], "head/LayerNorm": [None, 4, 6]}
    assert "head/ln_custom/gamma" in manifest["not_converted"]
    values = read_all(CKPT)
    with h5py.File(out / "weights.h5") as h5:
        for scope, entry in entries.items():
            group = h5[entry["h5_group"]]
            assert sorted(group) == sorted(entry["weights"])
            for key, weight in entry["weights"].items():
                np.testing.assert_array_equal(group[key][()], values[weight["tf1_name"]])


@pytest.mark.parametrize("option, message", [
    ("encoder/LayerNorm:begin_params_axis=2",
     "begin_params_axis cannot be set on a layer_norm group (settable: begin_norm_axis)"),
    ("encoder/LayerNorm:begin_norm_axis=\"x\"", "begin_norm_axis must be a Python int"),
    ("nope/LayerNorm:begin_norm_axis=2", "no recognised group at scope nope/LayerNorm"),
])
def test_convert_bad_config_is_exit_2_and_writes_nothing(tmp_path, option, message):
    run = cli("convert", fixture(NAME), "--out", tmp_path / "conv", "--config", option)
    assert run.exit_code == 2
    assert message in run.stderr
    assert not (tmp_path / "conv").exists()


# -- verify -----------------------------------------------------------------------------------------

def _rows(stdout):
    return {line.split()[0]: (" ".join(line.split()[2:4]), line.split()[6]) for line in stdout.splitlines()[1:-1]}


def test_verify_against_the_reference_and_tf1():
    run = cli("verify", fixture(NAME))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("NumPy reference", "pass") for s in GROUPS}
    # The golden file records each call's begin_norm_axis.
    run = cli("verify", fixture(NAME), "--golden", GOLDEN, "--atol", str(NORMALISATION_ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("TF1 golden", "pass") for s in GROUPS}


def test_verify_converted_against_tf1(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    run = cli("verify", fixture(NAME), "--converted", out, "--golden", GOLDEN, "--atol", str(NORMALISATION_ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(_rows(run.stdout).values()) == {("TF1 golden", "pass")}


def test_verify_fails_on_a_wrong_begin_norm_axis_and_on_altered_values(tmp_path):
    run = cli("verify", fixture(NAME), "--golden", GOLDEN, "--config", "encoder/LayerNorm:begin_norm_axis=-1")
    assert run.exit_code == 1
    assert _rows(run.stdout)["encoder/LayerNorm"] == ("TF1 golden", "FAIL")
    assert _rows(run.stdout)["head/LayerNorm"] == ("TF1 golden", "pass")
    values = read_all(CKPT)
    values["head/LayerNorm/gamma"] = values["head/LayerNorm/gamma"] * 1.01
    altered = write_checkpoint(tmp_path / "altered" / "model.ckpt", values)
    run = cli("verify", altered, "--golden", GOLDEN)
    assert run.exit_code == 1
    assert _rows(run.stdout)["head/LayerNorm"] == ("TF1 golden", "FAIL")


def test_verify_reports_golden_inputs_that_do_not_fit(tmp_path):
    fields = golden(NAME)
    bad = {"__format__": np.array("tf2norm-golden-1"),
           "head/LayerNorm:inputs": fields["encoder/LayerNorm"]["inputs"][:, :, :5],
           "head/LayerNorm:outputs": fields["encoder/LayerNorm"]["outputs"][:, :, :5]}
    np.savez(tmp_path / "bad.npz", **bad)
    run = cli("verify", fixture(NAME), "--golden", tmp_path / "bad.npz")
    assert run.exit_code == 1
    assert "FAIL (inputs [3, 4, 5] do not end in the parameters' dims [4, 6])" in run.stdout


# -- loading into the replacements ----------------------------------------------------------------

def test_restore_reproduces_tf1(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    layers = restore(out)
    assert list(layers) == list(GROUPS)
    for scope, layer in layers.items():
        assert isinstance(layer, LayerNorm) and layer.begin_norm_axis == GROUPS[scope][3]
        fields = golden(NAME)[scope]
        _close(layer(fields["inputs"]), fields["outputs"], scope)


def test_restore_into_a_keras_model_and_the_tf2_checkpoint(tmp_path):
    out = tmp_path / "conv"
    assert cli("convert", fixture(NAME), "--out", out, *CONFIG).exit_code == 0
    inputs = keras.Input((4, 6))
    a = LayerNorm(name="ln_a")(inputs)
    b = LayerNorm(begin_norm_axis=-1, center=False, name="ln_b")(keras.layers.ReLU()(a))
    c = LayerNorm(begin_params_axis=-2, name="ln_c")(b)
    model = keras.Model(inputs, [a, b, c])
    restore_into(model, out, {"encoder/LayerNorm": "ln_a", "encoder/LayerNorm_1": "ln_b", "head/LayerNorm": "ln_c"})
    fields = golden(NAME)
    _close(model.get_layer("ln_a")(fields["encoder/LayerNorm"]["inputs"]), fields["encoder/LayerNorm"]["outputs"], "a")
    _close(model.get_layer("ln_b")(fields["encoder/LayerNorm_1"]["inputs"]), fields["encoder/LayerNorm_1"]["outputs"],
           "b")
    _close(model.get_layer("ln_c")(fields["head/LayerNorm"]["inputs"]), fields["head/LayerNorm"]["outputs"], "c")
    manifest = json.loads((out / "manifest.json").read_text())
    entry = next(e for e in manifest["groups"] if e["scope"] == "head/LayerNorm")
    layer = LayerNorm(begin_params_axis=-2)
    layer.build((None, 4, 6))
    tf.train.Checkpoint(layer=layer).read(str(out / entry["tf2_checkpoint"])).assert_existing_objects_matched()
    _close(layer(fields["head/LayerNorm"]["inputs"]), fields["head/LayerNorm"]["outputs"], "tf2 checkpoint")


def test_a_layer_spelling_begin_params_axis_from_the_front_is_the_same_setting():
    kind = kinds.get("layer_norm")

    layer = LayerNorm(begin_params_axis=1)
    layer.build((None, 4, 6))
    assert kind.same_setting(layer, "begin_params_axis", -2)
    assert not kind.same_setting(layer, "begin_params_axis", -1)
    assert not kind.same_setting(layer, "begin_norm_axis", -1)
    assert kind.same_setting(layer, "begin_norm_axis", 1)


def test_load_tf1_weights_straight_from_the_checkpoint():
    fields = golden(NAME)["head/LayerNorm"]
    layer = LayerNorm(begin_params_axis=1)
    layer.build((None, 4, 6))
    load_tf1_weights(layer, CKPT, "head/LayerNorm")
    _close(layer(fields["inputs"]), fields["outputs"], "head/LayerNorm")
    with pytest.raises(CheckpointError, match="TF1 group encoder/LayerNorm has beta which the layer lacks"):
        unscaled = LayerNorm(center=False)
        unscaled.build((None, 6))
        load_tf1_weights(unscaled, CKPT, "encoder/LayerNorm")
    with pytest.raises(CheckpointError, match="build .* first"):
        load_tf1_weights(LayerNorm(), CKPT, "encoder/LayerNorm")


def test_the_tf1_checkpoint_restores_unchanged_into_compat_layer_norm():
    """--target compat: TF1's own Saver restores every layer_norm (the custom-scoped one too)."""
    fields = golden(NAME)
    graph = tf.Graph()
    with graph.as_default():
        x = {s: tf.compat.v1.placeholder(tf.float32, [None, 4, 6]) for s in ("a", "b", "c", "d")}
        with tf.compat.v1.variable_scope("encoder"):
            a = layer_norm(x["a"])
            b = layer_norm(x["b"], center=False, begin_norm_axis=-1)
        with tf.compat.v1.variable_scope("head"):
            c = layer_norm(x["c"], begin_params_axis=1)
            layer_norm(x["d"], begin_norm_axis=-1, scope="ln_custom")
        names = sorted(v.op.name for v in tf.compat.v1.global_variables())
        assert names == ["encoder/LayerNorm/beta", "encoder/LayerNorm/gamma", "encoder/LayerNorm_1/gamma",
                         "head/LayerNorm/beta", "head/LayerNorm/gamma", "head/ln_custom/beta", "head/ln_custom/gamma"]
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, CKPT)
            got = sess.run([a, b, c], {x["a"]: fields["encoder/LayerNorm"]["inputs"],
                                       x["b"]: fields["encoder/LayerNorm_1"]["inputs"],
                                       x["c"]: fields["head/LayerNorm"]["inputs"]})
    for value, scope in zip(got, GROUPS):
        _close(value, fields[scope]["outputs"], scope)


def test_copied_fixture_directory_works_as_a_checkpoint_path(tmp_path):
    path = copy_fixture(NAME, tmp_path / "copy")
    run = cli("verify", path, "--golden", GOLDEN, "--atol", str(NORMALISATION_ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
