"""``tf.contrib.layers.layer_norm`` groups -> ``tf2norm.replacements.LayerNorm``.

Names: ``S/beta`` (if center) and/or ``S/gamma`` (if scale), of the parameters' shape
``inputs.shape[begin_params_axis:]``, under a scope ``S`` whose last component is layer_norm's
default scope name ``LayerNorm``, ``LayerNorm_1``, ... (``variable_scope(scope,
default_name="LayerNorm")``). Nothing else may live under ``S`` but optimizer slots
(``S/beta/Adam``). A layer_norm given its own ``scope=`` leaves just ``beta`` and ``gamma`` under a
name of the user's, like many other layers (cells' gate norms, other normalisations), so it is not
taken for one: it stays "not recognised".

What the checkpoint records and what it does not:

* center and scale: whether beta and gamma exist;
* begin_params_axis: the parameters' rank ``k`` (it is written ``-k``, which gives the same
  parameters at any input rank);
* begin_norm_axis: not recorded. TF1's default 1 (every axis but the batch) unless
  ``--config S:begin_norm_axis=N`` (or the golden file) says otherwise. A built ``LayerNorm`` takes
  inputs of any rank ending in the parameters' dims, so the input rank need not be given; the
  manifest's ``build_input_shape`` is the smallest that fits.

Golden fields (one call of the layer, before its activation_fn):

================  =========  ====================================================================
inputs            yes        float32, ending in the parameters' dims
outputs           yes        float32, layer_norm's output for ``inputs``
begin_norm_axis   no         int (default 1): the call's begin_norm_axis
================  =========  ====================================================================
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import CheckpointError
from ..model import Group, SourceCalls, shape_text
from ..rules import RULES
from ._kind import CheckpointKind

#: TF1's default of what a checkpoint cannot tell (the user overrides it with --config).
DEFAULTS = {"begin_norm_axis": 1}
NAMING = "tf.contrib.layers.layer_norm"

_SCOPE_NAME = re.compile(r"^LayerNorm(_\d+)?$")
_WEIGHTS = ("beta", "gamma")


# ----------------------------------------------------------------------------------------------
# recognition
# ----------------------------------------------------------------------------------------------


def _group(scope, weights, table) -> Group:
    shapes = {w: table[n].shape for w, n in weights.items()}
    params = next(iter(shapes.values()))
    config = {**DEFAULTS, "begin_params_axis": -max(len(params), 1), "center": "beta" in weights,
              "scale": "gamma" in weights}
    group = Group(scope=scope, kind=LayerNormKind.ID, weights=weights, naming=NAMING, config=config,
                  channels=params[-1] if params else None, params_shape=tuple(params))
    if len(set(shapes.values())) != 1:
        group.report(RULES["TF2N901"], title="layer_norm", scope=scope,
                     detail=f"beta has shape {shape_text(shapes['beta'])}, gamma {shape_text(shapes['gamma'])}")
    elif not params:
        group.report(RULES["TF2N901"], title="layer_norm", scope=scope,
                     detail=f"scalar {' and '.join(weights)}; layer_norm's parameters have at least one dim")
    return group


# ----------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------


def reference_layer_norm(values, config, x):
    from tf2norm import reference

    return reference.contrib_layer_norm(x, values.get("beta"), values.get("gamma"),
                                        begin_norm_axis=config["begin_norm_axis"],
                                        begin_params_axis=config["begin_params_axis"])


class LayerNormKind(CheckpointKind):
    ID = "layer_norm"
    TITLE = "layer_norm"
    REPLACEMENT = "tf2norm.replacements.LayerNorm"
    PRIORITY = 60
    SETTABLE = ("begin_norm_axis",)
    GOLDEN_FIELDS = ("inputs", "outputs", "begin_norm_axis")
    SOURCE = (
        SourceCalls(names=("tf2norm.replacements.layer_norm",), legacy_from=("contrib_layer_norm.LEGACY",),
                    positional=("inputs", "center", "scale", "activation_fn", "reuse", "variables_collections",
                                "outputs_collections", "trainable", "begin_norm_axis"),
                    settings={"begin_norm_axis": "begin_norm_axis"}, scope_args=("scope",)),
        SourceCalls(names=("tf2norm.replacements.LayerNorm",), positional=("begin_norm_axis",),
                    settings={"begin_norm_axis": "begin_norm_axis"}, scope_args=("name",)),
        # What the keras target writes where both axes are the same negative literal.
        SourceCalls(names=("keras.layers.LayerNormalization",), positional=("axis",),
                    settings={"axis": "begin_norm_axis"}, scope_args=("name",)),
    )

    def recognise(self, table, claimed) -> list:
        members: dict = {}
        for name in table:
            scope, _, leaf = name.rpartition("/")
            if leaf in _WEIGHTS and _SCOPE_NAME.match(scope.rpartition("/")[2]) and name not in claimed:
                members.setdefault(scope, {})[leaf] = name
        groups = []
        for scope, weights in members.items():
            owned = set(weights.values())
            # Anything else under the scope but the optimizer slots of beta/gamma: not a layer_norm.
            if any(n.startswith(scope + "/") and n not in owned and not any(n.startswith(o + "/") for o in owned)
                   for n in table):
                continue
            group = _group(scope, {w: weights[w] for w in _WEIGHTS if w in weights}, table)
            claimed.update(group.weights.values())
            groups.append(group)
        return groups

    def describe(self, group) -> str:
        c = group.config
        return (f"params={shape_text(group.params_shape)} center={c['center']} scale={c['scale']} "
                f"begin_params_axis={c['begin_params_axis']} begin_norm_axis={c['begin_norm_axis']}"
                + (" (TF1's default: not in the checkpoint; --config to change)"
                   if c["begin_norm_axis"] == DEFAULTS["begin_norm_axis"] else ""))

    def details(self, group) -> dict:
        return {"params_shape": list(group.params_shape)}

    def build_input_shape(self, group) -> list:
        """The smallest input that fits: a batch axis, as many as begin_norm_axis needs, then the
        parameters' dims."""
        params = list(group.params_shape)
        norm = group.config.get("begin_norm_axis", 1)
        if not isinstance(norm, int) or isinstance(norm, bool):
            raise CheckpointError(f"{group.scope}: begin_norm_axis must be a Python int, got {norm!r}")
        rank = max(len(params) + 1, norm + 1 if norm >= 0 else -norm)
        return [None] * (rank - len(params)) + params

    def same_setting(self, layer, key, value) -> bool:
        """begin_params_axis ``-k`` (as converted) and the layer's own spelling (``1`` on rank 3, say)
        agree when the layer's parameters have ``k`` dims."""
        mine = getattr(layer, key, value)
        if key == "begin_params_axis" and mine != value and getattr(layer, "built", False) and layer.weights:
            return len(layer.weights[0].shape) == -value
        return mine == value

    def check_golden(self, scope, fields, path) -> None:
        if "inputs" not in fields or "outputs" not in fields:
            raise CheckpointError(f"golden file {path}: {scope} needs both inputs and outputs")

    def config_from_golden(self, fields):
        config = {}
        if "begin_norm_axis" in fields:
            config["begin_norm_axis"] = int(fields["begin_norm_axis"])
        return config, None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """One call on the golden inputs, or on seeded random inputs (one axis more than the smallest
        that fits, so that the moments span several axes) compared with the NumPy reference."""
        import tensorflow as tf

        params = list(next(iter(values.values())).shape)
        if fields is not None:
            x, want = fields["inputs"], fields["outputs"]
        else:
            shape = [3] + [4 if d is None else d for d in self.build_input_shape(group)[1:]]
            shape.insert(1, 2)
            x = (0.5 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
            want = None
        if list(np.shape(x)[np.ndim(x) - len(params):]) != params or np.ndim(x) <= len(params):
            compare.mismatch(f"inputs {list(np.shape(x))} do not end in the parameters' dims {params}")
            return
        try:
            if want is None:
                want = reference_layer_norm(values, config, x)
        except ValueError as exc:
            compare.mismatch(f"inputs {list(np.shape(x))}: {exc}")
            return
        layer = factory([None] + list(np.shape(x))[1:])
        got = layer(tf.constant(np.asarray(x, np.float32)))
        compare("outputs", got.numpy(), want)


KIND = LayerNormKind()
