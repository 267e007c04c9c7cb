"""``tf2norm checkpoint convert``: stream a TF1 checkpoint's groups into a converted directory.

Tensors move one at a time from the TF1 reader into ``weights.h5`` and, group by group, into
object-based TF2 checkpoints under ``tf2/`` (never the whole checkpoint in
memory: the peak is the tensor being copied, plus at most one copy of it in the reader). Everything
is written into a temporary directory beside ``--out`` and renamed into place at the end, so a
failure at any point (a truncated data file found halfway, a full disk) leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from tf2norm._words import plural

from . import manifest as mf
from . import source
from .errors import CheckpointError
from .reader import Tf1Checkpoint
from .tf2_export import Tf2LayerCheckpointWriter

TF2_DIR = "tf2"


def checked_inventory(ckpt: Tf1Checkpoint, data_formats=(), settings=(), settle=True, sources=(), notes=None):
    """The checkpoint's groups with the user's options applied; CheckpointError if unusable.

    ``settle``: leave out the candidate groups the options did not confirm (see :func:`settle_candidates`).
    ``sources``: program files whose calls give the settings the options leave out (``--source``,
    see :mod:`.source`); what was taken from them is appended to ``notes``.
    """
    inv = ckpt.inventory()
    if inv.problems:
        more = f" (and {len(inv.problems) - 1} more problems)" if len(inv.problems) > 1 else ""
        raise CheckpointError(inv.problems[0] + more)
    if not inv.groups:
        raise CheckpointError(f"no group tf2norm converts was recognised in "
                              f"{ckpt.path} ({plural(len(inv.variables), 'variable')})")
    from_source = source.apply(inv, sources, data_formats, settings)
    mf.apply_options(inv, [*from_source[0], *data_formats], [*from_source[1], *settings])
    if notes is not None:
        notes.extend(from_source[2])
    if settle:
        settle_candidates(inv, ckpt)
    return inv


def settle_candidates(inv, ckpt: Tf1Checkpoint) -> None:
    """Leave out candidate groups (``Group.required`` not given); CheckpointError if none is left."""
    from . import kinds

    dropped = inv.settle()
    if dropped and not inv.groups:
        g = dropped[0]
        key = g.unresolved[0]
        raise CheckpointError(f"no group to convert in {ckpt.path}: {g.scope} may be a {kinds.get(g.kind).TITLE}, "
                              f"but {g.required[key]}; pass --config {g.scope}:{key}=VALUE"
                              + (f" (and {plural(len(dropped) - 1, 'more such group')})" if len(dropped) > 1 else ""))


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_weights(ckpt: Tf1Checkpoint, manifest: dict, root: str, progress=None) -> None:
    """Copy every group's tensors, one read each, into ``weights.h5`` and ``tf2/<group>/ckpt``.

    Each tensor is read once (TF's RestoreV2), written to HDF5 from the same buffer and saved into
    the group's object-based TF2 checkpoint (see tf2_export), then dropped: about one tensor is
    alive at a time.
    """
    import h5py
    import numpy as np

    with h5py.File(os.path.join(root, mf.WEIGHTS_NAME), "w") as f:
        for e in manifest["groups"]:
            group = f.create_group(e["h5_group"])
            group.attrs["tf1_scope"] = e["scope"]
            relative = f"{TF2_DIR}/{e['h5_group']}/ckpt"
            with Tf2LayerCheckpointWriter(os.path.join(root, relative), e["weights"]) as tf2:
                for key, w in e["weights"].items():
                    tensor = ckpt.read_tensor(w["tf1_name"])
                    # memoryview: TF's documented read-only view of a tensor, without the copy .numpy() makes.
                    dataset = group.create_dataset(key, data=np.asarray(memoryview(tensor)))
                    dataset.attrs["tf1_name"] = w["tf1_name"]
                    tf2.add(key, tensor)
                    del tensor, dataset
                    if progress is not None:
                        progress(w["tf1_name"])
            e["tf2_checkpoint"] = relative


def convert(checkpoint, out, *, data_formats=(), settings=(), force=False, progress=None, sources=(),
            notes=None) -> dict:
    """Convert ``checkpoint`` into the directory ``out``; returns the manifest written.

    ``data_formats`` and ``settings`` are the CLI's ``--data-format`` and ``--config`` strings,
    ``sources`` its ``--source`` files (what was taken from them is appended to ``notes``).
    Raises CheckpointError (and writes nothing) for a bad checkpoint or option, an existing ``out``
    without ``force``, or a missing parent directory.
    """
    out = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise CheckpointError(f"cannot write {out}: directory {parent} does not exist")
    if os.path.lexists(out) and not force:
        raise CheckpointError(f"{out} already exists (use --force to replace it)")
    ckpt = Tf1Checkpoint(checkpoint)
    inv = checked_inventory(ckpt, data_formats, settings, sources=sources, notes=notes)
    manifest = mf.build(inv, ckpt.path)

    try:
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write {out}: {exc.strerror or exc}") from None
    try:
        weights = os.path.join(tmp, mf.WEIGHTS_NAME)
        write_weights(ckpt, manifest, tmp, progress)
        with open(os.path.join(tmp, mf.MANIFEST_NAME), "w", encoding="utf-8") as f:
            f.write(mf.dumps(manifest))
            f.flush()
            os.fsync(f.fileno())
        _fsync(weights)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it 0700
        if os.path.lexists(out):
            old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old-", dir=parent)
            os.rename(out, os.path.join(old, "x"))
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
        _fsync(parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"cannot write {out}: {exc.strerror or exc}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
