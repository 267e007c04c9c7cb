"""`MultiRNNCell` and `DropoutWrapper`: the TF1 wrappers migrated RNN code needs on Keras 3.

`tf.compat.v1.nn.rnn_cell.MultiRNNCell` and `DropoutWrapper` raise "not available with Keras 3"
on TF 2.16+, while `tf.compat.v1.nn.dynamic_rnn` still works with any cell that has
`state_size`, `output_size`, `zero_state` and `__call__(x, state)`. These wrappers provide that
protocol with TF1's scoping (`multi_rnn_cell/cell_N/`; the dropout wrapper adds no scope), and
also work as Keras RNN cells.
"""

from __future__ import annotations

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

__all__ = ["DropoutWrapper", "LSTMStateTuple", "MultiRNNCell"]

_MULTI_SCOPE = "multi_rnn_cell"


def _call_cell(cell, inputs, state, training, legacy):
    if legacy:
        return cell(inputs, state)
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
        graph = program_graph()  # not a while loop's body graph (see program_graph)
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
    """Apply `drop` to every state tensor except the `c` of LSTMStateTuples (TF1's default filter)."""
    if isinstance(state, LSTMStateTuple):
        return LSTMStateTuple(state.c, drop(state.h))
    if isinstance(state, (list, tuple)):
        return type(state)(_drop_state(s, drop) for s in state)
    return drop(state)


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

    def _wrapped(self, inputs, state, training, legacy):
        def maybe(x, keep_prob, salt):
            seed = None if self.seed is None else self.seed + salt
            return tf1_dropout(x, keep_prob, seed, training, legacy)

        inputs = maybe(inputs, self.input_keep_prob, 0)
        output, new_state = _call_cell(self.cell, inputs, state, training, legacy)
        if is_active_keep_prob(self.state_keep_prob):
            new_state = _drop_state(new_state, lambda s: maybe(s, self.state_keep_prob, 1))
        output = maybe(output, self.output_keep_prob, 2)
        return output, new_state

    def __call__(self, inputs, state=None, *args, **kwargs):
        if not is_tf1_call(state, args, kwargs):
            return super().__call__(inputs, state, *args, **kwargs)
        return self._wrapped(tf.convert_to_tensor(inputs), state, None, legacy=True)

    def call(self, inputs, states, training=None):
        return self._wrapped(inputs, states, training, legacy=False)
