"""What makes a Keras 3 cell also a TF1 `RNNCell`: the call dispatch and TF1's variable scoping.

Shared by the replacement cells (LayerNormBasicLSTMCell, LayerNormGRUCell). A cell mixes in
`Tf1Cell` before `keras.layers.Layer`, names its TF1 scope in `TF1_SCOPE`, calls
`_init_tf1_scoping()` in `__init__` and provides `_keras_weights()` (the Keras weights keyed by
TF1 name relative to the cell scope), `_tf1_graph_weights(depth, dtype)` (the same keys from
`tf.compat.v1.get_variable`) and `_legacy_call(inputs, state, scope)`, which gets its weights
from `_legacy_weights`.
"""

from __future__ import annotations

import contextlib
import weakref

import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph


def is_active_keep_prob(keep_prob) -> bool:
    # TF1: `if (not isinstance(self._keep_prob, float)) or self._keep_prob < 1`.
    return (not isinstance(keep_prob, float)) or keep_prob < 1


class Tf1Cell:
    """Mixin: `cell(x, state)` as TF1 code calls it, with TF1's variable scopes in graphs."""

    TF1_SCOPE: str = ""

    def _init_tf1_scoping(self):
        self._rnncell_scope = None
        self._tf1_scope = None
        self._tf1_built_graphs = weakref.WeakSet()

    def __call__(self, inputs, state=None, *args, **kwargs):
        # Keras' RNN always passes `training` to cells whose call() takes it; TF1 code
        # (dynamic_rnn, static_rnn, MultiRNNCell) calls `cell(x, state[, scope=...])`.
        if args or "training" in kwargs or set(kwargs) - {"scope"} or state is None:
            return super().__call__(inputs, state, *args, **kwargs)
        return self._legacy_call(inputs, state, scope=kwargs.get("scope"))

    @contextlib.contextmanager
    def _legacy_weights(self, inputs, scope):
        """The weights of a TF1-style call, keyed by TF1 name relative to the cell scope.

        In a tf.compat.v1 graph: TF1 variables from `get_variable`, inside the cell's TF1 scope
        (the body of the `with` runs in that scope too). Eagerly: the Keras weights, cast to the
        input dtype.
        """
        if in_legacy_graph():
            depth = inputs.shape[-1]
            if depth is None:
                raise ValueError(f"{type(self).__name__}: the input depth must be statically known")
            with self._tf1_scope_for_call(scope):
                yield self._tf1_graph_weights(int(depth), inputs.dtype.base_dtype)
        else:
            if not self.built:
                self.build(inputs.shape)
            yield {
                k: tf.cast(v, inputs.dtype) if v.dtype != inputs.dtype else v for k, v in self._keras_weights().items()
            }

    def _tf1_scope_for_call(self, scope):
        """Enter the variable scope TF1's RNNCell.__call__ + tf.layers.Layer.__call__ entered.

        First call: the cell captures the current scope, then a child scope named `TF1_SCOPE`
        (uniquified as TF1 did, `_1`, ...); later calls re-enter it with reuse=True. An explicit
        `scope=` is used as is.
        """
        graph = tf.compat.v1.get_default_graph()
        built = graph in self._tf1_built_graphs
        if scope is not None:
            outer = tf.compat.v1.variable_scope(scope)
        else:
            if self._rnncell_scope is None or not built:
                self._rnncell_scope = tf.compat.v1.get_variable_scope()
            outer = tf.compat.v1.variable_scope(self._rnncell_scope)
        return _Tf1CellScope(self, outer, scope, built, graph)


class _Tf1CellScope:
    """Context manager: outer captured scope, then the cell's own `TF1_SCOPE` scope."""

    def __init__(self, cell, outer, explicit_scope, built, graph):
        self._cell, self._outer, self._explicit = cell, outer, explicit_scope
        self._built, self._graph = built, graph
        self._inner = None

    def __enter__(self):
        cell = self._cell
        self._outer.__enter__()
        if self._explicit is not None:
            # TF1's _set_scope(scope) re-entered the explicit scope itself: variables go right under it.
            own_scope = tf.compat.v1.get_variable_scope()
        else:
            if cell._tf1_scope is None or not self._built:
                if cell.reuse:
                    with tf.compat.v1.variable_scope(cell.TF1_SCOPE) as captured:
                        cell._tf1_scope = captured
                else:
                    with tf.compat.v1.variable_scope(None, default_name=cell.TF1_SCOPE) as captured:
                        cell._tf1_scope = captured
            own_scope = cell._tf1_scope
        reuse = True if self._built else cell.reuse
        self._inner = tf.compat.v1.variable_scope(own_scope, reuse=reuse, auxiliary_name_scope=False)
        return self._inner.__enter__()

    def __exit__(self, *exc):
        self._inner.__exit__(*exc)
        self._outer.__exit__(*exc)
        if exc[0] is None:
            self._cell._tf1_built_graphs.add(self._graph)
        return False
