"""Read a TF1 checkpoint one tensor at a time (``tf.train.load_checkpoint``), with one-line errors.

TensorFlow is imported when a checkpoint is opened, never at module import.
"""

from __future__ import annotations

import glob
import os
import re

from .errors import CheckpointError
from .index import check as check_index
from .model import Inventory, Variable
from .naming import recognise

_DATA_SUFFIX = re.compile(r"\.data-\d{5}-of-\d{5}$")


def resolve_prefix(path) -> str:
    """The checkpoint prefix for a directory, a prefix, or its ``.index`` / ``.data-*`` file.

    A directory resolves through its ``checkpoint`` state file, else through its single
    ``*.index`` file. A plain file that is none of these is passed on as a TF 0.x V1 checkpoint.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        import tensorflow as tf

        try:
            latest = tf.train.latest_checkpoint(path)
        except Exception as exc:  # a `checkpoint` state file that is not a text proto
            latest, state_problem = None, _reason(exc)
        else:
            state_problem = None
        if latest and os.path.exists(latest + ".index"):
            return latest
        indexes = sorted(glob.glob(os.path.join(glob.escape(path), "*.index")))
        if state_problem is not None and len(indexes) != 1:
            raise CheckpointError(f"cannot read the checkpoint state file {os.path.join(path, 'checkpoint')}: "
                                  f"{state_problem}; name the checkpoint prefix instead")
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        if not indexes:
            raise CheckpointError(f"no TF1 checkpoint in directory {path} (no *.index file)")
        raise CheckpointError(f"{path} holds {len(indexes)} checkpoints; name one, e.g. "
                              f"{indexes[-1][: -len('.index')]}")
    if path.endswith(".index"):
        path = path[: -len(".index")]
    path = _DATA_SUFFIX.sub("", path)
    if os.path.exists(path + ".index"):
        if not glob.glob(glob.escape(path) + ".data-*-of-*"):
            raise CheckpointError(f"checkpoint {path} has an index but no .data file")
        return path
    if os.path.isfile(path):
        return path  # a V1 checkpoint (one file); TensorFlow says whether it is one
    raise CheckpointError(f"no TF1 checkpoint at {path} (neither {path}.index nor a directory)")


def _reason(exc) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if "Read less bytes than requested" in first:
        first += " (truncated data file)"
    return first


class Tf1Checkpoint:
    """An open TF1 checkpoint: its variable list, and tensors read one by one on demand."""

    def __init__(self, path):
        self.path = resolve_prefix(path)
        if os.path.isfile(self.path + ".index"):
            check_index(self.path + ".index")  # TensorFlow aborts the process on some damaged indexes
        import tensorflow as tf

        try:
            self._reader = tf.train.load_checkpoint(self.path)
            shapes = self._reader.get_variable_to_shape_map()
            dtypes = self._reader.get_variable_to_dtype_map()
        except Exception as exc:  # OpError, DataLossError, IndexError from the C++ reader
            raise CheckpointError(f"cannot read checkpoint {self.path}: {_reason(exc)}") from None
        self.variables = {
            name: Variable(name, tuple(int(d) for d in shapes[name]), dtypes[name].name)
            for name in shapes
        }
        if not self.variables:
            raise CheckpointError(f"checkpoint {self.path} holds no variables")

    def inventory(self) -> Inventory:
        return recognise(self.variables.values())

    def read(self, name):
        """One tensor as a NumPy array, checked against the index's shape and dtype."""
        if name not in self.variables:
            raise CheckpointError(f"checkpoint {self.path} has no variable {name}")
        try:
            value = self._reader.get_tensor(name)
        except Exception as exc:
            raise CheckpointError(f"cannot read {name} from checkpoint {self.path}: "
                                  f"{_reason(exc)}") from None
        want = self.variables[name]
        if want.dtype == "string":  # a TF2 checkpoint's _CHECKPOINTABLE_OBJECT_GRAPH (bytes)
            return value
        if tuple(value.shape) != want.shape or value.dtype.name != want.dtype:
            raise CheckpointError(f"{name} in checkpoint {self.path} reads as {value.dtype.name} "
                                  f"{list(value.shape)}, its index says {want.dtype} {list(want.shape)}")
        return value

    def read_tensor(self, name):
        """One tensor as a TensorFlow tensor, read by TF's RestoreV2 without a NumPy copy.

        `memoryview()` of the result shares its memory (`.numpy()` copies), so a converter can hand
        the same buffer to HDF5 and to a TF2 checkpoint writer: one copy of the tensor alive.
        """
        import tensorflow as tf

        want = self.variables.get(name)
        if want is None:
            raise CheckpointError(f"checkpoint {self.path} has no variable {name}")
        try:
            (value,) = tf.raw_ops.RestoreV2(
                prefix=self.path, tensor_names=[name], shape_and_slices=[""], dtypes=[tf.as_dtype(want.dtype)]
            )
        except Exception as exc:
            raise CheckpointError(f"cannot read {name} from checkpoint {self.path}: {_reason(exc)}") from None
        if tuple(value.shape) != want.shape:
            raise CheckpointError(f"{name} in checkpoint {self.path} reads as {list(value.shape)}, "
                                  f"its index says {list(want.shape)}")
        return value

    def check_readable(self, names=None) -> None:
        """Read every tensor (or ``names``) once, so a truncated or corrupt file fails now.

        TF verifies each tensor's CRC32C as it reads it; one tensor is held at a time.
        """
        for name in sorted(self.variables if names is None else names):
            self.read(name)
