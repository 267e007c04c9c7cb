"""Which files LibCST must read: a test on Python's own tree (stdlib `ast`) that passes every file a
rewriter could change or report, and few others.

LibCST's parse and scope analysis cost tens of milliseconds per file, most of a run; Python's
parser, which the driver runs anyway, costs about one. Real TF1 code names `tf.get_variable`,
`tf.compat.v1` and `dense` in most files, and most such files hold nothing a rewriter acts on.

Every rewriter acts on what a name means (its qualified name, from imports, through aliases) and
nothing else, with one exception (graph_programs' TF1 dimensions, matched by shape below). So this
module computes, for each identifier, every qualified name any binding of it in any scope could give
(imports; `x = <dotted name>` aliases, followed to a fixed point), ignoring scopes and shadowing:
a superset of what LibCST's scope analysis resolves (`_names.Resolver.qualified` and `candidates`).
A file goes to LibCST when one dotted name of it (any prefix of a chain, any import) may mean:

* a name a rewriter acts on (its `legacy`; arg_scope functions),
* a path of `tf2norm.unsupported.TABLE` (reported by unsupported_apis wherever it is),
* a module that a `from ... import *` reaches legacy names through (TF2N013),
* for graph_programs: a TF1-only summary function, or `tf.Variable` or a TF1 summary TF 2 kept in
  a module that names TF1 graph code (`GRAPH_CODE`),

or when it holds a TF1 dimension (`x.shape[i].value`, `d.value` for `d` over a shape), which
graph_programs rewrites in any file it reads. tests/rewriters/test_prefilter.py runs every fixture
through both paths and requires the same bytes and findings.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict, deque
from collections.abc import Callable, Iterable

_COMPAT = "tensorflow.compat.v1"


def walk(tree: ast.AST) -> Iterable[ast.AST]:
    """`ast.walk(tree)`, the same nodes in the same order, for about a quarter less (no generator per
    node for its fields and children): the name filter walks every file that mentions a legacy name."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        for field in node._fields:
            value = getattr(node, field, None)
            if isinstance(value, ast.AST):
                todo.append(value)
            elif isinstance(value, list):
                todo.extend(item for item in value if isinstance(item, ast.AST))
        yield node


@functools.lru_cache(maxsize=2)
def nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """`walk(tree)` as a tuple, kept for the last two trees (ast nodes hash by identity): Python's parse
    of the file being migrated, as read (the legacy-word test, the project-import test and the name
    filter go through it) and as migrated (the project-import test and the review's bound). Going
    through the tuple again costs a sixth of a walk (4 against 27 ms on a 29,000-node file); nothing
    changes these trees after parsing."""
    return tuple(walk(tree))


def _canonical(name: str) -> str:
    if name == _COMPAT:
        return "tensorflow"
    if name.startswith(_COMPAT + "."):
        return "tensorflow." + name[len(_COMPAT) + 1:]
    return name


def attribute_chain(node: ast.AST) -> list[str] | None:
    """['a', 'b', 'c'] for `a.b.c`, None when the expression is not a plain attribute chain."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _is_shape(node: ast.AST) -> bool:
    """`x.shape`, `x.dims`, `x.get_shape()`, or a slice of one (graph_programs' `_is_shape`, on ast)."""
    if isinstance(node, ast.Subscript):
        index = node.slice
        elements = index.elts if isinstance(index, ast.Tuple) else [index]
        return all(isinstance(e, ast.Slice) for e in elements) and _is_shape(node.value)
    if isinstance(node, ast.Attribute):
        return node.attr in ("shape", "dims")
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get_shape"
            and not node.args and not node.keywords)


def _may_be_dimension(node: ast.AST, shape_loop_names: set[str]) -> bool:
    """`x.shape[i]` or a name that some `for` loops over a shape (graph_programs' `_is_dimension`)."""
    if isinstance(node, ast.Subscript):
        return not isinstance(node.slice, ast.Slice) and _is_shape(node.value)
    return isinstance(node, ast.Name) and node.id in shape_loop_names


class Summary:
    """The dotted names a module's code may mean, and whether it holds a TF1 dimension."""

    def __init__(self, tree: ast.AST, keep: Callable[[str], bool]):
        """`keep(name)`: may a name that starts with `name.` matter? Only such names are followed
        further (through attributes and aliases), which bounds the work (`x = x.parent` in a loop)."""
        self._keep = keep
        bound: dict[str, set[str]] = defaultdict(set)
        aliases: list[tuple[str, list[str]]] = []
        chains: list[list[str]] = []
        self.star_modules: set[str] = set()
        imported: set[str] = set()
        shape_loops: set[str] = set()
        values: list[ast.AST] = []
        for node in nodes(tree):
            if isinstance(node, ast.Attribute):
                if node.attr == "value":
                    values.append(node.value)
                chain = attribute_chain(node)
                if chain is not None:
                    chains.append(chain)
            elif isinstance(node, ast.Name):
                chains.append([node.id])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    imported.add(alias.name)
                    if alias.asname:
                        if keep(alias.name):
                            bound[alias.asname].add(alias.name)
                    else:
                        root = alias.name.split(".")[0]
                        if keep(root):
                            bound[root].add(root)
            elif isinstance(node, ast.ImportFrom):
                if node.level or not node.module:
                    continue  # relative: never a name of an installed library
                for alias in node.names:
                    if alias.name == "*":
                        self.star_modules.add(node.module)
                        imported.add(node.module)
                        continue
                    imported.add(f"{node.module}.{alias.name}")
                    if keep(f"{node.module}.{alias.name}"):
                        bound[alias.asname or alias.name].add(f"{node.module}.{alias.name}")
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                value = attribute_chain(node.value) if node.value is not None else None
                if value is not None:
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    aliases += [(t.id, value) for t in targets if isinstance(t, ast.Name)]
            elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
                if isinstance(node.target, ast.Name) and _is_shape(node.iter):
                    shape_loops.add(node.target.id)
        while True:  # aliases of aliases: to a fixed point (sets only grow, over finitely many names)
            grown = False
            for target, value in aliases:
                found = {name for name in self._expand(bound, value) if keep(name)}
                if not found <= bound[target]:
                    bound[target] |= found
                    grown = True
            if not grown:
                break
        names = set(imported)
        for chain in chains:
            names |= self._expand(bound, chain)
        self._bound = bound
        #: The qualified names as spelled (`tensorflow.compat.v1.x` stays so), and canonical.
        self.spelled = frozenset(names)
        self.names = frozenset(_canonical(n) for n in names)
        self.has_dimension = any(_may_be_dimension(v, shape_loops) for v in values)

    def full_names(self, node: ast.AST) -> set[str]:
        """The canonical names the whole chain `node` may have (not its prefixes)."""
        chain = attribute_chain(node)
        found = set()
        for root in self._bound.get(chain[0], ()) if chain else ():
            name = root
            for part in chain[1:]:  # type: ignore[index]
                if not self._keep(name):
                    break
                name = f"{name}.{part}"
            else:
                found.add(_canonical(name))
        return found

    def means(self, node: ast.AST) -> set[str]:
        """The canonical names the chain `node` (and each of its prefixes) may have."""
        chain = attribute_chain(node)
        return set() if chain is None else {_canonical(n) for n in self._expand(self._bound, chain)}

    def _expand(self, bound: dict[str, set[str]], chain: list[str]) -> set[str]:
        """Every qualified name `chain` (and each of its prefixes) may have, up to the first that
        cannot matter (kept: a longer name starting with it cannot matter either)."""
        roots = bound.get(chain[0])
        if not roots:
            return set()
        found = set()
        for root in roots:
            name = root
            found.add(name)
            for part in chain[1:]:
                if not self._keep(name):
                    break
                name = f"{name}.{part}"
                found.add(name)
        return found


def _last_identifier(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _is_main_guard(statement: ast.stmt) -> bool:
    """`if __name__ == "__main__":` (graph_programs' `_is_main_guard`, on ast)."""
    if not isinstance(statement, ast.If) or not isinstance(statement.test, ast.Compare):
        return False
    test = statement.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s for s in sides if isinstance(s, ast.Name) and s.id == "__name__"]
    strings = [s for s in sides if isinstance(s, ast.Constant) and s.value == "__main__"]
    return len(names) == 1 and len(strings) == 1


def _as_default(item: ast.withitem) -> bool:
    call = item.context_expr
    return isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "as_default"


class GraphMode:
    """Whether graph_programs' graph-mode step (`_graph_mode`: graph mode at a program's entry, TF2N701
    in a library) may act on a module, decided on Python's tree. That step acts on the references to
    `builders` outside every graph of the module's own (`with ....as_default():`, or the builder's call
    given `graph=`) and on `.save(...)`/`.restore(...)` calls, outside every such graph, of a `saver`
    built inside one; at an entry (a top-level `if __name__ == "__main__":` or top-level call of
    `entry_call`) on any of them, in a library on a builder that runs at import (outside every function
    and lambda) or such a saver call. The same rules on the same syntax, with names that may mean
    (`Summary.means`) instead of names that do: a superset.
    """

    def __init__(self, builders: frozenset[str], saver: str, entry_call: str):
        self.builders = builders
        self.saver = saver
        self.entry_call = entry_call

    def may_act(self, tree: ast.AST, summary: Summary) -> bool:
        body = tree.body if isinstance(tree, ast.Module) else []
        entry = any(_is_main_guard(statement) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
            and self.entry_call in summary.means(statement.value.func)) for statement in body)
        builders_at_import = builders = False
        savers: set[str | None] = set()
        saver_calls: list[str | None] = []
        # (node, inside a function or lambda, inside a graph of the module's own, a builder's call given graph=)
        stack: list[tuple[ast.AST, bool, bool, bool]] = [(tree, False, False, False)]
        while stack:
            node, in_function, in_graph, given_graph = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                in_function = True
            elif isinstance(node, (ast.With, ast.AsyncWith)) and any(_as_default(i) for i in node.items):
                in_graph = True  # its items too: LibCST's ancestors of them include the `with`
            if isinstance(node, (ast.Name, ast.Attribute)) and not (in_graph or given_graph) \
                    and not self.builders.isdisjoint(summary.means(node)):
                builders = True
                builders_at_import = builders_at_import or not in_function
            if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                call = node.value
                if len(targets) == 1 and self.saver in summary.means(call.func) \
                        and (in_graph or any(k.arg == "graph" for k in call.keywords)):
                    savers.add(_last_identifier(targets[0]))
            if isinstance(node, ast.Call) and not in_graph and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("restore", "save"):
                saver_calls.append(_last_identifier(node.func.value))
            func = node.func if isinstance(node, ast.Call) and any(k.arg == "graph" for k in node.keywords) else None
            stack.extend((child, in_function, in_graph, child is func) for child in ast.iter_child_nodes(node))
        savers.discard(None)
        saver_runs = any(name in savers for name in saver_calls)
        if not builders and not saver_runs:
            return False
        return entry or builders_at_import or saver_runs


class Filter:
    """`needs_libcst(tree)`: may any rewriter change or report something in this module?"""

    def __init__(self, legacy: Iterable[str], acts_on: Callable[[str], bool], graph_code: frozenset[str],
                 in_graph_code: Callable[[str], bool], *, star_legacy: Iterable[str] | None = None,
                 spelled_acts_on: Callable[[str], bool] | None = None,
                 spelled_in_graph_code: Callable[[str], bool] | None = None, graph_mode: GraphMode | None = None):
        """`legacy`: the legacy names that make a rewriter act wherever they are (canonical);
        `acts_on(name)`: other such names; `in_graph_code(name)`: names graph_programs acts on only in
        a module that also names one of `graph_code`. `spelled_acts_on` and `spelled_in_graph_code`:
        the same for names as spelled (`tf.compat.v1.summary.scalar` is not `tf.summary.scalar` there).
        `graph_mode`: names that make a rewriter act only in the module shapes `GraphMode` tests.
        `star_legacy`: every legacy name (a star import of their modules is reported), default `legacy`."""
        self._legacy = frozenset(legacy)
        self._star_modules = frozenset(n.rsplit(".", 1)[0] for n in (self._legacy if star_legacy is None
                                                                       else star_legacy))
        self._acts_on = acts_on
        self._graph_code = graph_code
        self._in_graph_code = in_graph_code
        self._spelled_acts_on = spelled_acts_on or (lambda name: False)
        self._spelled_in_graph_code = spelled_in_graph_code or (lambda name: False)
        self._graph_mode = graph_mode
        self._prefixes: frozenset[str] = frozenset()

    def follow(self, targets: Iterable[str]) -> None:
        """Names (canonical) that may matter besides `legacy` and `graph_code`: every name that
        `acts_on` or `in_graph_code` accepts starts with one of them or is one."""
        paths: set[str] = set()
        graph_mode = (*self._graph_mode.builders, self._graph_mode.entry_call) if self._graph_mode else ()
        for name in {*self._legacy, *self._graph_code, *graph_mode, *targets}:
            parts = name.split(".")
            paths.update(".".join(parts[:end]) for end in range(1, len(parts) + 1))
        self._prefixes = frozenset(paths)

    def _keep(self, name: str) -> bool:
        return _canonical(name) in self._prefixes or _COMPAT.startswith(name)

    def needs_libcst(self, tree: ast.AST) -> bool:
        summary = Summary(tree, self._keep)
        if summary.has_dimension:
            return True
        if any(_canonical(m) in self._star_modules for m in summary.star_modules):
            return True
        names = summary.names
        if not names.isdisjoint(self._legacy):
            return True
        if any(self._acts_on(n) for n in names) or any(self._spelled_acts_on(n) for n in summary.spelled):
            return True
        if not names.isdisjoint(self._graph_code) and (
                any(self._in_graph_code(n) for n in names) or any(self._spelled_in_graph_code(n)
                                                                   for n in summary.spelled)):
            return True
        graph_mode = self._graph_mode
        return graph_mode is not None and not names.isdisjoint(graph_mode.builders) \
            and graph_mode.may_act(tree, summary)
