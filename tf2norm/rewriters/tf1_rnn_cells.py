"""Legacy `tf.nn.rnn_cell` / `tf.contrib.rnn` `BasicRNNCell`, `BasicLSTMCell`, `LSTMCell`, `GRUCell`, `RNNCell`
(however imported or aliased) -> `tf2norm.replacements`' classes of the same names, same arguments, in both targets.

So are contrib's `LSTMBlockCell`, `LSTMBlockFusedCell`, `GRUBlockCell`, `GRUBlockCellV2` (`tf.contrib.rnn`)
and `CudnnCompatibleLSTMCell`, `CudnnCompatibleGRUCell` (`tf.contrib.cudnn_rnn`): tf2norm's have their
constructors, variable names and numbers (tf2norm/replacements/contrib_rnn_cells.py).

On TF 2.16+ without tf_keras, every `tf.compat.v1.nn.rnn_cell` class raises "not available with Keras 3"
(what tf_upgrade_v2 writes for `tf.nn.rnn_cell.*` and `tf.contrib.rnn.*`). tf2norm's cells take TF1's
constructors, create TF1's variables under TF1's names in tf.compat.v1 graphs (a TF1 Saver checkpoint
restores unchanged) and compute TF 1.15's numbers, so only the class changes:

    tf.nn.rnn_cell.LSTMCell(64, num_proj=32, use_peepholes=True)  ->  LSTMCell(64, num_proj=32, use_peepholes=True)
    class MyCell(tf.contrib.rnn.RNNCell): ...                      ->  class MyCell(RNNCell): ...

Every reference is rewritten: calls (registered as migrated cells, so the TF1 wrappers and
`dynamic_rnn` around them migrate too: rnn_cell_wrappers), the class as a value, and base classes.
A hand-written cell deriving from `RNNCell` or `LayerRNNCell` gets tf2norm's `RNNCell`, TF1's base
(TF1's scoping, `zero_state`, `add_variable`): its own code, `get_variable` included, runs unchanged,
so nothing is reported. A class deriving from one of the four concrete cells is rewritten and
reported (TF2N310): it now subclasses a Keras 3 cell, whose internals are not TF1's.

Reported and left unchanged: `LSTMCell(num_unit_shards=/num_proj_shards=)` with a value (TF2N311:
partitioned variables), and the TF1 cells tf2norm has no replacement for (TF2N312, with the fix for
each: contrib's `LayerNormLSTMCell`, its research cells and wrappers, ...).
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters._class_swap import ClassSwap, ClassSwapRewriter, Swap
from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._names import canonical
from tf2norm.rewriters._signature import code, is_literal
from tf2norm.rewriters._tf1_cells import MODULES

# TF 1.15's constructors (the replacements take the same); all also took Keras base-layer **kwargs.
SIGNATURES = {
    "BasicRNNCell": ("num_units", "activation", "reuse", "name", "dtype"),
    "BasicLSTMCell": ("num_units", "forget_bias", "state_is_tuple", "activation", "reuse", "name", "dtype"),
    "LSTMCell": ("num_units", "use_peepholes", "cell_clip", "initializer", "num_proj", "proj_clip", "num_unit_shards",
                 "num_proj_shards", "forget_bias", "state_is_tuple", "activation", "reuse", "name", "dtype"),
    "GRUCell": ("num_units", "activation", "reuse", "kernel_initializer", "bias_initializer", "name", "dtype"),
}
#: contrib's block and Cudnn-compatible cells (tf2norm.replacements.contrib_rnn_cells): TF 1.15's constructors
#: (no **kwargs) and the modules TF 1.15 defined and exported them from.
CONTRIB_SIGNATURES = {
    "LSTMBlockCell": ("num_units", "forget_bias", "cell_clip", "use_peephole", "dtype", "reuse", "name"),
    "LSTMBlockFusedCell": ("num_units", "forget_bias", "cell_clip", "use_peephole", "reuse", "dtype", "name"),
    "GRUBlockCell": ("num_units", "cell_size", "reuse", "name"),
    "GRUBlockCellV2": ("num_units", "cell_size", "reuse", "name"),
    "CudnnCompatibleLSTMCell": ("num_units", "reuse"),
    "CudnnCompatibleGRUCell": ("num_units", "reuse", "kernel_initializer"),
}
_CUDNN = ("tensorflow.contrib.cudnn_rnn", "tensorflow.contrib.cudnn_rnn.python.ops.cudnn_rnn_ops")
_CONTRIB_MODULES = {
    "LSTMBlockCell": ("tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python.ops.lstm_ops"),
    "LSTMBlockFusedCell": ("tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python.ops.lstm_ops"),
    "GRUBlockCell": ("tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python.ops.gru_ops"),
    "GRUBlockCellV2": ("tensorflow.contrib.rnn", "tensorflow.contrib.rnn.python.ops.gru_ops"),
    "CudnnCompatibleLSTMCell": _CUDNN,
    "CudnnCompatibleGRUCell": _CUDNN,
}
#: The TF1 bases of hand-written cells, replaced by tf2norm's RNNCell.
BASES = ("RNNCell", "LayerRNNCell")
SHARDS = ("num_unit_shards", "num_proj_shards")

# TF1 cells without a replacement: {name: the one-line fix}; reached under tf.contrib.rnn (and, for
# the Cudnn-compatible cells, tf.contrib.cudnn_rnn).
_PORT = "port it onto tf2norm.replacements.RNNCell (its TF1 code with get_variable runs there) or keep it on TF 1.x"
UNMAPPED = {
    "LayerNormLSTMCell": "contrib's LayerNormLSTMCell has no tf2norm equivalent (tfa's LayerNormLSTMCell is another "
                         "cell): " + _PORT,
    "EmbeddingWrapper": "embed the inputs with tf.nn.embedding_lookup before the RNN",
    "InputProjectionWrapper": "project the inputs with a dense layer before the RNN",
    "OutputProjectionWrapper": "project the RNN outputs with a dense layer after it",
}
for _name in ("CoupledInputForgetGateLSTMCell", "TimeFreqLSTMCell", "GridLSTMCell", "BidirectionalGridLSTMCell",
              "NASCell", "UGRNNCell", "IntersectionRNNCell", "PhasedLSTMCell", "GLSTMCell", "ConvLSTMCell",
              "Conv1DLSTMCell", "Conv2DLSTMCell", "Conv3DLSTMCell", "AttentionCellWrapper", "HighwayWrapper",
              "SRUCell", "IndRNNCell", "IndyGRUCell", "IndyLSTMCell", "MinimalRNNCell", "CFNCell",
              "WeightNormLSTMCell", "LSTMBlockWrapper", "FusedRNNCellAdaptor", "TimeReversedFusedRNN"):
    UNMAPPED[_name] = f"{_name} has no TF 2.16+ equivalent in tf2norm: {_PORT}"
_UNMAPPED_MODULES = ("tensorflow.contrib.rnn", "tensorflow.contrib.cudnn_rnn")
UNMAPPED_LEGACY = {f"{m}.{n}": n for m in _UNMAPPED_MODULES for n in UNMAPPED
                   if not (m.endswith("cudnn_rnn") and not n.startswith("Cudnn"))}

# TF1 cells other rewriters migrate (a cell factory may choose among them and these).
_OTHER_CELLS = frozenset({"tensorflow.contrib.rnn.LayerNormBasicLSTMCell"})

RULES = rules(
    Rule("TF2N310", "class {name} subclasses TF1's {cls}: it now subclasses tf2norm.replacements.{cls}, a Keras 3 "
                    "cell whose internals (build, call, _kernel, _num_units) are not TF1's",
                    "check the methods and attributes {name} uses against tf2norm.replacements.{cls}, or derive it "
                    "from tf2norm.replacements.RNNCell"),
    Rule("TF2N311", "LSTMCell({argument}=...): partitioned cell variables are not supported by "
                    "tf2norm.replacements.LSTMCell; left unchanged",
                    "drop {argument} (TF1 deprecated it; use a variable_scope partitioner, or none)"),
    Rule("TF2N312", "{api}: TF1's {cls} has no replacement in tf2norm; it raises on TF 2.16+ and was left unchanged",
                    "{fix}"),
)


class Tf1CellsRewriter(ClassSwapRewriter):
    """The ClassSwap of the four core cells and the two bases, plus the report of the cells it cannot map."""

    def __init__(self, spec: ClassSwap, rules_):
        super().__init__(spec, rules_)
        self.legacy = spec.legacy | frozenset(UNMAPPED_LEGACY)

    def plan(self, ctx) -> None:
        for node, name in self.references(ctx):
            if name in UNMAPPED_LEGACY:
                cls = UNMAPPED_LEGACY[name]
                parent = ctx.names.parents.get(node)
                where = parent if isinstance(parent, cst.Call) and parent.func is node else node
                ctx.report(RULES["TF2N312"], where, api=code(node), cls=cls, fix=UNMAPPED[cls])
                continue
            swap = self._swaps[name]
            parent = ctx.names.parents.get(node)
            if isinstance(parent, cst.Call) and parent.func is node:
                self.rewrite_call(ctx, parent, swap)
            else:
                self.rewrite_reference(ctx, node, swap)
        self.settle_factories(ctx)

    def settle_factories(self, ctx) -> None:
        """A name bound to one TF1 cell class or another (`cell_fn = tf.nn.rnn_cell.GRUCell` in one branch,
        `tf.contrib.rnn.LSTMBlockCell` in the next, `return cell_fn`): when every assignment's value was
        rewritten here or reported where it is, the name holds nothing left to say (no TF2N012)."""
        cells = self.legacy | _OTHER_CELLS
        for node in list(ctx.names.contexts):
            if not isinstance(node, cst.Name) or node in ctx.handled or not ctx.names.is_load(node) \
                    or ctx.names.qualified(node) is not None:
                continue
            candidates = {canonical(c) for c in ctx.names.candidates(node)}
            if not candidates or not candidates <= cells:
                continue
            scope = ctx.names.scopes.get(node)
            assignments = list(scope[node.value]) if scope is not None else []
            statements = [ctx.names.assign_of(a) for a in assignments]
            if statements and all(s is not None and s.value in ctx.handled for s in statements):
                ctx.handled.add(node)

    def rewrite_reference(self, ctx, node, swap: Swap) -> None:
        if swap.replacement == "RNNCell":
            ctx.edit(node, lambda _: ctx.replacement("RNNCell"), consumes=node)
            return
        super().rewrite_reference(ctx, node, swap)

    def rewrite_call(self, ctx, call: cst.Call, swap: Swap) -> None:
        if swap.name == "LSTMCell" and not any(a.star for a in call.args):
            bound = self.bind(ctx, call, swap)
            if bound is None:
                return
            for argument in SHARDS:
                if argument in bound and not is_literal(bound.value(argument), None):
                    return ctx.report(RULES["TF2N311"], call, argument=argument)
        super().rewrite_call(ctx, call, swap)


def _swap(cls: str) -> Swap:
    return Swap(frozenset(f"{m}.{cls}" for m in MODULES), cls, SIGNATURES[cls], required=1,
                keywords=("trainable",))


def _contrib_swap(cls: str) -> Swap:
    required = 0 if cls.startswith("GRUBlock") else 1
    return Swap(frozenset(f"{m}.{cls}" for m in _CONTRIB_MODULES[cls]), cls, CONTRIB_SIGNATURES[cls],
                required=required)


REWRITER = Tf1CellsRewriter(ClassSwap(
    classes=(*(_swap(cls) for cls in SIGNATURES), *(_contrib_swap(cls) for cls in CONTRIB_SIGNATURES),
             Swap(frozenset(f"{m}.{b}" for m in MODULES for b in BASES), "RNNCell", checked=False)),
    subclass_rule=RULES["TF2N310"], cell=True,
), RULES)
