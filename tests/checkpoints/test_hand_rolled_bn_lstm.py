"""Checkpoints of the widely copied TF1 BNLSTMCell: inspect / convert / verify, restoring, migrating.

The fixture is a real TF 1.15 checkpoint of the program fixtures/tf1/bn_lstm_program.py (two stacked
copied cells under `encoder/`, a head, Adam slots), saved after three training steps so the per-step
statistics have moved (fixtures/checkpoints/bn_lstm/). Every expected number below was computed by
TF 1.15: golden.npz (each cell alone, inference, from a random state and step 2), golden_training.npz
(the same in training mode, with the statistics after the run) and model.npz (the program's logits).
The NumPy reference only serves `verify` without `--golden`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import (
    ROOT,
    SEQUENCE_ATOL,
    cli,
    copy_fixture,
    fixture,
    golden,
    read_all,
    write_checkpoint,
)
from tf2norm.checkpoints import CheckpointError, load_tf1_weights, restore, restore_into
from tf2norm.checkpoints.kinds.bn_lstm_cell import MEMBERS, run_cell
from tf2norm.checkpoints.naming import recognise
from tf2norm.replacements import BatchNormLSTMCell

ATOL = SEQUENCE_ATOL  # checkpoint_helpers.py says why
NAME = "bn_lstm"
CELL0 = "encoder/rnn/multi_rnn_cell/cell_0/BNLSTMCell"
CELL1 = "encoder/rnn/multi_rnn_cell/cell_1/BNLSTMCell"
DECAY1 = ["--config", f"{CELL1}:decay=0.9"]  # what the program passed and a checkpoint cannot record
STATISTICS = [f"{g}/{s}" for g in ("xh", "hh", "c") for s in ("pop_mean", "pop_var")]


def max_err(got, want):
    return float(np.max(np.abs(np.asarray(got, np.float64) - np.asarray(want, np.float64))))


def check_cell(cell, fields):
    """Run `cell` as the golden's dynamic_rnn did; outputs, state and statistics within ATOL."""
    init = (fields["initial_c"], fields["initial_h"], fields["initial_step"])
    out, (c, h, step) = run_cell(cell, fields["inputs"], fields["sequence_length"], init, bool(fields["training"]))
    errors = {"outputs": max_err(out, fields["outputs"]), "c": max_err(c, fields["final_c"]),
              "h": max_err(h, fields["final_h"]), "step": max_err(step, fields["final_step"])}
    for name in STATISTICS:
        if name in fields:
            errors[name] = max_err(getattr(cell, name.replace("/", "_")), fields[name])
    assert max(errors.values()) <= ATOL, errors
    return errors


def rows(stdout):
    """verify's table as {group: (against, result)}."""
    out = {}
    for line in stdout.splitlines()[1:-1]:
        cols = line.split()
        out[cols[0]] = (" ".join(cols[2:4]), " ".join(cols[6:]))
    return out


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / NAME
    run = cli("convert", fixture(NAME, "model.ckpt"), "--out", out, *DECAY1)
    assert run.exit_code == 0, run.stderr
    return str(out), run


# ------------------------------------------------------------------------------------------------
# naming (no TensorFlow)
# ------------------------------------------------------------------------------------------------


def _names(scope, depth=3, units=4, rows=5, drop=(), extra=()):
    shapes = {"W_xh": (depth, 4 * units), "W_hh": (units, 4 * units), "xh/scale": (4 * units,),
              "hh/scale": (4 * units,), "hh/offset": (4 * units,), "c/scale": (units,), "c/offset": (units,)}
    for g, size in (("xh", 4 * units), ("hh", 4 * units), ("c", units)):
        shapes.update({f"{g}/pop_mean": (rows, size), f"{g}/pop_var": (rows, size)})
    names = [(f"{scope}/{n}", s, "float32") for n, s in shapes.items() if n not in drop]
    return names + [(f"{scope}/{n}", s, "float32") for n, s in extra]


@pytest.mark.parametrize("scope", ["rnn/BNLSTMCell", "rnn/multi_rnn_cell/cell_3/BNLSTMCell", "model/decoder/lstm",
                                   "BNLSTMCell"])
def test_the_copied_cells_variables_are_one_group_under_any_scope(scope):
    names = _names(scope) + [(f"{scope}/W_xh/Adam", (3, 16), "float32"), ("global_step", (), "int64")]
    inv = recognise(names)
    (group,) = inv.groups
    assert (group.kind, group.scope, group.input_depth) == ("bn_lstm_cell", scope, 3)
    assert group.config == {"num_units": 4, "max_bn_steps": 5, "decay": 0.95, "epsilon": 1e-5, "forget_bias": 0.0}
    assert group.weights == {k: f"{scope}/{n}" for k, n in MEMBERS.items()}
    assert sorted(BatchNormLSTMCell(4, 5).tf1_weights(3)) == sorted(MEMBERS.values())  # the replacement's weights
    assert not group.problems
    assert sorted(v.name for v in inv.unrecognised) == sorted([f"{scope}/W_xh/Adam", "global_step"])


@pytest.mark.parametrize("names", [
    [("rnn/cell/W_xh", (3, 16), "float32"), ("rnn/cell/W_hh", (4, 16), "float32")],  # no batch norm at all
    [("rnn/cell/W_xh", (3, 16), "float32"), ("rnn/cell/xh/scale", (16,), "float32")],  # no W_hh
    [("bn/BatchNorm/moving_mean", (4,), "float32"), ("bn/BatchNorm/moving_variance", (4,), "float32")],
])
def test_look_alikes_are_not_claimed(names):
    assert [g for g in recognise(names).groups if g.kind == "bn_lstm_cell"] == []


S = "s/BNLSTMCell"


@pytest.mark.parametrize("names, message", [
    (_names(S, drop=[f"hh/{x}" for x in ("scale", "offset", "pop_mean", "pop_var")]),
     "no hh/ batch norm: the BNLSTMCell copy that leaves the hidden-to-hidden term unnormalised, which "
     "tf2norm.replacements.BatchNormLSTMCell does not compute"),
    (_names(S, drop=["xh/pop_mean", "xh/pop_var"], extra=[("xh/pop_mean_all", (5, 16)), ("xh/pop_var_all", (5, 16))]),
     "statistics named pop_mean_all/pop_var_all: the BNLSTMCell copy that stops normalising after max_bn_steps - 1 "
     "steps (a tf.cond on the step, epsilon 1e-7)"),
    (_names(S, extra=[("bias", (16,))]), f"a bias ({S}/bias): a BN-LSTM with a bias beside the batch norms"),
    (_names(S, extra=[("xh/offset", (16,))]), "the widely copied cell has no offset on xh"),
    ([(n, s[1:] if "/pop_" in n else s, d) for n, s, d in _names(S)],
     "one population statistic for all steps (xh/pop_mean is 1-D): OlavHN's original bnlstm"),
    (_names(S, drop=["c/offset"]), "variables missing: c/offset"),
    ([(n, (4, 12) if n.endswith("W_hh") else s, d) for n, s, d in _names(S)],
     f"{S}/W_hh has shape [4, 12], expected [num_units, 4 * num_units]"),
    ([(n, (3, 12) if n.endswith("W_xh") else s, d) for n, s, d in _names(S)],
     f"{S}/W_xh has shape [3, 12], expected [input_depth, 16] for num_units=4"),
    ([(n, (6, 4) if n.endswith("c/pop_var") else s, d) for n, s, d in _names(S)],
     f"{S}/c/pop_var has shape [6, 4], expected [5, 4] for num_units=4 and max_bn_steps=5"),
    ([(n, (8,) if n.endswith("hh/scale") else s, d) for n, s, d in _names(S)],
     f"{S}/hh/scale has shape [8], expected [16]"),
])
def test_other_copies_and_inconsistent_groups_are_refused(names, message):
    inv = recognise(names)
    assert len(inv.problems) == 1 and message in inv.problems[0], inv.problems
    assert inv.problems[0].startswith(f"inconsistent BNLSTMCell group {S}: ")


# ------------------------------------------------------------------------------------------------
# the CLI on the real TF1 checkpoint
# ------------------------------------------------------------------------------------------------


def test_inspect_lists_both_cells_and_leaves_the_head_and_the_optimizer():
    run = cli("inspect", fixture(NAME, "model.ckpt"), "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    groups = {g["scope"]: g for g in report["groups"]}
    assert sorted(groups) == [CELL0, CELL1]
    assert groups[CELL0]["config"] == {"num_units": 6, "max_bn_steps": 5, "decay": 0.95, "epsilon": 1e-5,
                                       "forget_bias": 0.0}
    assert groups[CELL1]["config"]["num_units"] == 4 and groups[CELL1]["input_depth"] == 6
    unrecognised = {v["name"] for v in report["unrecognised"]}
    assert {"head/kernel", "head/bias", "global_step", f"{CELL0}/W_xh/Adam"} <= unrecognised
    assert not any(n.startswith(CELL0) and "Adam" not in n for n in unrecognised)
    text = cli("inspect", fixture(NAME, "model.ckpt")).stdout
    assert "BNLSTMCell groups (2):" in text and "num_units=6 input_depth=3 max_bn_steps=5" in text


def test_verify_against_the_reference_and_the_tf1_goldens():
    ckpt = fixture(NAME, "model.ckpt")
    run = cli("verify", ckpt)
    assert run.exit_code == 0, run.stdout + run.stderr
    assert rows(run.stdout) == {CELL0: ("NumPy reference", "pass"), CELL1: ("NumPy reference", "pass")}
    for which in ("golden.npz", "golden_training.npz"):
        # The golden files record decay=0.9 for cell_1: verify configures the replacement from them.
        run = cli("verify", ckpt, "--golden", fixture(NAME, which), "--atol", ATOL)
        assert run.exit_code == 0, run.stdout + run.stderr
        assert rows(run.stdout) == {CELL0: ("TF1 golden", "pass"), CELL1: ("TF1 golden", "pass")}


def test_convert_manifest_and_weights(converted):
    out, run = converted
    assert f"{CELL1} -> BatchNormLSTMCell(num_units=4, max_bn_steps=5, decay=0.9, epsilon=1e-05, " \
           "forget_bias=0.0)" in run.stdout
    manifest = json.loads(Path(out, "manifest.json").read_text())
    entries = {e["scope"]: e for e in manifest["groups"]}
    assert entries[CELL0]["class"] == "tf2norm.replacements.BatchNormLSTMCell"
    assert entries[CELL0]["build_input_shape"] == [None, 3]
    assert entries[CELL1]["config"]["decay"] == 0.9 and entries[CELL0]["config"]["decay"] == 0.95
    assert "head/kernel" in manifest["not_converted"]
    values = read_all(fixture(NAME, "model.ckpt"))
    with h5py.File(Path(out, "weights.h5"), "r") as h5:
        for e in entries.values():
            assert sorted(e["weights"]) == sorted(MEMBERS)
            for key, w in e["weights"].items():
                np.testing.assert_array_equal(h5[e["h5_group"]][key][()], values[w["tf1_name"]])


def test_verify_the_conversion_against_tf1_and_the_decay_it_needs(converted, tmp_path):
    ckpt, training = fixture(NAME, "model.ckpt"), fixture(NAME, "golden_training.npz")
    out, _ = converted
    run = cli("verify", ckpt, "--converted", out, "--golden", training, "--atol", ATOL)
    assert run.exit_code == 0, run.stdout + run.stderr
    # Converted without the decay, cell_1's statistics move as with 0.95, not TF1's 0.9.
    plain = tmp_path / "plain"
    assert cli("convert", ckpt, "--out", plain).exit_code == 0
    run = cli("verify", ckpt, "--converted", plain, "--golden", training, "--atol", ATOL)
    assert run.exit_code == 1
    table = rows(run.stdout)
    assert table[CELL0] == ("TF1 golden", "pass")
    assert table[CELL1][1].startswith("FAIL (") and "pop_" in table[CELL1][1]


def test_verify_fails_on_statistics_rows_out_of_place(tmp_path):
    values = read_all(fixture(NAME, "model.ckpt"))
    name = f"{CELL0}/xh/pop_mean"
    values[name] = values[name][::-1].copy()  # rows in the wrong order: the step picks the wrong row
    prefix = write_checkpoint(tmp_path / "swapped" / "model.ckpt", values)
    run = cli("verify", prefix, "--golden", fixture(NAME, "golden.npz"), "--atol", ATOL)
    assert run.exit_code == 1
    assert rows(run.stdout)[CELL0][1].startswith("FAIL (") and rows(run.stdout)[CELL1] == ("TF1 golden", "pass")


def test_another_copy_is_exit_2_and_nothing_written(tmp_path):
    values = {n: v for n, v in read_all(fixture(NAME, "model.ckpt")).items() if "/hh/" not in n}
    prefix = write_checkpoint(tmp_path / "nohh" / "model.ckpt", values)
    run = cli("convert", prefix, "--out", tmp_path / "out")
    assert run.exit_code == 2
    assert "leaves the hidden-to-hidden term unnormalised" in run.stderr
    assert not (tmp_path / "out").exists()
    assert cli("verify", prefix).exit_code == 2


def test_golden_file_with_a_missing_field_is_bad_input(tmp_path):
    data = {f"{scope}:{field}": value for scope, fields in golden(NAME).items()
            for field, value in fields.items() if field != "final_h"}
    data["__format__"] = np.array("tf2norm-golden-1")
    np.savez(tmp_path / "golden.npz", **data)
    run = cli("verify", fixture(NAME, "model.ckpt"), "--golden", tmp_path / "golden.npz")
    assert run.exit_code == 2
    assert "lacks final_h" in run.stderr


def test_copied_fixture_directory_works_as_a_checkpoint_path(tmp_path):
    path = copy_fixture(NAME, tmp_path / "copy")
    assert cli("inspect", path).exit_code == 0


# ------------------------------------------------------------------------------------------------
# restoring into the replacement
# ------------------------------------------------------------------------------------------------


def test_restored_cells_reproduce_tf1_inference_and_training(converted):
    out, _ = converted
    for which in ("golden.npz", "golden_training.npz"):
        layers = restore(out)  # fresh layers each time: a training run moves their statistics
        assert [type(layer) for layer in layers.values()] == [BatchNormLSTMCell] * 2
        assert layers[CELL1].decay == 0.9
        for scope, fields in golden(NAME, which).items():
            check_cell(layers[scope], fields)


def test_restore_into_a_users_model_and_load_tf1_weights(converted):
    out, _ = converted
    fields = golden(NAME, "golden_training.npz")[CELL1]
    cell = BatchNormLSTMCell(4, 5, decay=0.9)
    model = keras.Sequential([keras.Input((None, 6)), keras.layers.RNN(cell, name="decoder")])
    restore_into(model, out, {CELL1: "decoder"})
    check_cell(cell, fields)
    direct = load_tf1_weights(BatchNormLSTMCell(4, 5, decay=0.9), fixture(NAME, "model.ckpt"), CELL1)
    check_cell(direct, fields)
    with pytest.raises(CheckpointError, match=r"xh_pop_mean has shape \[3, 16\], TF1 group .* has \[5, 16\]"):
        load_tf1_weights(BatchNormLSTMCell(4, 3), fixture(NAME, "model.ckpt"), CELL1)  # max_bn_steps must agree


def test_tf2_object_checkpoints_restore_with_tensorflow_alone(converted):
    import tensorflow as tf

    out, _ = converted
    manifest = json.loads(Path(out, "manifest.json").read_text())
    for entry in manifest["groups"]:
        cell = BatchNormLSTMCell(**entry["config"])
        cell.build(tuple(entry["build_input_shape"]))
        tf.train.Checkpoint(layer=cell).read(str(Path(out) / entry["tf2_checkpoint"])).assert_existing_objects_matched()
        check_cell(cell, golden(NAME)[entry["scope"]])


def _tf2_program(source, inputs, lengths):
    """Run a TF1 program's `build()` on TF 2.21 in a tf.compat.v1 graph, restoring the TF1 checkpoint
    with TF1's own Saver; returns its logits."""
    import tensorflow as tf

    namespace = {"__name__": "bn_lstm_program_migrated"}
    with tf.Graph().as_default():
        exec(compile(source, "bn_lstm_program_migrated.py", "exec"), namespace)
        x = tf.compat.v1.placeholder(tf.float32, [None, inputs.shape[1], inputs.shape[2]])
        seq = tf.compat.v1.placeholder(tf.int32, [None])
        _, logits = namespace["build"](x, seq, tf.constant(False))
        saver = tf.compat.v1.train.Saver(tf.compat.v1.global_variables())
        with tf.compat.v1.Session() as sess:
            saver.restore(sess, fixture(NAME, "model.ckpt"))
            return sess.run(logits, {x: inputs, seq: lengths})


def test_the_tf1_program_migrated_restores_the_tf1_checkpoint_unchanged():
    """`tf2norm migrate --target compat` on the TF1 program (the cells and the MultiRNNCell around
    them migrate), then the one fix its finding asks for; TF1's Saver restores the TF1 checkpoint
    into it and its logits are TF 1.15's."""
    from tf2norm.rewriters import _driver

    program = Path(ROOT, "fixtures", "tf1", "bn_lstm_program.py").read_bytes()
    output, findings = _driver.migrate_source(program, "bn_lstm_program.py", _driver.Options(target="compat"))
    migrated = output.decode("utf-8")
    assert [(f.code, f.rewriter) for f in findings] == [("TF2N851", "hand_rolled_bn_lstm")]
    assert "cells = [BatchNormLSTMCell(UNITS[0], training=is_training, max_bn_steps=MAX_BN_STEPS),\n" \
           "             BatchNormLSTMCell(UNITS[1], training=is_training, max_bn_steps=MAX_BN_STEPS, decay=0.9)]" \
           in migrated
    # TF2N851: delete the now unused class (its tf.nn.rnn_cell.RNNCell base raises on Keras 3).
    start = findings[0].line - 1
    lines = migrated.splitlines(keepends=True)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("def "))
    fixed = "".join(lines[:start] + lines[end:])
    assert "MultiRNNCell(cells" in fixed and "tf.nn.rnn_cell.MultiRNNCell" not in fixed
    assert not re.search(r"class BNLSTMCell|\bBNLSTMCell\(", fixed)
    with np.load(fixture(NAME, "model.npz")) as model:
        logits = _tf2_program(fixed, model["inputs"], model["sequence_length"])
        assert max_err(logits, model["logits"]) <= ATOL
