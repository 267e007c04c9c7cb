"""``tf2norm checkpoint convert``: stream a TF1 checkpoint's groups into a converted directory.

Tensors move one at a time from the TF1 reader into ``weights.h5`` and, group by group, into
object-based TF2 checkpoints under ``tf2/`` (never the whole checkpoint in
memory: the peak is the tensor being copied, plus at most one copy of it in the reader). Everything
is written into a temporary directory beside ``--out`` and renamed into place at the end, so a
failure at any point (a truncated data file found halfway, a full disk) leaves nothing behind.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import shutil
import tempfile
import time

from tf2norm._words import plural

from . import kinds, naming, source
from . import manifest as mf
from .errors import CheckpointError
from .reader import Tf1Checkpoint
from .rules import RULES
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
    dropped = naming.settle(inv)
    if dropped and not inv.groups:
        g = dropped[0]
        key = g.unresolved[0]
        raise CheckpointError(f"no group to convert in {ckpt.path}: {g.scope} may be a {kinds.get(g.kind).TITLE}, "
                              f"but {g.required[key]}; pass --config {g.scope}:{key}=VALUE"
                              + (f" (and {plural(len(dropped) - 1, 'more such group')})" if len(dropped) > 1 else ""))


def non_finite(name: str, array) -> list[str]:
    """A warning line when a float tensor holds NaN or infinite values (TF1 saved them as they were)."""
    import numpy as np

    if array.dtype.kind not in "fc":
        return []
    bad = array.size - int(np.count_nonzero(np.isfinite(array)))
    return [RULES["TF2N903"].finding(name, 0, 0, name=name, bad=bad, size=array.size).message] if bad else []


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_weights(ckpt: Tf1Checkpoint, manifest: dict, root: str, progress=None, warnings=None) -> None:
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
                    array = np.asarray(memoryview(tensor))
                    if warnings is not None:
                        warnings.extend(non_finite(w["tf1_name"], array))
                    dataset = group.create_dataset(key, data=array)
                    dataset.attrs["tf1_name"] = w["tf1_name"]
                    tf2.add(key, tensor)
                    del tensor, dataset, array
                    if progress is not None:
                        progress(w["tf1_name"])
            e["tf2_checkpoint"] = relative


def _inputs(ckpt: Tf1Checkpoint) -> list[str]:
    """The files a checkpoint is read from (its index and data files, or its one V1 file)."""
    found = glob.glob(glob.escape(ckpt.path) + ".data-*-of-*") + [ckpt.path + ".index", ckpt.path]
    return [os.path.realpath(p) for p in found if os.path.exists(p)]


def _check_out(out: str, ckpt: Tf1Checkpoint, force: bool) -> None:
    """Refuse an ``out`` that holds the checkpoint, and replace only a previous tf2norm output."""
    real = os.path.realpath(out)
    for path in _inputs(ckpt):
        if path == real or os.path.commonpath([real, path]) == real:
            raise CheckpointError(f"--out {out} holds the checkpoint being converted ({path}); "
                                  "choose a new directory")
    if not os.path.lexists(out):
        return
    if not force:
        raise CheckpointError(f"{out} already exists (use --force to replace it)")
    manifest = os.path.join(out, mf.MANIFEST_NAME)
    try:
        with open(manifest, encoding="utf-8") as f:
            ours = json.load(f).get("format") == mf.FORMAT
    except (OSError, ValueError, AttributeError):
        ours = False
    if os.path.islink(out) or not os.path.isdir(out) or not ours:
        raise CheckpointError(f"{out} is not a tf2norm converted directory (no tf2norm {mf.MANIFEST_NAME}); "
                              "--force replaces only those: remove it yourself or choose another --out")


_LOCK_NAME = ".tf2norm.lock"
_STALE_AFTER_S = 60


def remove_stale(parent: str, name: str, out: str) -> None:
    """Remove what a killed convert left beside ``out``: ``.NAME.tmp-*`` directories whose lock is free,
    ``.NAME.old-*`` ones older than a minute (putting the previous output back if ``out`` is missing)."""
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        path = os.path.join(parent, entry)
        if entry.startswith(f".{name}.tmp-") and os.path.isdir(path) and not os.path.islink(path):
            if _lock_is_free(os.path.join(path, _LOCK_NAME)):
                shutil.rmtree(path, ignore_errors=True)
        elif entry.startswith(f".{name}.old-") and os.path.isdir(path) and not os.path.islink(path):
            try:
                if time.time() - os.stat(path).st_mtime < _STALE_AFTER_S:
                    continue
                previous = os.path.join(path, "x")
                if not os.path.lexists(out) and os.path.isdir(previous):
                    os.rename(previous, out)  # killed between the two renames: the old output comes back
            except OSError:
                continue
            shutil.rmtree(path, ignore_errors=True)


def _lock_is_free(path: str) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:  # made before its lock (a split second), or by an older tf2norm
        try:
            return time.time() - os.stat(os.path.dirname(path)).st_mtime > _STALE_AFTER_S
        except OSError:
            return False
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def convert(checkpoint, out, *, data_formats=(), settings=(), force=False, progress=None, sources=(),
            notes=None, warnings=None) -> dict:
    """Convert ``checkpoint`` into the directory ``out``; returns the manifest written.

    ``data_formats`` and ``settings`` are the CLI's ``--data-format`` and ``--config`` strings,
    ``sources`` its ``--source`` files (what was taken from them is appended to ``notes``).
    Raises CheckpointError (and writes nothing) for a bad checkpoint or option, an ``out`` that holds
    the checkpoint, an existing ``out`` without ``force`` (or, with it, one that is not a previous
    tf2norm output), a missing parent directory or a failed write (a full disk).
    ``warnings`` (a list) receives one line per tensor with NaN or infinite values.
    """
    out = os.path.abspath(os.fspath(out))
    parent = os.path.dirname(out)
    if not os.path.isdir(parent):
        raise CheckpointError(f"cannot write {out}: directory {parent} does not exist")
    if os.path.lexists(out) and not force:
        raise CheckpointError(f"{out} already exists (use --force to replace it)")
    ckpt = Tf1Checkpoint(checkpoint)
    _check_out(out, ckpt, force)
    inv = checked_inventory(ckpt, data_formats, settings, sources=sources, notes=notes)
    manifest = mf.build(inv, ckpt.path)
    remove_stale(parent, os.path.basename(out), out)

    try:
        tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.tmp-", dir=parent)
    except OSError as exc:
        raise CheckpointError(f"cannot write {out}: {exc.strerror or exc}") from None
    import tensorflow as tf

    lock = None
    try:
        lock = os.open(os.path.join(tmp, _LOCK_NAME), os.O_WRONLY | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)  # held until the end: a later run leaves this directory alone
        weights = os.path.join(tmp, mf.WEIGHTS_NAME)
        write_weights(ckpt, manifest, tmp, progress, warnings)
        os.unlink(os.path.join(tmp, _LOCK_NAME))  # not part of the output (the lock stays held)
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
    except (OSError, tf.errors.OpError) as exc:  # a full disk: OSError from HDF5, an OpError from SaveV2
        shutil.rmtree(tmp, ignore_errors=True)
        reason = getattr(exc, "strerror", None) or _last_part(getattr(exc, "message", None) or str(exc))
        raise CheckpointError(f"cannot write {out}: {reason}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        if lock is not None:
            os.close(lock)
    return manifest


def _last_part(message: str) -> str:
    """`No space left on device` out of TensorFlow's `{{function_node ...}} path; No space left ... [Op:SaveV2]`."""
    first = (message.strip().splitlines() or [""])[0]
    return first.split("; ")[-1].split(" [Op:")[0].strip() or first
