"""Which files a `migrate` run reads, and how it reads and replaces them without losing anything.

Discovery (like ruff and black): `*.py` and `*.ipynb` below each named directory, in sorted order,
minus the default exclusions (hidden directories, virtual environments, build outputs, ...; `--exclude`
replaces them, `--extend-exclude` adds to them), minus what `.gitignore` files ignore (those of the
named directory, of each directory below it, and of its parents up to the repository root). A file
named on the command line is taken as it is unless `--force-exclude` applies the same rules to it.
One file named several ways (`a.py`, `./a.py`, a symlink to it) is processed once. Symlinks met in a
directory are not followed: a `*.py` link to a file outside the named tree is reported (TF2N004), one
inside is processed under its own name.

Reading takes regular files only, up to a size limit (TF2N005 for a FIFO, a device or a larger file:
nothing is read from them). Replacing keeps the file's mode, owner and group, refuses read-only and
hard-linked files (TF2N003), and refuses a file that changed on disk after it was read (TF2N008): the
user's edit wins, and the file is migrated on the next run.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import stat
import time

from tf2norm.rewriters import _findings, _ignore

SUFFIXES = (".py", ".ipynb")
#: ruff's default exclusions (directories and files, matched by name at any depth), plus hidden directories.
DEFAULT_EXCLUDE = (".*/", ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints",
                   ".mypy_cache", ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache",
                   ".svn", ".tox", ".venv", ".vscode", "__pycache__", "__pypackages__", "_build", "buck-out",
                   "build", "dist", "node_modules", "site-packages", "venv")
#: Larger files are reported, not read: the biggest hand-written module of TensorFlow is 0.3 MB.
MAX_BYTES = 16 * 1024 * 1024
TEMPORARY_PREFIX, TEMPORARY_SUFFIX = ".tf2norm-", ".tmp"
# A temporary file younger than this may belong to a run that has not locked it yet.
_STALE_AFTER_S = 60


@dataclasses.dataclass(frozen=True)
class Selection:
    """What `discover` leaves out (the CLI's --exclude, --extend-exclude, --force-exclude, gitignore)."""

    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    extend_exclude: tuple[str, ...] = ()
    force_exclude: bool = False
    respect_gitignore: bool = True


class _Rules:
    """The exclusion patterns and the `.gitignore` files that apply below one directory."""

    def __init__(self, selection: Selection):
        self.selection = selection
        self.options = _ignore.parse(selection.exclude + selection.extend_exclude)
        self.cwd = os.getcwd()
        self._gitignores: dict[str, list] = {}

    def _gitignore(self, directory: str) -> list:
        if directory not in self._gitignores:
            self._gitignores[directory] = _ignore.read(os.path.join(directory, ".gitignore"))
        return self._gitignores[directory]

    def chain(self, directory: str) -> list[tuple[str, list]]:
        """The `.gitignore` files from the repository root down to `directory` (outside a
        repository: `directory`'s own)."""
        if not self.selection.respect_gitignore:
            return []
        directory = os.path.abspath(directory)
        parents, current = [directory], directory
        while not os.path.exists(os.path.join(current, ".git")):
            parent = os.path.dirname(current)
            if parent == current:
                parents = [directory]
                break
            parents.append(parent)
            current = parent
        return [(d, self._gitignore(d)) for d in reversed(parents) if self._gitignore(d)]

    def below(self, chain, directory: str):
        own = self._gitignore(os.path.abspath(directory)) if self.selection.respect_gitignore else []
        return chain + [(os.path.abspath(directory), own)] if own else chain

    def excluded(self, path: str, is_dir: bool, chain) -> bool:
        absolute = os.path.abspath(path)
        if _ignore.decide(self.options, os.path.relpath(absolute, self.cwd), is_dir):
            return True
        verdict = None
        for base, patterns in chain:
            found = _ignore.decide(patterns, os.path.relpath(absolute, base), is_dir)
            if found is not None:
                verdict = found
        return bool(verdict)

    def named_excluded(self, path: str) -> bool:
        """--force-exclude: is a named path, or a directory it is in, excluded?"""
        absolute = os.path.abspath(path)
        chain = self.chain(os.path.dirname(absolute))
        parts = os.path.relpath(absolute, self.cwd).split(os.sep)
        for depth in range(1, len(parts) + 1):
            if parts[depth - 1] in (os.curdir, os.pardir):
                continue
            prefix = os.path.join(self.cwd, *parts[:depth])
            if self.excluded(prefix, depth < len(parts) or os.path.isdir(prefix), chain):
                return True
        return False


def _identity(path: str):
    try:
        info = os.stat(path)
    except OSError:
        return ("path", os.path.abspath(path))
    return (info.st_dev, info.st_ino)


def _finding(path, code, **fields):
    return _findings.RULES[code].finding(path, 1, 1, **fields)


def discover(paths, selection: Selection = Selection()):
    """`(files, findings)`: the files to migrate, in order, once each, and the symlinks not followed."""
    rules = _Rules(selection)
    files, findings, seen = [], [], set()

    def add(path):
        key = _identity(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for path in paths:
        if not os.path.isdir(path):
            if not (selection.force_exclude and rules.named_excluded(path)):
                remove_stale_temporaries(os.path.dirname(os.path.realpath(path)))
                add(path)
            continue
        if selection.force_exclude and rules.named_excluded(path):
            continue
        root = os.path.realpath(path)
        stack = [(path, rules.chain(path))]
        while stack:
            directory, chain = stack.pop()
            remove_stale_temporaries(directory)
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError as error:
                findings.append(_finding(directory, "TF2N003", action="read", reason=error.strerror or str(error)))
                continue
            subdirectories = []
            for entry in entries:
                is_dir = entry.is_dir(follow_symlinks=False)
                if not is_dir and not entry.name.endswith(SUFFIXES):
                    continue
                if rules.excluded(entry.path, is_dir, chain):
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if os.path.commonpath([root, target]) != root:
                        findings.append(_finding(entry.path, "TF2N004", target=target, root=path))
                elif is_dir:
                    subdirectories.append(entry.path)
                else:
                    add(entry.path)
            stack.extend((d, rules.below(chain, d)) for d in reversed(subdirectories))
    return files, findings


# -- reading ---------------------------------------------------------------------------------------


class Unreadable(Exception):
    """Why a file is not read: a finding (TF2N003 or TF2N005)."""

    def __init__(self, finding):
        super().__init__(finding.message)
        self.finding = finding


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A file as it was read: what `replace` checks before writing over it."""

    data: bytes
    info: os.stat_result


def read(path: str, limit: int = MAX_BYTES) -> Snapshot:
    """The bytes of a regular file of at most `limit` bytes; Unreadable otherwise (nothing read)."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file ignores it.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        raise Unreadable(_finding(path, "TF2N003", action="read", reason=error.strerror or str(error))) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise Unreadable(_finding(path, "TF2N005", reason=kind))
        if info.st_size > limit:
            raise Unreadable(_finding(path, "TF2N005", reason=f"{info.st_size} bytes, more than the "
                                                              f"{limit}-byte limit"))
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew after the fstat
            raise Unreadable(_finding(path, "TF2N005", reason=f"more than the {limit}-byte limit"))
        return Snapshot(b"".join(chunks), info)
    except OSError as error:
        raise Unreadable(_finding(path, "TF2N003", action="read", reason=error.strerror or str(error))) from None
    finally:
        os.close(fd)


# -- replacing -------------------------------------------------------------------------------------


#: The temporaries being written now: what a worker process removes when it is told to stop.
IN_PROGRESS: set[str] = set()


def remove_in_progress() -> None:
    for temporary in list(IN_PROGRESS):
        try:
            os.unlink(temporary)
        except OSError:
            pass


class Unwritable(Exception):
    """Why a file was not replaced: a finding (TF2N003 or TF2N008); the file is as it was."""

    def __init__(self, finding):
        super().__init__(finding.message)
        self.finding = finding


def _same(info: os.stat_result, now: os.stat_result) -> bool:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns) == \
        (now.st_dev, now.st_ino, now.st_size, now.st_mtime_ns)


def replace(path: str, snapshot: Snapshot, data: bytes) -> None:
    """Write `data` over `path` atomically (temporary file + `os.replace`), as `snapshot` read it.

    Keeps mode, owner and group. Raises Unwritable, leaving the file untouched, for a read-only or
    hard-linked file, a file changed since `snapshot`, or an OSError (disk full, permissions).
    """
    real = os.path.realpath(path)
    info = snapshot.info
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o222 or not os.access(real, os.W_OK):
        # Root may write anything; a file nobody may write is still one the user meant to keep.
        raise Unwritable(_finding(path, "TF2N003", action="write", reason=f"read-only file (mode {mode:04o})"))
    if info.st_nlink > 1:
        raise Unwritable(_finding(path, "TF2N003", action="write",
                                  reason=f"{info.st_nlink} hard links; replacing it would split them"))
    # Named and registered before it exists (not by mkstemp, whose name comes back only after the file
    # is made): a signal can stop this process right after the file is created, and what it runs
    # then (a worker's SIGTERM handler, which removes IN_PROGRESS and exits; in the main process, the
    # except below, as SystemExit or KeyboardInterrupt unwinds) must know the name to remove it.
    temporary = os.path.join(os.path.dirname(real), f"{TEMPORARY_PREFIX}{os.urandom(16).hex()}{TEMPORARY_SUFFIX}")
    IN_PROGRESS.add(temporary)
    handle = None
    try:
        handle = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        # Locked while it exists: a later run removes only temporaries whose writer is gone.
        fcntl.flock(handle, fcntl.LOCK_EX)
        with os.fdopen(handle, "wb", closefd=False) as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if (os.fstat(handle).st_uid, os.fstat(handle).st_gid) != (info.st_uid, info.st_gid):
            try:
                os.fchown(handle, info.st_uid, info.st_gid)
            except PermissionError:
                raise Unwritable(_finding(path, "TF2N003", action="write", reason=(
                    f"cannot keep its owner {info.st_uid} and group {info.st_gid}"))) from None
        os.fchmod(handle, mode)  # after chown, which clears set-id bits
        if not _unchanged(real, snapshot):
            raise Unwritable(_finding(path, "TF2N008"))
        os.replace(temporary, real)
    except BaseException as error:
        if handle is not None or not isinstance(error, OSError):  # else not created (O_EXCL: not ours)
            try:
                os.unlink(temporary)
            except OSError:
                pass
        if isinstance(error, OSError):
            raise Unwritable(_finding(path, "TF2N003", action="write", reason=error.strerror or str(error))) from None
        raise
    finally:
        IN_PROGRESS.discard(temporary)
        if handle is not None:
            os.close(handle)


def _unchanged(real: str, snapshot: Snapshot) -> bool:
    """Is the file still what was read? (metadata first, then the bytes, for edits within mtime's grain)"""
    try:
        now = os.stat(real)
        if not _same(snapshot.info, now):
            return False
        with open(real, "rb") as f:
            return f.read(len(snapshot.data) + 1) == snapshot.data
    except OSError:
        return False


def remove_stale_temporaries(directory: str) -> None:
    """Delete `.tf2norm-*.tmp` files left in `directory` by a run that was killed.

    A temporary is stale when no process holds its lock and it is older than a minute; anything else
    (a concurrent run's file, a file of that name that is not ours) is left alone.
    """
    try:
        names = [n for n in os.listdir(directory) if n.startswith(TEMPORARY_PREFIX) and n.endswith(TEMPORARY_SUFFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or time.time() - info.st_mtime < _STALE_AFTER_S:
                continue
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.unlink(path)
        except OSError:
            continue
        finally:
            os.close(fd)
