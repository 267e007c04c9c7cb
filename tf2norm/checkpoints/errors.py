"""The one error the checkpoint tools raise for bad input (the CLI prints it on one line, exit 2)."""

from __future__ import annotations


class CheckpointError(Exception):
    """A checkpoint, converted directory, golden file or option tf2norm cannot use.

    The message is a single line that names the file or variable at fault.
    """

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))
