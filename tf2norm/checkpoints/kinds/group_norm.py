"""``tfa.layers.GroupNormalization`` / ``InstanceNormalization`` saved by Keras 2 ``model.save_weights``
(TF format) -> ``keras.layers.GroupNormalization`` (what ``tf2norm migrate`` emits for them).

A TF-format Keras 2 checkpoint is object based: a layer's weights are named by the path to the
layer and the attribute, ``S/gamma/.ATTRIBUTES/VARIABLE_keras2.VALUE`` and ``S/beta/...`` with ``S`` like
``layer_with_weights-1`` (nested models add components). It keeps neither the class nor ``groups``,
and tfa's GroupNormalization, its InstanceNormalization and Keras 2's LayerNormalization all store
exactly ``gamma`` and ``beta`` of shape ``[C]`` (``gamma`` only when center=False, ``beta`` only
when scale=False). So a scope holding only those is a *candidate*: ``inspect`` lists it, and
``convert`` and ``verify`` take it only when told what it is, with ``--config S:groups=N`` (tfa's
groups; -1 for InstanceNormalization), else they leave it unconverted and say so. Nothing is
guessed: a LayerNormalization with the same two weights is simply left alone.

The rest of the configuration defaults to tfa's (``axis=-1``, ``epsilon=1e-3``); channels-first
layers need ``--config S:axis=1``. center and scale follow from the weights present.

``.h5`` weights files (``model.save_weights("w.h5")``) need no conversion: Keras 3's own
``model.load_weights("w.h5")`` loads them into the migrated model (tested on a real tfa file).

Golden fields (one call of the layer; keys ``S:<field>``):

==============  =========  ==================================================================
inputs          yes        float32, any rank; the channel axis holds ``C``
outputs         yes        float32, the layer's outputs for ``inputs``
groups          no         tfa's groups (-1: InstanceNormalization); confirms the group
axis, epsilon   no         scalars (defaults -1, 1e-3)
==============  =========  ==================================================================
"""

from __future__ import annotations

import numpy as np

from ..errors import CheckpointError
from ..model import Group, SourceCalls
from . import _keras2
from ._kind import CheckpointKind

_TFA = ("tensorflow_addons.layers", "tensorflow_addons.layers.normalizations")
#: tfa's defaults of what a checkpoint cannot tell.
DEFAULTS = {"axis": -1, "epsilon": 0.001}
NAMING = "Keras 2 object-based (model.save_weights, TF format)"
WHY = ("the checkpoint records neither groups nor the class (GroupNormalization, InstanceNormalization "
       "and LayerNormalization all store just gamma and beta)")

_WEIGHTS = ("gamma", "beta")


# ----------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------


def reference_group_norm(values, config, x):
    from tf2norm import reference

    return reference.tfa_group_norm(x, values.get("gamma"), values.get("beta"), groups=config["groups"],
                                    axis=config["axis"], epsilon=config["epsilon"])


class GroupNormKind(CheckpointKind):
    ID = "group_norm"
    TITLE = "GroupNormalization"
    REPLACEMENT = "keras.layers.GroupNormalization"
    PRIORITY = 70
    SETTABLE = ("groups", "axis", "epsilon")
    GOLDEN_FIELDS = ("inputs", "outputs", "groups", "axis", "epsilon")
    SOURCE = (
        SourceCalls(names=tuple(f"{m}.GroupNormalization" for m in _TFA)
                    + ("tf2norm.replacements.GroupNormalization", "keras.layers.GroupNormalization"),
                    positional=("groups", "axis", "epsilon"),
                    settings={"groups": "groups", "axis": "axis", "epsilon": "epsilon"}, scope_args=("name",)),
        SourceCalls(names=tuple(f"{m}.InstanceNormalization" for m in _TFA)
                    + ("tf2norm.replacements.InstanceNormalization",),
                    positional=(), settings={"axis": "axis", "epsilon": "epsilon"}, scope_args=("name",),
                    fixed={"groups": -1}),
    )

    def recognise(self, table, claimed) -> list:
        """Scopes of object-based variables holding nothing but ``gamma`` and/or ``beta`` of one shape [C]."""
        scopes: dict = {}
        for name in table:
            if name.endswith(_keras2.VALUE) and _keras2.SLOT not in name:
                scope, _, attribute = name[: -len(_keras2.VALUE)].rpartition("/")
                if scope:
                    scopes.setdefault(scope, {})[attribute] = name
        groups = []
        for scope, members in scopes.items():
            if not set(members) <= set(_WEIGHTS) or any(n in claimed for n in members.values()):
                continue
            shapes = {table[n].shape for n in members.values()}
            if len(shapes) != 1 or len(next(iter(shapes))) != 1:
                continue
            if any(n.startswith(scope + "/") and _keras2.SLOT not in n and n not in members.values() for n in table):
                continue  # something else lives under the scope (a nested layer): not a lone norm layer
            weights = {w: members[w] for w in _WEIGHTS if w in members}
            config = {"groups": None, **DEFAULTS, "center": "beta" in weights, "scale": "gamma" in weights}
            groups.append(Group(scope=scope, kind=GroupNormKind.ID, weights=weights, naming=NAMING, config=config,
                                channels=next(iter(shapes))[0], required={"groups": WHY}))
            claimed.update(weights.values())
        return groups

    def describe(self, group) -> str:
        c = group.config
        text = (f"channels={group.channels} center={c['center']} scale={c['scale']} axis={c['axis']} "
                f"epsilon={c['epsilon']}")
        if c.get("groups") is None:
            return (text + f" groups=? (not recorded, nor the class: a candidate; convert and verify take it "
                    f"with --config {group.scope}:groups=N, -1 for InstanceNormalization)")
        return text + f" groups={c['groups']}"

    def details(self, group) -> dict:
        return {"channels": group.channels, "candidate": bool(group.unresolved)}

    def same_setting(self, layer, key, value) -> bool:
        mine = getattr(layer, key, value)
        if key == "groups" and value == -1 and layer.built:
            return mine in (-1, layer.weights[0].shape[0])  # build turns -1 into the channel count
        return mine == value

    def build_input_shape(self, group) -> list:
        """Rank 4 (images) with the channels on ``axis``; the weights do not depend on the rank, but
        the built layer accepts only that rank: ``restore(..., input_shapes=...)`` for others."""
        shape = [None] * 4
        shape[group.config.get("axis", -1)] = group.channels
        return shape

    def check_golden(self, scope, fields, path) -> None:
        if "inputs" not in fields or "outputs" not in fields:
            raise CheckpointError(f"golden file {path}: {scope} needs both inputs and outputs")

    def config_from_golden(self, fields):
        config = {}
        for key, kind in (("groups", int), ("axis", int), ("epsilon", float)):
            if key in fields:
                config[key] = kind(fields[key])
        return config, None

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """One call on the golden inputs, or on seeded random images compared with tfa's NumPy reference."""
        import tensorflow as tf

        channels = group.channels
        if fields is not None:
            x = fields["inputs"]
        else:
            shape = [3, 5, 4, 4]
            shape[config["axis"]] = channels
            x = (1.5 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
        if np.ndim(x) < 2 or np.shape(x)[config["axis"]] != channels:
            compare.mismatch(f"inputs {list(np.shape(x))} do not have the group's {channels} channels on "
                             f"axis {config['axis']}")
            return
        layer = factory(list(np.shape(x)))  # first: it rejects a groups that does not divide the channels
        want = fields["outputs"] if fields is not None else reference_group_norm(values, config, x)
        compare("outputs", layer(tf.constant(np.asarray(x, np.float32))).numpy(), want)


KIND = GroupNormKind()
