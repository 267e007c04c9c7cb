"""Legacy `tf.contrib.rnn.LayerNormBasicLSTMCell` (however imported or aliased) ->
`tf2norm.replacements.LayerNormBasicLSTMCell`, same TF1 constructor, in both targets.

The replacement is a Keras 3 RNN cell that is also callable as a TF1 cell by
`tf.compat.v1.nn.dynamic_rnn`, and in graph mode creates TF1's variable names, so the arguments stay
as they are. The wrappers around it (MultiRNNCell, DropoutWrapper, dynamic_rnn) are the business of
`rnn_cell_wrappers`, which reads the cells planned here.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters._context import MigratedCell
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._rewriter import PlanRewriter

LEGACY = frozenset({
    "tensorflow.contrib.rnn.LayerNormBasicLSTMCell",
    "tensorflow.contrib.rnn.python.ops.rnn_cell.LayerNormBasicLSTMCell",
})

# TF 0.12-1.15; the replacement takes the same arguments.
SIGNATURE = ("num_units", "forget_bias", "input_size", "activation", "layer_norm", "norm_gain", "norm_shift",
             "dropout_keep_prob", "dropout_prob_seed", "reuse")

RULES = rules(
    Rule("TF2N201", "class {name} subclasses LayerNormBasicLSTMCell: it now subclasses tf2norm's Keras cell, whose "
                    "internals (build, call, _norm) are not TF1's",
                    "check the methods {name} overrides against tf2norm.replacements.LayerNormBasicLSTMCell"),
)


def plan(ctx) -> None:
    for node, _ in ctx.names.references(LEGACY.__contains__):
        if node in ctx.handled:
            continue
        ctx.edit(node, lambda _: ctx.replacement("LayerNormBasicLSTMCell"), consumes=node)
        ctx.cells[node] = MigratedCell(SIGNATURE, sequence_layer="LayerNormBasicLSTM")
        base = ctx.names.parents.get(node)
        subclass = ctx.names.parents.get(base)
        if isinstance(base, cst.Arg) and isinstance(subclass, cst.ClassDef) and base in subclass.bases:
            ctx.report(RULES["TF2N201"], node, name=subclass.name.value)



REWRITER = PlanRewriter(LEGACY, RULES, plan)