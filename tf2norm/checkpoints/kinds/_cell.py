"""What the kinds of RNN cell group share: a cell is built from ``(None, input_depth)``, and its
golden group needs the fields its kind lists as required."""

from __future__ import annotations

from ..errors import CheckpointError


def details(group) -> dict:
    return {"input_depth": group.input_depth}


def build_input_shape(group) -> list:
    return [None, group.input_depth]


def require(scope, fields, path, required) -> None:
    """CheckpointError naming the ``required`` golden fields that ``fields`` lacks."""
    missing = [f for f in required if f not in fields]
    if missing:
        raise CheckpointError(f"golden file {path}: {scope} lacks {', '.join(missing)}")
