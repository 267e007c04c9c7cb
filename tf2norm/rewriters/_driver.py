"""Files in, files out: decode, parse, run the rewriters, diff, and write atomically.

One bad file never stops a run: a file that cannot be decoded, parsed, read or written is reported
(TF2N001-TF2N003) and left untouched; a crash inside a rewriter is reported as TF2N009 and leaves
that file untouched too. Encoding declarations, a UTF-8 BOM and CRLF line endings survive because
LibCST round-trips the bytes it parsed.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import io
import os
import re
import stat
import tempfile
import tokenize
import traceback

import libcst as cst

from tf2norm import rewriters
from tf2norm.rewriters import _findings
from tf2norm.rewriters._context import FileContext
from tf2norm.rewriters._names import module_paths

# Every legacy spelling contains one of these; files without them skip the (slower) name analysis.
_MAY_NEED_WORK = re.compile(r"contrib|rnn_cell|dynamic_rnn|tensorflow_addons|[Nn]ormalization")
# Every legacy API the rewriters act on is reached through one of these names in code.
_LEGACY_IDENTIFIERS = frozenset({"contrib", "rnn_cell", "dynamic_rnn", "bidirectional_dynamic_rnn", "LSTMStateTuple",
                                 "tensorflow_addons", "batch_normalization", "BatchNormalization", "normalization",
                                 "rnn_cell_impl"})


def _mentions_legacy_names(tree: ast.AST) -> bool:
    """Does any name, attribute or imported module path in `tree` use a legacy identifier?"""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in _LEGACY_IDENTIFIERS:
                return True
        elif isinstance(node, ast.Name):
            if node.id in _LEGACY_IDENTIFIERS:
                return True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            dotted = [alias.name for alias in node.names]
            if isinstance(node, ast.ImportFrom) and node.module:
                dotted.append(node.module)
            if any(part in _LEGACY_IDENTIFIERS for name in dotted for part in name.split(".")):
                return True
    return False
_SKIPPED_DIRS = {"__pycache__", "node_modules", "site-packages", "venv"}


@dataclasses.dataclass(frozen=True)
class Options:
    target: str = "keras"
    rewriters: tuple[str, ...] | None = None  # None: all
    write: bool = False
    diff: bool = False
    line_length: int | None = None  # None: from the file's black/ruff configuration or its own lines


@dataclasses.dataclass
class Result:
    path: str
    changed: bool = False
    findings: list[_findings.Finding] = dataclasses.field(default_factory=list)
    diff: str = ""
    output: bytes | None = None
    failed: bool = False  # the file could not be processed (TF2N001-TF2N003, TF2N009)
    internal: bool = False  # TF2N009


class _Unprocessable(Exception):
    def __init__(self, finding: _findings.Finding):
        super().__init__(finding.message)
        self.finding = finding


def _fail(path: str, code: str, line: int = 1, col: int = 1, **fields) -> _Unprocessable:
    return _Unprocessable(_findings.make(_findings.FINDINGS, code, path, line, col, **fields))


_REGISTRY: tuple | None = None


def _registry():
    global _REGISTRY
    if _REGISTRY is None:
        modules = rewriters.available()
        legacy = frozenset().union(*(m.LEGACY for m in modules.values()))
        _REGISTRY = (modules, legacy, module_paths(legacy))
    return _REGISTRY


def migrate_source(data: bytes, path: str, options: Options) -> tuple[bytes, list[_findings.Finding]]:
    """The migrated bytes of one file and what could not be converted; raises _Unprocessable."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:  # a bad coding declaration, or bytes that are not UTF-8 early on
        encoding, problem = "utf-8", str(error)
    else:
        problem = None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as error:
        raise _fail(path, "TF2N002", reason=str(error)) from None
    if problem is not None:
        raise _fail(path, "TF2N002", reason=problem)
    # Python's own parser (C, ~30x faster than LibCST's) reports the files that do not parse and
    # tells which files mention a legacy name at all; most files of a real tree do not (even
    # TensorFlow's own sources only say "contrib" in comments), and they skip LibCST entirely.
    try:
        python_tree = ast.parse(data)
    except SyntaxError as python:
        raise _fail(path, "TF2N001", python.lineno or 1, python.offset or 1, reason=python.msg,
                    hint=_findings.syntax_hint(python.msg, python.text)) from None
    except (RecursionError, ValueError) as error:
        reason = str(error) or type(error).__name__
        raise _fail(path, "TF2N001", reason=reason, hint=_findings.syntax_hint(reason, "")) from None
    if not (_MAY_NEED_WORK.search(text) and _mentions_legacy_names(python_tree)):
        return data, []
    try:
        module = cst.parse_module(data)
    except (cst.ParserSyntaxError, SyntaxError, RecursionError, ValueError) as error:
        # Python accepted the file but LibCST did not (syntax newer than LibCST knows).
        line, col = getattr(error, "editor_line", 1), getattr(error, "editor_column", 1)
        raise _fail(path, "TF2N001", line, col, reason=f"LibCST: {str(error).splitlines()[0]}",
                    hint="Python parses the file but this LibCST does not: upgrade libcst") from None
    modules, legacy, paths = _registry()
    selected = [(name, m) for name, m in modules.items() if options.rewriters is None or name in options.rewriters]
    ctx = FileContext(module, path, options.target, legacy, paths, options.line_length)
    try:
        for name, rewriter in selected:
            ctx.rewriter = name
            rewriter.plan(ctx)
        ctx.report_ambiguous({legacy_name: name for name, m in selected for legacy_name in m.LEGACY})
        ctx.rewriter = "apply"
        output = ctx.apply().bytes
        cst.parse_module(output)  # never hand back a file that does not parse
    except Exception as error:  # a bug in a rewriter must not take the other files down
        where = traceback.extract_tb(error.__traceback__)[-1]
        reason = f"{type(error).__name__}: {error} ({os.path.basename(where.filename)}:{where.lineno})"
        raise _fail(path, "TF2N009", rewriter=ctx.rewriter, reason=reason) from None
    lines = text.splitlines()
    findings = sorted(f for f in ctx.findings if not _findings.suppressed(f, lines))
    return output, findings


def unified_diff(path: str, before: bytes, after: bytes) -> str:
    encoding, _ = tokenize.detect_encoding(io.BytesIO(before).readline)
    old = before.decode(encoding).splitlines(keepends=True)
    new = after.decode(encoding).splitlines(keepends=True)
    chunks = []
    for line in difflib.unified_diff(old, new, f"a/{path}", f"b/{path}"):
        chunks.append(line)
        if not line.endswith("\n"):
            chunks.append("\n\\ No newline at end of file\n")
    return "".join(chunks)


def atomic_write(path: str, data: bytes) -> None:
    """Write through a temporary file in the same directory, then `os.replace`; keeps the mode."""
    real = os.path.realpath(path)
    mode = stat.S_IMODE(os.stat(real).st_mode)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(real), prefix=".tf2norm-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, real)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def process_data(data: bytes, path: str, options: Options) -> Result:
    result = Result(path)
    try:
        output, result.findings = migrate_source(data, path, options)
    except _Unprocessable as problem:
        result.findings = [problem.finding]
        result.failed = True
        result.internal = problem.finding.code == "TF2N009"
        result.output = data
        return result
    result.output = output
    result.changed = output != data
    if result.changed and options.diff:
        result.diff = unified_diff(path, data, output)
    return result


def process_file(path: str, options: Options) -> Result:
    try:
        with open(path, "rb") as source:
            data = source.read()
    except OSError as error:
        problem = _fail(path, "TF2N003", action="read", reason=error.strerror or str(error))
        return Result(path, findings=[problem.finding], failed=True)
    result = process_data(data, path, options)
    if result.changed and options.write:
        try:
            atomic_write(path, result.output)
        except OSError as error:
            problem = _fail(path, "TF2N003", action="write", reason=error.strerror or str(error))
            result.findings.append(problem.finding)
            result.failed = True
            result.changed = False
    result.output = None  # not needed by the caller; keeps results cheap to send between processes
    return result


def discover(paths) -> list[str]:
    """The files to migrate: named files as given, `*.py` under named directories (sorted)."""
    found: list[str] = []
    for path in paths:
        if not os.path.isdir(path):
            found.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
            found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".py"))
    seen = set()
    return [p for p in found if not (p in seen or seen.add(p))]
