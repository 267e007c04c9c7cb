"""Shared helpers for the rewriter tests: before/after pairs, noops, exact findings.

Every check also asserts that the output parses and compiles, and that a second run changes nothing
(django-upgrade's check_transformed/check_noop, plus idempotence). Nothing here imports TensorFlow.
"""

from __future__ import annotations

import ast
from textwrap import dedent

import libcst as cst

from tf2norm import rewriters
from tf2norm.rewriters import _driver, unsupported_apis

# The mapping tests read one emitted call per line: they run with a line length nothing reaches.
# test_layout.py tests the wrapping to the file's line length.
UNWRAPPED = 1000


# The rewriters that act on a whole program (graph mode, what cannot run) have their own tests; the
# cases of one legacy API run every other rewriter, so that theirs read as that API's change alone.
PROGRAM_WIDE = ("graph_programs", "unsupported_apis")


def migrate(source: str, target: str = "keras", only=None, path: str = "case.py", line_length=UNWRAPPED):
    """(migrated source, findings) for one file's text; `only=None`: every rewriter but PROGRAM_WIDE."""
    if not only:
        only = [name for name in rewriters.available() if name not in PROGRAM_WIDE]
    options = _driver.Options(target=target, rewriters=tuple(only), line_length=line_length)
    output, findings = _driver.migrate_source(source.encode("utf-8"), path, options)
    assert_filter_exact(source.encode("utf-8"), path, options)
    if "unsupported_apis" in only:
        assert_review_shortcut_exact(source.encode("utf-8"), path, options, (output, findings))
    return output.decode("utf-8"), findings


def assert_filter_exact(data: bytes, path: str, options) -> None:
    """A file the name filter (tf2norm.rewriters._prefilter) keeps from LibCST is one that every
    rewriter leaves unchanged without a finding: every case of every rewriter test checks it."""
    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError):
        return
    if _driver._name_filter().needs_libcst(tree):
        return
    _driver.NAME_FILTER = False
    try:
        assert _driver.migrate_source(data, path, options) == (data, []), "the name filter skipped a file with work"
    finally:
        _driver.NAME_FILTER = True


def assert_review_shortcut_exact(data: bytes, path: str, options, result) -> None:
    """unsupported_apis' review finds the same without analysing the migrated file again (its
    shortcut where no edit reached a leftover) as with: every case that runs it checks it."""
    unsupported_apis.SHORTCUT = False
    try:
        assert _driver.migrate_source(data, path, options) == result, "the review's shortcut changed a finding"
    finally:
        unsupported_apis.SHORTCUT = True


def check(before: str, after: str | None = None, *, target: str = "keras", findings=(), only=None):
    """`before` becomes `after` (None: stays as it is) with exactly `findings` [(code, line, col)]."""
    before = dedent(before)
    expected = before if after is None else dedent(after)
    output, found = migrate(before, target, only)
    assert output == expected
    assert [(f.code, f.line, f.col) for f in found] == list(findings)
    cst.parse_module(output)
    compile(output, "case.py", "exec")
    again, _ = migrate(output, target, only)
    assert again == output, "a second run changed the output"
    return found


def check_noop(source: str, *, target: str | None = None, only=None):
    """`source` stays exactly as it is (both targets unless `target` is given), with no finding."""
    for each in ((target,) if target else ("keras", "compat")):
        check(source, None, target=each, only=only)
