"""Hand-written TF1 layer-norm GRU cells (`class LNGRUCell(tf.nn.rnn_cell.RNNCell)`) -> reported, pointing to
`tf2norm.replacements.LayerNormGRUCell` and its checkpoint converter; never rewritten.

TF 1.x had no layer-norm GRU, so there is no library symbol to follow: users wrote the class
themselves, usually copying contrib's LayerNormBasicLSTMCell recipe onto GRUCell. A rewriter cannot
check the math of a hand-written class by its name, so this one only finds such classes and says
where the verified replacement is; the class and its uses stay as they are (in both targets).

Found: a class definition whose name, lower-cased with `_` removed, is `layernormgrucell`,
`lngrucell`, `layernormalizedgrucell` (`layernormalization`, `layernormalised`, ... too), with or
without `cell`, a trailing version (`v2`) or the norm after the GRU (`grucellln`, `grulayernorm`), and
whose base is TF1's `RNNCell`, `LayerRNNCell` or `GRUCell` however imported (`tf.nn.rnn_cell`,
`tf.compat.v1.nn.rnn_cell`, `tf.contrib.rnn`, `rnn_cell_impl`, contrib's 1.0 `core_rnn_cell`), or a
class of the same file that is one. Not found: the same names on Keras layers or cells, on bases
tf2norm cannot resolve, and every other class.
"""

from __future__ import annotations

import re

import libcst as cst
from libcst.metadata import ImportAssignment

from tf2norm.rewriters._names import canonical

_MODULES = (
    "tensorflow.nn.rnn_cell",
    "tensorflow.contrib.rnn",
    "tensorflow.python.ops.rnn_cell_impl",
    "tensorflow.python.ops.rnn_cell",
    "tensorflow.contrib.rnn.python.ops.core_rnn_cell",
    "tensorflow.contrib.rnn.python.ops.core_rnn_cell_impl",
)
#: The TF1 classes a hand-rolled RNN cell derives from.
BASES = frozenset(f"{m}.{c}" for m in _MODULES for c in ("RNNCell", "LayerRNNCell", "GRUCell"))
LEGACY = BASES

_NORM = r"(?:layernorm(?:ali[sz]ed|ali[sz]ation)?|ln)"
#: Class names, lower-cased and without `_`, that say "layer-norm GRU cell".
NAME = re.compile(rf"^(?:{_NORM}gru(?:cell)?|gru(?:cell)?(?:with)?{_NORM}(?:cell)?)(?:v\d+)?$")

FINDINGS = {
    "TF2N801": (
        "class {name} looks like a hand-written layer-norm GRU cell (a {base} subclass); tf2norm cannot "
        "verify hand-written math by its name, so it is left unchanged",
        "if it computes what tf2norm.replacements.LayerNormGRUCell's docstring specifies (layer norm of the "
        "r, u and candidate pre-activations, eps 1e-12, no biases), use LayerNormGRUCell, and convert its "
        "checkpoints with `tf2norm checkpoint convert` (group kind layer_norm_gru_cell)",
    ),
}

_MAX_DEPTH = 5


def is_ln_gru_name(name: str) -> bool:
    return NAME.match(name.lower().replace("_", "")) is not None


def plan(ctx) -> None:
    for node in list(ctx.names.parents):
        if not isinstance(node, cst.ClassDef) or not is_ln_gru_name(node.name.value):
            continue
        for arg in node.bases:
            base = _tf1_cell_base(ctx, arg.value, 0)
            if base is not None:
                ctx.report(FINDINGS, "TF2N801", node.name, name=node.name.value, base=base)
                break
    # Nothing is rewritten here, so a TF1 cell base bound more than once (try/except imports) is no
    # reason for the shared "left unchanged, bind it once" finding (TF2N012).
    for node in list(ctx.names.contexts):
        if isinstance(node, (cst.Name, cst.Attribute)) and node not in ctx.handled \
                and ctx.names.qualified(node) is None and _possible_bases(ctx, node):
            ctx.handled.add(node)


def _possible_bases(ctx, node) -> set[str]:
    return {c for c in map(canonical, ctx.names.candidates(node)) if c in BASES}


def _tf1_cell_base(ctx, base: cst.BaseExpression, depth: int) -> str | None:
    """The TF1 cell class `base` names (directly or through a class of this file), else None."""
    name = ctx.names.canonical(base)
    if name in BASES:
        return name
    if name is None:
        candidates = _possible_bases(ctx, base)
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
        found = _tf1_cell_base(ctx, arg.value, depth + 1)
        if found is not None:
            return found
    return None
