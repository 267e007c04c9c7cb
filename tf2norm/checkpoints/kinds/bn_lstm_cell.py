"""Groups of the widely copied TF1 ``BNLSTMCell`` -> ``tf2norm.replacements.BatchNormLSTMCell``.

The cell is specified in :mod:`tf2norm.replacements.hand_rolled_bn_lstm` (its TF1 code is in
``fixtures/tf1/bn_lstm_program.py``). Names relative to the cell scope ``S`` (``.../BNLSTMCell``
unless the cell was called with ``scope=``), the replacement weight in brackets, H = num_units,
R = max_bn_steps:

=====================================  ===============  ============================================
variable                               shape            replacement weight
=====================================  ===============  ============================================
``S/W_xh``, ``S/W_hh``                 ``[D, 4H]``,     ``W_xh``, ``W_hh``
                                       ``[H, 4H]``
``S/xh/scale``                         ``[4H]``         ``xh_scale`` (xh has no offset)
``S/hh/scale``, ``S/hh/offset``        ``[4H]``         ``hh_scale``, ``hh_offset``
``S/c/scale``, ``S/c/offset``          ``[H]``          ``c_scale``, ``c_offset``
``S/<g>/pop_mean``, ``S/<g>/pop_var``  ``[R, size]``    ``<g>_pop_mean``, ``<g>_pop_var`` (g: xh, hh, c)
=====================================  ===============  ============================================

A scope is such a cell when it holds ``W_xh`` and ``W_hh`` and batch-norm variables under ``xh/``,
``hh/`` or ``c/``; surrounding scopes (``rnn/``, ``multi_rnn_cell/cell_N/``, user scopes) are free.
Copies that compute something else are recognised and refused (the group's problem says which): no
``hh/`` norm (the copy that leaves the hidden-to-hidden term unnormalised), statistics named
``pop_mean_all``/``pop_var_all`` (the copy that stops normalising after ``max_bn_steps - 1`` steps,
with epsilon 1e-7), one statistic for all steps (``pop_mean [size]``: OlavHN's original bnlstm), a
``bias`` or an ``xh/offset``. The copy with a ``tf.cond`` on the step but the usual names cannot be
told apart from its checkpoint: verify it against its own outputs (``--golden``).

A checkpoint does not record decay (0.95), epsilon (1e-5), forget_bias (0.0) or the activation
(tanh): give them with ``--config`` when the TF1 code changed them. ``training`` is a call-time choice.

Golden fields (``tf.nn.dynamic_rnn(cell, inputs, sequence_length, initial_state)`` over the cell alone):

=======================  =========  ==========================================================
field                    required   value
=======================  =========  ==========================================================
inputs                   yes        float32 ``[B, T, D]`` (batch-major)
outputs                  yes        float32 ``[B, T, H]`` (zero past each length, as dynamic_rnn)
final_c, final_h         yes        float32 ``[B, H]``
final_step               no         float32 ``[B, 1]``: the step counter state
training                 no         bool (default False): batch statistics and updates
sequence_length          no         int ``[B]`` (default: all T)
initial_c, initial_h     no         float32 ``[B, H]`` (default: zeros)
initial_step             no         float32 ``[B, 1]`` (default: zeros)
``<g>/pop_mean|pop_var``  no        the statistics after the run (g: xh, hh, c)
decay, epsilon,          no         scalars / str: the cell's constructor arguments
forget_bias, activation
=======================  =========  ==========================================================
"""

from __future__ import annotations

import numpy as np

from ..model import Group, SourceCalls, role_of, shape_text
from ..rules import RULES
from . import _cell

#: What a checkpoint cannot tell, as the copied cell had it (the user overrides them with --config).
DEFAULTS = {"decay": 0.95, "epsilon": 1e-5, "forget_bias": 0.0}
GROUPS = ("xh", "hh", "c")
STATISTICS = ("pop_mean", "pop_var")
#: replacement weight -> TF1 name relative to the cell scope.
MEMBERS = {"W_xh": "W_xh", "W_hh": "W_hh", "xh_scale": "xh/scale", "hh_scale": "hh/scale",
           "hh_offset": "hh/offset", "c_scale": "c/scale", "c_offset": "c/offset",
           **{f"{g}_{s}": f"{g}/{s}" for g in GROUPS for s in STATISTICS}}
_BN_LEAVES = ("scale", "offset", "pop_mean", "pop_var", "pop_mean_all", "pop_var_all")

_STATISTIC_FIELDS = tuple(f"{g}/{s}" for g in GROUPS for s in STATISTICS)

RANDOM_BATCH = 4
RANDOM_STEPS = 7
RANDOM_LENGTHS = (7, 4, 1, 6)  # the first is the longest: its step picks the statistics row


# ----------------------------------------------------------------------------------------------
# recognition
# ----------------------------------------------------------------------------------------------


def _variant(scope, table):
    """Why the variables are another copy's, which BatchNormLSTMCell does not compute (else None)."""
    has = lambda relative: f"{scope}/{relative}" in table  # noqa: E731
    if any(has(f"{g}/pop_mean_all") or has(f"{g}/pop_var_all") for g in GROUPS):
        return ("statistics named pop_mean_all/pop_var_all: the BNLSTMCell copy that stops normalising after "
                "max_bn_steps - 1 steps (a tf.cond on the step, epsilon 1e-7)")
    if not any(has(f"hh/{leaf}") for leaf in _BN_LEAVES):
        return "no hh/ batch norm: the BNLSTMCell copy that leaves the hidden-to-hidden term unnormalised"
    if has("bias"):
        return f"a bias ({scope}/bias): a BN-LSTM with a bias beside the batch norms, not the widely copied cell"
    if has("xh/offset"):
        return f"an xh/offset ({scope}/xh/offset): the widely copied cell has no offset on xh"
    mean = table.get(f"{scope}/xh/pop_mean")
    if mean is not None and len(mean.shape) == 1:
        return ("one population statistic for all steps (xh/pop_mean is 1-D): OlavHN's original bnlstm, not the "
                "per-step cell")
    return None


def _group(scope, table) -> Group:
    weights = {k: f"{scope}/{n}" for k, n in MEMBERS.items() if f"{scope}/{n}" in table}
    group = Group(scope=scope, kind=BnLstmCellKind.ID, weights=weights, naming="the widely copied TF1 BNLSTMCell",
                  config={"num_units": None, "max_bn_steps": None, **DEFAULTS}, role=role_of(scope))

    def bad(message):
        group.report(RULES["TF2N901"], title="BNLSTMCell", scope=scope, detail=message)

    variant = _variant(scope, table)
    if variant is not None:
        bad(f"{variant}, which tf2norm.replacements.BatchNormLSTMCell does not compute")
        return group
    missing = [n for k, n in MEMBERS.items() if k not in weights]
    if missing:
        bad(f"variables missing: {', '.join(missing)}")
        return group
    hh = table[weights["W_hh"]].shape
    if len(hh) != 2 or hh[1] != 4 * hh[0] or hh[0] == 0:
        bad(f"{weights['W_hh']} has shape {shape_text(hh)}, expected [num_units, 4 * num_units]")
        return group
    units = hh[0]
    xh = table[weights["W_xh"]].shape
    if len(xh) != 2 or xh[1] != 4 * units or xh[0] == 0:
        bad(f"{weights['W_xh']} has shape {shape_text(xh)}, expected [input_depth, {4 * units}] for "
            f"num_units={units}")
        return group
    rows = table[weights["xh_pop_mean"]].shape[0] if table[weights["xh_pop_mean"]].shape else 0
    group.config.update(num_units=units, max_bn_steps=rows)
    group.input_depth = xh[0]
    for key, name in weights.items():
        if key.startswith("W_"):
            continue
        size = units if key.startswith("c_") else 4 * units
        expected = (rows, size) if key.endswith(STATISTICS) else (size,)
        if table[name].shape != expected or rows == 0:
            bad(f"{name} has shape {shape_text(table[name].shape)}, expected {shape_text(expected)} for "
                f"num_units={units} and max_bn_steps={rows} (from {weights['xh_pop_mean']})")
    return group


# ----------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------

#: Activations the NumPy reference knows (the checkpoint's --config activation=...).
_ACTIVATIONS = {
    None: np.tanh,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, np.float32(0)),
    "softsign": lambda x: (x / (1 + np.abs(x))).astype(np.float32),
    "linear": lambda x: x,
}


def run_cell(cell, inputs, lengths=None, initial_state=None, training=False):
    """``dynamic_rnn`` semantics with the replacement cell on Keras' RNN layer: (outputs, (c, h, step)).

    Outputs past each example's length are zero and its state frozen; time steps past the longest
    length are not run (TF1's dynamic_rnn ran no cell there, so they update no statistics).
    """
    import keras
    import tensorflow as tf

    inputs = np.asarray(inputs, np.float32)
    b, t = inputs.shape[0], inputs.shape[1]
    lengths = np.full([b], t) if lengths is None else np.asarray(lengths).reshape(-1)
    longest = int(lengths.max())
    if initial_state is None:
        initial_state = (np.zeros([b, cell.num_units], np.float32),) * 2 + (np.zeros([b, 1], np.float32),)
    outputs = np.zeros([b, t, cell.num_units], np.float32)
    if longest == 0:
        return outputs, tuple(np.asarray(s, np.float32) for s in initial_state)
    mask = tf.constant(np.arange(longest)[None, :] < lengths[:, None])
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    out, c, h, step = rnn(tf.constant(inputs[:, :longest]), mask=mask, training=training,
                          initial_state=[tf.constant(np.asarray(s, np.float32)) for s in initial_state])
    outputs[:, :longest] = out.numpy()
    return outputs, (c.numpy(), h.numpy(), step.numpy())


def _tf1_names(values) -> dict:
    return {MEMBERS[k]: v for k, v in values.items()}


def reference_cell(values, config, inputs, lengths, initial_state, training):
    """The NumPy reference: (outputs, (c, h, step), {TF1 statistic name: value after the run})."""
    from tf2norm import reference

    outputs, (state,), (stats,) = reference.bn_lstm_sequence(
        inputs, [_tf1_names(values)], max_bn_steps=config["max_bn_steps"], training=training,
        decay=config["decay"], epsilon=config["epsilon"], forget_bias=config["forget_bias"],
        activation=_ACTIVATIONS[config.get("activation")], sequence_length=lengths, initial_states=[initial_state])
    return outputs, state, stats


def _statistics(layer) -> dict:
    return {f"{g}/{s}": np.array(getattr(layer, f"{g}_{s}")) for g in GROUPS for s in STATISTICS}


def _compare_run(compare, label, got, want, layer, want_stats):
    compare(f"{label}outputs", got[0], want[0])
    for part, g, w in zip(("c", "h", "step"), got[1], want[1]):
        if w is not None:
            compare(f"{label}final {part}", g, w)
    stats = _statistics(layer)
    for name, value in want_stats.items():
        compare(f"{label}{name} after the run", stats[name], value)


class BnLstmCellKind(_cell.CellKind):
    ID = "bn_lstm_cell"
    TITLE = "BNLSTMCell"
    REPLACEMENT = "tf2norm.replacements.BatchNormLSTMCell"
    PRIORITY = 10
    SETTABLE = ("decay", "epsilon", "forget_bias", "activation")
    REQUIRED_GOLDEN = ("inputs", "outputs", "final_c", "final_h")
    GOLDEN_FIELDS = REQUIRED_GOLDEN + ("final_step", "training", "sequence_length", "initial_c", "initial_h",
                                       "initial_step", "decay", "epsilon", "forget_bias", "activation") \
        + _STATISTIC_FIELDS
    SOURCE = (
        # The migrated calls: tf2norm migrate writes the copied class's defaults into each one.
        SourceCalls(names=("tf2norm.replacements.BatchNormLSTMCell",),
                    positional=("num_units", "max_bn_steps", "initial_scale", "decay", "epsilon", "activation",
                                "forget_bias"),
                    settings={"decay": "decay", "epsilon": "epsilon", "forget_bias": "forget_bias",
                              "activation": "activation"}),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        for name in table:
            if not name.endswith("/W_xh"):
                continue
            scope = name[: -len("/W_xh")]
            bn = [f"{scope}/{g}/{leaf}" for g in GROUPS for leaf in _BN_LEAVES if f"{scope}/{g}/{leaf}" in table]
            if f"{scope}/W_hh" not in table or not bn:
                continue  # W_xh/W_hh without batch norms: some other hand-written cell
            members = [name, f"{scope}/W_hh", *bn]
            if any(n in claimed for n in members):
                continue
            group = _group(scope, table)
            claimed.update(members)
            claimed.update(group.weights.values())
            groups.append(group)
        return groups

    def describe(self, group) -> str:
        config = group.config
        return (f"num_units={config['num_units']} input_depth={group.input_depth} "
                f"max_bn_steps={config['max_bn_steps']}")

    def config_from_golden(self, fields):
        config = {k: float(fields[k]) for k in ("decay", "epsilon", "forget_bias") if k in fields}
        if "activation" in fields:
            config["activation"] = str(fields["activation"])
        return config, None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """The golden's run; or an inference and a training run of random sequences of different
        lengths from a random state and step, compared with the NumPy reference (statistics too)."""
        units = config["num_units"]
        depth = values["W_xh"].shape[0]
        if fields is not None:
            x = fields["inputs"]
            if x.shape[-1] != depth:
                compare.mismatch(f"inputs have depth {x.shape[-1]}, W_xh expects {depth}")
                return
            b = x.shape[0]
            init = (fields.get("initial_c", np.zeros((b, units), np.float32)),
                    fields.get("initial_h", np.zeros((b, units), np.float32)),
                    fields.get("initial_step", np.zeros((b, 1), np.float32)))
            training = bool(fields.get("training", False))
            layer = factory([None, depth])
            got = run_cell(layer, x, fields.get("sequence_length"), init, training)
            want = (fields["outputs"], (fields["final_c"], fields["final_h"], fields.get("final_step")))
            _compare_run(compare, "", got, want, layer, {k: fields[k] for k in _STATISTIC_FIELDS if k in fields})
            return
        if config.get("activation") not in _ACTIVATIONS:
            compare.mismatch(f"no NumPy reference for activation {config.get('activation')!r} "
                             f"(known: tanh, relu, softsign, linear); verify with --golden")
            return
        x = rng.standard_normal((RANDOM_BATCH, RANDOM_STEPS, depth)).astype(np.float32)
        lengths = np.array(RANDOM_LENGTHS, np.int32)
        init = ((0.5 * rng.standard_normal((RANDOM_BATCH, units))).astype(np.float32),
                (0.5 * rng.standard_normal((RANDOM_BATCH, units))).astype(np.float32),
                np.ones((RANDOM_BATCH, 1), np.float32))
        for training in (False, True):
            layer = factory([None, depth])
            got = run_cell(layer, x, lengths, init, training)
            outputs, state, stats = reference_cell(values, config, x, lengths, init, training)
            label = "training " if training else ""
            _compare_run(compare, label, got, (outputs, state), layer, stats)


KIND = BnLstmCellKind()
