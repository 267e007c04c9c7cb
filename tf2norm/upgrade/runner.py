"""``python -m tf2norm.upgrade.runner [tf_upgrade_v2 arguments]``: the process `tf2norm upgrade` starts.

It runs the installed TensorFlow's own ``tf_upgrade_v2`` (``tf_upgrade_v2_main.main``: its argument
parser, its change spec, its tree walk, its report) with two changes made in this process only:

* pasta's annotator takes ``y[(a+1):(b+2), :]`` as Python 3.8 did (``pasta_slices``);
* the upgrader's ``process_file`` (each ``.py`` file of ``--infile`` / ``--intree``) writes each
  converted file atomically (a temporary file beside it, then a rename; the input's permissions), and
  a file tf_upgrade_v2 cannot convert (a syntax error, which tf_upgrade_v2 turns into an empty output
  file with no issue reported, or an exception from pasta or the converter, which stops
  tf_upgrade_v2's whole run) is copied unchanged (left alone with ``--inplace``), gets an ERROR line
  in the report, and is named on stderr; the exit status is then 1.

Exit status: 0 every file converted; 1 a file was copied unchanged; 2 a file or directory could not
be written or read (one line); 3 anything else (a bug; TF2NORM_DEBUG=1 shows the traceback).
The command-line checks (which files, which flags) are `tf2norm.upgrade.command`'s.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import os
import re
import sys
import tempfile
import traceback
from dataclasses import dataclass


@dataclass(frozen=True)
class Unconverted:
    """A .py file tf_upgrade_v2 could not convert: where it stopped and why."""

    path: str
    line: int
    col: int
    reason: str

    copied: bool = True  # False with --inplace: the file was left as it is

    @property
    def outcome(self) -> str:
        return "copied unchanged" if self.copied else "left unchanged"

    def report_line(self) -> str:
        # tf_upgrade_v2's own error format (ASTCodeUpgrader.format_log), so it counts as an issue.
        return f"{self.path}:{self.line}:{self.col}: ERROR: {self.reason}; {self.outcome} (tf2norm upgrade)"


def _why(path: str, text: str | None, error: BaseException | None) -> Unconverted:
    """Where and why: from the exception, or (tf_upgrade_v2 swallowed it) from Python's own parser."""
    if error is None and text is not None:
        try:
            ast.parse(text)
        except (SyntaxError, ValueError) as parse_error:
            error = parse_error
    if isinstance(error, SyntaxError):
        return Unconverted(path, error.lineno or 1, error.offset or 0, f"cannot parse: {error.msg}")
    if error is None:
        return Unconverted(path, 1, 0, "tf_upgrade_v2 could not parse it")
    message = str(error).splitlines()[0] if str(error) else ""
    return Unconverted(path, _pasta_line(str(error), text), 0,
                       f"cannot parse: {type(error).__name__}: {message}".rstrip(": "))


def _pasta_line(message: str, text: str | None) -> int:
    """The line pasta's AnnotationError names ("line N: <source>"), 1 when it names none.

    Inside an f-string pasta counts from the f-string's own text, so the line is the first one of
    the file holding the quoted source, from N on.
    """
    found = re.search(r"^line (\d+): (.*)$", message, re.M)
    if not found:
        return 1
    number, quoted = int(found.group(1)), found.group(2).strip()
    lines = (text or "").splitlines()
    for index in range(number - 1, len(lines)):
        if quoted and quoted in lines[index]:
            return index + 1
    return number


def _replace(path: str, data: str | bytes, like: str) -> None:
    """Write `data` to `path` all at once (temp file in the same directory, then rename), with `like`'s mode."""
    directory = os.path.dirname(os.path.abspath(path))
    mode = os.stat(like).st_mode & 0o7777
    # Text as tf_upgrade_v2 writes it (its NamedTemporaryFile("w"): locale encoding, "\n" as os.linesep).
    try:
        handle = tempfile.NamedTemporaryFile("wb" if isinstance(data, bytes) else "w", dir=directory,
                                             prefix=f".{os.path.basename(path)}.", suffix=".tf2norm-tmp",
                                             delete=False)
    except OSError as error:  # named after the file to write, not the temporary one
        raise OSError(error.errno, error.strerror, path) from error
    try:
        with handle:
            handle.write(data)
        os.chmod(handle.name, mode)
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def tolerant_upgrader(base: type, unconverted: list[Unconverted]) -> type:
    """A subclass of tf_upgrade_v2's ASTCodeUpgrader whose process_file never stops the run."""

    class TolerantUpgrader(base):  # type: ignore[misc,valid-type]
        def process_file(self, in_filename, out_filename, no_change_to_outfile_on_error=False):
            text = error = None
            try:
                with open(in_filename) as in_file:  # as tf_upgrade_v2 reads it
                    text = in_file.read()
                converted = io.StringIO()
                processed, log, errors = self.process_opened_file(in_filename, io.StringIO(text),
                                                                  out_filename, converted)
            except Exception as raised:  # pasta's AnnotationError / PrintError, a decode error, ...
                error, processed = raised, 0
                log = self._format_log(["ERROR: Failed to convert.\n" + traceback.format_exc()],
                                       in_filename, out_filename)
            if processed:
                _replace(out_filename, converted.getvalue(), like=in_filename)
                return processed, log, errors
            copy = os.path.abspath(out_filename) != os.path.abspath(in_filename)
            why = dataclasses.replace(_why(in_filename, text, error), copied=copy)
            unconverted.append(why)
            if copy:
                with open(in_filename, "rb") as original:
                    _replace(out_filename, original.read(), like=in_filename)
            return 0, log, [why.report_line()]

    return TolerantUpgrader


def _import_quietly():
    """tf_upgrade_v2's modules, with TensorFlow's start-up lines (absl, oneDNN) kept off stderr.

    TF_CPP_MIN_LOG_LEVEL does not reach the lines absl prints before its logging starts, so file
    descriptor 2 points at /dev/null while TensorFlow loads (as for `tf2norm checkpoint`;
    TF2NORM_DEBUG=1 shows them). What tf_upgrade_v2 prints afterwards is untouched.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("TF2NORM_DEBUG"):
        from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2_main

        return ast_edits, tf_upgrade_v2_main
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2_main
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return ast_edits, tf_upgrade_v2_main


def main(argv: list[str]) -> int:
    from tf2norm.upgrade import pasta_slices

    pasta_slices.apply()
    ast_edits, tf_upgrade_v2_main = _import_quietly()

    unconverted: list[Unconverted] = []
    # tf_upgrade_v2_main.main() builds `ast_edits.ASTCodeUpgrader(spec)` when it runs.
    ast_edits.ASTCodeUpgrader = tolerant_upgrader(ast_edits.ASTCodeUpgrader, unconverted)
    sys.argv = ["tf_upgrade_v2", *argv]
    tf_upgrade_v2_main.main()
    sys.stdout.flush()
    for why in unconverted:
        print(f"{why.path}:{why.line}:{why.col}: {why.reason}: {why.outcome}", file=sys.stderr)
    if unconverted:
        files = "1 file" if len(unconverted) == 1 else f"{len(unconverted)} files"
        verb = "was" if len(unconverted) == 1 else "were"
        print(f"tf2norm upgrade: {files} could not be converted and {verb} {unconverted[0].outcome}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except OSError as error:
        print(f"error: {error.filename or ''}: {error.strerror or error}".replace("error: : ", "error: "),
              file=sys.stderr)
        sys.exit(2)
    except Exception as error:  # a bug: one line, unless asked for more
        if os.environ.get("TF2NORM_DEBUG"):
            traceback.print_exc()
        print(f"error: internal error in tf2norm upgrade: {type(error).__name__}: {error} "
              "(set TF2NORM_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(3)
