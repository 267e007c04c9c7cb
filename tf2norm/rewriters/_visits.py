"""LibCST's scope and expression-context visits, without rebuilding the tree they read.

`CSTNode.visit` rebuilds every node from its visited children even for a `CSTVisitor`, which cannot
change them (LibCST's own comment: "TODO: provide traversal where children are not replaced"), and
looks four methods up by name for each node and two for each of its fields, nearly all of them
LibCST's no-op stubs (`mark_no_op`). The metadata `Resolver` needs is two such visits of the whole
file, the largest cost of migrating a file that changes. Inside `without_rebuilding(kinds)`, a
visitor of one of `kinds` makes exactly the calls of its own methods that LibCST would make, in the
same order, on the same nodes, and nothing else; every other visitor and transformer, and every node
whose children this cannot read from LibCST's own code (`child_fields`), go LibCST's way.
tests/rewriters/test_visits.py compares what both ways compute on every fixture.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

import libcst as cst
from libcst import CSTVisitor, MaybeSentinel
from libcst.metadata import scope_provider

_LIBCST_VISIT = cst.CSTNode.visit
_Hook = Callable[[CSTVisitor, cst.CSTNode], object] | None
#: For a visitor class and a node class: (visit, ((field, enter, exit), ...), leave), or None where
#: the node's children are not known (LibCST visits it).
_Plan = tuple[_Hook, tuple[tuple[str, _Hook, _Hook], ...], _Hook] | None
_PLANS: dict[tuple[type, type], _Plan] = {}
_FAST: set[type] = set()


# LibCST's helpers that visit one field of a node at once, in the order the node's code calls them.
_EAGER_VISITS = frozenset({"visit_required", "visit_optional", "visit_sentinel", "visit_sequence",
                           "visit_body_sequence"})
_CHILD_FIELDS: dict[type[cst.CSTNode], tuple[str, ...] | None] = {}


def child_fields(kind: type[cst.CSTNode]) -> tuple[str, ...] | None:
    """The fields `kind._visit_and_replace_children` visits, in its order; () for a leaf (`return self`).

    Read from LibCST's own code, so the order is exactly `node.children`'s. None when that code is
    anything but one constructor call whose arguments are `self.f` or `visit_x(self, "f", self.f,
    visitor)` (a conditional, a lazy iterable, a LibCST that differs): then `node.children` is asked.
    """
    if kind not in _CHILD_FIELDS:
        _CHILD_FIELDS[kind] = None
        try:
            code = ast.parse(textwrap.dedent(inspect.getsource(kind._visit_and_replace_children))).body[0]
        except (OSError, TypeError, SyntaxError, IndexError):
            return None
        body = [s for s in getattr(code, "body", ())
                if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]  # a docstring
        if len(body) != 1 or not isinstance(body[0], ast.Return):
            return None
        returned = body[0].value
        if isinstance(returned, ast.Name) and returned.id == "self":
            _CHILD_FIELDS[kind] = ()
        elif isinstance(returned, ast.Call) and not returned.args:
            fields = []
            for keyword in returned.keywords:
                value = keyword.value
                if _is_self_field(value, keyword.arg):
                    continue  # passed on unvisited
                if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                        and value.func.id in _EAGER_VISITS and len(value.args) == 4 and not value.keywords
                        and _is_self(value.args[0]) and isinstance(value.args[1], ast.Constant)
                        and value.args[1].value == keyword.arg and _is_self_field(value.args[2], keyword.arg)):
                    return None
                fields.append(cast(str, keyword.arg))
            _CHILD_FIELDS[kind] = tuple(fields)
    return _CHILD_FIELDS[kind]


def _is_self(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "self"


def _is_self_field(node: ast.expr, field: str | None) -> bool:
    return isinstance(node, ast.Attribute) and _is_self(node.value) and node.attr == field


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """`node.children` (in order) without LibCST's visit, which rebuilds the node."""
    fields = child_fields(type(node))
    if fields is None:
        return list(node.children)
    children: list[cst.CSTNode] = []
    for field in fields:
        value = getattr(node, field)
        # A visited field holds a node, a sequence of nodes, None or MaybeSentinel (as in `_visit`):
        # `isinstance(value, cst.CSTNode)` asks an abstract class, several times slower.
        if type(value) is tuple or type(value) is list:
            children.extend(value)
        elif value is not None and not isinstance(value, MaybeSentinel):
            children.append(value)
    return children


def _hook(kind: type, name: str) -> _Hook:
    """`kind`'s method `name`, or None when it has none or it is one of LibCST's no-op stubs."""
    method = getattr(kind, name, None)
    return None if method is None or getattr(method, "_is_no_op", False) else method


def _generic(kind: type, dispatcher: str) -> bool:
    """Does `kind` dispatch with LibCST's own `dispatcher` (`on_visit`, ...), by method name?"""
    return getattr(kind, dispatcher) is getattr(CSTVisitor, dispatcher)


def _attribute_hook(kind: type, dispatcher: str, prefix: str, node_kind: type, field: str) -> _Hook:
    if not _generic(kind, dispatcher):
        method = getattr(kind, dispatcher)
        return lambda visitor, node: method(visitor, node, field)
    return _hook(kind, f"{prefix}_{node_kind.__name__}_{field}")


# LibCST's ScopeVisitor.on_leave, as this mirrors it (`_scope_leave`); another LibCST's is called as it is.
_SCOPE_LEAVE = """\
    def on_leave(self, original_node: cst.CSTNode) -> None:
        self.provider.set_metadata(original_node, self.scope)
        if isinstance(original_node, _ASSIGNMENT_LIKE_NODES):
            self.scope._assignment_count += 1
        super().on_leave(original_node)
"""


def _mirrors_scope_leave() -> bool:
    try:
        return inspect.getsource(scope_provider.ScopeVisitor.on_leave) == _SCOPE_LEAVE
    except (OSError, TypeError, AttributeError):
        return False


_SCOPE_LEAVE_MIRRORED = _mirrors_scope_leave()


def _scope_leave(node_kind: type, leave_node: _Hook) -> _Hook:
    """ScopeVisitor.on_leave for nodes of `node_kind`: its isinstance test of every node against 18
    abstract classes (a third of the scope analysis) is made once per node class."""
    counts = issubclass(node_kind, scope_provider._ASSIGNMENT_LIKE_NODES)

    def leave(visitor, node):
        visitor.provider.set_metadata(node, visitor.scope)
        if counts:
            visitor.scope._assignment_count += 1
        if leave_node is not None:
            leave_node(visitor, node)

    return leave


def _plan(kind: type[CSTVisitor], node_kind: type) -> _Plan:
    fields = child_fields(node_kind)
    if fields is None:
        return None
    visit = kind.on_visit if not _generic(kind, "on_visit") else _hook(kind, f"visit_{node_kind.__name__}")
    leave = kind.on_leave if not _generic(kind, "on_leave") else _hook(kind, f"leave_{node_kind.__name__}")
    if kind.on_leave is scope_provider.ScopeVisitor.on_leave and _SCOPE_LEAVE_MIRRORED:
        leave = _scope_leave(node_kind, _hook(kind, f"leave_{node_kind.__name__}"))
    return visit, tuple((field, _attribute_hook(kind, "on_visit_attribute", "visit", node_kind, field),
                         _attribute_hook(kind, "on_leave_attribute", "leave", node_kind, field))
                        for field in fields), leave


def _visit(node: cst.CSTNode, visitor):
    kind = type(visitor)
    if kind not in _FAST:
        return _LIBCST_VISIT(node, visitor)
    key = (kind, type(node))
    if key not in _PLANS:
        _PLANS[key] = _plan(*key)
    plan = _PLANS[key]
    if plan is None:
        return _LIBCST_VISIT(node, visitor)
    visit, fields, leave = plan
    # LibCST's on_visit: the children are visited unless the visit method returned False.
    if visit is None or visit(visitor, node) is not False:
        for field, enter, exit in fields:
            if enter is not None:
                enter(visitor, node)
            value = getattr(node, field)
            if type(value) is tuple or type(value) is list:
                for child in value:
                    child.visit(visitor)
            elif value is not None and not isinstance(value, MaybeSentinel):
                value.visit(visitor)
            if exit is not None:
                exit(visitor, node)
    if leave is not None:
        leave(visitor, node)
    return node


@contextmanager
def without_rebuilding(*kinds: type) -> Iterator[None]:
    """While inside, visitors of exactly these classes visit without LibCST's rebuilding."""
    if any(not issubclass(kind, CSTVisitor) for kind in kinds):
        raise TypeError("only a CSTVisitor leaves the tree as it is")
    added = set(kinds) - _FAST
    outermost = cst.CSTNode.visit is _LIBCST_VISIT
    _FAST.update(added)
    if outermost:
        cst.CSTNode.visit = _visit  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        _FAST.difference_update(added)
        if outermost:
            cst.CSTNode.visit = _LIBCST_VISIT  # type: ignore[method-assign]
