"""``tf.contrib.layers.batch_norm`` / ``tf.layers.batch_normalization`` groups ->
``tf2norm.replacements.BatchNormalization``.

Names under the scope ``S``: ``S/moving_mean`` and ``S/moving_variance`` (both required), ``S/beta``
if center, ``S/gamma`` if scale, with renorm ``S/moving_stddev``, ``S/renorm_mean``,
``S/renorm_stddev``, with zero_debias_moving_mean ``S/S/moving_mean/biased`` and
``S/S/moving_mean/local_step`` (the zero-debias scope repeats the full scope name), mapped to
``moving_mean_biased`` and ``moving_mean_local_step``. The layout (NHWC or NCHW: the axis and the
rank) is not in a checkpoint: NHWC unless ``--data-format`` says otherwise.

tf.layers groups (``tf.layers.batch_normalization`` / ``BatchNormalization``): recognised by the
default scope name ``batch_normalization[_N]`` or by variables of the shape tf.layers gave them with
``virtual_batch_size``, ``[1] * (rank + 1)`` with the channels at ``axis + 1`` (which records the
layout). They convert to ``BatchNormalization(tf1_api="layers")`` with tf.layers' momentum 0.99;
a named tf.layers layer (``name="bn"``) cannot be told from a contrib ``scope="bn"`` and keeps
contrib's defaults unless ``--config S:tf1_api=layers --config S:momentum=0.99`` says so. The virtual
batch size itself is not recorded: such a group is a candidate until ``--config
S:virtual_batch_size=N`` (or a golden file) gives it.

Golden fields (one call with ``is_training=True``, one with ``is_training=False``, both starting from
the checkpoint's values; at least one pair):

========================  =========  ==========================================================
train_inputs/outputs      a pair     the training call's input and output
train_<weight>            no         a variable after the training call's update (``moving_mean``,
                                     ``moving_variance``, ``moving_mean_biased``,
                                     ``moving_mean_local_step``, ``moving_stddev``,
                                     ``renorm_mean``, ``renorm_stddev``)
infer_inputs/outputs      a pair     the inference call's input and output
data_format               no         ``"NHWC"`` (default) or ``"NCHW"`` ...
epsilon, decay            no         scalars (defaults 1e-3, 0.999)
fused                     no         ``"None"`` (default), ``"True"`` or ``"False"``
renorm_decay              no         scalar (default 0.99)
virtual_batch_size        no         int: tf.layers' virtual_batch_size
tf1_api                   no         ``"contrib"`` or ``"layers"``: whose rules the call followed
========================  =========  ==========================================================
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import CheckpointError
from ..model import DATA_FORMATS, Group, SourceCalls, parse_data_format, shape_text
from ..rules import RULES
from ._kind import CheckpointKind

_LAYERS_SETTINGS = {"axis": "axis", "momentum": "momentum", "epsilon": "epsilon", "fused": "fused",
                    "renorm_momentum": "renorm_momentum", "renorm_clipping": "renorm_clipping",
                    "virtual_batch_size": "virtual_batch_size"}
#: TF1 defaults of what a checkpoint cannot tell (the user overrides them with --config).
DEFAULTS = {"axis": -1, "momentum": 0.999, "epsilon": 0.001, "fused": None, "renorm_momentum": 0.99}
#: tf.layers' own defaults, for the groups its naming identifies.
LAYERS_DEFAULTS = {"momentum": 0.99, "tf1_api": "layers"}
_VIRTUAL_BATCH = ("a TF1 checkpoint does not record tf.layers' virtual_batch_size (its variables only show "
                  "that one was used)")

# relative name -> replacement weight name (the zero-debias pair is handled apart).
_WEIGHTS = {
    "beta": "beta",
    "gamma": "gamma",
    "moving_mean": "moving_mean",
    "moving_variance": "moving_variance",
    "moving_stddev": "moving_stddev",
    "renorm_mean": "renorm_mean",
    "renorm_stddev": "renorm_stddev",
}
_RENORM = ("moving_stddev", "renorm_mean", "renorm_stddev")
_ZERO_DEBIAS = {"biased": "moving_mean_biased", "local_step": "moving_mean_local_step"}

_STATE = ("moving_mean", "moving_variance", "moving_mean_biased", "moving_mean_local_step",
          "moving_stddev", "renorm_mean", "renorm_stddev")


# ----------------------------------------------------------------------------------------------
# recognition
# ----------------------------------------------------------------------------------------------


def _group(scope, table) -> Group:
    weights = {}
    for rel, target in _WEIGHTS.items():
        if f"{scope}/{rel}" in table:
            weights[target] = f"{scope}/{rel}"
    for rel, target in _ZERO_DEBIAS.items():
        name = f"{scope}/{scope}/moving_mean/{rel}"
        if name in table:
            weights[target] = name
    leaf = scope.rsplit("/", 1)[-1]
    channels = table[f"{scope}/moving_mean"].shape
    virtual = _virtual_batch_layout(channels)
    if re.match(r"^BatchNorm(_\d+)?$", leaf):
        naming = "tf.contrib.layers.batch_norm"
    elif re.match(r"^batch_normalization(_\d+)?$", leaf) or virtual is not None:
        naming = "tf.layers.batch_normalization"
    else:
        naming = "batch norm variables"
    renorm = [k for k in _RENORM if k in weights]
    zero_debias = [k for k in _ZERO_DEBIAS.values() if k in weights]
    config = {
        "center": "beta" in weights,
        "scale": "gamma" in weights,
        **DEFAULTS,
        "renorm": len(renorm) == len(_RENORM),
        "zero_debias_moving_mean": len(zero_debias) == len(_ZERO_DEBIAS),
    }
    if naming == "tf.layers.batch_normalization":
        config.update(LAYERS_DEFAULTS)
    group = Group(scope=scope, kind=BatchNormKind.ID, weights=weights, naming=naming, config=config,
                  channels=channels[0] if len(channels) == 1 else None, data_format="NHWC")

    def bad(message):
        group.report(RULES["TF2N901"], title="batch_norm", scope=scope, detail=message)

    if renorm and len(renorm) != len(_RENORM):
        bad(f"has {', '.join(renorm)} but not all of {', '.join(_RENORM)}")
    if zero_debias and len(zero_debias) != len(_ZERO_DEBIAS):
        bad("has only one of the zero-debias variables moving_mean/biased, moving_mean/local_step")
    if virtual is not None:
        # tf.layers' virtual_batch_size: [1] * (rank + 1), the channels at axis + 1.
        axis, rank = virtual
        group.channels = channels[axis + 1]
        fmt = next((f for f, (a, r) in DATA_FORMATS.items() if r == rank and a % rank == axis), None)
        if fmt is None or zero_debias:
            bad(f"{scope}/moving_mean has the virtual-batch shape {shape_text(channels)}"
                + (" with zero-debias variables" if zero_debias else
                   f": a layout tf2norm cannot name (channel axis {axis} of rank {rank})"))
            return group
        group.data_format, group.data_format_given = fmt, True
        config["axis"] = DATA_FORMATS[fmt][0]
        config["virtual_batch_size"] = None
        group.required["virtual_batch_size"] = _VIRTUAL_BATCH
    elif len(channels) != 1:
        bad(f"{scope}/moving_mean has shape {shape_text(channels)}, expected [channels]")
        return group
    for key, name in weights.items():
        want = () if key == "moving_mean_local_step" else channels
        if table[name].shape != want:
            bad(f"{name} has shape {shape_text(table[name].shape)}, expected {shape_text(want)}")
    return group


def _virtual_batch_layout(shape):
    """(axis, rank) for tf.layers' virtual-batch variable shape, else None.

    ``[1] * (rank + 1)`` with the channels at ``axis + 1``; axis 0 (the batch) is impossible, so the
    second entry is always 1. All ones (a single channel): the last axis.
    """
    if len(shape) < 3 or shape[1] != 1 or sum(d != 1 for d in shape) > 1:
        return None
    at = next((i for i, d in enumerate(shape) if d != 1), len(shape) - 1)
    if at < 2:
        return None
    return at - 1, len(shape) - 1


# ----------------------------------------------------------------------------------------------
# verification
# ----------------------------------------------------------------------------------------------

_REF_STATE = {"biased": "moving_mean_biased", "local_step": "moving_mean_local_step"}


def _state(layer) -> dict:
    return {k: v.numpy() for k, v in KIND.layer_weights(layer).items() if k not in ("gamma", "beta")}


def run_batch_norm(layer, x, training):
    """One call of a replacement BatchNormalization: (outputs, statistics after the call)."""
    import tensorflow as tf

    y = layer(tf.constant(np.asarray(x, np.float32)), training=training)
    return y.numpy(), _state(layer)


def reference_batch_norm(values, config, x, training):
    from tf2norm import reference

    rank = np.ndim(x)
    if config.get("tf1_api") == "layers":
        return _reference_layers(reference, values, config, x, training)
    renorm = bool(config.get("renorm"))
    zero_debias = bool(config.get("zero_debias_moving_mean"))
    fused = reference.contrib_uses_fused(rank, config.get("fused"), renorm)
    y, state = reference.batch_norm(
        x, axis=config["axis"], training=training,
        beta=values.get("beta"), gamma=values.get("gamma"),
        moving_mean=values["moving_mean"], moving_variance=values["moving_variance"],
        epsilon=config["epsilon"], decay=config["momentum"], fused=fused,
        zero_debias_state=({"biased": values["moving_mean_biased"],
                            "local_step": values["moving_mean_local_step"]} if zero_debias else None),
        renorm_state=({k: values[k] for k in ("moving_stddev", "renorm_mean", "renorm_stddev")}
                      if renorm else None),
        renorm_clipping=config.get("renorm_clipping"),
        renorm_decay=config.get("renorm_momentum", 0.99),
        decay_in_float32=reference.contrib_decay_in_float32(
            rank, config.get("fused"), renorm, zero_debias_moving_mean=zero_debias),
    )
    return y, {_REF_STATE.get(k, k): v for k, v in state.items()}


def _reference_layers(reference, values, config, x, training):
    """tf.layers' rules: fused for rank 4 only, virtual batches; the statistics keep their shapes."""
    renorm = bool(config.get("renorm"))
    vbs = config.get("virtual_batch_size")
    fused = reference.layers_uses_fused(np.ndim(x), config["axis"], config.get("fused"), renorm, vbs)
    return reference.layers_batch_normalization(
        x, axis=config["axis"], training=training, beta=values.get("beta"), gamma=values.get("gamma"),
        moving_mean=values["moving_mean"], moving_variance=values["moving_variance"],
        epsilon=config["epsilon"], momentum=config["momentum"], fused=fused,
        renorm_state={k: values[k] for k in _RENORM} if renorm else None,
        renorm_clipping=config.get("renorm_clipping"), renorm_momentum=config.get("renorm_momentum", 0.99),
        virtual_batch_size=vbs)


def _random_input(rng, values, axis, rank, batch=4):
    channels = int(np.size(values["moving_mean"]))
    shape = [batch] + [3] * (rank - 2) + [channels] if rank > 2 else [4 * batch, channels]
    if axis == 1 and rank > 2:
        shape = [batch, channels] + [3] * (rank - 2)
    bshape = [1] * rank
    bshape[axis] = channels
    mean = values["moving_mean"].reshape(bshape)
    std = np.sqrt(np.maximum(values["moving_variance"], 0.0)).reshape(bshape) + 0.1
    return (mean + std * rng.standard_normal(shape)).astype(np.float32)


class BatchNormKind(CheckpointKind):
    ID = "batch_norm"
    TITLE = "batch_norm"
    REPLACEMENT = "tf2norm.replacements.BatchNormalization"
    PRIORITY = 50
    SETTABLE = ("axis", "momentum", "epsilon", "fused", "renorm_momentum", "renorm_clipping", "virtual_batch_size",
                "tf1_api")
    DATA_FORMAT = True
    GOLDEN_FIELDS = ("train_inputs", "train_outputs", "infer_inputs", "infer_outputs", "data_format", "epsilon",
                     "decay", "fused", "renorm_decay", "virtual_batch_size", "tf1_api") \
        + tuple(f"train_{s}" for s in _STATE)
    SOURCE = (
        SourceCalls(names=("tf2norm.replacements.batch_norm",), legacy_from=("contrib_batch_norm.LEGACY",),
                    positional=("inputs", "decay", "center", "scale", "epsilon"),
                    settings={"decay": "momentum", "epsilon": "epsilon", "fused": "fused",
                              "renorm_decay": "renorm_momentum", "renorm_clipping": "renorm_clipping",
                              "data_format": "data_format"}, scope_args=("scope",)),
        SourceCalls(names=("tf2norm.replacements.batch_normalization",),
                    legacy_from=("layers_batch_normalization.FUNCTIONS",),
                    positional=("inputs", "axis", "momentum", "epsilon"), settings=_LAYERS_SETTINGS,
                    scope_args=("name",)),
        SourceCalls(names=("tf2norm.replacements.LayersBatchNormalization", "tf2norm.replacements.BatchNormalization"),
                    legacy_from=("layers_batch_normalization.CLASSES",), positional=("axis", "momentum", "epsilon"),
                    settings=_LAYERS_SETTINGS, scope_args=("name",)),
    )

    def recognise(self, table, claimed) -> list:
        groups = []
        for name in table:
            if not name.endswith("/moving_mean"):
                continue
            scope = name[: -len("/moving_mean")]
            if f"{scope}/moving_variance" not in table or name in claimed:
                continue
            group = _group(scope, table)
            claimed.update(group.weights.values())
            groups.append(group)
        return groups

    def describe(self, group) -> str:
        c = group.config
        extras = [k for k in ("renorm", "zero_debias_moving_mean") if c.get(k)]
        layout = group.data_format + ("" if group.data_format_given else " (assumed: not in the checkpoint)")
        layers = ""
        if c.get("tf1_api") == "layers":
            layers = " tf1_api=layers"
            if "virtual_batch_size" in c:
                layers += " virtual_batch_size=" + (str(c["virtual_batch_size"]) if c["virtual_batch_size"] else
                                                    "? (not in the checkpoint: converted and verified once "
                                                    f"--config {group.scope}:virtual_batch_size=N gives it)")
        return (f"channels={group.channels} center={c['center']} scale={c['scale']}"
                + "".join(f" {k}=True" for k in extras) + layers + f" data_format={layout}")

    def details(self, group) -> dict:
        return {"channels": group.channels, "data_format": group.data_format or "NHWC",
                "data_format_given": group.data_format_given}

    def build_input_shape(self, group) -> list:
        vbs, api = group.config.get("virtual_batch_size"), group.config.get("tf1_api", "contrib")
        if vbs is not None and (not isinstance(vbs, int) or isinstance(vbs, bool) or vbs <= 0):
            raise CheckpointError(f"{group.scope}: virtual_batch_size must be a positive integer, got {vbs!r}")
        if api not in ("contrib", "layers"):
            raise CheckpointError(f"{group.scope}: tf1_api must be 'contrib' or 'layers', got {api!r}")
        axis, rank = parse_data_format(group.data_format or "NHWC")
        shape = [None] * rank
        shape[axis] = group.channels
        return shape

    def check_golden(self, scope, fields, path) -> None:
        pairs = [p for p in ("train", "infer") if f"{p}_inputs" in fields or f"{p}_outputs" in fields]
        for p in pairs:
            if f"{p}_inputs" not in fields or f"{p}_outputs" not in fields:
                raise CheckpointError(f"golden file {path}: {scope} has only one of {p}_inputs, "
                                      f"{p}_outputs")
        if not pairs:
            raise CheckpointError(f"golden file {path}: {scope} has neither train_ nor infer_ "
                                  "inputs and outputs")

    def config_from_golden(self, fields):
        config = {}
        if "epsilon" in fields:
            config["epsilon"] = float(fields["epsilon"])
        if "decay" in fields:
            config["momentum"] = float(fields["decay"])
        if "renorm_decay" in fields:
            config["renorm_momentum"] = float(fields["renorm_decay"])
        if "virtual_batch_size" in fields:
            config["virtual_batch_size"] = int(fields["virtual_batch_size"])
        if "tf1_api" in fields:
            text = str(fields["tf1_api"])
            if text not in ("contrib", "layers"):
                raise CheckpointError(f"golden tf1_api must be 'contrib' or 'layers', got {text!r}")
            config["tf1_api"] = text
        if "fused" in fields:
            text = str(fields["fused"])
            if text not in ("None", "True", "False"):
                raise CheckpointError(f"golden fused must be 'None', 'True' or 'False', got {text!r}")
            config["fused"] = {"None": None, "True": True, "False": False}[text]
        fmt = str(fields["data_format"]) if "data_format" in fields else None
        return config, fmt

    def verify(self, factory, values, config, compare, fields, rng, group) -> None:
        """One inference pass and one training pass, whose updated statistics are compared too."""
        axis = config["axis"]
        rank = parse_data_format(group.data_format or "NHWC")[1]
        passes = []
        if fields is not None:
            for p, training in (("infer", False), ("train", True)):
                if f"{p}_inputs" in fields:
                    x = fields[f"{p}_inputs"]
                    state = {k[len("train_"):]: v for k, v in fields.items()
                             if training and k.startswith("train_") and k not in
                             ("train_inputs", "train_outputs")}
                    passes.append((p, training, x, fields[f"{p}_outputs"], state))
        else:
            # A virtual batch size must divide the batch: two virtual batches (of 4 rows for rank 2).
            batch = 2 * int(config.get("virtual_batch_size") or 2)
            for p, training in (("infer", False), ("train", True)):
                x = _random_input(rng, values, axis, rank, batch)
                y, state = reference_batch_norm(values, config, x, training)
                passes.append((p, training, x, y, state if training else {}))
        channels = int(np.size(values["moving_mean"]))
        for p, training, x, y_want, state_want in passes:
            if np.shape(x)[axis] != channels:
                compare.mismatch(f"{p} inputs {list(np.shape(x))} have {np.shape(x)[axis]} channels on "
                                 f"axis {axis}, the group {channels}: wrong data format?")
                return
            layer = factory(list(np.shape(x)))
            y, state = run_batch_norm(layer, x, training)
            compare(f"{p} outputs", y, y_want)
            for key, want in state_want.items():
                if key not in state:
                    raise CheckpointError(f"expected values for {key}, which the replacement layer "
                                          "does not have")
                compare(f"{key} after training", state[key], want)


KIND = BatchNormKind()
