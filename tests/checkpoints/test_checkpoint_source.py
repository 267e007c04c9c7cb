"""`convert/verify --source FILE`: the settings a checkpoint cannot record, read from the program."""

import json
import os
import shutil

from tests.checkpoints.checkpoint_helpers import ROOT, cli, fixture
from tf2norm.checkpoints import inspect, source
from tf2norm.rewriters import _driver

TOWERS = os.path.join(ROOT, "fixtures", "e2e", "shared_towers")
CKPT = os.path.join(TOWERS, "ckpt", "model.ckpt")
PROGRAM = os.path.join(TOWERS, "model.py")
BN, CELL = "classifier/bn", "classifier/encoder/layer_norm_basic_lstm_cell"


def _configs(out) -> dict:
    manifest = json.loads((out / "manifest.json").read_text())
    return {e["scope"]: e["config"] for e in manifest["groups"]}


def test_convert_takes_what_the_legacy_program_passes(tmp_path):
    run = cli("convert", CKPT, "--out", tmp_path / "out", "--source", PROGRAM)
    assert run.exit_code == 0, run.stderr
    assert run.stderr.splitlines()[:2] == [
        f"note: --source: {BN}: momentum=0.95 from {PROGRAM}:39",  # decay=DECAY, DECAY = 0.95
        f"note: --source: {CELL}: forget_bias=0.5 from {PROGRAM}:33",
    ]
    typed = cli("convert", CKPT, "--out", tmp_path / "typed", "--config", "momentum=0.95",
                "--config", f"{CELL}:forget_bias=0.5")
    assert typed.exit_code == 0, typed.stderr
    assert _configs(tmp_path / "out") == _configs(tmp_path / "typed")
    assert _configs(tmp_path / "out")[BN]["momentum"] == 0.95


def test_the_migrated_program_says_the_same_and_explicit_options_win(tmp_path):
    migrated = tmp_path / "towers.py"
    shutil.copy(PROGRAM, migrated)
    result = _driver.process_file(str(migrated), _driver.Options(write=True))
    assert result.changed and not result.findings
    text = migrated.read_text()
    assert "lambda: BatchNormalization(momentum=DECAY, scale=True, name=\"bn\")" in text
    line = text[: text.index("lambda: BatchNormalization")].count("\n") + 1
    run = cli("convert", CKPT, "--out", tmp_path / "out", "--source", migrated, "--config", "momentum=0.9")
    assert run.exit_code == 0, run.stderr
    cell_line = text[: text.index("LayerNormBasicLSTMCell(UNITS")].count("\n") + 1
    assert run.stderr.splitlines()[0] == f"note: --source: {CELL}: forget_bias=0.5 from {migrated}:{cell_line}"
    assert [(scope, c.get("momentum"), c.get("forget_bias")) for scope, c in _configs(tmp_path / "out").items()] \
        == [(BN, 0.9, None), (CELL, None, 0.5)]
    verify = cli("verify", CKPT, "--golden", os.path.join(TOWERS, "groups.npz"), "--atol", "2e-6",
                 "--source", migrated)
    assert verify.exit_code == 0, verify.stdout + verify.stderr
    assert verify.stderr.splitlines()[:2] == [
        f"note: --source: {BN}: momentum=0.95 from {migrated}:{line}",
        f"note: --source: {CELL}: forget_bias=0.5 from {migrated}:{cell_line}",
    ]


def test_an_activation_from_the_migrated_cells(tmp_path):
    program = tmp_path / "gru.py"
    program.write_text("import tensorflow as tf\nfrom tf2norm.replacements import LayerNormGRUCell\n\n"
                       "fw = LayerNormGRUCell(4, activation=tf.nn.relu)\nbw = LayerNormGRUCell(4, tf.nn.relu)\n")
    run = cli("convert", fixture("ln_gru_bidir"), "--out", tmp_path / "out", "--source", program)
    assert run.exit_code == 0, run.stderr
    assert {c["activation"] for c in _configs(tmp_path / "out").values()} == {"relu"}
    assert run.stderr.splitlines()[0] == (
        f"note: --source: encoder/bidirectional_rnn/bw/encoder_cell: activation='relu' from {program}:4, {program}:5")


def test_calls_that_may_make_a_group_and_disagree_give_nothing_and_say_so(tmp_path):
    program = tmp_path / "tfa_model.py"
    program.write_text("import tensorflow_addons as tfa\n\n"
                       "a = tfa.layers.GroupNormalization(groups=4)\n"
                       "b = tfa.layers.InstanceNormalization(center=False, epsilon=1e-3)\n")
    inventory = inspect(fixture("tfa_norm_convnet"))
    calls = source.read([str(program)])
    assert [(c.kind, c.name, c.settings, c.where) for c in calls] == [
        ("group_norm", None, {"groups": 4}, f"{program}:3"),
        ("group_norm", None, {"groups": -1, "epsilon": 1e-3}, f"{program}:4"),
    ]
    scopes = [g.scope for g in inventory.groups]
    assert source.options(inventory, calls) == ([], [], [
        f"{scope}: the calls that may make it disagree on {key} ({program}:3, {program}:4); give it with "
        f"--config {scope}:{key}=VALUE" for scope in scopes for key in ("epsilon", "groups")])


def test_a_named_call_configures_the_groups_of_its_scope_only(tmp_path):
    program = tmp_path / "model.py"
    program.write_text("import tensorflow as tf\n\n"
                       "DECAY = 0.9\n"
                       "a = tf.contrib.layers.batch_norm(x, DECAY, scope='bn')\n"
                       "b = tf.contrib.layers.batch_norm(x, decay=0.5, data_format='NCHW', scope='other')\n")
    inventory = inspect(CKPT)
    formats, settings, notes = source.options(inventory, source.read([str(program)]), settings=(f"{BN}:epsilon=1e-5",))
    assert (formats, settings) == ([], [f"{BN}:momentum=0.9"])
    assert notes == [f"{BN}: momentum=0.9 from {program}:4"]


def test_a_source_that_cannot_be_read_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "py2.py").write_text("print 'x'\n")
    run = cli("convert", CKPT, "--out", tmp_path / "out", "--source", tmp_path / "py2.py")
    assert (run.exit_code, run.stdout) == (2, "")
    assert run.stderr.startswith(
        f"tf2norm checkpoint convert: error: --source {tmp_path / 'py2.py'}: cannot parse it: ")
    assert len(run.stderr.splitlines()) == 1 and not (tmp_path / "out").exists()
    missing = cli("convert", CKPT, "--out", tmp_path / "out", "--source", tmp_path / "missing.py")
    assert (missing.exit_code, missing.stderr) == (
        2, f"tf2norm checkpoint convert: error: --source {tmp_path / 'missing.py'}: cannot read it: "
           "No such file or directory\n")
    converted = cli("verify", CKPT, "--converted", tmp_path, "--source", PROGRAM)
    assert (converted.exit_code, converted.stderr) == (
        2, "tf2norm checkpoint verify: error: --data-format, --config and --source configure the groups of a TF1 "
           "checkpoint; a converted directory records its own configuration\n")


def test_a_large_verify_error_names_what_the_checkpoint_cannot_record():
    from tf2norm.checkpoints.verify import Result, unrecorded_settings_hint

    failed = Result("a/bn", "batch_norm", "NumPy reference", 0.5, 0.4, False, "outputs",
                    {"momentum": 0.9, "epsilon": 0.001, "axis": -1}, None)
    assert unrecorded_settings_hint(failed, converted=True) == (
        "a/bn failed by 0.5, more than rounding: a checkpoint cannot record a batch_norm's momentum, epsilon, "
        "fused, renorm_momentum, renorm_clipping, virtual_batch_size, tf1_api, data format, and this run used "
        "momentum=0.9, epsilon=0.001, data format NHWC, the replacement's defaults for fused, renorm_momentum, "
        "renorm_clipping, virtual_batch_size, tf1_api; if the TF1 code passed other values, convert again with "
        "--config a/bn:KEY=VALUE / --data-format a/bn=FORMAT or --source FILE")
    rounding = Result("a/bn", "batch_norm", "NumPy reference", 2e-5, 1e-5, False, "outputs", {}, None)
    assert unrecorded_settings_hint(rounding, converted=False) is None
