"""`MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper`, `DeviceWrapper`: TF1's wrappers on Keras 3.

`tf.compat.v1.nn.rnn_cell.MultiRNNCell` and the wrappers raise "not available with Keras 3"
on TF 2.16+, while `tf.compat.v1.nn.dynamic_rnn` still works with any cell that has
`state_size`, `output_size`, `zero_state` and `__call__(x, state)`. These wrappers provide that
protocol with TF1's scoping (`multi_rnn_cell/cell_N/`; the other wrappers add no scope), and
also work as Keras RNN cells.
"""

from __future__ import annotations

import hashlib

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph
from tf2norm.replacements._tf1_cell import (
    LSTMStateTuple,
    is_active_keep_prob,
    is_tf1_call,
    program_graph,
    tf1_dropout,
)

__all__ = ["DeviceWrapper", "DropoutWrapper", "LSTMStateTuple", "MultiRNNCell", "ResidualWrapper"]

_MULTI_SCOPE = "multi_rnn_cell"


def _call_cell(cell, inputs, state, training, legacy, scope=None):
    if legacy:
        # TF1's wrappers passed their `scope=` on to the wrapped cell.
        return cell(inputs, state) if scope is None else cell(inputs, state, scope=scope)
    if isinstance(cell, keras.layers.Layer) and cell._call_has_training_arg:
        return cell(inputs, state, training=training)
    return cell(inputs, state)


class MultiRNNCell(keras.layers.Layer):
    """TF1's `MultiRNNCell(cells, state_is_tuple=True)`: cells stacked, state a tuple per cell."""

    def __init__(self, cells, state_is_tuple=True, **kwargs):
        super().__init__(**kwargs)
        if not cells:
            raise ValueError("MultiRNNCell needs at least one cell")
        if not state_is_tuple:
            raise ValueError(
                "MultiRNNCell(state_is_tuple=False) concatenates states into one tensor; TF1 deprecated it "
                "and tf2norm does not support it: use state_is_tuple=True (the default)"
            )
        self.cells = list(cells)
        self.state_size = tuple(cell.state_size for cell in self.cells)
        self.output_size = self.cells[-1].output_size
        self._tf1_scopes = {}

    def build(self, input_shape):
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, keras.layers.Layer) and not cell.built:
                cell.build(shape)
            shape = shape[:-1] + (cell.output_size,)
        self.built = True

    def zero_state(self, batch_size, dtype):
        return tuple(cell.zero_state(batch_size, dtype) for cell in self.cells)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        if dtype is None:  # Keras
            return [cell.get_initial_state(batch_size=batch_size) for cell in self.cells]
        return self.zero_state(batch_size, dtype)

    def __call__(self, inputs, state=None, *args, **kwargs):
        if not is_tf1_call(state, args, kwargs):
            return super().__call__(inputs, state, *args, **kwargs)
        return self._legacy_call(inputs, state, kwargs.get("scope"))

    def call(self, inputs, states, training=None):
        new_states = []
        output = inputs
        for cell, cell_state in zip(self.cells, states):
            output, new_state = _call_cell(cell, output, cell_state, training, legacy=False)
            new_states.append(list(new_state) if isinstance(new_state, (list, tuple)) else new_state)
        return output, new_states

    def _legacy_call(self, inputs, state, scope):
        if not isinstance(state, (list, tuple)) or len(state) != len(self.cells):
            raise ValueError(f"MultiRNNCell expected a tuple of {len(self.cells)} states, got {state!r}")
        if not in_legacy_graph():
            return self._stack(inputs, state, scope_for=None)
        graph = program_graph()
        if scope is not None:
            outer = tf.compat.v1.variable_scope(scope)
        elif graph in self._tf1_scopes:
            outer = tf.compat.v1.variable_scope(self._tf1_scopes[graph], reuse=True, auxiliary_name_scope=False)
        else:
            outer = tf.compat.v1.variable_scope(None, default_name=_MULTI_SCOPE)
        with outer as captured:
            self._tf1_scopes.setdefault(graph, captured)
            return self._stack(inputs, state, scope_for=lambda i: tf.compat.v1.variable_scope(f"cell_{i}"))

    def _stack(self, inputs, state, scope_for):
        output, new_states = inputs, []
        for i, (cell, cell_state) in enumerate(zip(self.cells, state)):
            if scope_for is None:
                output, new_state = cell(output, cell_state)
            else:
                with scope_for(i):
                    output, new_state = cell(output, cell_state)
            new_states.append(new_state)
        return output, tuple(new_states)


def _drop_state(state, drop):
    """Apply `drop(tensor, i)` to every state tensor except the `c` of LSTMStateTuples (TF1's default
    filter); `i` is the tensor's index in the flattened state, as TF1 salted its seeds."""
    index = iter(range(len(tf.nest.flatten(state))))

    def visit(value):
        if isinstance(value, LSTMStateTuple):
            next(index)  # c: kept
            return LSTMStateTuple(value.c, drop(value.h, next(index)))
        if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
            return type(value)(visit(s) for s in value)
        if isinstance(value, tuple):  # another named tuple
            return type(value)(*(visit(s) for s in value))
        return drop(value, next(index))

    return visit(state)


def tf1_wrapper_seed(seed, salt_prefix: str, index: int):
    """TF1's `DropoutWrapper._gen_seed`: the op seed of one dropout, from the wrapper's `seed`."""
    if seed is None:
        return None
    digest = hashlib.md5((str(seed) + f"{salt_prefix}_{index}").encode("utf-8")).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


class DropoutWrapper(keras.layers.Layer):
    """TF1's `DropoutWrapper` (non-variational): dropout on a cell's inputs, outputs and state.

    Keep probabilities are floats or scalar tensors. In TF1-style calls dropout runs whenever a
    keep probability is not the float 1.0; in Keras calls only when `training` is true. As in
    TF1, state dropout skips the `c` of an `LSTMStateTuple` and the wrapper adds no variable scope.
    """

    def __init__(
        self,
        cell,
        input_keep_prob=1.0,
        output_keep_prob=1.0,
        state_keep_prob=1.0,
        variational_recurrent=False,
        input_size=None,
        dtype=None,
        seed=None,
        dropout_state_filter_visitor=None,
        **kwargs,
    ):
        if variational_recurrent:
            raise NotImplementedError(
                "DropoutWrapper(variational_recurrent=True) is not supported by tf2norm: its per-sequence "
                "masks need the input size; apply keras.layers.RNN(cell, dropout=..., recurrent_dropout=...) instead"
            )
        if dropout_state_filter_visitor is not None:
            raise NotImplementedError("DropoutWrapper(dropout_state_filter_visitor=...) is not supported by tf2norm")
        super().__init__(**kwargs)
        self.cell = cell
        self.input_keep_prob = input_keep_prob
        self.output_keep_prob = output_keep_prob
        self.state_keep_prob = state_keep_prob
        self.seed = seed

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def build(self, input_shape):
        if isinstance(self.cell, keras.layers.Layer) and not self.cell.built:
            self.cell.build(input_shape)
        self.built = True

    def zero_state(self, batch_size, dtype):
        return self.cell.zero_state(batch_size, dtype)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        return self.cell.get_initial_state(inputs=inputs, batch_size=batch_size, dtype=dtype)

    def _wrapped(self, inputs, state, training, legacy, scope=None):
        def maybe(x, keep_prob, salt, index=0):
            return tf1_dropout(x, keep_prob, tf1_wrapper_seed(self.seed, salt, index), training, legacy)

        inputs = maybe(inputs, self.input_keep_prob, "input")
        output, new_state = _call_cell(self.cell, inputs, state, training, legacy, scope)
        if is_active_keep_prob(self.state_keep_prob):
            new_state = _drop_state(new_state, lambda s, i: maybe(s, self.state_keep_prob, "state", i))
        output = maybe(output, self.output_keep_prob, "output")
        return output, new_state

    def __call__(self, inputs, state=None, *args, **kwargs):
        if not is_tf1_call(state, args, kwargs):
            return super().__call__(inputs, state, *args, **kwargs)
        return self._wrapped(tf.convert_to_tensor(inputs), state, None, legacy=True, scope=kwargs.get("scope"))

    def call(self, inputs, states, training=None):
        return self._wrapped(inputs, states, training, legacy=False)


class _PlainWrapper(keras.layers.Layer):
    """A TF1 wrapper that adds no variable scope and no state: `state_size`, `zero_state` are the cell's."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def build(self, input_shape):
        if isinstance(self.cell, keras.layers.Layer) and not self.cell.built:
            self.cell.build(input_shape)
        self.built = True

    def zero_state(self, batch_size, dtype):
        with tf.name_scope(type(self).__name__ + "ZeroState"):
            return self.cell.zero_state(batch_size, dtype)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        return self.cell.get_initial_state(inputs=inputs, batch_size=batch_size, dtype=dtype)

    def __call__(self, inputs, state=None, *args, **kwargs):
        if not is_tf1_call(state, args, kwargs):
            return super().__call__(inputs, state, *args, **kwargs)
        return self._wrapped(tf.convert_to_tensor(inputs), state, None, legacy=True, scope=kwargs.get("scope"))

    def call(self, inputs, states, training=None):
        return self._wrapped(inputs, states, training, legacy=False)

    def _wrapped(self, inputs, state, training, legacy, scope=None):
        raise NotImplementedError


class ResidualWrapper(_PlainWrapper):
    """TF1's `ResidualWrapper(cell, residual_fn=None)`: the cell's output plus its input.

    `residual_fn(inputs, outputs)` replaces the sum (TF1's default: `inputs + outputs`, element by
    element over matching structures, whose static shapes must agree).
    """

    def __init__(self, cell, residual_fn=None, **kwargs):
        super().__init__(cell, **kwargs)
        self.residual_fn = residual_fn

    def _wrapped(self, inputs, state, training, legacy, scope=None):
        outputs, new_state = _call_cell(self.cell, inputs, state, training, legacy, scope)
        if self.residual_fn is not None:
            return self.residual_fn(inputs, outputs), new_state

        def add(inp, out):
            inp.shape.assert_is_compatible_with(out.shape)
            return inp + out

        tf.nest.assert_same_structure(inputs, outputs)
        return tf.nest.map_structure(add, inputs, outputs), new_state


class DeviceWrapper(_PlainWrapper):
    """TF1's `DeviceWrapper(cell, device)`: the cell (and its zero state) placed with `tf.device(device)`."""

    def __init__(self, cell, device, **kwargs):
        super().__init__(cell, **kwargs)
        self.device = device

    def zero_state(self, batch_size, dtype):
        with tf.name_scope(type(self).__name__ + "ZeroState"), tf.device(self.device):
            return self.cell.zero_state(batch_size, dtype)

    def _wrapped(self, inputs, state, training, legacy, scope=None):
        with tf.device(self.device):
            return _call_cell(self.cell, inputs, state, training, legacy, scope)
