"""End to end, compat target: a TF1 program migrated by tf_upgrade_v2 + `tf2norm migrate --target
compat` runs on TF 2.21 with Keras 3 (no tf-keras), restores its TF1 checkpoint unchanged through
its own tf.compat.v1.train.Saver, reproduces TF 1.15's eval outputs within 2e-6, and continues
training on the recorded batches exactly as TF 1.15 did: loss, outputs, moving statistics and
every variable after each step. Both ways a migrated TF1 program is run on TF 2.21 are covered: as
TF 2.21 starts, and after tf.compat.v1.disable_v2_behavior().

Each test works on a copy in a temp dir and runs every command as a user would, in subprocesses:

    tf_upgrade_v2 --infile model.py --outfile migrated/model.py
    tf2norm migrate --target compat migrated/model.py
    python run_migrated.py ...   (fixtures/e2e/drive.py's steps on the migrated program)
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.e2e_support import (
    CONTINUE_STEPS,
    E2E,
    EVAL_ATOL,
    PROGRAMS,
    STAT_RTOL,
    STEP_ATOL,
    STEP_RTOL,
    VAR_ATOL,
    check_close,
    checkpoint,
    fields,
    golden,
    run,
    tool,
)

RUNNER = Path(__file__).resolve().parent / "run_migrated.py"

# What tf_upgrade_v2 cannot convert in these programs: exactly what tf2norm is for.
LEFT_FOR_TF2NORM = ("tf.contrib.rnn.LayerNormBasicLSTMCell", "tf.contrib.layers.batch_norm")
# Spellings that raise on TF 2.21 / Keras 3 and must be gone after tf2norm migrate.
MUST_BE_GONE = ("tf.contrib", "tf.compat.v1.nn.rnn_cell", "tf.compat.v1.layers")


def migrate(name: str, work: Path) -> Path:
    source = work / "original" / "model.py"
    source.parent.mkdir()
    shutil.copy(E2E / name / "model.py", source)
    migrated = work / "migrated" / "model.py"
    migrated.parent.mkdir()

    report = work / "tf_upgrade_v2_report.txt"
    upgrade = run(tool("tf_upgrade_v2"), "--infile", source, "--outfile", migrated,
                  "--reportfile", report)
    assert upgrade.returncode == 0, str(upgrade)
    errors = [line for line in report.read_text().splitlines() if ": ERROR: " in line]
    assert errors, "tf_upgrade_v2 reported nothing it could not convert"
    for line in errors:
        assert any(symbol in line for symbol in LEFT_FOR_TF2NORM), line

    # Documented exit status: 1 when a file changed; the JSON report (on stdout) must list no finding.
    first = run(tool("tf2norm"), "migrate", "--target", "compat", "--format", "json", migrated)
    assert first.returncode == 1, str(first)
    report = json.loads(first.stdout)
    assert (report["changed"], report["findings"]) == ([str(migrated)], []), str(first)
    # Idempotent, and nothing left to report.
    again = run(tool("tf2norm"), "migrate", "--target", "compat", "--check", migrated)
    assert again.returncode == 0, str(again)

    text = migrated.read_text()
    left = sorted(n for n in dotted_names(text) if n.startswith(MUST_BE_GONE))
    assert not left, f"{left} left in the migrated program:\n{text}"
    assert re.search(r"^from tf2norm\.replacements import ", text, re.M), text
    return migrated


def dotted_names(source: str) -> set:
    """Every dotted name used in the code (`tf.contrib.layers.batch_norm`), docstrings aside."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if parts and isinstance(node, ast.Name):
            names.add(".".join([node.id] + parts[::-1]))
    return names


# How the migrated program is run: as TF 2.21 starts (eager on; the program's own tf.Graph gives
# graph mode with TF2 control flow and resource variables), or after
# tf.compat.v1.disable_v2_behavior() as TF's migration guide has TF1 programs do.
MODES = {"tf2_defaults": (), "v2_behavior_disabled": ("--disable-v2-behavior",)}
# Whole migrated programs, run in subprocesses (about a minute for the module): slow, as README says.
pytestmark = pytest.mark.slow

CASES = [(name, mode) for name in PROGRAMS for mode in MODES]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    """Migrate a program once, run it on TF 2.21 from its TF1 checkpoint once per mode."""
    migrated, done = {}, {}

    def replay(name, mode="tf2_defaults"):
        if name not in migrated:
            migrated[name] = migrate(name, tmp_path_factory.mktemp(name))
        if (name, mode) not in done:
            work = migrated[name].parent.parent
            out = work / f"results_{mode}.npz"
            result = run(sys.executable, RUNNER, name, migrated[name], checkpoint(name),
                         E2E / name / "golden.npz", out, *MODES[mode], cwd=work)
            assert result.returncode == 0, str(result)
            with np.load(out) as data:
                done[name, mode] = {k: data[k] for k in data.files}
        return done[name, mode]

    return replay


@pytest.mark.parametrize("name,mode", CASES)
def test_migrated_program_runs_on_tf2_keras3_without_tf_keras(name, mode, replayed):
    env = json.loads(str(replayed(name, mode)["__env__"]))
    major, minor = (int(p) for p in env["tensorflow"].split(".")[:2])
    assert (major, minor) >= (2, 16), env
    assert env["keras"].startswith("3."), env
    assert env["tf_keras_importable"] is False, env
    assert env["TF_USE_LEGACY_KERAS"] is None, env
    assert "/migrated/" in env["program_module_file"], env
    assert env["v2_behavior"] is (mode == "tf2_defaults"), env


@pytest.mark.parametrize("name,mode", CASES)
def test_restored_checkpoint_reproduces_tf1_eval_outputs(name, mode, replayed):
    results, g = replayed(name, mode), golden(name)
    # The moving statistics come back from the TF1 checkpoint bit for bit.
    stats = fields(g, "restored/stat/")
    for key, value in stats.items():
        np.testing.assert_array_equal(results["restored/stat/" + key], value, err_msg=key)
    assert sorted(fields(results, "restored/stat/")) == sorted(stats)
    errors = check_close(fields(results, "restored/eval/"), fields(g, "restored/eval/"), EVAL_ATOL,
                         what=f"{name} eval outputs after restore")
    print(f"{name} [{mode}] restored eval max |error|: {max(errors.values()):.3g}")


@pytest.mark.parametrize("name,mode", CASES)
def test_continued_training_matches_tf1_step_by_step(name, mode, replayed):
    results, g = replayed(name, mode), golden(name)
    worst = {}
    for k in range(CONTINUE_STEPS):
        step = f"step{k}/"
        checks = [("train", STEP_ATOL, STEP_RTOL), ("eval", STEP_ATOL, STEP_RTOL),
                  ("stat", 0.0, STAT_RTOL), ("var", VAR_ATOL, 0.0)]
        for part, atol, rtol in checks:
            expected = fields(g, f"{step}{part}/")
            if not expected:  # seq_tagger has no moving statistics
                assert part == "stat" and name == "seq_tagger"
                continue
            actual = fields(results, f"{step}{part}/")
            assert sorted(actual) == sorted(expected), f"{step}{part}: other variables than TF1"
            errors = check_close(actual, expected, atol, rtol, what=f"{name} {step}{part}")
            worst[part] = max(worst.get(part, 0.0), max(errors.values()))
    assert int(results[f"step{CONTINUE_STEPS - 1}/var/global_step"]) == \
        int(g[f"step{CONTINUE_STEPS - 1}/var/global_step"])
    print(f"{name} [{mode}] continuation max |error|: "
          + ", ".join(f"{p} {e:.3g}" for p, e in worst.items()))
