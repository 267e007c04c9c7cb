"""What the TensorFlow side of tf2norm needs, checked without importing TensorFlow.

`pip install tf2norm` installs only what `tf2norm migrate` needs (libcst, click): the rewriters never
import TensorFlow, and TensorFlow has no wheel for every platform under one name (`tensorflow-cpu`
has none for Apple silicon; `tensorflow-macos` none elsewhere), nor should a GPU user's `tensorflow`
get a second copy of the same package beside it. `tf2norm.replacements` and `tf2norm.checkpoints`
work with whichever distribution provides `import tensorflow` (`tensorflow`, `tensorflow-cpu`,
`tensorflow-macos`, `tensorflow[and-cuda]`, ...), 2.16 or later (Keras 3); without one they stop
with one line naming what to install. `pip install 'tf2norm[tf]'` installs `tensorflow` as well.
"""

from __future__ import annotations

import importlib.util
from importlib import metadata

INSTALL = ("pip install 'tf2norm[tf]' (or any TensorFlow 2.16+ distribution: tensorflow, tensorflow-cpu, "
           "tensorflow-macos, ...)")


class MissingDependency(ImportError):
    """TensorFlow (or a package it brings) is missing or too old; the message says what to install."""


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a blocked or half-imported module
        return False


def problem(user: str) -> str | None:
    """Why `user` (a module or command) cannot run here, on one line; None when it can."""
    if not _importable("tensorflow"):
        return f"{user} needs TensorFlow 2.16 or later, which is not installed: {INSTALL}"
    try:
        keras = metadata.version("keras")
    except metadata.PackageNotFoundError:
        keras = None
    if keras is None or not _importable("keras"):
        return f"{user} needs Keras 3 (TensorFlow 2.16 or later brings it), which is not installed: {INSTALL}"
    if int(keras.split(".")[0]) < 3:
        return (f"{user} needs TensorFlow 2.16 or later (Keras 3); this environment has Keras {keras}, "
                f"from an older TensorFlow: pip install --upgrade 'tensorflow>=2.16' (or your TensorFlow "
                f"distribution, e.g. tensorflow-cpu)")
    for name in ("numpy", "h5py"):
        if not _importable(name):
            return f"{user} needs {name}, which is not installed: pip install {name}"
    return None


def require(user: str) -> None:
    """Raise MissingDependency with the one-line reason when `user` cannot run here."""
    reason = problem(user)
    if reason is not None:
        raise MissingDependency(reason)
