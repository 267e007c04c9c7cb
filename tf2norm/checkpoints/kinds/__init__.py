"""Kinds of checkpoint group: one module per legacy layer whose variables tf2norm converts.

The generic checkpoint code (``naming``, ``manifest``, ``report``, ``restore``, ``verify``,
``golden``, ``source``) knows nothing about any one layer: everything about a kind lives in its
module here, discovered automatically, as the rewriters are. A kind module is named by the kind's
``ID`` and defines ``KIND``, an instance of a `_kind.CheckpointKind` subclass (`_cell.CellKind` for
RNN cells): the class attributes and methods that contract documents. tf2norm.apis says which
legacy API each kind belongs to.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from ._kind import CheckpointKind

__all__ = ["CheckpointKind", "all_kinds", "get", "replacement_class", "short_class_name"]


@lru_cache(maxsize=None)
def _kinds() -> tuple[CheckpointKind, ...]:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        kind = getattr(importlib.import_module(f"{__name__}.{info.name}"), "KIND", None)
        if not isinstance(kind, CheckpointKind):
            raise RuntimeError(f"checkpoint kind module {info.name} defines no KIND (a CheckpointKind)")
        if kind.ID != info.name:
            raise RuntimeError(f"checkpoint kind module {info.name} has ID {kind.ID!r}")
        found.append(kind)
    return tuple(sorted(found, key=lambda k: (k.PRIORITY, k.ID)))


def all_kinds() -> tuple[CheckpointKind, ...]:
    """Every kind, in recognition order."""
    return _kinds()


def get(kind_id: str) -> CheckpointKind:
    for kind in _kinds():
        if kind.ID == kind_id:
            return kind
    raise KeyError(f"unknown checkpoint group kind {kind_id!r} "
                   f"(known: {', '.join(k.ID for k in _kinds())})")


def replacement_class(kind_id: str):
    """The replacement class of a kind (imports TensorFlow)."""
    return get(kind_id).replacement_class()


def short_class_name(kind_id: str) -> str:
    return get(kind_id).REPLACEMENT.rsplit(".", 1)[-1]
