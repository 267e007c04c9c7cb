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

from tf2norm.rewriters import _tf1_cells
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._rewriter import PlanRewriter

LEGACY = _tf1_cells.BASES

_NORM = r"(?:layernorm(?:ali[sz]ed|ali[sz]ation)?|ln)"
#: Class names, lower-cased and without `_`, that say "layer-norm GRU cell".
NAME = re.compile(rf"^(?:{_NORM}gru(?:cell)?|gru(?:cell)?(?:with)?{_NORM}(?:cell)?)(?:v\d+)?$")

RULES = rules(
    Rule("TF2N801", "class {name} looks like a hand-written layer-norm GRU cell (a {base} subclass); tf2norm cannot "
                    "verify hand-written math by its name, so it is left unchanged",
                    "if it computes what tf2norm.replacements.LayerNormGRUCell's docstring specifies (layer norm of "
                    "the r, u and candidate pre-activations, eps 1e-12, no biases), use LayerNormGRUCell, and convert "
                    "its checkpoints with `tf2norm checkpoint convert` (group kind layer_norm_gru_cell)"),
)



def is_ln_gru_name(name: str) -> bool:
    return NAME.match(name.lower().replace("_", "")) is not None


def plan(ctx) -> None:
    for node in ctx.names.of_kind(cst.ClassDef):
        if not is_ln_gru_name(node.name.value):
            continue
        for arg in node.bases:
            base = _tf1_cells.base_of(ctx, arg.value)
            if base is not None:
                ctx.report(RULES["TF2N801"], node.name, name=node.name.value, base=base)
                # Left unchanged, base included: tf1_rnn_cells would give it tf2norm's RNNCell.
                _tf1_cells.keep_bases(ctx, node)
                break
    # Nothing is rewritten here, so a TF1 cell base bound more than once (try/except imports) is no
    # reason for the shared "left unchanged, bind it once" finding (TF2N012).
    for node in list(ctx.names.contexts):
        if isinstance(node, (cst.Name, cst.Attribute)) and node not in ctx.handled \
                and ctx.names.qualified(node) is None and _tf1_cells.possible_bases(ctx, node):
            ctx.handled.add(node)



REWRITER = PlanRewriter(LEGACY, RULES, plan)
