"""What the kinds of RNN cell group share: `CellKind`, shape checks, and running a cell over sequences.

A cell is built from ``(None, input_depth)``; its golden group needs the fields its kind lists in
``REQUIRED_GOLDEN``; verification runs batches of sequences of different lengths from a random state
(``random_sequences``), with TF1's ``dynamic_rnn`` semantics (``run_dynamic_rnn``, TF1 cells) or
Keras' (``run_keras_rnn``, tensorflow-addons' cells).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..errors import CheckpointError
from ..model import Group, shape_text
from ..rules import RULES
from ._kind import CheckpointKind

RANDOM_BATCH = 3
RANDOM_STEPS = 7
RANDOM_LENGTHS = (7, 4, 1)


class CellKind(CheckpointKind):
    """A kind whose replacement is an RNN cell (`CELL`): built from the group's input depth."""

    CELL = True
    #: The golden fields verification cannot do without.
    REQUIRED_GOLDEN: ClassVar[tuple[str, ...]] = ("inputs", "outputs")

    def details(self, group: Group) -> dict:
        return {"input_depth": group.input_depth}

    def build_input_shape(self, group: Group) -> list:
        return [None, group.input_depth]

    def check_golden(self, scope: str, fields: dict, path: str) -> None:
        missing = [f for f in self.REQUIRED_GOLDEN if f not in fields]
        if missing:
            raise CheckpointError(f"golden file {path}: {scope} lacks {', '.join(missing)}")


# ---------------------------------------------------------------------------------------- recognition
def problem(group: Group, title: str, message: str) -> None:
    """Record that the members of `group` (of the kind called `title`) contradict each other."""
    group.report(RULES["TF2N901"], title=title, scope=group.scope, detail=message)


def kernel_units(group: Group, table: dict, kernel: str, gates: int, title: str, label: str) -> int | None:
    """num_units of a TF1 cell from its kernel `[input_depth + num_units, gates * num_units]`, set in
    the group's config with its input depth; None (a problem recorded) for another shape. `label`
    names the kernel in the problem."""
    shape = table[kernel].shape
    if len(shape) != 2 or shape[1] % gates or shape[1] == 0:
        problem(group, title, f"{label} has shape {shape_text(shape)}, expected [input_depth + num_units, "
                              f"{gates} * num_units]")
        return None
    units = shape[1] // gates
    if shape[0] <= units:
        problem(group, title, f"{label} has shape {shape_text(shape)}: {shape[0]} rows leave no input depth "
                              f"for num_units={units}")
        return None
    group.config["num_units"] = units
    group.input_depth = shape[0] - units
    return units


def check_shapes(group: Group, table: dict, expected: dict, title: str, context: str = "") -> None:
    """A problem for each member of `group` whose shape is not `expected[member]` (`context` ends it)."""
    for key, shape in expected.items():
        name = group.weights.get(key)
        if name is not None and table[name].shape != shape:
            problem(group, title, f"{name} has shape {shape_text(table[name].shape)}, expected "
                                  f"{shape_text(shape)}{context}")


# --------------------------------------------------------------------------------------- verification
def random_sequences(rng, depth: int, units: int, states: int):
    """Seeded inputs ``[3, 7, depth]``, lengths 7, 4, 1 and a random initial state of `states` tensors."""
    x = rng.standard_normal((RANDOM_BATCH, RANDOM_STEPS, depth)).astype(np.float32)
    init = tuple((0.5 * rng.standard_normal((RANDOM_BATCH, units))).astype(np.float32) for _ in range(states))
    return x, np.array(RANDOM_LENGTHS, np.int32), init


def run_dynamic_rnn(cell, inputs, lengths, initial_state) -> tuple:
    """``dynamic_rnn`` semantics with a replacement cell on Keras' RNN layer: (outputs, final states).

    Outputs at and past each example's length are zero, the state frozen at its last valid step.
    """
    import keras
    import tensorflow as tf

    inputs = tf.convert_to_tensor(np.asarray(inputs, np.float32))
    b, t = inputs.shape[0], inputs.shape[1]
    lengths = np.full([b], t) if lengths is None else np.asarray(lengths).reshape(-1)
    mask = tf.constant(np.arange(t)[None, :] < lengths[:, None])
    rnn = keras.layers.RNN(cell, return_sequences=True, return_state=True)
    outputs, *final = rnn(inputs, mask=mask, initial_state=[tf.constant(np.asarray(s, np.float32))
                                                             for s in initial_state])
    outputs = tf.where(mask[:, :, None], outputs, tf.zeros_like(outputs))
    return outputs.numpy(), tuple(s.numpy() for s in final)


def run_keras_rnn(cell, inputs, mask=None, initial_state=None) -> list:
    """``keras.layers.RNN(cell, return_sequences=True, return_state=True)``: [outputs, *final states]."""
    import keras
    import tensorflow as tf

    kwargs = {"training": False}
    if mask is not None:
        kwargs["mask"] = tf.constant(np.asarray(mask, bool))
    if initial_state is not None:
        kwargs["initial_state"] = [tf.constant(np.asarray(s, np.float32)) for s in initial_state]
    results = keras.layers.RNN(cell, return_sequences=True, return_state=True)(
        tf.constant(np.asarray(inputs, np.float32)), **kwargs)
    return [np.asarray(r) for r in results]


def verify_keras_rnn(factory, fields, rng, compare, *, depth, units, states, reference) -> None:
    """Run the loaded cell through keras.layers.RNN on the golden `fields`, or on seeded random
    sequences compared with `reference(x, mask, init) -> (outputs, final states)`.

    `states`: the final-state field names in Keras' state order (`final_h`, `final_c`).
    """
    if fields is not None:
        x, mask = fields["inputs"], fields.get("mask")
        init = None
        if any("initial_" + s[len("final_"):] in fields for s in states):
            zero = np.zeros((np.shape(x)[0], units), np.float32)
            init = [fields.get("initial_" + s[len("final_"):], zero) for s in states]
        want = [fields["outputs"]] + [fields.get(s) for s in states]
    else:
        x, lengths, init = random_sequences(rng, depth, units, len(states))
        mask = np.arange(RANDOM_STEPS)[None, :] < lengths[:, None]
        init = list(init)
        outputs, final = reference(x, mask, init)
        want = [outputs, *final]
    if np.ndim(x) != 3 or np.shape(x)[-1] != depth:
        compare.mismatch(f"inputs have shape {list(np.shape(x))}, the kernel expects [batch, time, {depth}]")
        return
    got = run_keras_rnn(factory([None, depth]), x, mask, init)
    for what, g, w in zip(["outputs"] + [s.replace("_", " ") for s in states], got, want):
        if w is not None:
            compare(what, g, w)
