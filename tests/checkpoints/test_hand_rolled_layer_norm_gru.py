"""Checkpoints of the hand-rolled TF1 layer-norm GRU cell: inspect / convert / verify and restoring.

The fixtures are real TF 1.15 checkpoints of the TF1 cell in fixtures/tf1/hand_rolled_layer_norm_gru.py
(fixtures/checkpoints/ln_gru*/). Every expected number below was computed by TF 1.15 (golden.npz,
model.npz); the NumPy reference only serves `verify` without `--golden`.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import (
    SEQUENCE_ATOL,
    cli,
    copy_fixture,
    fixture,
    golden,
    read_all,
    write_checkpoint,
)
from tf2norm.checkpoints import CheckpointError, load_tf1_weights, restore, restore_into
from tf2norm.checkpoints.kinds.layer_norm_gru_cell import run_cell
from tf2norm.checkpoints.naming import recognise
from tf2norm.replacements import LayerNormGRUCell, MultiRNNCell

ATOL = SEQUENCE_ATOL  # checkpoint_helpers.py says why
CELL0 = "rnn/multi_rnn_cell/cell_0/layer_norm_gru_cell"
CELL1 = "rnn/multi_rnn_cell/cell_1/layer_norm_gru_cell"
FW = "encoder/bidirectional_rnn/fw/encoder_cell"
BW = "encoder/bidirectional_rnn/bw/encoder_cell"
OPTIONS = {"ln_gru": [], "ln_gru_bidir": ["--config", "activation=relu"]}
LN_WEIGHTS = ["gates_kernel", "candidate_kernel", "reset_gamma", "reset_beta", "update_gamma", "update_beta",
              "candidate_gamma", "candidate_beta"]


def max_err(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))


def check_cell(cell, fields):
    out, h = run_cell(cell, fields["inputs"], fields["sequence_length"], fields["initial_h"])
    errors = [max_err(out, fields["outputs"]), max_err(h, fields["final_h"])]
    assert max(errors) <= ATOL, errors


def rows(stdout):
    """verify's table as {group: (against, result)}."""
    out = {}
    for line in stdout.splitlines()[1:-1]:
        cols = line.split()
        out[cols[0]] = (" ".join(cols[2:4]), cols[6])
    return out


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    base = tmp_path_factory.mktemp("converted")
    out = {}
    for name, options in OPTIONS.items():
        run = cli("convert", fixture(name), "--out", base / name, *options)
        assert run.exit_code == 0, run.stderr
        out[name] = (str(base / name), run)
    return out


# ------------------------------------------------------------------------------------------------
# naming (no TensorFlow)
# ------------------------------------------------------------------------------------------------


def _names(scope, layer_norm=True, depth=5, units=4):
    names = [(f"{scope}/gates/kernel", (depth + units, 2 * units), "float32"),
             (f"{scope}/candidate/kernel", (depth + units, units), "float32")]
    if layer_norm:
        names += [(f"{scope}/{g}/{p}", (units,), "float32") for g in ("reset", "update", "candidate")
                  for p in ("gamma", "beta")]
    else:
        names += [(f"{scope}/gates/bias", (2 * units,), "float32"), (f"{scope}/candidate/bias", (units,), "float32")]
    return names


@pytest.mark.parametrize("scope", ["rnn/layer_norm_gru_cell", "rnn/layer_norm_gru_cell_1", "model/ln_gru_cell",
                                   "LayerNormGRUCell", "decoder/lngru"])
def test_clearly_named_cells_are_recognised_with_and_without_layer_norm(scope):
    for layer_norm in (True, False):
        inv = recognise(_names(scope, layer_norm))
        (group,) = inv.groups
        assert (group.kind, group.scope, group.config, group.input_depth) == (
            "layer_norm_gru_cell", scope, {"num_units": 4, "layer_norm": layer_norm}, 5)
        assert not inv.unrecognised and not group.problems


def test_the_norm_structure_is_enough_under_any_scope_name():
    inv = recognise(_names("decoder/my_cell"))
    assert [g.scope for g in inv.groups] == ["decoder/my_cell"]
    assert sorted(inv.groups[0].weights) == sorted(LN_WEIGHTS)


@pytest.mark.parametrize("names", [
    _names("rnn/gru_cell", layer_norm=False),             # TF1's own GRUCell: not this cell
    _names("rnn/my_cell", layer_norm=False),              # GRUCell variables under an unknown name
    [("rnn/layer_norm_gru_cell/kernel", (9, 16), "float32")],  # no gates/ scope: not a GRU
    [("dense/gates/kernel", (9, 8), "float32")],
])
def test_look_alikes_are_not_claimed(names):
    inv = recognise(names)
    assert [g for g in inv.groups if g.kind == "layer_norm_gru_cell"] == []


@pytest.mark.parametrize("names, message", [
    (_names("s/layer_norm_gru_cell")[:1] + _names("s/layer_norm_gru_cell")[2:],
     "s/layer_norm_gru_cell/candidate/kernel is missing"),
    (_names("s/layer_norm_gru_cell")[:-1], "layer norm variables missing: candidate/beta"),
    (_names("s/layer_norm_gru_cell") + [("s/layer_norm_gru_cell/gates/bias", (8,), "float32")],
     "has both biases (s/layer_norm_gru_cell/gates/bias) and layer norm variables"),
    (_names("s/layer_norm_gru_cell", layer_norm=False)[:3], "has neither the layer norm variables nor both biases"),
    ([("s/layer_norm_gru_cell/gates/kernel", (9, 7), "float32")], "expected [input_depth + num_units, 2 * num_units]"),
    ([(n, (3,) if n.endswith("reset/gamma") else s, d) for n, s, d in _names("s/layer_norm_gru_cell")],
     "s/layer_norm_gru_cell/reset/gamma has shape [3], expected [4]"),
])
def test_inconsistent_groups_are_reported(names, message):
    inv = recognise(names)
    assert len(inv.problems) == 1 and message in inv.problems[0], inv.problems
    assert inv.problems[0].startswith("inconsistent LayerNormGRUCell group s/layer_norm_gru_cell: ")


# ------------------------------------------------------------------------------------------------
# the CLI on the real TF1 checkpoints
# ------------------------------------------------------------------------------------------------


def test_inspect_lists_the_groups_and_leaves_the_plain_gru_cell_and_the_rest():
    run = cli("inspect", fixture("ln_gru"), "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    groups = {g["scope"]: (g["kind"], g["config"], g["input_depth"], sorted(g["weights"])) for g in report["groups"]}
    assert groups == {
        CELL0: ("layer_norm_gru_cell", {"num_units": 8, "layer_norm": True}, 5, sorted(LN_WEIGHTS)),
        CELL1: ("layer_norm_gru_cell", {"num_units": 6, "layer_norm": False}, 8,
                sorted(["gates_kernel", "candidate_kernel", "gates_bias", "candidate_bias"])),
    }
    unrecognised = [v["name"] for v in report["unrecognised"]]
    assert "other/rnn/gru_cell/gates/kernel" in unrecognised and "global_step" in unrecognised
    assert len(unrecognised) == 45
    lines = cli("inspect", fixture("ln_gru")).stdout.splitlines()
    assert lines[0] == f"checkpoint {fixture('ln_gru', 'model.ckpt')}: 57 variables, 2 groups recognised"
    assert "LayerNormGRUCell groups (2):" in lines
    i = lines.index(f"  {CELL1}  [MultiRNNCell layer 1; hand-rolled TF1 layer-norm GRU]")
    assert lines[i + 1:i + 3] == ["    num_units=6 input_depth=8 layer_norm=False",
                                  f"    gates_kernel      [14, 12]  float32  <- {CELL1}/gates/kernel"]
    bidir = json.loads(cli("inspect", fixture("ln_gru_bidir"), "--json").stdout)
    assert [(g["scope"], g["role"]) for g in bidir["groups"]] == [
        (BW, "bidirectional backward"), (FW, "bidirectional forward")]


def test_verify_against_the_reference_and_tf1():
    run = cli("verify", fixture("ln_gru"))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert rows(run.stdout) == {CELL0: ("NumPy reference", "pass"), CELL1: ("NumPy reference", "pass")}
    run = cli("verify", fixture("ln_gru"), "--golden", fixture("ln_gru", "golden.npz"), "--atol", str(ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert rows(run.stdout) == {CELL0: ("TF1 golden", "pass"), CELL1: ("TF1 golden", "pass")}


def test_verify_needs_the_activation_the_checkpoint_cannot_record():
    # The golden file records activation=relu: verify configures the cells from it.
    run = cli("verify", fixture("ln_gru_bidir"), "--golden", fixture("ln_gru_bidir", "golden.npz"), "--atol", str(ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(rows(run.stdout).values()) == {("TF1 golden", "pass")}
    # --config overrides the golden file: with tanh the TF1 numbers are missed.
    run = cli("verify", fixture("ln_gru_bidir"), "--golden", fixture("ln_gru_bidir", "golden.npz"),
              "--config", "activation=tanh")
    assert run.exit_code == 1 and set(rows(run.stdout).values()) == {("TF1 golden", "FAIL")}
    # ... and an error that large gets a note naming what the checkpoint cannot record.
    errors = {line.split()[0]: line.split()[4] for line in run.stdout.splitlines()[1:3]}
    assert run.stderr.splitlines() == [
        f"note: {scope} failed by {errors[scope]}, more than rounding: a checkpoint cannot record a "
        "LayerNormGRUCell's activation, dropout_keep_prob, dropout_prob_seed, and this run used activation='tanh', "
        "the replacement's defaults for dropout_keep_prob, dropout_prob_seed; if the TF1 code passed other values, "
        f"pass --config {scope}:KEY=VALUE, or --source FILE to read them from the code"
        for scope in sorted(errors)]
    # Against the NumPy reference both sides follow the configuration (only a golden file can tell
    # a wrong activation); an activation the reference does not know fails clearly.
    assert cli("verify", fixture("ln_gru_bidir"), "--config", "activation=relu").exit_code == 0
    run = cli("verify", fixture("ln_gru_bidir"), "--config", "activation=softsign")
    assert run.exit_code == 1
    assert "FAIL (no NumPy reference for activation 'softsign'" in run.stdout


def test_convert_manifest_and_weights(converted):
    out, run = converted["ln_gru"]
    assert run.stdout.splitlines()[:3] == [
        f"converted 2 groups (2 LayerNormGRUCell) from {fixture('ln_gru', 'model.ckpt')} into {out}",
        f"  {CELL0} -> LayerNormGRUCell(num_units=8, layer_norm=True)",
        f"  {CELL1} -> LayerNormGRUCell(num_units=6, layer_norm=False)",
    ]
    manifest = json.loads((Path(out) / "manifest.json").read_text())
    entry = manifest["groups"][0]
    assert (entry["scope"], entry["kind"], entry["class"], entry["build_input_shape"]) == (
        CELL0, "layer_norm_gru_cell", "tf2norm.replacements.LayerNormGRUCell", [None, 5])
    assert entry["weights"]["reset_gamma"] == {"tf1_name": f"{CELL0}/reset/gamma", "shape": [8], "dtype": "float32"}
    assert "other/rnn/gru_cell/gates/bias" in manifest["not_converted"]
    values = read_all(fixture("ln_gru", "model.ckpt"))
    with h5py.File(Path(out) / "weights.h5", "r") as h5:
        for e in manifest["groups"]:
            for key, w in e["weights"].items():
                np.testing.assert_array_equal(h5[e["h5_group"]][key][()], values[w["tf1_name"]])
    bidir = json.loads((Path(converted["ln_gru_bidir"][0]) / "manifest.json").read_text())
    assert [e["config"] for e in bidir["groups"]] == [{"num_units": 4, "layer_norm": True, "activation": "relu"}] * 2


@pytest.mark.parametrize("name", list(OPTIONS))
def test_verify_the_conversion_against_tf1(name, converted):
    out = converted[name][0]
    run = cli("verify", fixture(name), "--converted", out, "--golden", fixture(name, "golden.npz"), "--atol", str(ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(rows(run.stdout).values()) == {("TF1 golden", "pass")}


def test_verify_fails_on_swapped_gates(tmp_path):
    """reset and update gammas exchanged: every check must notice (exit 1)."""
    values = read_all(fixture("ln_gru", "model.ckpt"))
    values[f"{CELL0}/reset/gamma"], values[f"{CELL0}/update/gamma"] = (
        values[f"{CELL0}/update/gamma"], values[f"{CELL0}/reset/gamma"])
    prefix = write_checkpoint(tmp_path / "swapped" / "model.ckpt", values)
    run = cli("verify", prefix, "--golden", fixture("ln_gru", "golden.npz"))
    assert run.exit_code == 1
    assert rows(run.stdout)[CELL0] == ("TF1 golden", "FAIL")
    assert rows(run.stdout)[CELL1] == ("TF1 golden", "pass")


def test_bad_checkpoint_is_exit_2_and_nothing_written(tmp_path):
    values = read_all(fixture("ln_gru", "model.ckpt"))
    del values[f"{CELL0}/candidate/beta"]
    prefix = write_checkpoint(tmp_path / "bad" / "model.ckpt", values)
    run = cli("inspect", prefix)
    assert run.exit_code == 2
    assert run.stderr.strip() == (f"tf2norm checkpoint inspect: error: inconsistent LayerNormGRUCell group {CELL0}: "
                                  "layer norm variables missing: candidate/beta")
    run = cli("convert", prefix, "--out", tmp_path / "out")
    assert run.exit_code == 2 and not (tmp_path / "out").exists()
    run = cli("convert", fixture("ln_gru"), "--out", tmp_path / "out2", "--config", f"{CELL0}:forget_bias=0.5")
    assert run.exit_code == 2 and "forget_bias cannot be set on a layer_norm_gru_cell group" in run.stderr


def test_golden_file_with_a_missing_field_is_bad_input(tmp_path):
    data = dict(np.load(fixture("ln_gru", "golden.npz")))
    del data[f"{CELL0}:final_h"]
    np.savez(tmp_path / "golden.npz", **data)
    run = cli("verify", fixture("ln_gru"), "--golden", tmp_path / "golden.npz")
    assert run.exit_code == 2 and f"{CELL0} lacks final_h" in run.stderr


# ------------------------------------------------------------------------------------------------
# loading into the replacement
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTIONS))
def test_restored_cells_reproduce_tf1(name, converted):
    layers = restore(converted[name][0])
    expected = golden(name)
    assert sorted(layers) == sorted(expected)
    for scope, cell in layers.items():
        assert isinstance(cell, LayerNormGRUCell)
        check_cell(cell, expected[scope])


def test_restored_stack_reproduces_the_tf1_model(converted):
    """dynamic_rnn(MultiRNNCell([LN cell, no-LN cell])) from a zero state, as one Keras RNN."""
    with np.load(fixture("ln_gru", "model.npz")) as m:
        x, lengths, want = m["inputs"], m["sequence_length"], m["outputs"]
    cells = list(restore(converted["ln_gru"][0]).values())
    mask = np.arange(x.shape[1])[None, :] < lengths[:, None]
    out = keras.layers.RNN(MultiRNNCell(cells), return_sequences=True, zero_output_for_mask=True)(x, mask=mask)
    assert max_err(out, want) <= ATOL


def test_restore_into_a_users_keras_model_and_load_tf1_weights(converted):
    inputs = keras.Input((None, 5))
    hidden = keras.layers.RNN(LayerNormGRUCell(8), return_sequences=True, name="encoder")(inputs)
    model = keras.Model(inputs, keras.layers.RNN(LayerNormGRUCell(6, layer_norm=False), name="top")(hidden))
    loaded = restore_into(model, converted["ln_gru"][0], {CELL0: "encoder", CELL1: "top"})
    expected = golden("ln_gru")
    for scope, cell in loaded.items():
        check_cell(cell, expected[scope])
    with pytest.raises(CheckpointError, match="layer_norm"):
        restore_into(model, converted["ln_gru"][0], {CELL1: "encoder"})
    # Straight from the TF1 checkpoint, any TF1 scope, an unbuilt cell built from the kernel's shape.
    cell = load_tf1_weights(LayerNormGRUCell(4, activation="relu"), fixture("ln_gru_bidir"), FW)
    check_cell(cell, golden("ln_gru_bidir")[FW])


def test_tf2_object_checkpoints_restore_with_tensorflow_alone(converted):
    import tensorflow as tf

    root = Path(converted["ln_gru"][0])
    manifest = json.loads((root / "manifest.json").read_text())
    for entry in manifest["groups"]:
        cell = LayerNormGRUCell(**entry["config"])
        cell.build(tuple(entry["build_input_shape"]))
        tf.train.Checkpoint(layer=cell).read(str(root / entry["tf2_checkpoint"])).assert_existing_objects_matched()
        check_cell(cell, golden("ln_gru")[entry["scope"]])


def test_the_tf1_checkpoint_restores_unchanged_into_migrated_graph_code():
    """--target compat: the replacement creates the TF1 names, so TF1's own Saver restores the file."""
    import tensorflow as tf

    with np.load(fixture("ln_gru", "model.npz")) as m:
        x, lengths, want = m["inputs"], m["sequence_length"], m["outputs"]
    with tf.Graph().as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [None, None, 5])
        seq = tf.compat.v1.placeholder(tf.int32, [None])
        cell = MultiRNNCell([LayerNormGRUCell(8), LayerNormGRUCell(6, layer_norm=False)])
        outputs, _ = tf.compat.v1.nn.dynamic_rnn(cell, inputs, sequence_length=seq, dtype=tf.float32)
        saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, fixture("ln_gru", "model.ckpt"))
            got = sess.run(outputs, {inputs: x, seq: lengths})
    assert max_err(got, want) <= ATOL


def test_copied_fixture_directory_works_as_a_checkpoint_path(tmp_path):
    path = copy_fixture("ln_gru_bidir", tmp_path / "copy")
    assert cli("inspect", path).exit_code == 0
