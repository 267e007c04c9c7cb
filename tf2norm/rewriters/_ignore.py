"""Git's ignore patterns (gitignore(5)), for `.gitignore` files and `--exclude`, without git.

A pattern list is matched against a path relative to the directory the list belongs to (the
`.gitignore`'s directory; the current directory for `--exclude`). As in git: blank lines and `#`
comments are skipped, `\\` escapes, `!` re-includes, a trailing `/` matches directories only, a
pattern with a `/` before its end is anchored to that directory, one without matches a name at any
depth, `*` and `?` stop at `/`, `**` spans directories, `[...]` is a character class, and the last
matching pattern decides. What is inside an ignored directory is never looked at (the walk prunes
it), which is git's rule that a file cannot be re-included under an excluded directory.
"""

from __future__ import annotations

import dataclasses
import os
import re


@dataclasses.dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern
    negated: bool
    directory_only: bool


def _translate(body: str) -> str:
    """The regex of one pattern body (no `!`, no trailing `/`), for a `/`-separated relative path."""
    anchored = "/" in body
    body = body.lstrip("/") if anchored else body
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if body.startswith("**", i) and (i == 0 or body[i - 1] == "/") \
                and (i + 2 == len(body) or body[i + 2] == "/"):
            if i + 2 == len(body):
                out.append(".*")  # `dir/**`: everything inside
            else:
                out.append("(?:.*/)?")  # `**/` and `/**/`: zero or more directories
                i += 1  # the slash
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\" and i + 1 < len(body):
            i += 1
            out.append(re.escape(body[i]))
        elif c == "[":
            end = body.find("]", i + 2 if body[i + 1:i + 2] in ("!", "^", "]") else i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                inner = body[i + 1:end]
                if inner[:1] in ("!", "^"):
                    inner = "^" + inner[1:]
                out.append("[" + inner.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return f"^{prefix}{''.join(out)}$"


def parse(lines) -> list[_Pattern]:
    patterns = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip("\r")
        if not line.strip() or line.startswith("#"):
            continue
        # Trailing spaces are ignored unless escaped.
        stripped = line.rstrip(" ")
        if stripped.endswith("\\") and len(stripped) < len(line):
            stripped += " "
        line = stripped
        negated = line.startswith("!")
        if negated:
            line = line[1:]
        elif line.startswith("\\!") or line.startswith("\\#"):
            line = line[1:]
        directory_only = line.endswith("/")
        line = line.rstrip("/")
        if not line:
            continue
        try:
            patterns.append(_Pattern(re.compile(_translate(line), re.DOTALL), negated, directory_only))
        except re.error:
            continue  # git skips a pattern it cannot use, too
    return patterns


def read(path: str) -> list[_Pattern]:
    """The patterns of a `.gitignore` file; none when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse(f.read(1 << 20).splitlines())
    except OSError:
        return []


def decide(patterns, relative: str, is_dir: bool) -> bool | None:
    """True: ignored, False: re-included by a `!` pattern, None: no pattern matches."""
    relative = relative.replace(os.sep, "/")
    verdict = None
    for pattern in patterns:
        if pattern.directory_only and not is_dir:
            continue
        if pattern.regex.match(relative):
            verdict = not pattern.negated
    return verdict
