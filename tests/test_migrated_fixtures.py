"""fixtures/legacy, migrated with both targets: the findings are exactly the expected ones, a second run
changes nothing, and the migrated files import, build their graphs and train one step in tf.compat.v1
graph mode on TF 2.21 with Keras 3 and no tf-keras.

The compat target must also create exactly the variables (names and shapes) TF 1.15 created for the
unmigrated file (fixtures/legacy/tf1_variables.json, recorded with
`.tf1/bin/python tests/rewriters/migrated_fixture_runner.py fixtures/legacy/<file>.py`), so TF1
checkpoints restore unchanged; the keras target must create as many (sharing kept).

slim's own layers (conv2d, fully_connected, arg_scope, ...) become the tf_slim package's, which the
migrated slim_convnet runs with (its arg_scope reaching tf2norm's batch_norm).
"""

import ast
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tf2norm.rewriters import _driver

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures" / "legacy"
RUNNER = ROOT / "tests" / "rewriters" / "migrated_fixture_runner.py"
TF2NORM = Path(sys.executable).parent / "tf2norm"
TARGETS = ("keras", "compat")

# fixture -> target -> the exact findings, (code, line). TF2N108 is informational: converted, but to the
# TF1-signature function, because functools.partial calls batch_norm with TF1 arguments (a slim layer
# or slim arg_scope does too, for good once it is tf_slim's: not reported there, slim_convnet).
EXPECTED_FINDINGS = {
    "slim_convnet": {"keras": [], "compat": []},
    "contrib_bn_convnet": {"keras": [], "compat": []},
    "tower_reuse": {"keras": [], "compat": []},
    "lstm_sequence_model": {"keras": [], "compat": []},
    "import_styles": {"keras": [("TF2N108", 18)], "compat": []},
    "model_utils": {"keras": [], "compat": []},
    "lookalikes": {"keras": [], "compat": []},
    "contrib_layer_norm_model": {"keras": [], "compat": []},
    "tfa_convnet": {"keras": [], "compat": []},
    "tfa_sequence_model": {"keras": [], "compat": []},
    "layers_bn_model": {"keras": [], "compat": []},
    "py2_legacy": {"keras": [("TF2N001", 7)], "compat": [("TF2N001", 7)]},
    "unconvertible": {
        "keras": [("TF2N010", 17), ("TF2N105", 21), ("TF2N107", 25), ("TF2N101", 29),
                  ("TF2N104", 33), ("TF2N106", 39), ("TF2N109", 44), ("TF2N312", 49), ("TF2N302", 56)],
        "compat": [("TF2N312", 49), ("TF2N302", 56)],
    },
}
NOT_BUILT = {"py2_legacy": "does not parse", "unconvertible": "keeps the contrib calls it reports",
             # TF 2 Keras code (tfa never ran on TF 1.x), not a tf.compat.v1 graph for the runner; its
             # migrated versions are built and checked against tfa's numbers by
             # tests/replacements/test_tfa_normalization_golden.py.
             "tfa_convnet": "TF 2 Keras code, not a TF1 graph",
             # Likewise; built and checked against tfa's numbers by
             # tests/replacements/test_tfa_rnn_cells_golden.py.
             "tfa_sequence_model": "TF 2 Keras code, not a TF1 graph"}
CONVERTED = {"TF2N108"}
# Reported, and what the runner provides: a stand-in for slim.
PROVIDED_BY_THE_RUNNER = {"TF2N723"}


def _buildable(target):
    return sorted(name for name, findings in EXPECTED_FINDINGS.items()
                  if name not in NOT_BUILT
                  and {code for code, _ in findings[target]} <= CONVERTED | PROVIDED_BY_THE_RUNNER)


def test_every_fixture_is_accounted_for():
    assert {p.stem for p in FIXTURES.glob("*.py")} == set(EXPECTED_FINDINGS)
    assert set(_buildable("compat")) == set(EXPECTED_FINDINGS) - set(NOT_BUILT)
    assert set(_buildable("keras")) == set(EXPECTED_FINDINGS) - set(NOT_BUILT)


@pytest.mark.parametrize("target", TARGETS)
def test_findings_are_exactly_the_expected_ones(target):
    for name, expected in EXPECTED_FINDINGS.items():
        path = FIXTURES / f"{name}.py"
        result = _driver.process_data(path.read_bytes(), str(path), _driver.Options(target=target))
        assert [(f.code, f.line) for f in result.findings] == expected[target], name


@pytest.fixture(scope="module", params=TARGETS)
def migrated(request, tmp_path_factory):
    """(target, directory of the migrated fixtures); migrated twice, the second run a no-op."""
    target = request.param
    directory = tmp_path_factory.mktemp(target) / "legacy"
    shutil.copytree(FIXTURES, directory)
    first = subprocess.run([str(TF2NORM), "migrate", "--target", target, str(directory)],
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 1, first.stderr
    after_first = {p.name: p.read_bytes() for p in directory.glob("*.py")}
    second = subprocess.run([str(TF2NORM), "migrate", "--target", target, str(directory)],
                            capture_output=True, text=True, timeout=120)
    assert {p.name: p.read_bytes() for p in directory.glob("*.py")} == after_first
    assert " 0 changed," in second.stderr
    return target, directory


UNCHANGED = {"keras": {"lookalikes", "py2_legacy"}, "compat": {"lookalikes", "py2_legacy"}}


def _contrib_uses(source: bytes) -> list[str]:
    """The code (not docstrings or comments) that still reaches tf.contrib, as source segments."""
    text = source.decode("utf-8")
    uses = []
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Attribute) and node.attr == "contrib" \
                or isinstance(node, ast.ImportFrom) and "contrib" in (node.module or "") \
                or isinstance(node, ast.Import) and any("contrib" in a.name for a in node.names):
            uses.append(ast.get_source_segment(text, node))
    return uses


def test_migrated_files_differ_only_where_expected(migrated):
    target, directory = migrated
    for name in EXPECTED_FINDINGS:
        original = (FIXTURES / f"{name}.py").read_bytes()
        output = (directory / f"{name}.py").read_bytes()
        assert (output == original) == (name in UNCHANGED[target]), name
        if name in _buildable(target) and name != "lookalikes":
            assert _contrib_uses(output) == [], name


@pytest.fixture(scope="module")
def built(migrated):
    target, directory = migrated
    files = [str(directory / f"{name}.py") for name in _buildable(target)]
    done = subprocess.run([sys.executable, str(RUNNER), *files],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return target, json.loads(done.stdout.splitlines()[-1])


@pytest.mark.slow
def test_migrated_fixtures_build_and_train_on_tf2(built):
    target, results = built
    golden = json.loads((FIXTURES / "tf1_variables.json").read_text())
    assert sorted(results) == _buildable(target)
    for name, result in results.items():
        assert result["ok"], f"{target} {name}:\n{result['error']}"
        if name not in golden:
            continue
        if target == "compat":
            assert result["variables"] == golden[name], name
        else:
            assert len(result["variables"]) == len(golden[name]), name


def test_no_tf_keras_in_this_environment():
    assert importlib.util.find_spec("tf_keras") is None


def test_readme_main_job_command_prints_a_diff_and_writes_nothing():
    before = {p: p.read_bytes() for p in FIXTURES.glob("*.py")}
    done = subprocess.run([str(TF2NORM), "migrate", "fixtures/legacy", "--diff"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    headers = sorted(line[len("--- a/"):] for line in done.stdout.splitlines() if line.startswith("--- a/"))
    assert headers == sorted(f"fixtures/legacy/{name}.py" for name in EXPECTED_FINDINGS
                             if name not in UNCHANGED["keras"])
    assert done.stderr.splitlines()[-1] == "tf2norm: 13 files, 11 would change, 10 findings, 1 failed"
    assert {p: p.read_bytes() for p in FIXTURES.glob("*.py")} == before


# Trains the migrated import_styles.sequence_summary: dynamic_rnn over one cell, which the keras
# target turns into LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(...), in a tf.compat.v1 graph.
_TRAIN_SEQUENCE_SUMMARY = """
import importlib.util, json, sys
import numpy as np
import tensorflow as tf
spec = importlib.util.spec_from_file_location("import_styles", sys.argv[1])
module = importlib.util.module_from_spec(spec)
with tf.Graph().as_default():
    spec.loader.exec_module(module)
    sequence = tf.compat.v1.placeholder(tf.float32, [None, 5, 3])
    summary = module.sequence_summary(sequence)
    loss = tf.reduce_mean(tf.square(summary - 0.5))
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(loss)
    feed = {sequence: np.random.RandomState(0).randn(4, 5, 3).astype(np.float32)}
    with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        losses = [session.run([loss, train_op], feed)[0] for _ in range(10)]
    print(json.dumps({"losses": [float(v) for v in losses], "shape": summary.shape.as_list(),
                      "variables": len(tf.compat.v1.trainable_variables())}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("migrated", ["keras"], indirect=True)
def test_keras_target_dynamic_rnn_layer_trains_in_a_tf1_graph(migrated):
    _, directory = migrated
    path = directory / "import_styles.py"
    assert "LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(inputs, scope='summary')" in path.read_text()
    done = subprocess.run([sys.executable, "-c", _TRAIN_SEQUENCE_SUMMARY, str(path)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["shape"] == [None, 16] and result["variables"] == 11
    assert result["losses"][-1] < 0.8 * result["losses"][0]
