"""Hand-rolled TF1 layer-norm GRU cell groups -> ``tf2norm.replacements.LayerNormGRUCell``.

The cell is the one specified in :mod:`tf2norm.replacements.hand_rolled_layer_norm_gru` (the TF1 code is
in ``fixtures/tf1/hand_rolled_layer_norm_gru.py``). Names relative to the cell scope ``S`` (the
replacement weight in brackets):

=========================  ======================  ===========================================
variable                   shape                   when
=========================  ======================  ===========================================
``S/gates/kernel``         ``[D+H, 2H]`` (r, u)    always (``gates_kernel``)
``S/candidate/kernel``     ``[D+H, H]``            always (``candidate_kernel``)
``S/<gate>/gamma|beta``    ``[H]``                 layer_norm=True; gate in reset, update, candidate
``S/gates/bias``           ``[2H]``                layer_norm=False (``gates_bias``)
``S/candidate/bias``       ``[H]``                 layer_norm=False (``candidate_bias``)
=========================  ======================  ===========================================

A scope is such a cell when it has the six norm vectors beside the two kernels, whatever its name
(a subclass or a custom scope renames it), or when its last component names a layer-norm GRU cell
(``layer_norm_gru_cell``, ``_N`` suffixed, the TF1 scope of a class ``LayerNormGRUCell``;
``ln_gru_cell``, ``lngru``, ...). Without norm vectors the variables are exactly TF1 GRUCell's, so a
plain ``gru_cell`` scope is left alone: that is a GRUCell, not this cell (its numbers would be the
same with layer_norm=False, but tf2norm converts normalisation layers only). Surrounding scopes are
free, as for the LSTM cell.

A checkpoint does not record the cell's activation: tanh unless ``--config activation=relu``.

Golden fields (``tf.nn.dynamic_rnn(cell, inputs, sequence_length, initial_state)``):

==================  =========  ================================================================
field               required   value
==================  =========  ================================================================
inputs              yes        float32 ``[B, T, D]`` (batch-major)
outputs             yes        float32 ``[B, T, H]`` (zero past each length, as dynamic_rnn)
final_h             yes        float32 ``[B, H]``
sequence_length     no         int ``[B]`` (default: all T)
initial_h           no         float32 ``[B, H]`` (default: zeros)
activation          no         str: the cell's constructor argument (default tanh)
==================  =========  ================================================================
"""

from __future__ import annotations

import re

import numpy as np

from ..model import Group, SourceCalls, role_of
from . import _cell

LN_GATES = ("reset", "update", "candidate")
_NORMS = tuple(f"{gate}_{part}" for gate in LN_GATES for part in ("gamma", "beta"))
_CELL_SCOPE_NAME = re.compile(r"^(?:layer_?norm(?:ali[sz]ed)?|ln)_?gru(?:_?cell)?(?:_\d+)?$")
_TITLE = "LayerNormGRUCell"

#: Activations the NumPy reference knows (the checkpoint's --config activation=...).
_ACTIVATIONS = {
    None: np.tanh,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "sigmoid": lambda x: (1.0 / (1.0 + np.exp(-np.asarray(x, np.float64)))).astype(np.float32),
    "linear": lambda x: x,
}


def _group(scope, norms, table) -> Group:
    weights = {"gates_kernel": f"{scope}/gates/kernel"}
    if f"{scope}/candidate/kernel" in table:
        weights["candidate_kernel"] = f"{scope}/candidate/kernel"
    biases = {k: f"{scope}/{k.replace('_', '/')}" for k in ("gates_bias", "candidate_bias")
              if f"{scope}/{k.replace('_', '/')}" in table}
    weights.update(biases)
    weights.update(norms)
    layer_norm = bool(norms)
    group = Group(scope=scope, kind=LayerNormGruCellKind.ID, weights=weights, naming="hand-rolled TF1 layer-norm GRU",
                  config={"num_units": None, "layer_norm": layer_norm}, role=role_of(scope))
    units = _cell.kernel_units(group, table, weights["gates_kernel"], 2, _TITLE, f"{scope}/gates/kernel")
    if units is None:
        return group
    if "candidate_kernel" not in weights:
        _cell.problem(group, _TITLE, f"{scope}/candidate/kernel is missing")
    if layer_norm and len(norms) != len(_NORMS):
        missing = sorted(k.replace("_", "/", 1) for k in set(_NORMS) - set(norms))
        _cell.problem(group, _TITLE, f"layer norm variables missing: {', '.join(missing)}")
    if layer_norm and biases:
        _cell.problem(group, _TITLE, f"has both biases ({', '.join(sorted(biases.values()))}) and layer norm "
                                     "variables; the cell has biases only when layer_norm=False")
    if not layer_norm and len(biases) != 2:
        _cell.problem(group, _TITLE, "has neither the layer norm variables nor both biases (gates/bias, "
                                     "candidate/bias)")
    rows = table[weights["gates_kernel"]].shape[0]
    expect = {"candidate_kernel": (rows, units), "gates_bias": (2 * units,), "candidate_bias": (units,)}
    expect.update({k: (units,) for k in norms})
    _cell.check_shapes(group, table, expect, _TITLE,
                       f" for num_units={units} and input depth {group.input_depth}")
    return group


def run_cell(cell, inputs, lengths=None, initial_state=None):
    """``dynamic_rnn`` semantics with the replacement cell on Keras' RNN layer: (outputs, h).

    Outputs at and past each example's length are zero, the state frozen at its last valid step.
    """
    if initial_state is None:
        initial_state = np.zeros([np.shape(inputs)[0], cell.num_units], np.float32)
    outputs, (h,) = _cell.run_dynamic_rnn(cell, inputs, lengths, [initial_state])
    return outputs, h


def reference_cell(values, config, inputs, lengths, initial_state):
    from tf2norm import reference

    weights = {key.replace("_", "/", 1): value for key, value in values.items()}
    return reference.ln_gru_sequence(inputs, weights, layer_norm=config["layer_norm"], sequence_length=lengths,
                                     initial_state=initial_state,
                                     activation=_ACTIVATIONS[config.get("activation")])


class LayerNormGruCellKind(_cell.CellKind):
    ID = "layer_norm_gru_cell"
    TITLE = _TITLE
    REPLACEMENT = "tf2norm.replacements.LayerNormGRUCell"
    # Before any kind that would take a `<gate>/gamma` + `<gate>/beta` pair for a layer norm of its own.
    PRIORITY = 10
    SETTABLE = ("activation", "dropout_keep_prob", "dropout_prob_seed")
    REQUIRED_GOLDEN = ("inputs", "outputs", "final_h")
    GOLDEN_FIELDS = REQUIRED_GOLDEN + ("sequence_length", "initial_h", "activation")
    SOURCE = (
        SourceCalls(names=("tf2norm.replacements.LayerNormGRUCell",), positional=("num_units", "activation"),
                    settings={"activation": "activation", "dropout_keep_prob": "dropout_keep_prob",
                              "dropout_prob_seed": "dropout_prob_seed"}),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        for name in table:
            if not name.endswith("/gates/kernel"):
                continue
            scope = name[: -len("/gates/kernel")]
            norms = {k: f"{scope}/{k.replace('_', '/', 1)}" for k in _NORMS}
            present = {k: n for k, n in norms.items() if n in table}
            named_as_cell = bool(_CELL_SCOPE_NAME.match(scope.rsplit("/", 1)[-1].lower()))
            if not present and not named_as_cell:
                continue
            members = [name, f"{scope}/candidate/kernel", *present.values()]
            if any(n in claimed for n in members):
                continue
            group = _group(scope, present, table)
            claimed.update(group.weights.values())
            groups.append(group)
        return groups

    def describe(self, group) -> str:
        return (f"num_units={group.config['num_units']} input_depth={group.input_depth} "
                f"layer_norm={group.config['layer_norm']}")

    def config_from_golden(self, fields):
        return ({"activation": str(fields["activation"])} if "activation" in fields else {}), None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """A batch of sequences of different lengths from a random state (or the golden's)."""
        units = config["num_units"]
        depth = values["gates_kernel"].shape[0] - units
        if fields is not None:
            x = fields["inputs"]
            lengths = fields.get("sequence_length")
            init = fields.get("initial_h")
            want = (fields["outputs"], fields["final_h"])
        else:
            if config.get("activation") not in _ACTIVATIONS:
                compare.mismatch(f"no NumPy reference for activation {config.get('activation')!r} "
                                 f"(known: tanh, relu, sigmoid, linear); verify with --golden")
                return
            x, lengths, (init,) = _cell.random_sequences(rng, depth, units, 1)
            want = reference_cell(values, config, x, lengths, init)
        if x.shape[-1] != depth:
            compare.mismatch(f"inputs have depth {x.shape[-1]}, the kernel expects {depth}")
            return
        layer = factory([None, depth])
        got = run_cell(layer, x, lengths, init)
        compare("outputs", got[0], want[0])
        compare("final h", got[1], want[1])


KIND = LayerNormGruCellKind()
