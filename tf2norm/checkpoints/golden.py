"""The ``--golden`` file of ``tf2norm checkpoint verify``: outputs recorded from real TF 1.x.

An ``.npz`` (``numpy.savez``) whose keys are ``"<tf1 scope>:<field>"``, plus ``"__format__"`` =
``"tf2norm-golden-1"``. ``fixtures/tf1/make_checkpoints.py`` shows how to record one.

The fields of a group depend on its kind: see the docstring of each module of
:mod:`tf2norm.checkpoints.kinds` (``lstm_cell``: the inputs, outputs and final state of
``dynamic_rnn``; ``batch_norm``: a training and an inference call) and its ``GOLDEN_FIELDS``.
Optional scalars describe how TF1 was called (forget_bias, epsilon, decay ...); verify configures
the replacement from them unless ``--converted`` supplies the configuration.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

from . import kinds
from .errors import CheckpointError

FORMAT = "tf2norm-golden-1"
#: Golden files hold a few small batches; anything near this is not one.
MAX_BYTES = 256 * 1024 * 1024


def load(path) -> dict:
    """``{scope: {field: array}}`` from a golden file; CheckpointError when unreadable."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"no golden file at {path}")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"cannot read golden file {path}: not an .npz file")
    _check_sizes(path)
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


def _check_sizes(path: str, limit: int | None = None) -> None:
    """Refuse a file that would decompress to more than ``limit`` bytes, before decompressing anything.

    The zip directory declares each member's size (and zipfile never returns more), and each
    array's header declares its shape: both are checked, so a zip bomb costs nothing.
    """
    from numpy.lib import format as npy

    limit = MAX_BYTES if limit is None else limit
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            total = sum(m.file_size for m in members)
            if total > limit:
                raise CheckpointError(f"golden file {path} would decompress to {total} bytes, more than "
                                      f"the {limit}-byte limit")
            for member in members:
                with archive.open(member) as f:
                    version = npy.read_magic(f)
                    read_header = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
                    shape, _, dtype = read_header(f)
                count = 1
                for size in shape:
                    count *= size
                if dtype.hasobject or count * dtype.itemsize > member.file_size:
                    raise CheckpointError(f"golden file {path}: {member.filename} declares {list(shape)} "
                                          f"{dtype}, more than the {member.file_size} bytes it holds")
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CheckpointError(f"cannot read golden file {path}: {exc}") from None


def check(scope: str, kind: str, fields: dict, path) -> None:
    """Raise CheckpointError when a group's golden fields are incomplete or unknown."""
    module = kinds.get(kind)
    unknown = sorted(set(fields) - set(module.GOLDEN_FIELDS))
    if unknown:
        raise CheckpointError(f"golden file {path}: unknown fields for {kind} group {scope}: "
                              f"{', '.join(unknown)}")
    module.check_golden(scope, fields, path)


def config_from(kind: str, fields: dict) -> tuple[dict, str | None]:
    """The constructor settings a golden group records, and its data format (if the kind has one)."""
    return kinds.get(kind).config_from_golden(fields)
