"""Files in, files out: decode, parse, run the rewriters, diff, and write atomically.

One bad file never stops a run: a file that cannot be decoded, parsed, read or written is reported
(TF2N001-TF2N003) and left untouched; a crash inside a rewriter is reported as TF2N009 and leaves
that file untouched too. Encoding declarations, a UTF-8 BOM and CRLF line endings survive because
LibCST round-trips the bytes it parsed.
"""

from __future__ import annotations

import ast
import ctypes
import dataclasses
import difflib
import io
import json
import os
import sys
import threading
import tokenize
import traceback

import libcst as cst

from tf2norm import apis, rewriters, unsupported
from tf2norm.rewriters import _arg_scopes, _files, _findings, _prefilter, _project
from tf2norm.rewriters._context import FileContext
from tf2norm.rewriters._names import module_paths

# Every legacy API the rewriters act on is reached through one of these names in code (tf2norm.apis);
# files whose text holds none of them skip the (slower) name analysis.
_LEGACY_IDENTIFIERS = apis.identifiers()
_MAY_NEED_WORK = apis.mentions_pattern()


def _mentions_legacy_names(tree: ast.AST) -> bool:
    """Does any name, attribute or imported module path in `tree` use a legacy identifier?"""
    for node in _prefilter.nodes(tree):
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


@dataclasses.dataclass(frozen=True)
class Options:
    target: str = "keras"
    rewriters: tuple[str, ...] | None = None  # None: all
    write: bool = False
    diff: bool = False
    file_timeout: float | None = 60.0  # seconds per file; None: no budget
    max_bytes: int = _files.MAX_BYTES
    line_length: int | None = None  # None: from the file's black/ruff configuration or its own lines
    #: `_project.scan` of the run's files: the project modules that re-export TensorFlow names.
    reexports: dict | None = dataclasses.field(default=None, hash=False)


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
    return _Unprocessable(_findings.RULES[code].finding(path, line, col, **fields))


_REGISTRY: tuple | None = None
_FILTER: _prefilter.Filter | None = None
#: False: every file that names a legacy identifier goes to LibCST, as before the name test
#: (tests/rewriters/test_prefilter.py compares the two paths).
NAME_FILTER = True


def _registry():
    global _REGISTRY
    if _REGISTRY is None:
        modules = rewriters.available()
        legacy = frozenset().union(*(r.legacy for r in modules.values()))
        # arg_scope is followed through aliases too (`arg_scope = contrib_framework.arg_scope`).
        _REGISTRY = (modules, legacy, module_paths(legacy) | _arg_scopes.ARG_SCOPES)
    return _REGISTRY


def _name_filter() -> _prefilter.Filter:
    """What makes a rewriter act (see _prefilter): built from every rewriter, whichever run."""
    global _FILTER
    if _FILTER is None:
        from tf2norm.rewriters import graph_programs as graph

        modules, legacy, _ = _registry()
        # graph_programs' own legacy names act only as its rules say (below): its TF1-only summaries
        # spelled `tensorflow.summary.*` (`tf.compat.v1.summary.merge_all` is left as it is), its graph
        # builders in the module shapes of `_prefilter.GraphMode`.
        elsewhere = frozenset().union(*(r.legacy for r in modules.values() if r is not graph.REWRITER))

        def acts_on(name: str) -> bool:
            return name in _arg_scopes.ARG_SCOPES or unsupported.lookup(name) is not None

        def spelled_acts_on(name: str) -> bool:  # graph_programs._summaries: the name as spelled
            parts = name.split(".")
            return name.startswith("tensorflow.summary.") and parts[2] in graph.SUMMARY_V1_ONLY

        def in_graph_code(name: str) -> bool:
            return name == "tensorflow.Variable"

        def spelled_in_graph_code(name: str) -> bool:
            parts = name.split(".")
            return name.startswith("tensorflow.summary.") and len(parts) == 3 and parts[2] in graph.SUMMARY_V1_PARAMS

        assert graph.LEGACY - elsewhere <= graph.GRAPH_BUILDERS | {
            n for n in graph.LEGACY if spelled_acts_on(n)}, "a graph_programs name the filter does not test"
        _FILTER = _prefilter.Filter(
            elsewhere, acts_on, graph.GRAPH_CODE, in_graph_code, star_legacy=legacy, spelled_acts_on=spelled_acts_on,
            spelled_in_graph_code=spelled_in_graph_code,
            graph_mode=_prefilter.GraphMode(graph.GRAPH_BUILDERS - elsewhere, "tensorflow.train.Saver",
                                            "tensorflow.app.run"))
        _FILTER.follow([*_arg_scopes.ARG_SCOPES, *(entry.prefix for entry in unsupported.TABLE), "tensorflow.Variable",
                        *(f"tensorflow.summary.{n}" for n in (*graph.SUMMARY_V1_ONLY, *graph.SUMMARY_V1_PARAMS))])
    return _FILTER


def migrate_source(data: bytes, path: str, options: Options) -> tuple[bytes, list[_findings.Finding]]:
    """The migrated bytes of one file and what could not be converted; raises _Unprocessable."""
    problem: str | None = None
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as error:  # a bad coding declaration, or bytes that are not UTF-8 early on
        encoding, problem = "utf-8", str(error)
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
                    hint=_findings.syntax_hint(python.msg, python.text or "")) from None
    except (RecursionError, ValueError) as error:
        reason = str(error) or type(error).__name__
        raise _fail(path, "TF2N001", reason=reason, hint=_findings.syntax_hint(reason, "")) from None
    project = _project.Project(options.reexports, path) if options.reexports else None
    # A file that takes `tf` (or `slim`) from a project module re-exporting TensorFlow names no legacy
    # word itself: only LibCST with the project map can tell what it reaches.
    reexported = bool(project and project.imported_by(python_tree))
    if not (_MAY_NEED_WORK.search(text) and _mentions_legacy_names(python_tree)) and not reexported:
        return data, []
    # Most real TF1 files name tf.get_variable or tf.compat.v1 and hold nothing a rewriter acts on:
    # what their names may mean (stdlib ast, over every scope at once) says so exactly.
    if NAME_FILTER and not reexported and not _name_filter().needs_libcst(python_tree):
        return data, []
    try:
        module = cst.parse_module(data)
    except (cst.ParserSyntaxError, SyntaxError, RecursionError, ValueError) as error:
        # Python accepted the file but LibCST did not (syntax newer than LibCST knows).
        line, col = getattr(error, "editor_line", 1), getattr(error, "editor_column", 1)
        raise _fail(path, "TF2N001", line, col, reason=f"LibCST: {str(error).splitlines()[0]}",
                    hint="Python parses the file but this LibCST does not: upgrade libcst") from None
    # LibCST drops the last line ending of a file whose lines end in a lone CR (old Mac style).
    lost_cr = data.endswith(b"\r") and module.default_newline == "\r"
    modules, legacy, paths = _registry()
    selected = [(name, m) for name, m in modules.items() if options.rewriters is None or name in options.rewriters]
    ctx = None
    try:
        # LibCST gives the text back exactly, but for the lone CR it drops (below).
        source = None if lost_cr else text
        ctx = FileContext(module, path, options.target, legacy, paths, options.line_length, project, source,
                          None if lost_cr else python_tree)
        for name, rewriter in selected:
            ctx.rewriter = name
            rewriter.plan(ctx)
        ctx.report_ambiguous({legacy_name: name for name, r in selected for legacy_name in r.legacy})
        ctx.rewriter = "apply"
        migrated = ctx.apply()
        for name, rewriter in selected:
            ctx.rewriter = name
            rewriter.review(ctx, migrated)
        output = data if migrated is module else ctx.code(migrated).encode(migrated.encoding)
        if lost_cr and not output.endswith(b"\r"):
            output += b"\r"
        if output != data:  # the input itself parsed above
            # Never hand back a file that does not parse. Python's own parser is the judge a user's
            # interpreter applies (and the first step of the next run), and costs ~1/30 of LibCST's
            # parse. LibCST reads the output too: everything untouched in it was parsed by LibCST
            # above, and what rewriters emit (names, calls, imports, plain statements) is in its
            # grammar (tests/rewriters/rewriter_cases.py parses every case's output with LibCST).
            if lost_cr:
                ast.parse(output)
            else:  # the same text (as `str`: the input's bytes parsed, and the output keeps their encoding)
                ctx.parsed(migrated)
    except Exception as error:  # a bug in a rewriter must not take the other files down
        where = traceback.extract_tb(error.__traceback__)[-1]
        reason = f"{type(error).__name__}: {error} ({os.path.basename(where.filename)}:{where.lineno})"
        raise _fail(path, "TF2N009", rewriter=ctx.rewriter if ctx else "(names)", reason=reason) from None
    comments = _findings.comments(text) if ctx.findings else {}
    findings = sorted(f for f in ctx.findings if not _findings.suppressed(f, comments))
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
    """Migrate one file; never raises: whatever goes wrong is reported on this file alone."""
    try:
        if path.endswith(".ipynb"):
            return _notebook(path)
        try:
            snapshot = _files.read(path, options.max_bytes)
        except _files.Unreadable as problem:
            return Result(path, findings=[problem.finding], failed=True)
        result = guarded(lambda: process_data(snapshot.data, path, options), path, options.file_timeout)
        if result.changed and options.write and result.output is not None:
            try:
                _files.replace(path, snapshot, result.output)
            except _files.Unwritable as problem:
                result.findings.append(problem.finding)
                result.failed = True
                result.changed = False
        result.output = None  # not needed by the caller; keeps results cheap to send between processes
        return result
    except Exception as error:  # pragma: no cover - a bug here must not take the other files down
        return _internal(path, "driver", error)


def _internal(path: str, rewriter: str, error: BaseException) -> Result:
    where = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    place = f" ({os.path.basename(where.filename)}:{where.lineno})" if where else ""
    problem = _fail(path, "TF2N009", rewriter=rewriter, reason=f"{type(error).__name__}: {error}{place}")
    return Result(path, findings=[problem.finding], failed=True, internal=True)


class _OverBudget(BaseException):
    """Raised inside a file's thread when its time is up (a BaseException: no `except Exception` eats it)."""


# LibCST visits nested expressions recursively, about ten frames per level; Python's parser allows 200
# levels. The thread that migrates a file gets the stack for that, not the 1,000-frame default.
_RECURSION_LIMIT = 30_000
_STACK_BYTES = 512 * 1024 * 1024


def guarded(work, path: str, seconds: float | None) -> Result:
    """`work()` (which makes the Result of `path`) in a thread with a deep stack and a time budget.

    Past `seconds`, the thread is interrupted (an asynchronous exception at its next bytecode) and
    the file is reported as TF2N007; any exception becomes TF2N009. Only computing runs here:
    files are written by the caller, never interrupted halfway.
    """
    box: dict = {}

    def run():
        try:
            box["result"] = work()
        except _OverBudget:
            box["over"] = True
        except BaseException as error:  # noqa: BLE001 - reported on this file, the run goes on
            box["error"] = error

    if sys.getrecursionlimit() < _RECURSION_LIMIT:
        sys.setrecursionlimit(_RECURSION_LIMIT)
    with _STACK_LOCK:
        previous = threading.stack_size(_STACK_BYTES)
        try:
            thread = threading.Thread(target=run, name=f"tf2norm {path}", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join(seconds)
    while thread.is_alive() and thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_OverBudget))
        thread.join(0.05)
    if "result" in box:
        return box["result"]
    if "over" in box:
        problem = _fail(path, "TF2N007", seconds=seconds)
        return Result(path, findings=[problem.finding], failed=True)
    return _internal(path, "driver", box["error"])


_STACK_LOCK = threading.Lock()


def _notebook(path: str) -> Result:
    """Notebooks are not migrated: those whose code cells use a legacy API are reported (TF2N006)."""
    try:
        snapshot = _files.read(path)
    except _files.Unreadable as unreadable:
        return Result(path, findings=[unreadable.finding], failed=True)
    try:
        cells = json.loads(snapshot.data.decode("utf-8")).get("cells", [])
        sources = [(n, c.get("source", "")) for n, c in enumerate(cells, 1) if c.get("cell_type") == "code"]
        sources = [(n, "".join(s) if isinstance(s, list) else str(s)) for n, s in sources]
    except (ValueError, AttributeError, TypeError) as error:
        problem = _fail(path, "TF2N001", reason=f"not a Jupyter notebook ({type(error).__name__})")
        return Result(path, findings=[problem.finding], failed=True)
    legacy = [n for n, source in sources if _cell_uses_legacy(source)]
    if not legacy:
        return Result(path)
    cells_text = ("cell " if len(legacy) == 1 else "cells ") + ", ".join(map(str, legacy))
    return Result(path, findings=[_fail(path, "TF2N006", cells=cells_text).finding], failed=True)


def _cell_uses_legacy(source: str) -> bool:
    if not _MAY_NEED_WORK.search(source):
        return False
    # IPython magics and shell escapes are not Python: blank them, keeping the line numbers.
    code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        return _mentions_legacy_names(ast.parse(code))
    except (SyntaxError, ValueError, RecursionError):
        return True  # cannot tell: a cell that mentions a legacy name is reported, not passed
