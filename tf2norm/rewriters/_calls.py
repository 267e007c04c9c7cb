"""Building replacement calls that keep the layout (line breaks, comments) of the call they replace."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

_NO_SPACE = cst.SimpleWhitespace("")


def keyword(name: str, value: cst.BaseExpression, like: cst.Arg | None = None) -> cst.Arg:
    """`name=value`, spaced around `=` like `like` when given (PEP 8's `name=value` otherwise)."""
    if like is not None and like.keyword is not None:
        return cst.Arg(value=value, keyword=cst.Name(name), equal=like.equal)
    return cst.Arg(value=value, keyword=cst.Name(name),
                   equal=cst.AssignEqual(whitespace_before=_NO_SPACE, whitespace_after=_NO_SPACE))


def positional(value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value=value)


def call(func: cst.BaseExpression, *args: cst.Arg) -> cst.Call:
    """A one-line call `func(a, b=c)` (`(lambda t: t)(a)` when func needs parentheses)."""
    if not isinstance(func, (cst.Name, cst.Attribute, cst.Call, cst.Subscript)) and not func.lpar:
        func = func.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
    spaced = [a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))) for a in args[:-1]]
    return cst.Call(func=func, args=[*spaced, *args[-1:]])


def relaid(original: cst.Call, items: Sequence[tuple[cst.Arg, int | None]]) -> list[cst.Arg]:
    """Arguments for a call replacing `original`, laid out like it.

    `items` are (argument, index of the original argument it stands in for, or None). An argument
    that keeps its original's place also keeps the comma and line break (and comment) after it; the
    last one takes the original's closing layout (trailing comma, line break before `)`).
    """
    args = original.args
    separator = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    breaks = [a.comma.whitespace_after for a in args[:-1] if isinstance(a.comma, cst.Comma)]
    if len(args) > 1 and len(breaks) == len(args) - 1 \
            and all(isinstance(b, cst.ParenthesizedWhitespace) for b in breaks):
        # One argument per line: new arguments get a line of their own too.
        assert isinstance(args[0].comma, cst.Comma)
        separator = args[0].comma.with_changes(
            whitespace_after=breaks[0].with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[]))
    last = len(args) - 1
    out = []
    for position, (arg, source) in enumerate(items):
        if position == len(items) - 1:
            tail = args[last] if args else None
            arg = arg.with_changes(comma=tail.comma if tail else cst.MaybeSentinel.DEFAULT,
                                   whitespace_after_arg=tail.whitespace_after_arg if tail else _NO_SPACE)
        elif source is not None and source != last and isinstance(args[source].comma, cst.Comma):
            arg = arg.with_changes(comma=args[source].comma, whitespace_after_arg=_NO_SPACE)
        else:
            arg = arg.with_changes(comma=separator, whitespace_after_arg=_NO_SPACE)
        out.append(arg)
    return out


def kept_in_place(original: cst.Call, sources: set[int]) -> set[int]:
    """Indices of `original.args` whose comma (and its comments) `relaid` keeps, given the sources used."""
    last = len(original.args) - 1
    return {i for i in sources if i != last} | ({last} if original.args else set())
