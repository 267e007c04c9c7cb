"""What an expression means: the qualified name behind `tf.contrib.slim.batch_norm`, `bn`, `slim.x`.

Imports are resolved by LibCST's scope analysis (what `QualifiedNameProvider` computes, asked only
for the names that matter, which is several times faster on large files), so a parameter or local
variable that shadows `tf` and another library's `batch_norm` resolve to something else. On top of that, a name
assigned exactly once from a module path (`slim = tf.contrib.slim`, common in TF1 code) is followed,
which `QualifiedNameProvider` does not do. Only module paths (and arg_scope, `arg_scope =
contrib_framework.arg_scope`) are followed: `bn = slim.batch_norm` is a reference to the legacy
symbol, rewritten where it stands.
"""

from __future__ import annotations

import builtins
import heapq
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import TypeVar, cast

import libcst as cst
from libcst.metadata import (
    Assignment,
    BaseAssignment,
    ExpressionContext,
    ExpressionContextProvider,
    ImportAssignment,
    QualifiedNameSource,
    Scope,
)
from libcst.metadata.expression_context_provider import ExpressionContextVisitor
from libcst.metadata.scope_provider import ScopeVisitor

from tf2norm.rewriters import _visits
from tf2norm.rewriters._scopes import LinearScopeProvider
from tf2norm.rewriters._visits import without_rebuilding

_COMPAT = "tensorflow.compat.v1"
_Node = TypeVar("_Node", bound=cst.CSTNode)


def canonical(qualified: str | None) -> str | None:
    """`tensorflow.compat.v1.X` and `tensorflow.X` name the same TF1 symbol."""
    if qualified is None:
        return None
    # `tf.compat.v1.compat.v1.x` is `tf.compat.v1.x`: what `tf_upgrade_v2` makes of `tf.layers.x` when
    # the file's `tf` is a project module's `tensorflow.compat.v1` (`from .backend import tf`).
    while qualified.startswith(_COMPAT + ".compat.v1"):
        qualified = _COMPAT + qualified[len(_COMPAT) + len(".compat.v1"):]
    if qualified == _COMPAT:
        return "tensorflow"
    if qualified.startswith(_COMPAT + "."):
        return "tensorflow." + qualified[len(_COMPAT) + 1:]
    return qualified


def module_paths(symbols) -> frozenset[str]:
    """Every proper dotted prefix of `symbols`: the module paths an alias assignment may name."""
    paths: set[str] = set()
    for symbol in symbols:
        parts = symbol.split(".")
        paths.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(paths)


def dotted(node: cst.BaseExpression) -> str | None:
    """`a.b.c` as text, or None when the expression is not a plain attribute chain."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def root(node: cst.BaseExpression) -> cst.BaseExpression:
    """`a` of `a.b.c`: the innermost value of an attribute chain (the node itself when it is none)."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node


def parents(module: cst.Module, by_kind: dict[type, list] | None = None) -> dict[cst.CSTNode, cst.CSTNode]:
    """Each node's parent, children in order, parents in the order they are left (as ParentNodeProvider).

    LibCST's provider visits the module and asks each node for its `children` when leaving it,
    both of which rebuild every node; reading the fields each node's visit reads costs a fifth.
    `by_kind`, when given, gets each node's class -> [(its place in the map, the node), ...].
    """
    found: dict[cst.CSTNode, cst.CSTNode] = {}
    stack: list[tuple[cst.CSTNode, list[cst.CSTNode], int]] = [(module, _visits.children(module), 0)]
    while stack:  # depth first, each node left after its children (no recursion: deep expressions)
        node, children, done = stack[-1]
        if done < len(children):
            stack[-1] = (node, children, done + 1)
            child = children[done]
            stack.append((child, _visits.children(child), 0))
        else:
            stack.pop()
            for child in children:
                if by_kind is not None and child not in found:
                    by_kind.setdefault(type(child), []).append((len(found), child))
                found[child] = node
    return found


def _whole_module_visit(provider) -> bool:
    """Does `provider` do all its work in `visit_Module` (LibCST's expression contexts and scopes do)?"""
    return set(provider.get_visitors()) == {"visit_Module"}


_DIRECT = all(_whole_module_visit(p()) for p in (ExpressionContextProvider, LinearScopeProvider))


def metadata(wrapper: cst.MetadataWrapper):
    """(scopes, expression contexts): what `wrapper.resolve` gives for LinearScopeProvider and
    ExpressionContextProvider, without its two extra walks.

    `MetadataWrapper` runs each provider in a batched visit of the whole module that calls the
    provider's `visit_Module` (which walks the module itself) and then visits every node again for
    visitor methods these providers do not have. The providers' own walks do not rebuild the tree
    (`_visits.without_rebuilding`): half their cost.
    """
    if not _DIRECT:  # a LibCST whose providers visit more than the module: its own way
        return wrapper.resolve(LinearScopeProvider), wrapper.resolve(ExpressionContextProvider)
    computed: dict = {}
    with without_rebuilding(ExpressionContextVisitor, ScopeVisitor):
        for provider in (ExpressionContextProvider(), LinearScopeProvider()):  # in dependency order
            provider.metadata = {dependency: computed[dependency]
                                 for dependency in provider.get_inherited_dependencies()}
            provider.visit_Module(wrapper.module)
            provider.metadata = {}
            computed[type(provider)] = MappingProxyType(dict(provider._computed))
    return computed[LinearScopeProvider], computed[ExpressionContextProvider]


class Resolver:
    """Qualified names for expressions of one module (wrapped in a `MetadataWrapper`)."""

    def __init__(self, wrapper: cst.MetadataWrapper, modules: frozenset[str], project=None):
        scopes, self.contexts = metadata(wrapper)
        self.scopes = cast(Mapping[cst.CSTNode, "Scope | None"], scopes)
        self._by_kind: dict[type, list[tuple[int, cst.CSTNode]]] = {}
        self.parents = parents(wrapper.module, self._by_kind)
        self._modules = modules
        #: `_project.Project`: names the file takes from a project module that re-exports TensorFlow.
        self.project = project
        #: The qualified names (as spelled here) that go through a conditional re-export, by their nodes.
        self.ambiguous: dict[cst.CSTNode, object] = {}
        self._cache: dict[cst.CSTNode, str | None] = {}
        self._by_identifier: dict = {}
        self._candidates: dict = {}
        self._children: dict[cst.CSTNode, list] | None = None
        self._outermost_loads: list[cst.Name | cst.Attribute] | None = None
        self._named_loads: list[tuple[cst.CSTNode, str]] | None = None

    def qualified(self, node: cst.CSTNode) -> str | None:
        """The qualified name as spelled (`tensorflow.compat.v1.x` stays as it is), or None."""
        if node not in self._cache:
            self._cache[node] = None  # guards against alias cycles (`a = b; b = a`)
            found = self._resolve(node)
            if found is not None and self.project and not found.startswith("tensorflow"):
                through = self.project.translate(found)
                if isinstance(through, str):
                    found = through
                elif through is not None:  # `_project.Ambiguous`
                    self.ambiguous[node] = through
                    found = None
            self._cache[node] = found
        return self._cache[node]

    def canonical(self, node: cst.CSTNode) -> str | None:
        return canonical(self.qualified(node))

    def _names(self, node: cst.Name):
        scope = self.scopes.get(node)
        if scope is None:
            return set()
        # Every use of one identifier in one scope means the same: ask the scope once per identifier.
        key = (scope, node.value)
        if key not in self._by_identifier:
            self._by_identifier[key] = scope.get_qualified_names_for(node)
        return self._by_identifier[key]

    def _resolve(self, node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.Attribute):
            base = self.qualified(node.value)
            return None if base is None else f"{base}.{node.attr.value}"
        if not isinstance(node, cst.Name):
            return None
        names = self._names(node)
        if names and all(q.source is QualifiedNameSource.IMPORT for q in names):
            found = {q.name for q in names}
            return found.pop() if len(found) == 1 else None
        if names and all(q.source is QualifiedNameSource.BUILTIN for q in names):
            return f"builtins.{node.value}" if hasattr(builtins, node.value) else None
        value = self.alias_value(node)
        if value is None:
            return None
        target = self.qualified(value)
        return target if canonical(target) in self._modules else None

    def candidates(self, node: cst.CSTNode, depth: int = 0) -> set[str]:
        """Every qualified name `node` may have, for a name bound more than once (try/except imports)."""
        if depth > 5:
            return set()
        if isinstance(node, cst.Attribute):
            return {f"{c}.{node.attr.value}" for c in self.candidates(node.value, depth + 1)}
        if not isinstance(node, cst.Name):
            return set()
        scope = self.scopes.get(node)
        # Every use of one identifier in one scope has the same candidates: without this cache a
        # name assigned n times and used n times costs n * n (issue 14, item 7).
        key = (scope, node.value, depth)
        if key not in self._candidates:
            self._candidates[key] = set()  # a cycle (`a = b; b = a`) adds nothing
            found = {q.name for q in self._names(node) if q.source is QualifiedNameSource.IMPORT}
            for assignment in scope[node.value] if scope is not None else ():
                statement = self.assign_of(assignment)
                if statement is not None:
                    found |= self.candidates(statement.value, depth + 1)
            self._candidates[key] = found
        return self._candidates[key]

    def binding(self, node: cst.Name) -> BaseAssignment | None:
        """The one assignment `node` can refer to, or None when there are none or several."""
        scope = self.scopes.get(node)
        if scope is None:
            return None
        assignments = scope[node.value]
        if len(assignments) != 1:
            return None
        (assignment,) = assignments
        return assignment

    def alias_value(self, node: cst.Name) -> cst.BaseExpression | None:
        """`tf.contrib.slim` for a `slim` bound once by `slim = tf.contrib.slim`."""
        assignment = self.binding(node)
        if assignment is None or isinstance(assignment, ImportAssignment):
            return None
        statement = self.assign_of(assignment)
        return None if statement is None else statement.value

    def assign_of(self, assignment) -> cst.Assign | None:
        """The `name = value` statement that makes `assignment`, when it is that simple."""
        if not isinstance(assignment, Assignment) or not isinstance(assignment.node, cst.Name):
            return None
        target = self.parents.get(assignment.node)
        if not isinstance(target, cst.AssignTarget):
            return None
        statement = self.parents.get(target)
        if isinstance(statement, cst.Assign) and len(statement.targets) == 1:
            return statement
        return None

    def is_load(self, node: cst.CSTNode) -> bool:
        return self.contexts.get(node) is ExpressionContext.LOAD

    def outermost_loads(self) -> list[cst.Name | cst.Attribute]:
        """The Name/Attribute chains read (load context) that are not part of a longer chain (`tf.x.y`,
        not its `tf` or `tf.x`), in the order of the expression contexts."""
        if self._outermost_loads is None:
            self._outermost_loads = []
            for node, context in self.contexts.items():
                if context is not ExpressionContext.LOAD or not isinstance(node, (cst.Name, cst.Attribute)):
                    continue
                parent = self.parents.get(node)
                if isinstance(parent, cst.Attribute) and (parent.value is node or parent.attr is node):
                    continue
                self._outermost_loads.append(node)
        return self._outermost_loads

    def of_kind(self, *kinds: type[_Node]) -> list[_Node]:
        """The file's nodes of `kinds`, in the order `for node in parents` meets them.

        Rewriters look for calls, imports, classes or with-blocks among all of a file's nodes; an
        isinstance test of each node against LibCST's abstract classes made that a tenth of the work.
        """
        found = [nodes for kind, nodes in self._by_kind.items() if issubclass(kind, kinds)]
        if len(found) == 1:
            return [cast(_Node, node) for _, node in found[0]]
        return [cast(_Node, node) for _, node in heapq.merge(*found, key=lambda item: item[0])]

    def children(self, node: cst.CSTNode) -> list:
        """`node.children` (unordered) from the parent map: LibCST's property re-visits the node."""
        if self._children is None:
            self._children = {}
            for child, parent in self.parents.items():
                self._children.setdefault(parent, []).append(child)
        return self._children.get(node, [])

    def descendants(self, node: cst.CSTNode, stop: type | tuple[type, ...] = ()) -> Iterator[cst.CSTNode]:
        """`node` and everything below it, not entering nodes of the types in `stop` (below `node`)."""
        stack = [node]
        while stack:
            current = stack.pop()
            yield current
            stack.extend(c for c in self.children(current) if not isinstance(c, stop))

    def ancestors(self, node: cst.CSTNode) -> Iterator[cst.CSTNode]:
        parent = self.parents.get(node)
        while parent is not None:
            yield parent
            parent = self.parents.get(parent)

    def references(self, predicate):
        """Outermost Name/Attribute chains in load context whose canonical name satisfies predicate.

        Yields (node, canonical name). Inner parts of a chain (`tf` in `tf.contrib.x`) are skipped.
        Every rewriter asks, several times per file: the chains that have a name are found once.
        """
        if self._named_loads is None:
            self._named_loads = [(node, name) for node in self.outermost_loads()
                                 if (name := self.canonical(node)) is not None]
        for node, name in self._named_loads:
            if predicate(name):
                yield node, name

    def bound_value(self, node: cst.BaseExpression) -> cst.BaseExpression:
        """The value a name was assigned once (`x = value`), else the expression itself."""
        if isinstance(node, cst.Name):
            assignment = self.binding(node)
            statement = None if assignment is None else self.assign_of(assignment)
            if statement is not None:
                return statement.value
        return node

    def makes_tensor(self, node: cst.BaseExpression) -> bool:
        """True when `node` is evidently a TF tensor: a TensorFlow call, or a name assigned one once."""
        node = self.bound_value(node)
        if isinstance(node, cst.Call):
            name = self.canonical(node.func)
            return name is not None and name.startswith("tensorflow.")
        return False
