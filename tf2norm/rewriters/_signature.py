"""Call arguments bound to a legacy signature, so rewriters map argument names, never positions."""

from __future__ import annotations

import ast
import dataclasses

import libcst as cst

_EMPTY = cst.Module([])


def code(node: cst.CSTNode) -> str:
    return _EMPTY.code_for_node(node)


@dataclasses.dataclass
class Bound:
    """`call`'s arguments by parameter name: name -> index into `call.args`."""

    call: cst.Call
    index: dict[str, int]

    def __contains__(self, name: str) -> bool:
        return name in self.index

    def value(self, name: str) -> cst.BaseExpression | None:
        return self.call.args[self.index[name]].value if name in self.index else None


class Mismatch(Exception):
    """The call cannot be bound: `code` is TF2N010 (star-args) or TF2N011 (not the signature)."""

    def __init__(self, code: str, reason: str = ""):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def bind(call: cst.Call, params: tuple[str, ...], required: int = 0) -> Bound:
    """Bind `call` to `params` (positional-or-keyword, the first `required` of them required)."""
    index: dict[str, int] = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            raise Mismatch("TF2N010")
        if arg.keyword is None:
            if i >= len(params):
                raise Mismatch("TF2N011", f"{i + 1} positional arguments, at most {len(params)}")
            name = params[i]
        else:
            name = arg.keyword.value
            if name not in params:
                raise Mismatch("TF2N011", f"unknown argument {name!r}")
        if name in index:
            raise Mismatch("TF2N011", f"{name!r} given twice")
        index[name] = i
    for name in params[:required]:
        if name not in index:
            raise Mismatch("TF2N011", f"missing {name!r}")
    return Bound(call, index)


def literal(node: cst.BaseExpression | None, default=None):
    """The Python value of a literal expression (`None`, `0.9`, `'NCHW'`, `True`), else `default`."""
    if node is None:
        return default
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return {"None": None, "True": True, "False": False}[node.value]
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString, cst.Integer, cst.Float, cst.UnaryOperation)):
        try:
            return ast.literal_eval(code(node))
        except (ValueError, SyntaxError):
            return default
    return default


_MISSING = object()


def is_literal(node: cst.BaseExpression | None, *values) -> bool:
    """True when `node` is a literal equal to one of `values` (bools and numbers are told apart)."""
    value = literal(node, _MISSING)
    return value is not _MISSING and any(type(value) is type(v) and value == v for v in values)
