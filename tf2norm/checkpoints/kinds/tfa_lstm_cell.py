"""``tfa.rnn.LayerNormLSTMCell`` groups (tensorflow-addons, Keras 2) -> ``tf2norm.replacements.LayerNormLSTMCell``.

tfa models were saved by Keras 2. ``model.save_weights(prefix)`` (TF format) writes an object-based
checkpoint: each weight is named by the object path to it, ``S/kernel/.ATTRIBUTES/VARIABLE_VALUE``,
with ``S`` the cell's path, e.g. ``layer_with_weights-0/cell`` (``keras.layers.RNN(cell)``) or
``layer_with_weights-1/forward_layer/cell`` (``Bidirectional``); nested models add components.
A Keras 2 model saved by a name-based ``tf.compat.v1.train.Saver`` (or an Estimator) has the Keras
variable names instead, ``rnn/layer_norm_lstm_cell/kernel``. Both are recognised, by the cell's
members (names relative to ``S``; the replacement weight is the same path):

=========================================  ==============  =================================
member                                     shape           note
=========================================  ==============  =================================
``kernel``                                 ``[D, 4H]``     gate order i, f, c, o
``recurrent_kernel``                       ``[H, 4H]``
``bias``                                   ``[4H]``        only with use_bias
``kernel_norm/gamma``, ``.../beta``        ``[4H]``        the three norm sublayers mark the
``recurrent_norm/gamma``, ``.../beta``     ``[4H]``        cell as tfa's (a plain LSTMCell
``state_norm/gamma``, ``.../beta``         ``[H]``         has none); all six are required
=========================================  ==============  =================================

Optimizer state (``optimizer/_variables/N``, ``.OPTIMIZER_SLOT``) and the object graph are not
converted. Not recorded: ``norm_epsilon`` (default tfa's 1e-3), the activations; give them with
``--config S:norm_epsilon=1e-5``. A Keras 2 ``.h5`` weights file needs no conversion: Keras 3's
``model.load_weights("weights.h5")`` loads it into the migrated model (the cells keep tfa's weight
order; tested on a real tfa file).

Golden fields (``keras.layers.RNN(cell, return_sequences=True, return_state=True)``; keys ``S:<field>``):

==================  =========  ============================================================
inputs              yes        float32 ``[B, T, D]``
outputs             yes        float32 ``[B, T, H]`` (a masked step repeats the last output)
final_h, final_c    no         float32 ``[B, H]``
mask                no         bool ``[B, T]``
initial_h/initial_c no         float32 ``[B, H]`` (default zeros)
norm_epsilon        no         scalar: the cell's constructor argument
==================  =========  ============================================================

This module also holds what the ``tfa_simple_rnn_cell`` kind shares with it.
"""

from __future__ import annotations

from ..model import Group, SourceCalls, shape_text
from . import _cell, _keras2

_TITLE = "tfa LayerNormLSTMCell"

DEFAULTS = {"norm_epsilon": 0.001}
NORMS = ("kernel_norm", "recurrent_norm", "state_norm")
MEMBERS = ("kernel", "recurrent_kernel", "bias") + tuple(f"{n}/{p}" for n in NORMS for p in ("gamma", "beta"))


class TfaLstmCellKind(_cell.CellKind):
    ID = "tfa_lstm_cell"
    TITLE = _TITLE
    REPLACEMENT = "tf2norm.replacements.LayerNormLSTMCell"
    # Before group_norm (70), which would take a norm sublayer's lone gamma/beta for a candidate.
    PRIORITY = 20
    SETTABLE = ("norm_epsilon", "activation", "recurrent_activation", "dropout", "recurrent_dropout")
    GOLDEN_FIELDS = ("inputs", "outputs", "final_h", "final_c", "mask", "initial_h", "initial_c", "norm_epsilon")
    SOURCE = (
        SourceCalls(names=("tensorflow_addons.rnn.LayerNormLSTMCell",
                           "tensorflow_addons.rnn.layer_norm_lstm_cell.LayerNormLSTMCell",
                           "tensorflow_addons.rnn.cell.LayerNormLSTMCell", "tf2norm.replacements.LayerNormLSTMCell"),
                    positional=("units", "activation", "recurrent_activation"),
                    settings={"norm_epsilon": "norm_epsilon", "activation": "activation",
                              "recurrent_activation": "recurrent_activation", "dropout": "dropout",
                              "recurrent_dropout": "recurrent_dropout"}),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        for (scope, naming), members in _keras2.scopes_with(table, claimed, MEMBERS).items():
            norms = [m for m in members if "_norm/" in m]
            if not norms or "recurrent_kernel" not in members:
                continue  # a Dense layer, a plain LSTMCell: not tfa's cell
            weights = {m: members[m] for m in MEMBERS if m in members}
            group = Group(scope=scope, kind=TfaLstmCellKind.ID, weights=weights, naming=naming,
                          config={"units": None, "use_bias": "bias" in weights, **DEFAULTS})
            claimed.update(weights.values())
            groups.append(group)
            missing = [m for m in MEMBERS[3:] if m not in weights]
            if missing:
                _cell.problem(group, _TITLE, f"layer norm variables missing: {', '.join(missing)}")
            recurrent = table[weights["recurrent_kernel"]].shape
            kernel = table[weights["kernel"]].shape
            if len(recurrent) != 2 or recurrent[1] != 4 * recurrent[0] or recurrent[0] == 0 or len(kernel) != 2:
                _cell.problem(group, _TITLE, f"recurrent_kernel has shape {shape_text(recurrent)}, kernel "
                                             f"{shape_text(kernel)}; expected [units, 4 * units] and "
                                             "[input_depth, 4 * units]")
                continue
            units = recurrent[0]
            group.config["units"] = units
            group.input_depth = kernel[0]
            expected = {"kernel": (kernel[0], 4 * units), "bias": (4 * units,)}
            expected.update({f"{n}/{p}": ((units,) if n == "state_norm" else (4 * units,))
                             for n in NORMS for p in ("gamma", "beta")})
            _cell.check_shapes(group, table, expected, _TITLE)
        return groups

    def describe(self, group) -> str:
        c = group.config
        return (f"units={c['units']} input_depth={group.input_depth} use_bias={c['use_bias']} "
                f"norm_epsilon={c['norm_epsilon']}")

    def layer_weights(self, layer) -> dict:
        """{member path: variable}: the norm sublayers' weights are all called gamma and beta."""
        weights = {"kernel": layer.kernel, "recurrent_kernel": layer.recurrent_kernel}
        if layer.use_bias:
            weights["bias"] = layer.bias
        for norm in NORMS:
            weights[f"{norm}/gamma"] = getattr(layer, norm).gamma
            weights[f"{norm}/beta"] = getattr(layer, norm).beta
        return weights

    def config_from_golden(self, fields):
        return ({"norm_epsilon": float(fields["norm_epsilon"])} if "norm_epsilon" in fields else {}), None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """A batch of masked sequences from a random state (or the golden's), through keras.layers.RNN."""
        from tf2norm import reference

        units = config["units"]
        kw = {"norm_epsilon": config["norm_epsilon"], "activation": config.get("activation", "tanh"),
              "recurrent_activation": config.get("recurrent_activation", "sigmoid")}

        def numpy_cell(x, mask, init):
            return reference.keras_rnn(lambda xt, s: reference.tfa_ln_lstm_step(xt, s, values, **kw), x, init,
                                       mask=mask)

        _cell.verify_keras_rnn(factory, fields, rng, compare, depth=values["kernel"].shape[0], units=units,
                    states=("final_h", "final_c"), reference=numpy_cell)


KIND = TfaLstmCellKind()
