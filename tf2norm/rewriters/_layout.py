"""Laying out the code the rewriters emit as a person would have written it in that file.

A call the rewriters build or rename (`scoped_layer("bn", lambda: BatchNormalization(...), ...)(x,
training=t)`, `LayerNormBasicLSTMCell(...)` replacing a longer name) is laid out afresh: its own line
breaks are dropped, and where its line is then longer than the file's line length it is wrapped, black's
way (the last bracket whose opening line fits is split; its arguments on one indented line, or one per
line with a trailing comma) or, in a file that aligns continuation lines with the opening bracket
(PEP 8's visual indent) or closes brackets on the last argument's line, that file's way. A call whose
line breaks hold comments, or whose arguments span lines of their own, keeps its layout; code the
rewriters did not touch is never reflowed.

The line length is `line-length` from the nearest `[tool.black]` / `[tool.ruff]` (pyproject.toml,
ruff.toml, .ruff.toml) between the file and its project root (the first directory holding .git or
.hg); else the file's longest line when it is 79 or more (the file keeps to a limit it chose); else
black's 88. A call with a magic trailing comma (one argument per line, a comma after the last) keeps
one argument per line, as black does.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import sys
import tokenize
from collections.abc import Mapping
from typing import TypeVar, cast

import libcst as cst

_Node = TypeVar("_Node", bound=cst.CSTNode)

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib

DEFAULT_LINE_LENGTH = 88
_SHORTEST_FILE_LIMIT = 79  # a file whose lines all stay below this shows no limit of its own
_TAB = 4  # columns a tab takes when measuring (ruff's indent-width)
_EMPTY = cst.Module(body=[])
_MARK = "_tf2norm_layout_mark_"


# -- the file's conventions ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Style:
    line_length: int = DEFAULT_LINE_LENGTH
    indent: str = "    "  # one indentation step
    visual: bool = False  # continuation lines align with the opening bracket
    closing_alone: bool = True  # hanging indent: the closing bracket on a line of its own


def _configured_in(directory: str) -> int | None:
    for name in (".ruff.toml", "ruff.toml"):
        value = _toml(os.path.join(directory, name)).get("line-length")
        if isinstance(value, int):
            return value
    tools = _toml(os.path.join(directory, "pyproject.toml")).get("tool", {})
    for tool in ("black", "ruff"):
        value = tools.get(tool, {}).get("line-length") if isinstance(tools.get(tool), dict) else None
        if isinstance(value, int):
            return value
    return None


def _toml(path: str) -> dict:
    try:
        with open(path, "rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


@functools.lru_cache(maxsize=256)
def configured_line_length(directory: str) -> int | None:
    """`line-length` from black's or ruff's configuration for files in `directory`, else None."""
    while True:
        value = _configured_in(directory)
        if value is not None:
            return value
        parent = os.path.dirname(directory)
        if parent == directory or any(os.path.exists(os.path.join(directory, d)) for d in (".git", ".hg")):
            return None
        directory = parent


def line_length(path: str, source: str) -> int:
    """The line length emitted code keeps to in the file at `path` (`-`: stdin, configured from the
    current directory) whose text is `source`."""
    directory = os.path.dirname(os.path.abspath(path if path != "-" else "stdin.py"))
    configured = configured_line_length(directory)
    if configured is not None:
        return configured
    longest = max((_width(line) for line in source.splitlines()), default=0)
    return longest if longest >= _SHORTEST_FILE_LIMIT else DEFAULT_LINE_LENGTH


def style(path: str, source: str, indent: str, length: int | None = None) -> Style:
    """How the file lays out brackets that span lines (the majority of its own multi-line brackets), and
    its line length (`length`, else `line_length`)."""
    return _FileStyle(length or line_length(path, source), indent, source)


class _FileStyle(Style):
    """A Style whose bracket habits are counted from the file's tokens when first asked: only emitted
    code too long for one line asks (26 of the 425 changed files of the dense benchmark tree), and
    Python's tokenizer costs about 4% of a file's migration."""

    _source: str

    def __init__(self, line_length: int, indent: str, source: str):
        object.__setattr__(self, "line_length", line_length)
        object.__setattr__(self, "indent", indent)
        object.__setattr__(self, "_source", source)

    @functools.cached_property
    def _habits(self) -> tuple[bool, bool]:
        return _bracket_habits(self._source)

    visual = property(lambda self: self._habits[0])
    closing_alone = property(lambda self: self._habits[1])


def _bracket_habits(source: str) -> tuple[bool, bool]:
    """(visual, closing_alone) of Style: what most of `source`'s own multi-line brackets do."""
    visual = hanging = alone = attached = 0
    stack: list[list] = []  # [opening row, opening column, first token (row, col) inside, first continuation column]
    row = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT):
                continue
            first_on_row = token.start[0] != row
            row = token.end[0]
            closing = token.type == tokenize.OP and token.string in ")]}"
            if stack:
                top = stack[-1]
                if top[2] is None and not closing:
                    top[2] = token.start
                if first_on_row and top[3] is None and not closing:
                    top[3] = token.start[1]
            if token.type == tokenize.OP and token.string in "([{":
                stack.append([token.start[0], token.start[1], None, None])
            elif closing and stack:
                opened, column, first, continuation = stack.pop()
                if token.start[0] == opened or first is None:
                    continue
                if first[0] == opened:
                    visual += continuation == column + 1
                else:
                    hanging += 1
                    alone += first_on_row
                    attached += not first_on_row
    except (tokenize.TokenError, SyntaxError):
        pass
    return visual > hanging, alone >= attached


def _width(text: str) -> int:
    return len(text.expandtabs(_TAB))


def _code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


def _leading(text: str) -> str:
    return text[: len(text) - len(text.lstrip(" \t"))]


# -- one statement --------------------------------------------------------------------------------


class Layout:
    """Lays out the statements holding emitted code.

    `user` holds the ids of the nodes that came from the file (every other node was built by a
    rewriter), `statements` those of the small statements holding emitted code; the caller keeps those
    nodes alive while the layout runs.
    """

    def __init__(self, style: Style, user: set[int]):
        self.style = style
        self.user = user
        self.statements: set[int] = set()
        self.touched: set[int] = set()
        self.forced: set[int] = set()
        self._alive: list[cst.CSTNode] = []  # keeps the ids above from being reused
        self._indents: list[str] = []  # the block indentation of the statement being laid out

    def built(self, node: cst.CSTNode) -> bool:
        return id(node) not in self.user

    def _is_touched(self, node) -> bool:
        return isinstance(node, cst.Call) and (self.built(node) or self.built(node.func))

    def statement(self, statement: cst.SimpleStatementLine, indents: list[str]) -> cst.SimpleStatementLine:
        """`statement` (at the block indentation `indents`) with its emitted calls laid out."""
        replacements = {}
        self._indents = indents
        for anchor in self._anchors(statement):
            laid = self._normalised(anchor)
            if laid is None or "\n" in _code(laid):
                continue  # comments or the file's own multi-line code in it: keep its layout
            # Where the call stands: the statement with a marker in its place, at its indentation.
            marked = _render(_replaced(statement, {id(anchor): cst.Name(_MARK)}), indents, self.style.indent)
            at = marked.index(_MARK)
            start = marked.rfind("\n", 0, at) + 1
            end = marked.find("\n", at)
            tail = marked[at + len(_MARK): end if end >= 0 else len(marked)]
            replacements[id(anchor)] = self.fit(laid, marked[start:at], _width(tail))
        return _replaced(statement, replacements) if replacements else statement

    def _anchors(self, node: cst.CSTNode) -> list[cst.Call]:
        """The outermost touched calls (built by a rewriter, or calling a name a rewriter wrote)."""
        if self._is_touched(node):
            return [cast(cst.Call, node)]
        found: list[cst.Call] = []
        for child in node.children:
            found.extend(self._anchors(child))
        return found

    def _normalised(self, anchor: cst.Call) -> cst.Call | None:
        """`anchor` with the own line breaks of its touched calls dropped; None where one holds a comment."""
        layout = self

        class _Flatten(cst.CSTTransformer):
            def __init__(self):
                super().__init__()
                self.blocked = False

            def on_leave(self, original, updated):
                updated = super().on_leave(original, updated)
                if layout._is_touched(original):
                    separators = _separators(updated)
                    if any(_has_comment(s) for s in separators):
                        self.blocked = True
                        return updated
                    multiline = any(isinstance(s, cst.ParenthesizedWhitespace) for s in separators)
                    updated = _flat(updated)
                    layout._keep(updated, layout.touched)
                    if multiline and updated.args and isinstance(original.args[-1].comma, cst.Comma):
                        layout._keep(updated, layout.forced)  # black's magic trailing comma
                elif layout.built(original):
                    layout._keep(updated, layout._built_after)
                return updated

        self._built_after: set[int] = set()
        flatten = _Flatten()
        laid = anchor.visit(flatten)
        return None if flatten.blocked else cast(cst.Call, laid)

    def _keep(self, node, ids: set[int]) -> None:
        ids.add(id(node))
        self._alive.append(node)

    # -- fitting a single-line expression into the line length ---------------------------------

    def fit(self, node: cst.BaseExpression, prefix: str, tail: int) -> cst.BaseExpression:
        """`node`, which follows `prefix` on its line and is followed by `tail` columns, split as
        needed so that its lines keep to the line length (where a touched call allows it)."""
        text = _code(node)
        if "\n" in text:
            return node
        if not self._holds_forced(node) and _width(prefix + text) + tail <= self.style.line_length:
            return node
        if isinstance(node, cst.Lambda) and id(node) in self._built_after and not node.lpar:
            head = text[: len(text) - len(_code(node.body))]
            return node.with_changes(body=self.fit(node.body, prefix + head, tail))
        if isinstance(node, cst.Call) and id(node) in self.touched and not node.lpar:
            return self._split(node, prefix, tail)
        return node

    def _holds_forced(self, node: cst.CSTNode) -> bool:
        if not self.forced:
            return False
        if id(node) in self.forced:
            return True
        return any(self._holds_forced(child) for child in node.children)

    def _text(self, node: cst.BaseExpression) -> str:
        """The code of `node` as it will stand in the file: continuation lines at the block indentation
        (line breaks inside brackets are written relative to it, so that they follow the statement
        when an edit changes its indentation)."""
        code = _code(node)
        if "\n" not in code:
            return code
        block = "".join(self._indents)
        statement = cst.SimpleStatementLine(body=[cst.Expr(node)])
        return _render(statement, self._indents, self.style.indent)[len(block):]

    def _newline(self, indentation: str) -> cst.ParenthesizedWhitespace:
        """A line break inside brackets, the next line starting with `indentation`."""
        block = "".join(self._indents)
        relative = indentation.startswith(block)
        return cst.ParenthesizedWhitespace(first_line=cst.TrailingWhitespace(), empty_lines=[], indent=relative,
                                           last_line=_space(indentation[len(block):] if relative else indentation))

    def _fits(self, prefix: str, node: cst.BaseExpression, tail: int) -> bool:
        lines = (prefix + self._text(node)).split("\n")
        limit = self.style.line_length
        return all(_width(line) <= limit for line in lines[:-1]) and _width(lines[-1]) + tail <= limit

    def _split(self, call: cst.Call, prefix: str, tail: int) -> cst.BaseExpression:
        chain = [call]  # the call, then the calls it calls: f(a)(b) -> [f(a)(b), f(a)]
        while isinstance(chain[-1].func, cst.Call) and id(chain[-1].func) in self.touched \
                and not chain[-1].func.lpar:
            chain.append(chain[-1].func)
        trailers = [_code(c)[len(_code(c.func)):] for c in chain]
        # A visual-indent writer fills the first call's arguments.
        order = range(len(chain) - 1, -1, -1) if self.style.visual else range(len(chain))
        tried = []
        for k in order:
            c = chain[k]
            if not c.args or any(id(chain[j]) in self.forced for j in range(k)):
                continue
            after = sum(_width(trailers[j]) for j in range(k)) + tail
            head = prefix + _code(c.func) + "("
            for body in self._bodies(c, head, after, prefix):
                candidate = _rebuild(chain, k, body)
                if self._fits(prefix, candidate, tail):
                    return candidate
                tried.append(candidate)
        return tried[0] if tried else call

    def _bodies(self, call: cst.Call, head: str, after: int, prefix: str):
        """Layouts of `call`'s arguments, the file's style first, black's last."""
        lead = _leading(prefix)
        inner = lead + self.style.indent
        if id(call) not in self.forced:
            if self.style.visual and _width(head) < self.style.line_length * 3 // 4:
                yield self._fill(call, head, after, lead + " " * (len(head) - len(lead)), first_on_head=True)
            elif not self.style.closing_alone:
                yield self._fill(call, head, after, inner, first_on_head=False)
        yield self._hanging(call, after, lead, inner)

    def _hanging(self, call: cst.Call, after: int, lead: str, inner: str) -> cst.Call:
        """black: `(`, the arguments on one line or one per line with a trailing comma, `)` alone."""
        texts = [_arg_text(a) for a in call.args]
        one_line = inner + ", ".join(texts)
        if id(call) not in self.forced and not any(self._holds_forced(a.value) for a in call.args) \
                and _width(one_line) <= self.style.line_length:
            args = [a.with_changes(comma=_comma(" "), whitespace_after_arg=_space("")) for a in call.args]
            args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT,
                                             whitespace_after_arg=self._newline(lead))
            return call.with_changes(whitespace_before_args=self._newline(inner), args=args)
        if len(call.args) == 1:  # nothing to put one per line: the argument alone, split in turn
            arg = call.args[0]
            value = self.fit(arg.value, inner + _value_prefix(arg), 0)
            return call.with_changes(whitespace_before_args=self._newline(inner), args=[
                arg.with_changes(value=value, comma=cst.MaybeSentinel.DEFAULT,
                                 whitespace_after_arg=self._newline(lead))])
        args = []
        for i, arg in enumerate(call.args):
            last = i == len(call.args) - 1
            value = self.fit(arg.value, inner + _value_prefix(arg), 1)
            args.append(arg.with_changes(value=value, comma=_comma(self._newline(lead if last else inner)),
                                         whitespace_after_arg=_space("")))
        return call.with_changes(whitespace_before_args=self._newline(inner), args=args)

    def _fill(self, call: cst.Call, head: str, after: int, continuation: str, first_on_head: bool) -> cst.Call:
        """As many arguments per line as fit; lines after the first start at `continuation`."""
        limit = self.style.line_length
        line = head if first_on_head else continuation
        args, before = [], []
        for i, arg in enumerate(call.args):
            last = i == len(call.args) - 1
            end = after + 1 if last else 1  # `)` and what follows it, or the comma
            text = _arg_text(arg)
            if i == 0:
                newline = not first_on_head
                start = line
            else:
                newline = _width(line + " " + text) + end > limit
                start = continuation if newline else line + " "
            if _width(start + text) + end > limit:
                arg = arg.with_changes(value=self.fit(arg.value, start + _value_prefix(arg), end))
            before.append(self._newline(continuation) if newline else _space(" " if i else ""))
            args.append(arg)
            line = (start + _value_prefix(arg) + self._text(arg.value)).split("\n")[-1] + ("" if last else ",")
        # The whitespace before an argument is the previous one's comma's (the call's own for the first).
        laid = [arg.with_changes(comma=_comma(before[i + 1]) if i + 1 < len(args) else cst.MaybeSentinel.DEFAULT,
                                 whitespace_after_arg=_space("")) for i, arg in enumerate(args)]
        return call.with_changes(whitespace_before_args=before[0], args=laid)

    # -- imports ---------------------------------------------------------------------------------

    def import_from(self, node: cst.ImportFrom) -> cst.ImportFrom:
        """A one-line `from m import a, b, c` that is too long, wrapped in parentheses."""
        self._indents = []  # a top-level statement
        text = _code(node)
        limit = self.style.line_length
        if "\n" in text or isinstance(node.names, cst.ImportStar) or _width(text) <= limit:
            return node
        names = [_code(n.with_changes(comma=cst.MaybeSentinel.DEFAULT)) for n in node.names]
        head = text[: text.index(names[0])] + "("
        inner = self.style.indent
        if self.style.visual:
            continuation, line, separators = " " * len(head), head, []
            for i, name in enumerate(names):
                end = 1
                newline = i > 0 and _width(line + " " + name) + end > limit
                separators.append(self._newline(continuation) if newline else _space(" " if i else ""))
                line = (continuation if newline else line + (" " if i else "")) + name + ","
            aliases = [n.with_changes(comma=cst.MaybeSentinel.DEFAULT if i == len(names) - 1
                                      else cst.Comma(whitespace_after=separators[i + 1]))
                       for i, n in enumerate(node.names)]
            return node.with_changes(names=aliases, lpar=cst.LeftParen(whitespace_after=separators[0]),
                                     rpar=cst.RightParen())
        if _width(inner + ", ".join(names)) <= limit:
            aliases = [n.with_changes(comma=cst.MaybeSentinel.DEFAULT if i == len(names) - 1 else _comma(" "))
                       for i, n in enumerate(node.names)]
            return node.with_changes(names=aliases, lpar=cst.LeftParen(whitespace_after=self._newline(inner)),
                                     rpar=cst.RightParen(whitespace_before=self._newline("")))
        aliases = [n.with_changes(comma=_comma(self._newline("" if i == len(names) - 1 else inner)))
                   for i, n in enumerate(node.names)]
        return node.with_changes(names=aliases, lpar=cst.LeftParen(whitespace_after=self._newline(inner)),
                                 rpar=cst.RightParen())


# -- building blocks ------------------------------------------------------------------------------


def _render(statement: cst.SimpleStatementLine, indents: list[str], indent: str) -> str:
    """The statement's code exactly as it stands in the file, at its block indentation."""
    node: cst.SimpleStatementLine | cst.BaseCompoundStatement = statement.with_changes(leading_lines=[])
    for level in reversed(indents):
        node = cst.If(test=cst.Name("_"), body=cst.IndentedBlock(body=[node], indent=level))
    code = cst.Module(body=[node], default_indent=indent, default_newline="\n").code
    return code.split("\n", len(indents))[-1]


def _replaced(node: _Node, replacements: Mapping[int, cst.CSTNode]) -> _Node:
    """`node` with the nodes whose ids are keys of `replacements` replaced (all in one pass: a
    replacement rebuilds the tree above it, and the ids of the other nodes must still hold)."""

    class _Replace(cst.CSTTransformer):
        def on_leave(self, original, updated):
            return replacements.get(id(original), updated)

    return cast(_Node, node.visit(_Replace()))


def _rebuild(chain: list[cst.Call], k: int, replacement: cst.Call) -> cst.Call:
    node = replacement
    for outer in reversed(chain[:k]):
        node = outer.with_changes(func=node)
    return node


def _separators(call: cst.Call) -> list:
    found = [call.whitespace_before_args]
    for arg in call.args:
        found.append(arg.whitespace_after_arg)
        if isinstance(arg.comma, cst.Comma):
            found += [arg.comma.whitespace_before, arg.comma.whitespace_after]
    return found


def _has_comment(whitespace) -> bool:
    if not isinstance(whitespace, cst.ParenthesizedWhitespace):
        return False
    return whitespace.first_line.comment is not None or any(e.comment is not None for e in whitespace.empty_lines)


def _flat(call: cst.Call) -> cst.Call:
    args = [a.with_changes(comma=_comma(" "), whitespace_after_arg=_space("")) for a in call.args]
    if args:
        args[-1] = args[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return call.with_changes(whitespace_before_args=_space(""), args=args)


def _arg_text(arg: cst.Arg) -> str:
    return _code(arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=_space("")))


def _value_prefix(arg: cst.Arg) -> str:
    """What stands before an argument's value: `name=`, `*`, `**` or nothing."""
    text = _arg_text(arg)
    return text[: len(text) - len(_code(arg.value))]


def _space(text: str) -> cst.SimpleWhitespace:
    return cst.SimpleWhitespace(text)


def _comma(after) -> cst.Comma:
    return cst.Comma(whitespace_before=_space(""),
                     whitespace_after=_space(after) if isinstance(after, str) else after)

