"""``tf.contrib.rnn.LayerNormBasicLSTMCell`` groups -> ``tf2norm.replacements.LayerNormBasicLSTMCell``.

Names relative to the cell scope ``S`` (the replacement weight in brackets):

==============  ==========================  ==================  =====================
TF              kernel ``[D+H, 4H]``        bias ``[4H]``        layer norm ``[H]``
==============  ==========================  ==================  =====================
1.2 - 1.15      ``S/kernel`` (kernel)       ``S/bias`` (bias)    ``S/<gate>/gamma|beta``
1.0 - 1.1       ``S/weights``               ``S/biases``         same
0.12            ``S/linear/weights``        ``S/linear/b``       same
==============  ==========================  ==================  =====================

``<gate>`` is input, transform, forget, output, state; ``S/<gate>/gamma`` becomes the replacement's
``<gate>_gamma``. The bias exists only when layer_norm=False, the ten norm vectors only when True.
A scope is a cell when it has the norm vectors, or when its last component is the cell's default
scope name (``layer_norm_basic_lstm_cell``, ``_N`` suffixed, or 0.12's ``LayerNormBasicLSTMCell``):
without that name a kernel and a bias are just a dense layer (or a plain BasicLSTMCell).
Surrounding scopes (``rnn/``, ``multi_rnn_cell/cell_N/``, ``bidirectional_rnn/fw|bw/``, 0.12's
``RNN/MultiRNNCell/CellN/``, user scopes) are free; they only feed :attr:`Group.role`.

Golden fields (``tf.nn.dynamic_rnn(cell, inputs, sequence_length, initial_state)``):

==================  =========  ================================================================
field               required   value
==================  =========  ================================================================
inputs              yes        float32 ``[B, T, D]`` (batch-major)
outputs             yes        float32 ``[B, T, H]`` (zero past each length, as dynamic_rnn)
final_c, final_h    yes        float32 ``[B, H]``
sequence_length     no         int ``[B]`` (default: all T)
initial_c/initial_h no         float32 ``[B, H]`` (default: zeros)
forget_bias         no         scalar (default 1.0): the cell's constructor argument
==================  =========  ================================================================
"""

from __future__ import annotations

import re

import numpy as np

from ..model import Group, SourceCalls, role_of
from . import _cell

#: TF1 defaults of what a checkpoint cannot tell (the user overrides them with --config).
DEFAULTS = {"forget_bias": 1.0}
LN_GATES = ("input", "transform", "forget", "output", "state")

# (suffix relative to the cell scope, naming) for the kernel and the bias; longest first.
_KERNEL_SUFFIXES = (("linear/weights", "TF 0.12"), ("kernel", "TF 1.2-1.15"), ("weights", "TF 1.0-1.1"))
_BIAS_SUFFIXES = ("linear/b", "linear/biases", "bias", "biases")
_CELL_SCOPE_NAME = re.compile(r"^(layer_norm_basic_lstm_cell(_\d+)?|LayerNormBasicLSTMCell)$")
_TITLE = "LayerNormBasicLSTMCell"


def _cell_candidates(names):
    """{cell scope: (kernel name, naming)} for every name that looks like a cell kernel."""
    found = {}
    for name in names:
        for suffix, naming in _KERNEL_SUFFIXES:
            if name.endswith("/" + suffix):
                scope = name[: -len(suffix) - 1]
                found.setdefault(scope, (name, naming))
                break
    return found


def _group(scope, kernel, naming, gates, table) -> Group:
    weights = {"kernel": kernel}
    bias = next((f"{scope}/{s}" for s in _BIAS_SUFFIXES if f"{scope}/{s}" in table), None)
    if bias is not None:
        weights["bias"] = bias
    weights.update(gates)
    layer_norm = bool(gates)
    group = Group(scope=scope, kind=LstmCellKind.ID, weights=weights, naming=naming,
                  config={"num_units": None, "layer_norm": layer_norm, **DEFAULTS}, role=role_of(scope))
    units = _cell.kernel_units(group, table, kernel, 4, _TITLE, f"kernel {kernel}")
    if units is None:
        return group
    if layer_norm and len(gates) != 2 * len(LN_GATES):
        missing = sorted(set(f"{g}/{p}" for g in LN_GATES for p in ("gamma", "beta"))
                         - {k.replace("_", "/", 1) for k in gates})
        _cell.problem(group, _TITLE, f"layer norm variables missing: {', '.join(missing)}")
    if layer_norm and bias is not None:
        _cell.problem(group, _TITLE, f"has both a bias ({bias}) and layer norm variables; TF1 creates the bias "
                                     "only when layer_norm=False")
    if not layer_norm and bias is None:
        _cell.problem(group, _TITLE, "has neither a bias nor layer norm variables")
    expect = {"bias": (4 * units,)}
    expect.update({k: (units,) for k in gates})
    _cell.check_shapes(group, table, expect, _TITLE, f" for num_units={units}")
    return group


def run_cell(cell, inputs, lengths=None, initial_state=None):
    """``dynamic_rnn`` semantics with a replacement cell on Keras' RNN layer: (outputs, (c, h)).

    Outputs at and past each example's length are zero, the state frozen at its last valid step.
    """
    if initial_state is None:
        initial_state = [np.zeros([np.shape(inputs)[0], cell.num_units], np.float32)] * 2
    return _cell.run_dynamic_rnn(cell, inputs, lengths, initial_state)


def reference_cell(values, config, inputs, lengths, initial_state):
    from tf2norm import reference

    weights = {}
    for key, value in values.items():
        if key in ("kernel", "bias"):
            weights[key] = value
        else:
            gate, part = key.rsplit("_", 1)
            weights[f"{gate}/{part}"] = value
    return reference.ln_lstm_sequence(inputs, weights, forget_bias=config["forget_bias"],
                                      layer_norm=config["layer_norm"], sequence_length=lengths,
                                      initial_state=initial_state)


class LstmCellKind(_cell.CellKind):
    ID = "lstm_cell"
    TITLE = _TITLE
    REPLACEMENT = "tf2norm.replacements.LayerNormBasicLSTMCell"
    PRIORITY = 10
    SETTABLE = ("forget_bias", "dropout_keep_prob", "dropout_prob_seed")
    REQUIRED_GOLDEN = ("inputs", "outputs", "final_c", "final_h")
    GOLDEN_FIELDS = REQUIRED_GOLDEN + ("sequence_length", "initial_c", "initial_h", "forget_bias")
    SOURCE = (
        SourceCalls(names=("tf2norm.replacements.LayerNormBasicLSTMCell", "tf2norm.replacements.LayerNormBasicLSTM"),
                    legacy_from=("layer_norm_basic_lstm_cell.LEGACY",), positional=("num_units", "forget_bias"),
                    settings={"forget_bias": "forget_bias", "dropout_keep_prob": "dropout_keep_prob",
                              "dropout_prob_seed": "dropout_prob_seed"}),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        for scope, (kernel, naming) in _cell_candidates(table).items():
            gates = {f"{g}_{p}": f"{scope}/{g}/{p}" for g in LN_GATES for p in ("gamma", "beta")}
            present = {k: n for k, n in gates.items() if n in table}
            named_as_cell = bool(_CELL_SCOPE_NAME.match(scope.rsplit("/", 1)[-1]))
            if not present and not named_as_cell:
                continue
            if any(n in claimed for n in present.values()) or kernel in claimed:
                continue
            group = _group(scope, kernel, naming, present, table)
            claimed.update(group.weights.values())
            groups.append(group)
        return groups

    def describe(self, group) -> str:
        return (f"num_units={group.config['num_units']} input_depth={group.input_depth} "
                f"layer_norm={group.config['layer_norm']}")

    def config_from_golden(self, fields):
        return ({"forget_bias": float(fields["forget_bias"])} if "forget_bias" in fields else {}), None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """A batch of sequences of different lengths from a random state (or the golden's)."""
        if fields is not None:
            x = fields["inputs"]
            lengths = fields.get("sequence_length")
            init = None
            if "initial_c" in fields or "initial_h" in fields:
                units = config["num_units"]
                zero = np.zeros((x.shape[0], units), np.float32)
                init = (fields.get("initial_c", zero), fields.get("initial_h", zero))
            want = (fields["outputs"], (fields["final_c"], fields["final_h"]))
        else:
            x, lengths, init = _cell.random_sequences(rng, values["kernel"].shape[0] - config["num_units"],
                                                      config["num_units"], 2)
            want = reference_cell(values, config, x, lengths, init)
        depth = values["kernel"].shape[0] - config["num_units"]
        if x.shape[-1] != depth:
            compare.mismatch(f"inputs have depth {x.shape[-1]}, the kernel expects {depth}")
            return
        layer = factory([None, x.shape[-1]])
        got = run_cell(layer, x, lengths, init)
        compare("outputs", got[0], want[0])
        compare("final c", got[1][0], want[1][0])
        compare("final h", got[1][1], want[1][1])


KIND = LstmCellKind()
