"""``tfa.rnn.LayerNormSimpleRNNCell`` groups (tensorflow-addons, Keras 2) ->
``tf2norm.replacements.LayerNormSimpleRNNCell``.

Same checkpoint formats as :mod:`tfa_lstm_cell` (Keras 2 object-based ``model.save_weights``, or
Keras 2 variable names from a name-based Saver). Members relative to the cell path ``S``:

==================================  ==============  ===============================================
member (replacement weight)         shape           as named in the checkpoint
==================================  ==============  ===============================================
``kernel``                          ``[D, H]``      ``S/kernel``
``recurrent_kernel``                ``[H, H]``      ``S/recurrent_kernel``
``bias``                            ``[H]``         ``S/bias`` (only with use_bias)
``layernorm/gamma``                 ``[H]``         object-based ``S/layernorm/gamma``; Keras 2
                                                    variable names ``S/gamma`` (tfa built the norm
                                                    inside the cell's name scope)
==================================  ==============  ===============================================

The gamma marks the cell as tfa's (a plain SimpleRNNCell has none). Not recorded:
``layernorm_epsilon`` (default tfa's 1e-5), the activation: ``--config S:layernorm_epsilon=1e-3``.
Keras 2 ``.h5`` weights files load with Keras 3's own ``model.load_weights``.

Golden fields (``keras.layers.RNN(cell, return_sequences=True, return_state=True)``; keys ``S:<field>``):
``inputs`` ``[B, T, D]`` and ``outputs`` ``[B, T, H]`` (required), ``final_state`` ``[B, H]``,
``mask`` ``[B, T]`` bool, ``initial_state`` ``[B, H]``, ``layernorm_epsilon`` (scalar).
"""

from __future__ import annotations

from ..model import Group, SourceCalls
from . import _cell, _keras2

_TITLE = "tfa LayerNormSimpleRNNCell"

DEFAULTS = {"layernorm_epsilon": 1e-05}
MEMBERS = ("kernel", "recurrent_kernel", "bias", "layernorm/gamma")


class TfaSimpleRnnCellKind(_cell.CellKind):
    ID = "tfa_simple_rnn_cell"
    TITLE = _TITLE
    REPLACEMENT = "tf2norm.replacements.LayerNormSimpleRNNCell"
    PRIORITY = 21
    SETTABLE = ("layernorm_epsilon", "activation", "dropout", "recurrent_dropout")
    GOLDEN_FIELDS = ("inputs", "outputs", "final_state", "mask", "initial_state", "layernorm_epsilon")
    SOURCE = (
        SourceCalls(names=("tensorflow_addons.rnn.LayerNormSimpleRNNCell",
                           "tensorflow_addons.rnn.layer_norm_simple_rnn_cell.LayerNormSimpleRNNCell",
                           "tensorflow_addons.rnn.cell.LayerNormSimpleRNNCell",
                           "tf2norm.replacements.LayerNormSimpleRNNCell"),
                    positional=("units", "activation", "use_bias", "layernorm_epsilon"),
                    settings={"layernorm_epsilon": "layernorm_epsilon", "activation": "activation",
                              "dropout": "dropout", "recurrent_dropout": "recurrent_dropout"}),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        found = dict(_keras2.scopes_with(table, claimed, MEMBERS))
        # Keras 2 variable names put the norm's gamma right under the cell: `S/gamma`.
        for key, members in _keras2.scopes_with(table, claimed, MEMBERS, {"layernorm/gamma": "gamma"}).items():
            if key[1] == _keras2.NAME_NAMING:
                found[key] = members
        for (scope, naming), members in found.items():
            if "layernorm/gamma" not in members or "recurrent_kernel" not in members:
                continue
            weights = {m: members[m] for m in MEMBERS if m in members}
            group = Group(scope=scope, kind=TfaSimpleRnnCellKind.ID, weights=weights, naming=naming,
                          config={"units": None, "use_bias": "bias" in weights, **DEFAULTS})
            claimed.update(weights.values())
            groups.append(group)
            recurrent = table[weights["recurrent_kernel"]].shape
            kernel = table[weights["kernel"]].shape
            if len(recurrent) != 2 or recurrent[0] != recurrent[1] or recurrent[0] == 0 or len(kernel) != 2:
                _cell.problem(group, _TITLE, f"recurrent_kernel has shape {list(recurrent)}, kernel {list(kernel)}; "
                                             "expected [units, units] and [input_depth, units]")
                continue
            units = recurrent[0]
            group.config["units"] = units
            group.input_depth = kernel[0]
            _cell.check_shapes(group, table, {"kernel": (kernel[0], units), "bias": (units,),
                                                "layernorm/gamma": (units,)}, _TITLE)
        return groups

    def describe(self, group) -> str:
        c = group.config
        return (f"units={c['units']} input_depth={group.input_depth} use_bias={c['use_bias']} "
                f"layernorm_epsilon={c['layernorm_epsilon']}")

    def layer_weights(self, layer) -> dict:
        weights = {"kernel": layer.kernel, "recurrent_kernel": layer.recurrent_kernel}
        if layer.use_bias:
            weights["bias"] = layer.bias
        weights["layernorm/gamma"] = layer.layernorm.gamma
        return weights

    def config_from_golden(self, fields):
        if "layernorm_epsilon" in fields:
            return {"layernorm_epsilon": float(fields["layernorm_epsilon"])}, None
        return {}, None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """A batch of masked sequences from a random state (or the golden's), through keras.layers.RNN."""
        from tf2norm import reference

        weights = {("gamma" if k == "layernorm/gamma" else k): v for k, v in values.items()}
        kw = {"layernorm_epsilon": config["layernorm_epsilon"], "activation": config.get("activation", "tanh")}

        def numpy_cell(x, mask, init):
            return reference.keras_rnn(lambda xt, s: reference.tfa_ln_simple_rnn_step(xt, s, weights, **kw), x, init,
                                       mask=mask)

        _cell.verify_keras_rnn(factory, fields, rng, compare, depth=values["kernel"].shape[0], units=config["units"],
                            states=("final_state",), reference=numpy_cell)


KIND = TfaSimpleRnnCellKind()
