"""`tf2norm upgrade`: tf_upgrade_v2 itself, with pasta's tuple-of-slices bug fixed and no tree aborted.

The fast tests run pasta (no TensorFlow) and the command's own checks; those marked slow compare
whole real trees with plain tf_upgrade_v2 (each run imports TensorFlow: seconds).
"""

from __future__ import annotations

import difflib
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tf2norm.cli import main
from tf2norm.upgrade import pasta_slices, runner

ROOT = Path(__file__).resolve().parent.parent
REPRO = "x = y[(a+1):(b+2),:]\n"  # BLOCKERS.md T1, from facenet/src/facenet.py:266
# facenet 1.0.5, facenet/src/facenet.py:265-266 (upstream has CRLF line endings).
FACENET = ("def crop(image, sz1, sz2, v, h):\n"
           "    image = image[(sz1-sz2+v):(sz1+sz2+v),(sz1-sz2+h):(sz1+sz2+h),:]\n"
           "    return tf.image.resize_images(image, [sz2, sz2])\n")
FACENET_UNPARENTHESISED = FACENET.replace("(sz1-sz2+v):(sz1+sz2+v),(sz1-sz2+h):(sz1+sz2+h)",
                                          "sz1-sz2+v:sz1+sz2+v,sz1-sz2+h:sz1+sz2+h")


@pytest.fixture
def patched_pasta(monkeypatch):
    """pasta_slices applied for this test only (the class attribute is restored afterwards)."""
    from pasta.base import annotate

    monkeypatch.setattr(annotate.AstAnnotator, "scope", annotate.AstAnnotator.scope)
    pasta_slices.apply()


def run_tool(*args, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def tf2norm_upgrade(*args, cwd) -> subprocess.CompletedProcess:
    return run_tool(sys.executable, "-m", "tf2norm", "upgrade", *args, cwd=cwd)


def tf_upgrade_v2(*args, cwd) -> subprocess.CompletedProcess:
    return run_tool(Path(sys.executable).parent / "tf_upgrade_v2", *args, cwd=cwd)


# ---- pasta_slices (no TensorFlow) -----------------------------------------------------------------

SPELLINGS = [
    REPRO,
    "x = y[ (a) : (b) , ::2 ]  # c\n",
    "x = y[((a)):b, c]\n",
    "x = y[(a+1):(b+2), (c):(d):(e)]\n",
    "x = y[\n    (a+1):(b+2),\n    :,  # c\n]\n",
    "x = y[a, (b):c,]\n",
    FACENET,
]
# Tuples pasta 0.2 already reads; the patch must leave them as they were.
LOOK_ALIKES = ["x = y[a:b, c:d, :]\n", "x = y[(a+1), b]\n", "x = (a+1), b\n", "x = y[(a), 1:2]\n",
               "x = y[1:2,]\n", "x = y[(a+1):(b+2)]\n", "x = y[(a, b)]\n", "x = y[(a, b), 1:2]\n",
               "x = y[1:2, (a, b)]\n", "x = y[1:2, ...]\n", "f((a), b)\n", "for (i), j in z: pass\n"]


def test_unpatched_pasta_stops_at_parenthesised_slice_bounds():
    # pasta 0.2 on Python >= 3.9, in a process of its own: when this fails, upstream fixed it.
    code = ("import pasta\nfrom pasta.base.annotate import AnnotationError\n"
            f"try:\n    pasta.parse({REPRO!r})\n"
            "except AnnotationError as error:\n    print(str(error).splitlines()[0])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout == "Expected ':' but found ')'\n", done.stderr


@pytest.mark.parametrize("source", SPELLINGS + LOOK_ALIKES)
def test_patched_pasta_prints_what_it_read(source, patched_pasta):
    import pasta

    assert pasta.dump(pasta.parse(source)) == source


def _formatting(source: str) -> list:
    """What pasta's annotator records on every node of `source` (what its printer writes back)."""
    import ast

    import pasta
    from pasta.base import formatting

    return [(type(node).__name__, attr, formatting.get(node, attr)) for node in ast.walk(pasta.parse(source))
            for attr in ("prefix", "suffix", "elts_prefix", "elts_suffix")]


@pytest.mark.parametrize("source", LOOK_ALIKES)
def test_patch_annotates_tuples_without_slices_as_pasta_does(source, monkeypatch):
    from pasta.base import annotate

    plain = _formatting(source)
    monkeypatch.setattr(annotate.AstAnnotator, "scope", annotate.AstAnnotator.scope)
    pasta_slices.apply()
    assert _formatting(source) == plain


def test_replace_leaves_the_old_file_whole_when_writing_fails(tmp_path):
    # --inplace: the converted text is written beside the file and renamed over it, never into it.
    path = tmp_path / "model.py"
    path.write_text("x = 1\n")
    path.chmod(0o640)
    with pytest.raises(UnicodeEncodeError):
        runner._replace(str(path), "x = '\udc80'\n", like=str(path))  # cannot be encoded: fails mid-write
    assert path.read_text() == "x = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]
    runner._replace(str(path), "x = 2\n", like=str(path))
    assert (path.read_text(), stat.S_IMODE(path.stat().st_mode)) == ("x = 2\n", 0o640)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.py"]


# ---- the command's own checks (no TensorFlow) -------------------------------------------------------

@pytest.mark.parametrize("args,message", [
    ([], "give --infile FILE (with --outfile FILE or --inplace) or --intree DIR (with --outtree DIR or --inplace)"),
    (["--infile", "a.py", "--intree", "."], "give either --infile or --intree, not both"),
    (["--infile", "a.py"], "--infile needs exactly one of --outfile FILE and --inplace"),
    (["--infile", "a.py", "--outfile", "b.py", "--inplace"],
     "--infile needs exactly one of --outfile FILE and --inplace"),
    (["--intree", "src"], "--intree needs exactly one of --outtree DIR and --inplace"),
    (["--intree", "src", "--outtree", "src"], "--outtree src already exists (tf_upgrade_v2 writes a new directory)"),
    (["--intree", "src", "--outfile", "b.py"], "--outfile goes with --infile, not --intree"),
    (["--infile", "a.py", "--outfile", "no/b.py"], "--outfile no/b.py: no directory no"),
    (["--intree", "src", "--outtree", "out", "--reportfile", "no/r.txt"], "--reportfile no/r.txt: no directory no"),
])
def test_usage_errors_are_one_line_and_exit_2(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "src").mkdir()
    result = CliRunner().invoke(main, ["upgrade", *args])
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == f"Error: {message}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "src"]


def test_without_tf_upgrade_v2_one_line_and_exit_2(tmp_path):
    # As in a venv with only tf2norm (tests/test_without_tensorflow.py's import hook).
    from tests.test_without_tensorflow import _without_tensorflow

    (tmp_path / "a.py").write_text("x = 1\n")
    done = _without_tensorflow(
        "from tf2norm.cli import main\n"
        f"main(['upgrade', '--infile', {str(tmp_path / 'a.py')!r}, '--outfile', {str(tmp_path / 'b.py')!r}])\n")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == ("error: tf2norm upgrade runs TensorFlow's tf_upgrade_v2, which is not installed here: "
                           "pip install 'tf2norm[tf]' (or any TensorFlow 2.x distribution)\n")
    assert not (tmp_path / "b.py").exists()


# ---- with TensorFlow's tf_upgrade_v2 (seconds per run) ---------------------------------------------

def test_slice_line_converts_as_its_unparenthesised_spelling(patched_pasta):
    # The conversion of facenet's line is tf_upgrade_v2's conversion of `image[sz1-sz2+v:...]`, its
    # parentheses kept (plain pasta cannot read it at all: the test above).
    from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2

    def convert(source):
        upgrader = ast_edits.ASTCodeUpgrader(tf_upgrade_v2.TFAPIChangeSpec())
        processed, text, _, errors = upgrader.update_string_pasta(source, "facenet.py")
        return processed, text, errors

    bounds = ("(sz1-sz2+v):(sz1+sz2+v),(sz1-sz2+h):(sz1+sz2+h)", "sz1-sz2+v:sz1+sz2+v,sz1-sz2+h:sz1+sz2+h")
    processed, text, errors = convert(FACENET)
    expected = convert(FACENET_UNPARENTHESISED)
    assert (processed, text.replace(*bounds), errors) == expected
    assert text == FACENET.replace("tf.image.resize_images", "tf.image.resize")


def test_repro_converts_where_tf_upgrade_v2_stops(tmp_path):
    (tmp_path / "repro.py").write_text(REPRO)
    plain = tf_upgrade_v2("--infile", "repro.py", "--outfile", "plain.py", cwd=tmp_path)
    # When this fails, tf_upgrade_v2 (pasta) reads the line again: BLOCKERS.md T1 can say so.
    assert plain.returncode == 1
    assert plain.stderr.splitlines()[-3:] == ["pasta.base.annotate.AnnotationError: Expected ':' but found ')'",
                                              "line 1: x = y[(a+1):(b+2),:]", ""]
    ours = tf2norm_upgrade("--infile", "repro.py", "--outfile", "ours.py", cwd=tmp_path)
    assert (ours.returncode, ours.stderr) == (0, "")
    assert (tmp_path / "ours.py").read_text() == REPRO
    assert (tmp_path / "report.txt").read_text().splitlines()[:4] == [
        "TensorFlow 2.0 Upgrade Script", "-----------------------------", "Converted 1 files",
        "Detected 0 issues that require attention"]


def _tree(root: Path) -> Path:
    root.mkdir()
    (root / "pkg").mkdir()
    (root / "pkg" / "crop.py").write_text("import tensorflow as tf\n" + FACENET)
    (root / "pkg" / "py2.py").write_text("print 'hello'\n")
    (root / "pkg" / "model.py").write_text("import tensorflow as tf\n\nz = tf.to_float(x)\n")
    (root / "notes.txt").write_text("not Python\n")
    return root


def test_a_file_that_cannot_be_parsed_is_copied_and_reported_and_the_tree_converted(tmp_path):
    _tree(tmp_path / "src")
    done = tf2norm_upgrade("--intree", "src", "--outtree", "out", "--reportfile", "report.txt", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "src/pkg/py2.py:1:1: cannot parse: Missing parentheses in call to 'print'. Did you mean print(...)?: "
        "copied unchanged",
        "tf2norm upgrade: 1 file could not be converted and was copied unchanged"]
    out = tmp_path / "out"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*")) == [
        "notes.txt", "pkg", "pkg/crop.py", "pkg/model.py", "pkg/py2.py"]
    assert (out / "pkg" / "py2.py").read_bytes() == (tmp_path / "src" / "pkg" / "py2.py").read_bytes()
    assert (out / "notes.txt").read_text() == "not Python\n"
    assert (out / "pkg" / "model.py").read_text() == (
        "import tensorflow as tf\n\nz = tf.cast(x, dtype=tf.float32)\n")
    assert (out / "pkg" / "crop.py").read_text() == (
        "import tensorflow as tf\n" + FACENET.replace("tf.image.resize_images", "tf.image.resize"))
    report = (tmp_path / "report.txt").read_text().splitlines()
    assert report[2:4] == ["Converted 3 files", "Detected 1 issues that require attention"]
    error = ("src/pkg/py2.py:1:1: ERROR: cannot parse: Missing parentheses in call to 'print'. Did you mean "
             "print(...)?; copied unchanged (tf2norm upgrade)")
    assert report.count(error) == 1 and report[report.index(error) - 2] == "File: src/pkg/py2.py"
    assert error in done.stdout.splitlines()


def test_inplace_converts_each_file_whole_and_leaves_what_it_cannot_parse(tmp_path, monkeypatch, capsys):
    # In this process (the runner's main, its patches undone afterwards) to spare a TensorFlow start-up.
    from pasta.base import annotate
    from tensorflow.tools.compatibility import ast_edits

    for owner, name in ((annotate.AstAnnotator, "scope"), (ast_edits, "ASTCodeUpgrader"), (sys, "argv")):
        monkeypatch.setattr(owner, name, getattr(owner, name))
    src = _tree(tmp_path / "src")
    (src / "pkg" / "model.py").chmod(0o640)
    before = {p: p.read_bytes() for p in src.rglob("*") if p.is_file()}
    monkeypatch.chdir(tmp_path)
    (src / "pkg" / "fstring.py").write_text('def f(a, /, b):\n    return f"{a=}"\n')  # beyond pasta 0.2
    before[src / "pkg" / "fstring.py"] = (src / "pkg" / "fstring.py").read_bytes()
    assert runner.main(["--intree", "src", "--inplace"]) == 1
    assert capsys.readouterr().err.splitlines()[-3:] == [
        "src/pkg/fstring.py:2:0: cannot parse: AnnotationError: Expected '!' but found '=': left unchanged",
        "src/pkg/py2.py:1:1: cannot parse: Missing parentheses in call to 'print'. Did you mean print(...)?: "
        "left unchanged",
        "tf2norm upgrade: 2 files could not be converted and were left unchanged"]
    assert sorted(str(p.relative_to(src)) for p in src.rglob("*")) == [
        "notes.txt", "pkg", "pkg/crop.py", "pkg/fstring.py", "pkg/model.py", "pkg/py2.py"]  # no temporary file
    assert (src / "pkg" / "py2.py").read_bytes() == before[src / "pkg" / "py2.py"]
    assert (src / "pkg" / "fstring.py").read_bytes() == before[src / "pkg" / "fstring.py"]
    assert (src / "notes.txt").read_bytes() == before[src / "notes.txt"]
    assert (src / "pkg" / "model.py").read_text() == "import tensorflow as tf\n\nz = tf.cast(x, dtype=tf.float32)\n"
    assert stat.S_IMODE((src / "pkg" / "model.py").stat().st_mode) == 0o640


# ---- whole real trees: the same bytes as tf_upgrade_v2 (slow) ---------------------------------------

TREES = {
    "sketch_rnn": ROOT / "fixtures" / "e2e" / "third_party" / "sketch_rnn" / "upstream",
    "ludwig": ROOT / "fixtures" / "e2e" / "third_party" / "ludwig" / "upstream",
    "legacy": ROOT / "fixtures" / "legacy",
}
# fixtures/legacy/py2_legacy.py is Python 2: tf_upgrade_v2 writes an empty file for it and reports nothing.
UNPARSABLE = {"legacy": ["py2_legacy.py"]}


def _files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TREES))
def test_same_output_as_tf_upgrade_v2_on_real_trees(name, tmp_path):
    import shutil

    for tool in ("plain", "ours"):
        shutil.copytree(TREES[name], tmp_path / tool / "in")
    # The same relative paths in both runs, so that the reports can be compared byte for byte.
    plain = tf_upgrade_v2("--intree", "in", "--outtree", "out", "--reportfile", "report.txt", cwd=tmp_path / "plain")
    ours = tf2norm_upgrade("--intree", "in", "--outtree", "out", "--reportfile", "report.txt", cwd=tmp_path / "ours")
    unparsable = UNPARSABLE.get(name, [])
    assert plain.returncode == 0, plain.stderr
    assert ours.returncode == (1 if unparsable else 0), ours.stderr
    plain_files, our_files = _files(tmp_path / "plain" / "out"), _files(tmp_path / "ours" / "out")
    assert sorted(plain_files) == sorted(our_files)
    differ = sorted(path for path in plain_files if plain_files[path] != our_files[path])
    assert differ == unparsable
    for path in unparsable:
        assert plain_files[path] == b""  # tf_upgrade_v2 empties it
        assert our_files[path] == (TREES[name] / path).read_bytes()
    plain_report = (tmp_path / "plain" / "report.txt").read_text().splitlines()
    our_report = (tmp_path / "ours" / "report.txt").read_text().splitlines()
    changes = [line for line in difflib.ndiff(plain_report, our_report) if line[:1] in "+-"]
    if not unparsable:
        assert changes == []
        assert ours.stdout == plain.stdout
        return
    issues = int(plain_report[3].split()[1])
    expected = [f"- Detected {issues} issues that require attention",
                f"+ Detected {issues + len(unparsable)} issues that require attention"]
    for path in unparsable:
        expected += ["+ " + "-" * 80, f"+ File: in/{path}", "+ " + "-" * 80]
        expected += [line for line in (f"+ {e}" for e in our_report) if line.startswith(f"+ in/{path}:")]
    assert sorted(changes) == sorted(expected)
    assert len(changes) == 2 + 4 * len(unparsable)
