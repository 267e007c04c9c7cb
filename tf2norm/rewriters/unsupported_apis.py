"""What cannot import or run on TF 2.16+ / Keras 3 and no rewriter migrated -> a finding with its fix
(`tensorflow.contrib.*`, `tf.compat.v1.layers.*`, `tf.compat.v1.nn.rnn_cell.*`; nothing is rewritten).

So that `tf2norm migrate --check` never passes a file that cannot run, every reference the migrated
file still holds to a module path of `tf2norm.unsupported.TABLE` is reported at its place in the
file as it was read, with the table's one-line fix:

* an import of such a path (`import tensorflow.contrib.slim as slim`, `from tensorflow.contrib.seq2seq
  import BasicDecoder`), once, at the import: the import itself fails; the names it binds are not reported
  again. An import inside `try:` with an `except ImportError` (or broader) handler is the program's
  own fallback and is not reported;
* every other use spelled from TensorFlow (`tf.contrib.layers.l2_regularizer`, `tf.compat.v1.layers.dense`,
  a class base `tf.compat.v1.nn.rnn_cell.RNNCell`, an alias assignment `slim = tf.contrib.slim`).

The review runs after every rewriter, on the migrated tree: what a rewriter migrated (a slim import
made `tf_slim`, a TF1 cell replaced, tf.layers' batch normalization converted) is gone from it and is
never reported, whatever rewriters exist. A name a rewriter owns (its `legacy`) and reported itself
in that statement (TF2N301 on a wrapper, TF2N012 on an ambiguous name) is not reported twice.
"""

from __future__ import annotations

import ast
from collections import Counter

import libcst as cst
from libcst.metadata import ExpressionContext, MetadataWrapper

from tf2norm import unsupported
from tf2norm.rewriters import _prefilter
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._names import Resolver, canonical, dotted
from tf2norm.rewriters._names import root as names_root
from tf2norm.rewriters._rewriter import Rewriter

_MESSAGE = "{name}: {why}"
RULES = rules(
    Rule("TF2N720", _MESSAGE, "{fix}"),  # tensorflow.contrib, generic
    Rule("TF2N721", _MESSAGE, "{fix}"),  # tf.contrib.training.HParams
    Rule("TF2N722", _MESSAGE, "{fix}"),  # contrib.layers' regularizers and initializers -> tf_slim
    Rule("TF2N723", _MESSAGE, "{fix}"),  # contrib.slim / contrib.framework -> tf_slim
    Rule("TF2N724", _MESSAGE, "{fix}"),  # contrib.seq2seq
    Rule("TF2N725", _MESSAGE, "{fix}"),  # contrib.rnn / cudnn_rnn cells tf2norm does not migrate
    Rule("TF2N726", _MESSAGE, "{fix}"),  # tf.compat.v1.nn.rnn_cell cells tf2norm does not migrate
    Rule("TF2N727", _MESSAGE, "{fix}"),  # tf.compat.v1.layers other than batch normalization
)
assert {entry.code for entry in unsupported.TABLE} == set(RULES)

_GUARDS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def _import_targets(node: cst.Import | cst.ImportFrom):
    """(alias or module node, the dotted path it imports) of an absolute import."""
    if isinstance(node, cst.ImportFrom):
        if node.relative or node.module is None:
            return
        module = dotted(node.module)
        if isinstance(node.names, cst.ImportStar):
            yield node.module, module
            return
        for alias in node.names:
            yield alias, f"{module}.{dotted(alias.name)}"
    else:
        for alias in node.names:
            yield alias, dotted(alias.name)


def _guarded(names: Resolver, node: cst.CSTNode) -> bool:
    """Is `node` in the body of a `try:` whose handlers catch a failed import?"""
    child = node
    for ancestor in names.ancestors(node):
        if isinstance(ancestor, cst.Try) and child is ancestor.body:
            for handler in ancestor.handlers:
                caught = handler.type
                kinds = [e.value for e in caught.elements] if isinstance(caught, cst.Tuple) else [caught]
                if caught is None or any((dotted(k) or "").split(".")[-1] in _GUARDS for k in kinds if k):
                    return True
        child = ancestor
    return False


def leftovers(names: Resolver) -> list[tuple[cst.CSTNode, str, unsupported.Unsupported, str]]:
    """(node, canonical path, table entry, the path as spelled) of every reference that cannot run."""
    found: list[tuple[cst.CSTNode, str, unsupported.Unsupported, str]] = []
    for node in names.of_kind(cst.Import, cst.ImportFrom):
        if isinstance(node, (cst.Import, cst.ImportFrom)) and not _guarded(names, node):  # (for the types)
            for place, path in _import_targets(node):
                name = canonical(path) if path else None
                entry = unsupported.lookup(name) if name else None
                if name and path and entry is not None:
                    found.append((place, name, entry, path))
    for node, name in names.references(lambda name: unsupported.lookup(name) is not None):
        root = names_root(node)
        # `slim.conv2d` after `import tensorflow.contrib.slim as slim` (or `slim = tf.contrib.slim`):
        # the import (or the alias's value) is the place that fails, and is reported.
        if isinstance(root, cst.Name) and unsupported.lookup(names.canonical(root) or "") is not None:
            continue
        entry = unsupported.lookup(name)
        assert entry is not None  # the predicate above
        found.append((node, name, entry, dotted(node) or name))
    return found


def _key(names: Resolver, node: cst.CSTNode, name: str) -> tuple[str, str]:
    kind = "ref" if names.contexts.get(node) is ExpressionContext.LOAD else "import"
    return kind, name


class UnsupportedApis(Rewriter):
    legacy = unsupported.REACHED
    rules = RULES

    def plan(self, ctx) -> None:
        """Nothing to plan: this rewriter reviews the migrated tree (see the module docstring)."""

    def review(self, ctx, migrated: cst.Module) -> None:
        found = leftovers(ctx.names)
        if not found:
            return
        survivors = None
        if migrated is ctx.module:
            survivors = Counter(_key(ctx.names, node, name) for node, name, _, _ in found)
        elif SHORTCUT:
            survivors = _survivors(ctx, migrated, found)
        if survivors is None:
            after = Resolver(MetadataWrapper(migrated, unsafe_skip_copy=True), ctx.module_paths, ctx.names.project)
            survivors = Counter(_key(after, node, name) for node, name, _, _ in leftovers(after))
        owned = _owned(ctx)
        by_key: dict[tuple[str, str], list] = {}
        for node, name, entry, spelled in found:
            by_key.setdefault(_key(ctx.names, node, name), []).append((node, name, entry, spelled))
        for key, places in by_key.items():
            left = survivors.get(key, 0)
            if left < len(places):
                # Some of them were migrated: those outside the rewriters' edits are the ones left.
                places = sorted(places, key=lambda p: _edited(ctx, p[0]))[:left]
            for node, name, entry, spelled in places:
                if _owns(owned, name) and _reported_nearby(ctx, node):
                    continue
                ctx.report(RULES[entry.code], node, name=spelled, why=entry.why, fix=entry.fix)


#: False: the migrated file is always analysed again when it changed (tests/rewriters/test_unsupported_apis.py
#: compares the two).
SHORTCUT = True


def _survivors(ctx, migrated: cst.Module, found) -> Counter | None:
    """How many of each kind of leftover (`_key`) the migrated file holds, as far as `review` needs
    to know (all of them: at least as many as the file as read held), without analysing it again;
    None where only that analysis can tell.

    A leftover outside every edit (not edited, not inside an edited, consumed or removed node, not
    holding one) is in the migrated file as it was, and means the same while no edited, consumed or
    removed node binds the first name of its chain: the rest of the file is the same nodes, and an
    import the rewriters add binds only a name the file left free (or whose every binding goes,
    which takes an edit of each use of it). Where edits reached leftovers of a kind, Python's own
    tree of the migrated file bounds how many of that kind it may hold (names that may mean, a
    superset of what LibCST resolves: `_prefilter.Summary`); when that bound is the number left
    outside every edit, it is the number. A second Resolver costs about as much as the first.
    """
    changed = set(ctx.edits) | ctx.consumed
    names = ctx.names
    untouched: Counter = Counter()
    reached: set[tuple[str, str]] = set()
    roots: set[str] = set()
    for node, name, _, _ in found:
        key = _key(names, node, name)
        if node in changed or ctx.removed(node) or any(a in changed for a in names.ancestors(node)) \
                or any(d in changed for d in names.descendants(node)):
            reached.add(key)
            continue
        untouched[key] += 1
        root = names_root(node)
        if isinstance(root, cst.Name):
            roots.add(root.value)
    if any(_binds(names, node, roots) for node in (*changed, *ctx._removed_aliases, *ctx._removed_assigns)):
        return None
    if not reached:
        return untouched
    if names.project and ctx.python_tree is not None and names.project.imported_by(ctx.python_tree):
        return None  # as below, known before the migrated file is parsed (the file as read reaches them)
    try:
        tree = ctx.parsed(migrated)
    except (SyntaxError, ValueError, RecursionError):
        return None  # the driver reports it (TF2N009) after the review, as it did with the second analysis
    if names.project and names.project.imported_by(tree):
        return None  # names taken from a project module: only the Resolver follows them
    at_most = _possible(tree, reached)
    if any(at_most[key] > untouched[key] for key in reached):
        return None
    return untouched


def _possible(tree: ast.Module, keys: set[tuple[str, str]]) -> Counter:
    """For each key of `keys`, at most how many leftovers of it `tree` holds (`leftovers`' imports,
    guarded or not, and outermost chains read whose whole name may be the key's)."""
    wanted = {name for _, name in keys}
    prefixes = {".".join(parts[:end]) for parts in (n.split(".") for n in wanted) for end in range(1, len(parts) + 1)}
    summary = _prefilter.Summary(tree, lambda name: canonical(name) in prefixes
                                 or "tensorflow.compat.v1".startswith(name))
    count: Counter = Counter()
    inner: set[int] = set()
    for node in _prefilter.nodes(tree):
        if isinstance(node, ast.Attribute):
            inner.add(id(node.value))
        elif isinstance(node, ast.Import):
            count.update(("import", canonical(alias.name)) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            count.update(("import", canonical(node.module if alias.name == "*" else f"{node.module}.{alias.name}"))
                         for alias in node.names)
    for node in _prefilter.nodes(tree):
        if isinstance(node, (ast.Name, ast.Attribute)) and id(node) not in inner and isinstance(node.ctx, ast.Load):
            count.update(("ref", name) for name in summary.full_names(node) if name in wanted)
    return count


def _binds(names: Resolver, node: cst.CSTNode, identifiers: set[str]) -> bool:
    """Does `node`, or anything in it, bind one of `identifiers` (an import, an assignment target, ...)?"""
    for inner in names.descendants(node):
        if isinstance(inner, cst.ImportAlias):
            bound: cst.BaseExpression = inner.asname.name if inner.asname else inner.name
            bound = names_root(bound)
            if isinstance(bound, cst.Name) and bound.value in identifiers:
                return True
        elif isinstance(inner, cst.Name) and inner.value in identifiers \
                and names.contexts.get(inner) in (ExpressionContext.STORE, ExpressionContext.DEL):
            return True
        elif isinstance(inner, (cst.FunctionDef, cst.ClassDef)) and inner.name.value in identifiers:
            return True
    return False


def _owned(ctx) -> frozenset[str]:
    """The legacy names of every other rewriter (they report what they leave of those)."""
    from tf2norm import rewriters

    return frozenset().union(*(r.legacy for name, r in rewriters.available().items() if r is not REWRITER))


def _owns(owned: frozenset[str], name: str) -> bool:
    """Is `name` a legacy name of a rewriter, or a member of one (`HParams.from_proto`)?"""
    parts = name.split(".")
    return any(".".join(parts[:i]) in owned for i in range(len(parts), 1, -1))


def _edited(ctx, node: cst.CSTNode) -> bool:
    return node in ctx.edits or any(a in ctx.edits for a in ctx.names.ancestors(node))


def _reported_nearby(ctx, node: cst.CSTNode) -> bool:
    """Did a rewriter report on `node` or on something around it within its statement?"""
    if node in ctx.handled:
        return True
    for ancestor in ctx.names.ancestors(node):
        if ancestor in ctx.handled or getattr(ancestor, "name", None) in ctx.handled:  # a class reported by name
            return True
        if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            return False
    return False


REWRITER = UnsupportedApis()
