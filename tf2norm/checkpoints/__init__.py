"""Move trained TF1 checkpoints onto tf2norm's replacement layers, and prove the numbers match.

Command line (``tf2norm checkpoint --help``)::

    tf2norm checkpoint inspect CKPT
    tf2norm checkpoint convert CKPT --out DIR [--data-format SCOPE=NCHW] [--config SCOPE:KEY=VALUE]
    tf2norm checkpoint verify CKPT [--converted DIR] [--golden FILE] [--atol 1e-5]

Python::

    from tf2norm.checkpoints import load_tf1_weights, restore, restore_into

    cell = LayerNormBasicLSTMCell(8)
    load_tf1_weights(cell, "model.ckpt", "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell")

    layers = restore("converted/")                  # {tf1 scope: built, loaded replacement layer}
    restore_into(model, "converted/", {"block1/BatchNorm": "bn1"})   # into your own Keras model

Modules: :mod:`.model` (the data types), :mod:`.naming` (group recognition, pure), :mod:`.kinds` (one
module per kind of group), :mod:`.reader` (TF1 reading),
:mod:`.manifest` (the converted format), :mod:`.convert`, :mod:`.restore`, :mod:`.verify`,
:mod:`.golden` (the recorded-TF1-outputs format). Nothing here imports TensorFlow at import time,
but TensorFlow 2.16+ must be installed (any distribution; `pip install 'tf2norm[tf]'` brings
`tensorflow`): without it this import raises `tf2norm._requirements.MissingDependency` (an
ImportError) naming what to install.
"""

from __future__ import annotations

# ruff: noqa: E402
# (the imports come after the check, so that a missing TensorFlow is named in one line)
from tf2norm._requirements import require as _require

_require("tf2norm.checkpoints")

from .convert import convert
from .errors import CheckpointError
from .naming import recognise
from .reader import Tf1Checkpoint
from .restore import load_tf1_weights, restore, restore_into
from .verify import verify


def inspect(path):
    """The :class:`~tf2norm.checkpoints.naming.Inventory` of a TF1 checkpoint (groups, the rest)."""
    return Tf1Checkpoint(path).inventory()


__all__ = [
    "CheckpointError",
    "convert",
    "inspect",
    "load_tf1_weights",
    "recognise",
    "restore",
    "restore_into",
    "verify",
]
