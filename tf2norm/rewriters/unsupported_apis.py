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

from collections import Counter

import libcst as cst
from libcst.metadata import ExpressionContext, MetadataWrapper

from tf2norm import unsupported
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._names import Resolver, canonical, dotted
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
    for node in names.parents:
        if isinstance(node, (cst.Import, cst.ImportFrom)) and not _guarded(names, node):
            for place, path in _import_targets(node):
                name = canonical(path) if path else None
                entry = unsupported.lookup(name) if name else None
                if name and path and entry is not None:
                    found.append((place, name, entry, path))
    for node, name in names.references(lambda name: unsupported.lookup(name) is not None):
        root = node
        while isinstance(root, cst.Attribute):
            root = root.value
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
        if migrated is ctx.module:
            survivors = Counter(_key(ctx.names, node, name) for node, name, _, _ in found)
        else:
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
