"""The one fix `tf2norm upgrade` makes to pasta (google-pasta 0.2.0), tf_upgrade_v2's source parser.

Since Python 3.9 a subscript with several dimensions, ``y[a:b, c:d]``, parses as
``Subscript(slice=Tuple([Slice, Slice]))``; Python 3.8 and earlier gave ``ExtSlice(dims=[...])``,
which pasta annotates without parentheses. pasta's ``visit_Tuple`` instead opens a parenthesised
scope around the tuple, and its annotator takes every ``(`` it meets there as the tuple's own. When
the first slice's lower bound is parenthesised, ``y[(a+1):(b+2), :]``, the ``(`` of ``(a+1)`` is taken
for the tuple's, ``a+1`` is read as the slice's lower bound, and the ``)`` that follows is not the
``:`` the slice needs: ``AnnotationError: Expected ':' but found ')'``, which tf_upgrade_v2 does not
catch, so ``tf_upgrade_v2 --intree`` stops at that file.

A tuple holding a ``Slice`` can only be a subscript's unparenthesised index (``y[(a:b, c)]`` is a
syntax error), exactly the tuples Python 3.8 parsed as ``ExtSlice``. For those, and only those, the
annotator opens no parenthesised scope and records empty parentheses, as pasta's ``close_scope``
records for any tuple written without them; the printer then writes the tuple as it was read. Every
other node, and every tuple without a slice, is annotated by pasta's own code, so what
tf_upgrade_v2 already converts is converted to the same bytes (tests/test_upgrade.py compares whole
trees). Measured once on 1763 files of Keras 3.15, NumPy, tf_slim and TF 2.21's python/ops
(parse + dump, with and without the patch): the same result on every file pasta 0.2 already
printed back exactly (1713), and one more file read (keras' datasets/cifar10.py); the files pasta
rejects for other reasons (48: ``f"{x=}"``, ...) or prints back altered (1) still are.

``apply()`` patches pasta's ``AstAnnotator`` class in the calling process only: `tf2norm upgrade`
calls it in the subprocess that runs tf_upgrade_v2, never in tf2norm's own process.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterator


def _slices_a_subscript(node: ast.AST) -> bool:
    """True for the tuple of ``y[a:b, c]``: only a subscript's index can hold a Slice."""
    return isinstance(node, ast.Tuple) and any(isinstance(elt, ast.Slice) for elt in node.elts)


@contextlib.contextmanager
def _unparenthesised(node: ast.AST, attr: str | None) -> Iterator[None]:
    from pasta.base import formatting  # type: ignore[import-untyped]

    yield
    # What pasta's TokenGenerator.close_scope records for a node written without parentheses.
    names = (f"{attr}_prefix", f"{attr}_suffix") if attr else ("prefix", "suffix")
    for name in names:
        if formatting.get(node, name) is None:
            formatting.set(node, name, "")


def apply() -> None:
    """Make pasta annotate ``y[(a+1):(b+2), :]`` (and every tuple of slices) as Python 3.8's ExtSlice."""
    from pasta.base import annotate

    original = annotate.AstAnnotator.scope
    if getattr(original, "tf2norm_fix", False):
        return

    def scope(self, node, attr=None, trailing_comma=False, default_parens=False):
        if _slices_a_subscript(node):
            return _unparenthesised(node, attr)
        return original(self, node, attr=attr, trailing_comma=trailing_comma, default_parens=default_parens)

    scope.tf2norm_fix = True  # type: ignore[attr-defined]
    annotate.AstAnnotator.scope = scope
