"""The TF1 RNN cell classes hand-written cells derive from, and following a class to them.

Shared by the rewriters of hand-written cells (`hand_rolled_layer_norm_gru`, `hand_rolled_bn_lstm`):
a user class is a TF1 cell when one of its bases is one of these classes, however imported, or a
class of the same file that is one.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ImportAssignment

from tf2norm.rewriters._names import canonical

#: Modules TF1 code reaches the core cells through (`tensorflow.compat.v1.` spellings fold onto these).
MODULES = (
    "tensorflow.nn.rnn_cell",
    "tensorflow.contrib.rnn",
    "tensorflow.python.ops.rnn_cell_impl",
    "tensorflow.python.ops.rnn_cell",
    "tensorflow.contrib.rnn.python.ops.core_rnn_cell",
    "tensorflow.contrib.rnn.python.ops.core_rnn_cell_impl",
)
#: The TF1 classes a hand-rolled RNN cell derives from.
BASES = frozenset(f"{m}.{c}" for m in MODULES for c in ("RNNCell", "LayerRNNCell", "GRUCell"))
# How many classes of the file are followed from a class to its TF1 base.
_MAX_DEPTH = 5


def possible_bases(ctx, node) -> set[str]:
    """The TF1 cell classes a name bound more than once may be."""
    return {c for c in map(canonical, ctx.names.candidates(node)) if c in BASES}


def base_of(ctx, base: cst.BaseExpression, depth: int = 0) -> str | None:
    """The TF1 cell class `base` names (directly or through a class of this file), else None."""
    name = ctx.names.canonical(base)
    if name in BASES:
        return name
    if name is None:
        candidates = possible_bases(ctx, base)
        if candidates:
            return " or ".join(sorted(candidates))
    if depth >= _MAX_DEPTH or not isinstance(base, cst.Name):
        return None
    assignment = ctx.names.binding(base)
    # Only a class statement of this file can be followed: imports, builtins (`object`) and other
    # assignments have no ClassDef node.
    if assignment is None or isinstance(assignment, ImportAssignment) \
            or not isinstance(getattr(assignment, "node", None), cst.ClassDef):
        return None
    for arg in assignment.node.bases:
        found = base_of(ctx, arg.value, depth + 1)
        if found is not None:
            return found
    return None


def keep_bases(ctx, classdef: cst.ClassDef, depth: int = 0) -> None:
    """Marks the bases of `classdef`, and of the classes of this file it derives from, as handled: a
    rewriter that reports a class as left unchanged keeps tf1_rnn_cells from rewriting its TF1 base."""
    for arg in classdef.bases:
        ctx.handled.add(arg.value)
        if depth < _MAX_DEPTH and isinstance(arg.value, cst.Name):
            assignment = ctx.names.binding(arg.value)
            node = getattr(assignment, "node", None)
            if not isinstance(assignment, ImportAssignment) and isinstance(node, cst.ClassDef):
                keep_bases(ctx, node, depth + 1)
