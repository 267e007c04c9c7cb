"""`tf2norm migrate`: every mode and exit code; stays fast and never imports TensorFlow."""

import json
import os
import stat
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tf2norm.cli import main
from tf2norm.rewriters import _driver, _files, command

LEGACY = "import tensorflow as tf\n\ny = tf.contrib.layers.batch_norm(x, decay=0.9)\n"
MIGRATED = ("import tensorflow as tf\nfrom tf2norm.replacements import BatchNormalization\n\n"
            "y = BatchNormalization(momentum=0.9, scale=False)(x, training=True)\n")
REPORTED = "import tensorflow as tf\n\ny = tf.contrib.layers.batch_norm(x, outputs_collections=c)\n"
CLEAN = "import tensorflow as tf\n\ny = tf.nn.relu(x)\n"


def run(*args, input=None):
    return CliRunner().invoke(main, ["migrate", *args], input=input, catch_exceptions=False)


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "legacy.py").write_text(LEGACY)
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    (tmp_path / "pkg" / "notes.txt").write_text("tf.contrib.layers.batch_norm(x)\n")
    (tmp_path / "pkg" / ".hidden").mkdir()
    (tmp_path / "pkg" / ".hidden" / "skipped.py").write_text(LEGACY)
    return tmp_path / "pkg"


def test_writes_in_place_exits_1_then_a_second_run_is_clean(tree):
    result = run(str(tree))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"migrated {tree / 'legacy.py'}\ntf2norm: 2 files, 1 changed, 0 findings, 0 failed\n"
    assert (tree / "legacy.py").read_text() == MIGRATED
    assert (tree / "clean.py").read_text() == CLEAN
    assert (tree / ".hidden" / "skipped.py").read_text() == LEGACY
    again = run(str(tree))
    assert again.exit_code == 0
    assert again.stderr == "tf2norm: 2 files, 0 changed, 0 findings, 0 failed\n"
    assert (tree / "legacy.py").read_text() == MIGRATED


def test_diff_prints_and_writes_nothing(tree):
    result = run("--diff", str(tree / "legacy.py"), str(tree / "clean.py"))
    assert result.exit_code == 1
    path = str(tree / "legacy.py")
    assert result.stdout == (
        f"--- a/{path}\n+++ b/{path}\n@@ -1,3 +1,4 @@\n import tensorflow as tf\n"
        "+from tf2norm.replacements import BatchNormalization\n \n"
        "-y = tf.contrib.layers.batch_norm(x, decay=0.9)\n"
        "+y = BatchNormalization(momentum=0.9, scale=False)(x, training=True)\n")
    assert result.stderr == f"would migrate {path}\ntf2norm: 2 files, 1 would change, 0 findings, 0 failed\n"
    assert (tree / "legacy.py").read_text() == LEGACY


def test_diff_of_a_clean_tree_is_empty_and_exits_0(tree):
    result = run("--diff", str(tree / "clean.py"))
    assert (result.exit_code, result.stdout) == (0, "")


def test_check_writes_nothing_and_exits_1_on_a_change(tree):
    result = run("--check", str(tree))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"would migrate {tree / 'legacy.py'}\n"
                             "tf2norm: 2 files, 1 would change, 0 findings, 0 failed\n")
    assert (tree / "legacy.py").read_text() == LEGACY


def test_check_exits_1_on_a_finding_alone_and_0_when_clean(tmp_path):
    (tmp_path / "reported.py").write_text(REPORTED)
    (tmp_path / "clean.py").write_text(CLEAN)
    reported = run("--check", str(tmp_path / "reported.py"))
    assert reported.exit_code == 1
    assert reported.stderr.splitlines() == [
        f"{tmp_path / 'reported.py'}:3:5: TF2N101 batch_norm(outputs_collections=...): the Keras layer has "
        "no outputs_collections; left unchanged (fix: drop the argument, or use --target compat)",
        "tf2norm: 1 file, 0 would change, 1 finding, 0 failed"]
    assert run("--check", str(tmp_path / "clean.py")).exit_code == 0


def test_target_compat(tree):
    result = run("--target", "compat", "--check", "--diff", str(tree / "legacy.py"))
    assert result.exit_code == 1
    assert "+y = batch_norm(x, decay=0.9)\n" in result.stdout


def _json_tree(tmp_path):
    (tmp_path / "a_legacy.py").write_text(LEGACY)
    (tmp_path / "b_py2.py").write_text("print 'hello'\n")
    (tmp_path / "c_reported.py").write_text(REPORTED)
    return {
        "written": False,
        "changed": [str(tmp_path / "a_legacy.py")],
        "failed": [str(tmp_path / "b_py2.py")],
        "findings": [
            {"path": str(tmp_path / "b_py2.py"), "line": 1, "col": 1, "code": "TF2N001",
             "message": "cannot parse: Missing parentheses in call to 'print'. Did you mean print(...)?",
             "hint": "the file is Python 2 code: port it to Python 3 first", "rewriter": None},
            {"path": str(tmp_path / "c_reported.py"), "line": 3, "col": 5, "code": "TF2N101",
             "message": "batch_norm(outputs_collections=...): the Keras layer has no outputs_collections; "
                        "left unchanged",
             "hint": "drop the argument, or use --target compat", "rewriter": "contrib_batch_norm"}],
        "summary": {"files": 3, "changed": 1, "findings": 1, "failed": 1},
    }


def test_json_format_is_one_document_on_stdout(tmp_path):
    expected = _json_tree(tmp_path)
    result = run("--check", "--format", "json", str(tmp_path))
    assert (result.exit_code, result.stderr) == (1, "")
    assert json.loads(result.stdout) == expected
    assert (tmp_path / "a_legacy.py").read_text() == LEGACY


def test_json_goes_to_stderr_when_stdout_carries_a_diff_or_code(tmp_path):
    expected = _json_tree(tmp_path)
    result = run("--diff", "--format", "json", str(tmp_path))
    assert result.stdout.startswith(f"--- a/{tmp_path / 'a_legacy.py'}\n")
    assert json.loads(result.stderr) == expected
    piped = run("--format", "json", "-", input=LEGACY)
    assert piped.stdout == MIGRATED
    assert json.loads(piped.stderr) == {"written": True, "changed": ["-"], "failed": [], "findings": [],
                                        "summary": {"files": 1, "changed": 1, "findings": 0, "failed": 0}}


def test_output_file_takes_the_report(tmp_path):
    expected = _json_tree(tmp_path)
    report = tmp_path / "out" / "report.json"
    report.parent.mkdir()
    result = run("--diff", "--format", "json", "--output-file", str(report), str(tmp_path))
    assert result.stderr == ""
    assert result.stdout.startswith(f"--- a/{tmp_path / 'a_legacy.py'}\n")
    assert json.loads(report.read_text()) == expected
    text = run("--check", "-o", str(report), str(tmp_path))
    assert (text.exit_code, text.stdout, text.stderr) == (1, "", "")
    assert report.read_text().splitlines()[0] == f"would migrate {tmp_path / 'a_legacy.py'}"
    assert report.read_text().splitlines()[-1] == "tf2norm: 3 files, 1 would change, 1 finding, 1 failed"
    unwritable = run("--check", "-o", str(tmp_path / "missing" / "report.txt"), str(tmp_path))
    assert unwritable.exit_code == 2
    assert unwritable.stderr == (f"error: cannot write the report to {tmp_path / 'missing' / 'report.txt'}: "
                                 "No such file or directory\n")


def test_text_report_names_each_file_before_its_findings(tmp_path):
    _json_tree(tmp_path)
    result = run("--check", str(tmp_path))
    assert result.stderr.splitlines() == [
        f"would migrate {tmp_path / 'a_legacy.py'}",
        f"{tmp_path / 'b_py2.py'}:1:1: TF2N001 cannot parse: Missing parentheses in call to 'print'. Did you mean "
        "print(...)? (fix: the file is Python 2 code: port it to Python 3 first)",
        f"{tmp_path / 'c_reported.py'}:3:5: TF2N101 batch_norm(outputs_collections=...): the Keras layer has "
        "no outputs_collections; left unchanged (fix: drop the argument, or use --target compat)",
        "tf2norm: 3 files, 1 would change, 1 finding, 1 failed",
    ]


def test_github_format_annotates_files_and_findings_on_stdout(tmp_path):
    _json_tree(tmp_path)
    result = run("--check", "--format", "github", str(tmp_path))
    assert (result.exit_code, result.stderr) == (1, "")
    assert result.stdout.splitlines() == [
        f"::warning file={tmp_path / 'a_legacy.py'},title=tf2norm::would migrate: run tf2norm migrate",
        f"::error file={tmp_path / 'b_py2.py'},line=1,col=1,title=TF2N001::cannot parse: Missing parentheses in "
        "call to 'print'. Did you mean print(...)? (fix: the file is Python 2 code: port it "
        "to Python 3 first)",
        f"::warning file={tmp_path / 'c_reported.py'},line=3,col=5,title=TF2N101::batch_norm(outputs_collections=...): "
        "the Keras layer has no outputs_collections; left unchanged (fix: drop the argument, or use --target compat)",
    ]
    written = run("--format", "github", str(tmp_path / "a_legacy.py"))
    assert written.stdout == f"::notice file={tmp_path / 'a_legacy.py'},title=tf2norm::migrated\n"


def test_bad_files_are_reported_and_the_others_still_processed(tmp_path):
    (tmp_path / "a_py2.py").write_text("import tensorflow as tf\nprint tf.contrib.layers.batch_norm(x)\n")
    (tmp_path / "b_latin.py").write_bytes(b"x = '\xe9'\n")
    (tmp_path / "c_legacy.py").write_text(LEGACY)
    result = run(str(tmp_path))
    assert result.exit_code == 1
    assert [line.split(": ", 1)[1].split(" ", 1)[0] for line in result.stderr.splitlines()[:2]] == [
        "TF2N001", "TF2N002"]
    assert result.stderr.splitlines()[2:] == [f"migrated {tmp_path / 'c_legacy.py'}",
                                              "tf2norm: 3 files, 1 changed, 0 findings, 2 failed"]
    assert (tmp_path / "a_py2.py").read_text().startswith("import tensorflow as tf\nprint tf.contrib")
    assert (tmp_path / "b_latin.py").read_bytes() == b"x = '\xe9'\n"
    assert (tmp_path / "c_legacy.py").read_text() == MIGRATED


def test_unwritable_file_is_reported_and_left_untouched(tmp_path, monkeypatch):
    (tmp_path / "legacy.py").write_text(LEGACY)

    real = os.open

    def refuse(path, flags, *args):  # a directory the user cannot write to (root writes anywhere, so simulated)
        if flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args)

    monkeypatch.setattr(_files.os, "open", refuse)
    result = run(str(tmp_path / "legacy.py"))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{tmp_path / 'legacy.py'}:1:1: TF2N003 cannot write: Permission denied (fix: check the path and its "
        "permissions)",
        "tf2norm: 1 file, 0 changed, 0 findings, 1 failed",
    ]
    assert (tmp_path / "legacy.py").read_text() == LEGACY


def test_atomic_write_keeps_mode_and_symlink_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "legacy.py"
    target.write_text(LEGACY)
    target.chmod(0o754)
    link = tmp_path / "link.py"
    link.symlink_to(target)
    assert run(str(link)).exit_code == 1
    assert link.is_symlink() and target.read_text() == MIGRATED
    assert stat.S_IMODE(target.stat().st_mode) == 0o754
    assert sorted(p.name for p in tmp_path.iterdir()) == ["legacy.py", "link.py"]


def test_stdin_to_stdout():
    result = run("-", input=LEGACY)
    assert (result.exit_code, result.stdout, result.stderr) == (1, MIGRATED, "")
    clean = run("-", input=CLEAN)
    assert (clean.exit_code, clean.stdout) == (0, CLEAN)


def test_stdin_with_diff_and_findings():
    result = run("--diff", "-", input=REPORTED)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("-:3:5: TF2N101 ")
    diff = run("--diff", "-", input=LEGACY)
    assert diff.stdout.startswith("--- a/-\n+++ b/-\n")


def test_stdin_that_does_not_parse_is_echoed_and_reported():
    result = run("-", input="print 'x'\n")
    assert (result.exit_code, result.stdout) == (1, "print 'x'\n")
    assert result.stderr.startswith("-:1:1: TF2N001 cannot parse")


def test_only_and_skip(tmp_path):
    source = LEGACY + "cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n"
    (tmp_path / "both.py").write_text(source)
    only = run("--diff", "--only", "layer_norm_basic_lstm_cell", str(tmp_path / "both.py"))
    assert "+cell = LayerNormBasicLSTMCell(8)\n" in only.stdout and "BatchNormalization" not in only.stdout
    skip = run("--diff", "--skip", "layer_norm_basic_lstm_cell,rnn_cell_wrappers", str(tmp_path / "both.py"))
    assert "BatchNormalization" in skip.stdout and "+cell = " not in skip.stdout


def test_list_rewriters():
    result = run("--list-rewriters")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line for line in lines if not line.startswith(" ")] == [
        "contrib_batch_norm", "contrib_hparams", "contrib_layer_norm", "contrib_opt", "contrib_slim",
        "contrib_stack_bidirectional_rnn", "graph_programs",
        "hand_rolled_bn_lstm", "hand_rolled_layer_norm_gru", "layer_norm_basic_lstm_cell", "layers_batch_normalization",
        "tf1_rnn_cells", "rnn_cell_wrappers", "tf1_layers", "tfa_normalization", "tfa_rnn_cells", "unsupported_apis",
        "(every rewriter, and files that cannot be processed)"]
    assert "    TF2N001  cannot parse: {reason}" in lines
    assert "    TF2N104  batch_norm: {reason}; Keras layers share weights by object, not by variable scope; " \
           "left unchanged" in lines
    assert "    TF2N110  {name}: tf_slim 1.1.0 (the maintained tf.contrib.slim) has no {missing}; left unchanged" \
        in lines


@pytest.mark.parametrize("args, message", [
    (["--only", "nope", "other.py"], "unknown rewriter 'nope'"),
    ([], "no PATH given"),
    (["does/not/exist.py"], "does not exist"),
    (["-", "other.py"], "cannot be combined"),
    (["--format", "xml", "-"], "'xml' is not one of"),
    (["--jobs", "0", "-"], "0 is not in the range"),
])
def test_usage_errors_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "other.py").write_text(CLEAN)
    result = CliRunner().invoke(main, ["migrate", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_internal_error_exits_3_and_other_files_are_still_written(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text(LEGACY)
    (tmp_path / "b.py").write_text("import tensorflow as tf\ncell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n")
    real_plan = _driver.rewriters.available()["contrib_batch_norm"].plan

    def crash_on_a(ctx):
        if ctx.path.endswith("a.py"):
            raise RuntimeError("boom")
        real_plan(ctx)

    monkeypatch.setattr(_driver.rewriters.available()["contrib_batch_norm"], "plan", crash_on_a)
    result = run(str(tmp_path))
    assert result.exit_code == 3  # tf2norm.exit_codes.INTERNAL
    assert "TF2N009 internal error in rewriter contrib_batch_norm: RuntimeError: boom" in result.stderr
    assert (tmp_path / "a.py").read_text() == LEGACY
    assert "LayerNormBasicLSTMCell(8)\n" in (tmp_path / "b.py").read_text()
    assert "contrib" not in (tmp_path / "b.py").read_text()


def test_jobs_gives_the_same_result(tmp_path):
    for i in range(6):
        (tmp_path / f"m{i}.py").write_text(LEGACY if i % 2 else REPORTED)
    (tmp_path / "py2.py").write_text("print 'x'\n")  # a failure, in its place
    (tmp_path / "clean.py").write_text(CLEAN)
    serial = run("--diff", "--jobs", "1", str(tmp_path))
    assert serial.exit_code == 1
    assert serial.stderr.splitlines()[-1] == "tf2norm: 8 files, 3 would change, 3 findings, 1 failed"
    for jobs in ([], ["--jobs", "3"]):  # the default: the CPUs available
        parallel = run("--diff", *jobs, str(tmp_path))
        assert (parallel.exit_code, parallel.stdout, parallel.stderr) == (
            serial.exit_code, serial.stdout, serial.stderr)
    for output_format in ("json", "github"):
        serial = run("--check", "--jobs", "1", "--format", output_format, str(tmp_path))
        parallel = run("--check", "--format", output_format, str(tmp_path))
        assert (parallel.exit_code, parallel.stdout) == (serial.exit_code, serial.stdout)
    # Rewriting in place too: the same files, byte for byte.
    copy = tmp_path.parent / "copy"
    copy.mkdir()
    for path in tmp_path.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    assert run("--jobs", "1", str(tmp_path)).exit_code == run(str(copy)).exit_code == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == {p.name: p.read_bytes() for p in copy.iterdir()}


def test_progress_bar_only_on_a_terminal(tmp_path, monkeypatch, capsys):
    files = []
    for i in range(25):
        (tmp_path / f"m{i:02}.py").write_text(CLEAN)
        files.append(str(tmp_path / f"m{i:02}.py"))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    results = command._run(_driver, files, _driver.Options(), jobs=1)
    assert len(results) == 25 and "migrating" in capsys.readouterr().err
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    command._run(_driver, files, _driver.Options(), jobs=1)
    assert capsys.readouterr().err == ""


# -- start-up: fast, and never TensorFlow ----------------------------------------------------------

def test_migrate_path_never_imports_tensorflow(tmp_path):
    (tmp_path / "legacy.py").write_text(LEGACY)
    code = (
        "import sys\n"
        "import tf2norm.rewriters.command\n"
        "assert 'tensorflow' not in sys.modules, 'import'\n"
        "from tf2norm.cli import main\n"
        f"try:\n    main(['migrate', '--diff', {str(tmp_path / 'legacy.py')!r}])\n"
        "except SystemExit as done:\n    assert done.code == 1, done.code\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')], 'run'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("args", [["--help"], ["migrate", "--help"], ["checkpoint", "--help"], ["upgrade", "--help"]])
def test_help_never_imports_tensorflow(args):
    # What keeps `tf2norm --help` fast (benchmarks/migrate.py times the cold start): no TensorFlow,
    # no Keras, whatever the machine's load.
    code = (
        "import sys\n"
        "from tf2norm.cli import main\n"
        f"try:\n    main({args!r})\n"
        "except SystemExit as done:\n    assert done.code in (0, None), done.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras'))\n"
        "assert not heavy, heavy[:5]\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Usage: " in done.stdout


def test_check_exits_1_on_a_file_whose_only_legacy_call_cannot_be_migrated(tmp_path):
    # Nothing to rewrite, but the file cannot run on TF 2.16+: --check must not pass it.
    path = tmp_path / "batches.py"
    source = "import tensorflow as tf\n\nq = tf.contrib.training.bucket_by_sequence_length(n, x, 8, [4], [2, 2])\n"
    path.write_text(source)
    result = run("--check", str(path))
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"{path}:3:5: TF2N720 tf.contrib.training.bucket_by_sequence_length: tf.contrib was removed in TensorFlow "
        "2.0 (fix: replace it with its successor (tf.compat.v1, tf_slim, or a maintained package), or keep this "
        "program on TF 1.15)",
        "tf2norm: 1 file, 0 would change, 1 finding, 0 failed",
    ]
    assert path.read_text() == source


def test_each_file_s_cyclic_garbage_is_collected_once_after_it():
    import gc
    import weakref

    class Node:
        pass

    def process_file(path, options):
        assert not gc.isenabled()  # no automatic pass while the file is migrated
        node = Node()
        node.me = node  # a cycle: only the collector frees it
        seen.append(weakref.ref(node))
        return path

    seen: list = []
    assert gc.isenabled()
    assert command._collected(process_file, "a.py", None) == "a.py"
    assert gc.isenabled() and seen[0]() is None  # collected when the file was done

    gc.disable()  # a caller that manages the collector itself: left as it is
    try:
        command._collected(lambda path, options: path, "b.py", None)
        assert not gc.isenabled()
    finally:
        gc.enable()
