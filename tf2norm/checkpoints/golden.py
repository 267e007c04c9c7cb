"""The ``--golden`` file of ``tf2norm checkpoint verify``: outputs recorded from real TF 1.x.

An ``.npz`` (``numpy.savez``) whose keys are ``"<tf1 scope>:<field>"``, plus ``"__format__"`` =
``"tf2norm-golden-1"``. ``fixtures/tf1/make_checkpoints.py`` shows how to record one.

LayerNormBasicLSTMCell group (``tf.nn.dynamic_rnn(cell, inputs, sequence_length, initial_state)``):

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

batch_norm group (one call with ``is_training=True``, one with ``is_training=False``, both starting
from the checkpoint's values):

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
========================  =========  ==========================================================

At least one of the two pairs must be present. The optional scalars describe how TF1 was called;
verify configures the replacement from them unless ``--converted`` supplies the configuration.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from .errors import CheckpointError
from .naming import BATCH_NORM, LSTM_CELL

FORMAT = "tf2norm-golden-1"

_CELL_REQUIRED = ("inputs", "outputs", "final_c", "final_h")
_CELL_FIELDS = _CELL_REQUIRED + ("sequence_length", "initial_c", "initial_h", "forget_bias")
_BN_STATE = ("moving_mean", "moving_variance", "moving_mean_biased", "moving_mean_local_step",
             "moving_stddev", "renorm_mean", "renorm_stddev")
_BN_FIELDS = ("train_inputs", "train_outputs", "infer_inputs", "infer_outputs", "data_format",
              "epsilon", "decay", "fused", "renorm_decay") + tuple(f"train_{s}" for s in _BN_STATE)


def load(path) -> dict:
    """``{scope: {field: array}}`` from a golden file; CheckpointError when unreadable."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"no golden file at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot read golden file {path}: not an .npz file")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"cannot read golden file {path}: {exc}") from None
    fmt = arrays.pop("__format__", None)
    if fmt is None or str(fmt) != FORMAT:
        raise CheckpointError(f"{path} is not a tf2norm golden file (__format__ != {FORMAT})")
    out = {}
    for key, value in arrays.items():
        scope, sep, name = key.rpartition(":")
        if not sep or not scope:
            raise CheckpointError(f"golden file {path}: key {key!r} is not '<scope>:<field>'")
        out.setdefault(scope, {})[name] = value
    return out


def check(scope: str, kind: str, fields: dict, path) -> None:
    """Raise CheckpointError when a group's golden fields are incomplete or unknown."""
    allowed = _CELL_FIELDS if kind == LSTM_CELL else _BN_FIELDS
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise CheckpointError(f"golden file {path}: unknown fields for {kind} group {scope}: "
                              f"{', '.join(unknown)}")
    if kind == LSTM_CELL:
        missing = [f for f in _CELL_REQUIRED if f not in fields]
        if missing:
            raise CheckpointError(f"golden file {path}: {scope} lacks {', '.join(missing)}")
        return
    assert kind == BATCH_NORM
    pairs = [p for p in ("train", "infer") if f"{p}_inputs" in fields or f"{p}_outputs" in fields]
    for p in pairs:
        if f"{p}_inputs" not in fields or f"{p}_outputs" not in fields:
            raise CheckpointError(f"golden file {path}: {scope} has only one of {p}_inputs, "
                                  f"{p}_outputs")
    if not pairs:
        raise CheckpointError(f"golden file {path}: {scope} has neither train_ nor infer_ "
                              "inputs and outputs")


def config_from(kind: str, fields: dict) -> tuple[dict, str | None]:
    """The constructor settings a golden group records, and its data format (batch_norm)."""
    if kind == LSTM_CELL:
        return ({"forget_bias": float(fields["forget_bias"])} if "forget_bias" in fields else {}), None
    config = {}
    if "epsilon" in fields:
        config["epsilon"] = float(fields["epsilon"])
    if "decay" in fields:
        config["momentum"] = float(fields["decay"])
    if "renorm_decay" in fields:
        config["renorm_momentum"] = float(fields["renorm_decay"])
    if "fused" in fields:
        text = str(fields["fused"])
        if text not in ("None", "True", "False"):
            raise CheckpointError(f"golden fused must be 'None', 'True' or 'False', got {text!r}")
        config["fused"] = {"None": None, "True": True, "False": False}[text]
    fmt = str(fields["data_format"]) if "data_format" in fields else None
    return config, fmt
