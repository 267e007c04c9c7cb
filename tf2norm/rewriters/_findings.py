"""Findings: what a run could not convert, each with a stable code, a place and a one-line fix.

Each code is a `Rule` (code, message, hint, severity). Codes TF2N00x belong to the driver (files that
cannot be read, parsed or written: severity "error"), TF2N01x to the argument checks every rewriter
shares; each rewriter owns its own range of codes in its `RULES`. Columns are 1-based, like ruff and
GitHub annotations.

A finding can be silenced by a `# tf2norm: ignore` (all codes) or `# tf2norm: ignore[TF2N104,...]`
comment on any line of the reported expression, once a person has checked the code by hand.
"""

from __future__ import annotations

import io
import re
import sys
import tokenize

from tf2norm.findings import Finding, Rule, rules  # noqa: F401  (the rewriters import them from here)

# The driver's rules (files that cannot be processed) and the argument checks every rewriter shares.
# TF2N001's hint is `syntax_hint`'s.
RULES = rules(
    Rule("TF2N001", "cannot parse: {reason}", "{hint}", severity="error"),
    Rule("TF2N002", "cannot decode: {reason}",
                    "save the file as UTF-8 or declare its encoding (PEP 263)", severity="error"),
    Rule("TF2N003", "cannot {action}: {reason}", "check the path and its permissions", severity="error"),
    Rule("TF2N004", "symlink to {target}, outside {root}; not followed",
                    "migrate {target} where it is, or exclude the link (--extend-exclude)", severity="error"),
    Rule("TF2N005", "not read: {reason}",
                    "only regular files are migrated; exclude it (--extend-exclude)", severity="error"),
    Rule("TF2N006", "notebook not migrated: legacy APIs in {cells}",
                    "export it to a script (jupyter nbconvert --to script), migrate that, and copy the cells "
                    "back", severity="error"),
    Rule("TF2N007", "not migrated: took more than the {seconds:g} s budget per file",
                    "raise --file-timeout, or exclude the file (generated code?)", severity="error"),
    Rule("TF2N008", "changed on disk while it was being migrated; left as it is now",
                    "run tf2norm again once the file is saved", severity="error"),
    Rule("TF2N009", "internal error in rewriter {rewriter}: {reason}",
                    "report this bug; the file was left unchanged", severity="error"),
    Rule("TF2N010", "{api}: *args/**kwargs hide which arguments are passed; left unchanged",
                    "pass the arguments explicitly, then run tf2norm again"),
    Rule("TF2N011", "{api}: arguments do not match the TF1 signature ({reason}); left unchanged",
                    "fix the call: TF1 rejected it too"),
    Rule("TF2N012", "{name} may be {legacy} or something else (the name is bound more than once); left unchanged",
                    "bind it once, e.g. a plain contrib import, then run tf2norm again"),
    Rule("TF2N013", "from {module} import * hides which legacy names this file uses; left unchanged",
                    "import the names explicitly, then run tf2norm again"),
    Rule("TF2N730", "{name} is imported from a project module that binds it to {candidates} depending on a "
                    "condition; its legacy calls are left unchanged",
                    "bind it to one TensorFlow module in that module (e.g. `import tensorflow.compat.v1 as tf`), "
                    "then run tf2norm again"),
)

# What Python 3 says about Python 2 code, and what the offending line of Python 2 code looks like
# where Python 3 only says "invalid syntax".
_PYTHON2_MESSAGES = ("Missing parentheses in call to 'print'", "Missing parentheses in call to 'exec'",
                     "leading zeros in decimal integer literals", "multiple exception types must be parenthesized",
                     "Function parameters cannot be parenthesized")
_PYTHON2_LINE = re.compile(r"`|<>|^\s*raise\s+[\w.]+\s*,|\b[uU][rR]['\"]|\b\d+[lL]\b|^\s*print\s+[^\s(=.,)\]}]")


def syntax_hint(message: str, line: str) -> str:
    """The fix for a file Python cannot parse: port it when it is Python 2 code, else fix the error."""
    if message.startswith(_PYTHON2_MESSAGES) or _PYTHON2_LINE.search(line or ""):
        return "the file is Python 2 code: port it to Python 3 first"
    version = ".".join(map(str, sys.version_info[:2]))
    return f"fix the syntax error; the file must parse as Python {version} (the Python running tf2norm)"


_IGNORE = re.compile(r"#\s*tf2norm:\s*ignore(?:\[([A-Z0-9,\s]+)\])?")


def comments(text: str) -> dict[int, str]:
    """{line: the comment on it} of Python source: an ignore marker inside a string does not count."""
    found = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(text, newline=None).readline):
            if token.type == tokenize.COMMENT:
                found[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        pass  # what was found so far; a later marker is not honoured
    return found


def suppressed(finding: Finding, comments_by_line: dict[int, str]) -> bool:
    """True when a `# tf2norm: ignore[...]` comment covers the finding (see :func:`comments`)."""
    for number in range(finding.line, max(finding.line, finding.end_line) + 1):
        match = _IGNORE.search(comments_by_line.get(number, ""))
        if match and (match.group(1) is None
                      or finding.code in {c.strip() for c in match.group(1).split(",")}):
            return True
    return False


def format_text(finding: Finding) -> str:
    return f"{finding.path}:{finding.line}:{finding.col}: {finding.code} {finding.message} (fix: {finding.hint})"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(finding: Finding) -> str:
    # Files tf2norm could not process at all are errors; everything else is a warning.
    return (f"::{finding.severity} file={escape_property(finding.path)},line={finding.line},col={finding.col},"
            f"title={escape_property(finding.code)}::"
            f"{_escape_data(finding.message)} (fix: {_escape_data(finding.hint)})")
