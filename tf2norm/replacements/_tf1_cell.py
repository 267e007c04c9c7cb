"""`Tf1RecurrentCell`: the base of every replacement TF1 RNN cell, a Keras 3 cell that is also a TF1 cell.

TF1's `RNNCell`s (contrib's LayerNormBasicLSTMCell, the hand-written cells people copied) were called
`cell(x, state[, scope])` by `dynamic_rnn` and created `tf.compat.v1.get_variable`s under their own
variable scope; Keras 3 cells are called `cell(x, states, training=...)` by `keras.layers.RNN` and own
Keras weights. A replacement cell is both, and this base owns what that takes, as Keras'
`DropoutRNNCell` mixin owns the dropout of Keras' cells:

* the TF1 weight table (`tf1_weights(depth)`: `{TF1 name: Weight}`, in the order TF1 created them):
  `build` makes one Keras weight per entry, named and held as attribute after the TF1 name with `/`
  written `_` (`input/gamma` -> `input_gamma`); in a tf.compat.v1 graph a TF1-style call makes the
  same table with `get_variable`, under TF1's names, so a TF1 `Saver` checkpoint restores as is;
* the call dispatch: Keras passes `training` (or more arguments), TF1 code never does;
* TF1's variable scoping (`TF1_SCOPING`): "layer" for cells built on TF1's `LayerRNNCell` (a scope
  named `TF1_SCOPE`, uniquified `_1`, ... at the first call and re-entered with reuse after, or the
  call's `scope=`), "call" for cells that overrode `RNNCell.__call__` with
  `variable_scope(scope or TF1_SCOPE)` on every call;
* the recurrent dropout of TF1's cells (`dropout`): in Keras calls only when `training` is true; in
  TF1-style calls whenever the keep probability is not the float 1.0, as TF1 did;
* the zero state in both conventions (a Keras list, a TF1 tuple or `LSTMStateTuple`), and
  `get_config` of the constructor arguments in `CONFIG`.

A cell subclasses `Tf1RecurrentCell` (before nothing else: it is a `keras.layers.Layer`), sets
`TF1_SCOPE` and `CONFIG`, its `state_size` and `output_size` in `__init__`, and defines
`tf1_weights(depth)`, `step(inputs, state, weights, training, legacy) -> (output, new state)` (state a
tuple of tensors, weights by TF1 name) and, when its TF1 state is not a plain tuple, `tf1_state`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import weakref
from typing import Any

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph, static_bool


def _tensorflow_lstm_state_tuple():
    """TensorFlow's own `LSTMStateTuple` class, or None where this TensorFlow no longer has it.

    `tf.compat.v1.nn.rnn_cell.LSTMStateTuple` raises on Keras 3, but the class behind it still lives in
    `tensorflow.python.ops.rnn_cell_impl` (TF 2.16-2.21). Using that class keeps `isinstance(state,
    LSTMStateTuple)` true both ways between tf2norm's states and those TensorFlow's own code makes.
    """
    try:
        from tensorflow.python.ops import rnn_cell_impl
    except ImportError:
        return None
    cls = getattr(rnn_cell_impl, "LSTMStateTuple", None)
    if not (isinstance(cls, type) and issubclass(cls, tuple) and getattr(cls, "_fields", None) == ("c", "h")):
        return None
    return cls


class _LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """TF1's `LSTMStateTuple(c, h)`, for a TensorFlow without its own class."""

    __slots__ = ()

    @property
    def dtype(self):
        if self.c.dtype != self.h.dtype:
            raise TypeError(f"Inconsistent internal state: {self.c.dtype} vs {self.h.dtype}")
        return self.c.dtype


#: TF1's `LSTMStateTuple(c, h)`: TensorFlow's own class where it is importable (it is on TF 2.16-2.21),
#: so that states made by tf2norm and by TensorFlow's code pass each other's `isinstance` checks.
LSTMStateTuple = _tensorflow_lstm_state_tuple() or _LSTMStateTuple


def is_tf1_call(state, args, kwargs) -> bool:
    """Whether `cell(inputs, state, *args, **kwargs)` is a TF1-style call.

    Keras' RNN always passes `training` to cells whose call() takes it; TF1 code (dynamic_rnn,
    static_rnn, MultiRNNCell) calls `cell(x, state[, scope=...])`.
    """
    return not (args or "training" in kwargs or set(kwargs) - {"scope"} or state is None)


def is_active_keep_prob(keep_prob) -> bool:
    """Whether TF1 applied dropout for this keep probability (a tensor always counts)."""
    # TF1: `if (not isinstance(self._keep_prob, float)) or self._keep_prob < 1`.
    return (not isinstance(keep_prob, float)) or keep_prob < 1


def gated_dropout(x, keep_prob, training, legacy: bool, drop):
    """`drop(x)` where TF1's cells and wrappers applied dropout of keep probability `keep_prob`, else `x`.

    `legacy` (a TF1-style call): whenever the keep probability is active (see is_active_keep_prob).
    Otherwise (a Keras call) only when `training` is true: a Python bool or a constant picks a branch
    now, a run-time tensor becomes a `tf.cond`, None means inference.
    """
    if not is_active_keep_prob(keep_prob):
        return x
    if legacy:
        return drop(x)
    static = static_bool(training)
    if training is None or static is False:
        return x
    if static is None:
        return tf.cond(tf.cast(training, tf.bool), lambda: drop(x), lambda: x)
    return drop(x)


def tf1_dropout(x, keep_prob, seed, training, legacy: bool):
    """TF1's `nn.dropout(x, keep_prob, seed)` where TF1 applied it (see gated_dropout)."""
    return gated_dropout(x, keep_prob, training, legacy, lambda v: keep_prob_dropout(v, keep_prob, seed))


def keep_prob_dropout(x, keep_prob, seed):
    """TF1's `nn.dropout(x, keep_prob, seed)` (TF 1.15's `dropout_v2`), op for op: zero or `x * (1 / keep_prob)`.

    Not TF2's `tf.nn.dropout`, whose arithmetic differs: `rate` is TF1's `1 - keep_prob` (in Python for
    a float: `1 - 0.9` is 0.09999999999999998, which rounds to float32 0.1, while `1 - float32(0.9)`
    is 0.10000002), which moves the mask's threshold, and TF2 divides by `1 - rate` where TF1
    multiplied by `1 / (1 - rate)`, which moves the kept values by an ulp. With an op seed and the
    same graph seed the uniform draws are TF1's (same kernel and Philox stream), so the masks are
    TF1's bit for bit.
    """
    x = tf.convert_to_tensor(x)
    if isinstance(keep_prob, (int, float)):
        rate = tf.constant(1.0 - keep_prob, dtype=x.dtype)
    else:
        rate = 1 - tf.cast(keep_prob, x.dtype)
    random = tf.random.uniform(tf.shape(x), seed=seed, dtype=x.dtype)
    scale = 1 / (1 - rate)
    kept = x * scale * tf.cast(random >= rate, x.dtype)
    kept.set_shape(x.shape)
    return kept


@dataclasses.dataclass(frozen=True)
class Weight:
    """One entry of a cell's TF1 weight table.

    `initializer`: a Keras initializer (a name, an instance, a callable `(shape, dtype)`); None is
    TF1's default: glorot-uniform for the Keras weight, and in a TF1 graph no initializer, so the
    enclosing variable scope's (glorot-uniform unless the user's scope sets one), as TF1 did.
    `trainable`: False for statistics, which are also never autocast.
    """

    shape: tuple[int, ...]
    initializer: Any = None
    trainable: bool = True


def tf1_initializer(initializer):
    """A `Weight.initializer` as `tf.compat.v1.get_variable` takes it.

    A TF1 initializer object (`tf.compat.v1.orthogonal_initializer()`, a user's function) is passed
    on as it is, so that TF1 code gets the values (and seeds) TF1 drew.
    """
    if initializer is None:
        return None
    if callable(initializer) and not isinstance(initializer, keras.initializers.Initializer):
        return initializer
    if isinstance(initializer, keras.initializers.Constant):
        return tf.compat.v1.constant_initializer(initializer.value)
    initializer = keras.initializers.get(initializer)

    def init(shape, dtype=None, partition_info=None):
        return initializer(shape, dtype=tf.as_dtype(dtype or tf.float32).name)

    return init


def _serialized(value, kind):
    """An activation or initializer argument (`kind`: keras.activations or keras.initializers) as
    get_config writes it: None and names as given."""
    if value is None or isinstance(value, str):
        return value
    return kind.serialize(kind.get(value))


class Tf1RecurrentCell(keras.layers.Layer):
    """A Keras 3 RNN cell that TF1 code can also call as an `RNNCell` (see the module docstring)."""

    #: The cell's TF1 variable scope name (`layer_norm_basic_lstm_cell`).
    TF1_SCOPE: str = ""
    #: "layer": TF1's LayerRNNCell scoping; "call": `variable_scope(scope or TF1_SCOPE)` every call.
    TF1_SCOPING: str = "layer"
    #: The constructor's `name=` is also the TF1 scope (TF1's core cells, tf.layers layers, took `name`).
    TF1_NAME_IS_SCOPE: bool = False
    #: The constructor arguments `get_config` writes (attributes of the same name; see _config_value).
    CONFIG: tuple[str, ...] = ()
    #: Keep probability and op seed of the cell's recurrent dropout (`dropout`).
    dropout_keep_prob: Any = 1.0
    dropout_prob_seed: int | None = None

    def __init__(self, reuse=None, **kwargs):
        super().__init__(**kwargs)
        self.reuse = reuse
        self.tf1_scope_name = (kwargs.get("name") if self.TF1_NAME_IS_SCOPE else None) or self.TF1_SCOPE
        self._rnncell_scope = None
        self._tf1_scope = None
        self._tf1_built_graphs: weakref.WeakSet = weakref.WeakSet()

    def _set_activation(self, activation) -> None:
        """`activation` as given (for the config) and as the function the step applies (tanh by default)."""
        self._activation_config = activation
        self.activation = tf.tanh if activation is None else keras.activations.get(activation)

    # ------------------------------------------------------------------ what a cell defines
    def tf1_weights(self, depth: int) -> dict[str, Weight]:
        """{TF1 name relative to the cell scope: Weight}, in the order TF1 created them."""
        raise NotImplementedError

    def step(self, inputs, state: tuple, weights: dict, training, legacy: bool):
        """(output, new state tuple) of one step; `weights` by TF1 name."""
        raise NotImplementedError

    def tf1_state(self, state: tuple):
        """The state as TF1 code holds it (default: the tuple)."""
        return state

    def state_tuple(self, state) -> tuple:
        """A TF1-style call's state as the tuple `step` takes (default: a tuple of `len(state sizes)`)."""
        sizes = self._state_sizes()
        if not isinstance(state, (list, tuple)) or len(state) != len(sizes):
            raise ValueError(f"{type(self).__name__}: expected a state of {len(sizes)} tensors, got {state!r}")
        return tuple(state)

    # ------------------------------------------------------------------------------ weights
    def build(self, input_shape):
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the last input dimension must be known, got shape {input_shape}")
        for name, weight in self.tf1_weights(int(depth)).items():
            attribute = name.replace("/", "_")
            variable = self.add_weight(
                name=attribute, shape=weight.shape,
                initializer="glorot_uniform" if weight.initializer is None else weight.initializer,
                trainable=weight.trainable, autocast=weight.trainable,
            )
            setattr(self, attribute, variable)
        self._tf1_names = tuple(self.tf1_weights(1))
        self.built = True

    def tf1_named_weights(self) -> dict:
        """The Keras weights keyed by TF1 name relative to the cell scope (the cell must be built)."""
        return {name: getattr(self, name.replace("/", "_")) for name in self._tf1_names}

    def _tf1_graph_weights(self, depth: int, dtype) -> dict:
        """The TF1 variables, from `get_variable` in the current (TF1) variable scope."""
        weights = {}
        for name, weight in self.tf1_weights(depth).items():
            group, _, leaf = name.rpartition("/")
            with tf.compat.v1.variable_scope(group) if group else contextlib.nullcontext():
                weights[name] = tf.compat.v1.get_variable(
                    leaf, list(weight.shape), dtype=dtype, initializer=tf1_initializer(weight.initializer),
                    trainable=weight.trainable,
                )
        return weights

    # ------------------------------------------------------------------------------- Keras path
    def call(self, inputs, states, training=None):
        # Keras' RNN passes a list of states; MultiRNNCell passes a one-tensor state as it is.
        listed = isinstance(states, (list, tuple))
        state = tuple(states) if listed else (states,)
        output, new_state = self.step(inputs, state, self.tf1_named_weights(), training, legacy=False)
        return output, (list(new_state) if listed else new_state[0])

    def dropout(self, x, training, legacy: bool):
        """The cell's recurrent dropout of `x` where TF1 (legacy) or Keras (training) applied it."""
        return gated_dropout(x, self.dropout_keep_prob, training, legacy, self.drop)

    def drop(self, x):
        """The cell's dropout op itself (keep probability and seed), whatever the mode."""
        return keep_prob_dropout(x, self.dropout_keep_prob, self.dropout_prob_seed)

    def _state_sizes(self) -> list[int]:
        return tf.nest.flatten(self.state_size)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zero state. Keras passes only batch_size (a list state); TF1 passes dtype (TF1's state)."""
        if dtype is None:
            return [tf.zeros([batch_size, size], dtype=self.compute_dtype) for size in self._state_sizes()]
        return self.zero_state(batch_size, dtype)

    # ----------------------------------------------------------------------------- legacy path
    def __call__(self, inputs, state=None, *args, **kwargs):
        if not is_tf1_call(state, args, kwargs):
            return super().__call__(inputs, state, *args, **kwargs)
        return self._legacy_call(inputs, state, scope=kwargs.get("scope"))

    def zero_state(self, batch_size, dtype):
        return self.tf1_state(tuple(tf.zeros(tf.stack([batch_size, size]), dtype=dtype)
                                    for size in self._state_sizes()))

    def _legacy_call(self, inputs, state, scope=None):
        inputs = tf.convert_to_tensor(inputs)
        state = self.state_tuple(state)
        with self._legacy_weights(inputs, scope) as weights:
            output, new_state = self.step(inputs, state, weights, None, legacy=True)
        return output, self.tf1_state(new_state)

    #: TF1-style calls outside a TF1 graph cast the Keras weights to the input's dtype.
    CAST_LEGACY_WEIGHTS = True

    @contextlib.contextmanager
    def _legacy_weights(self, inputs, scope):
        """The weights of a TF1-style call, keyed by TF1 name relative to the cell scope.

        In a tf.compat.v1 graph: TF1 variables from `get_variable`, inside the cell's TF1 scope
        (the body of the `with` runs in that scope too). Eagerly: the Keras weights.
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
            weights = self.tf1_named_weights()
            if self.CAST_LEGACY_WEIGHTS:
                weights = {k: tf.cast(v, inputs.dtype) if v.dtype != inputs.dtype else v for k, v in weights.items()}
            yield weights

    def _tf1_scope_for_call(self, scope):
        """Enter the variable scope TF1 entered for this call (see TF1_SCOPING)."""
        if self.TF1_SCOPING == "call":
            return tf.compat.v1.variable_scope(scope or self.TF1_SCOPE)
        return tf1_layer_scope(self, scope, self.tf1_scope_name, self.reuse)

    # ---------------------------------------------------------------------------------- config
    def _config_value(self, name: str):
        """The constructor argument `name` as get_config writes it."""
        if name == "activation":
            return _serialized(self._activation_config, keras.activations)
        if name.endswith("_initializer"):
            return _serialized(getattr(self, name), keras.initializers)
        return getattr(self, name)

    def _unserialisable(self, name: str, value) -> str | None:
        """How to save a cell whose argument `name` cannot be serialised (a tensor), else None."""
        return None

    def get_config(self):
        values = {name: self._config_value(name) for name in self.CONFIG}
        for name, value in values.items():
            fix = self._unserialisable(name, value)
            if fix is not None:
                raise ValueError(f"{type(self).__name__}.get_config: {name} is a tensor and cannot be "
                                 f"serialised; {fix}")
        config = super().get_config()
        config.update(values)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict):
                config[key] = keras.initializers.deserialize(value)
        return cls(**config)


def program_graph():
    """The tf.compat.v1 graph being built, also from inside a control-flow body.

    TF 2.x builds `dynamic_rnn`'s while loop as a function (control flow v2): inside it the default
    graph is the loop body's FuncGraph, a new one for every `dynamic_rnn` call, while TF1 had one
    graph. A cell remembers its scope per program graph, so that a second `dynamic_rnn` over the
    same cell reuses its variables as TF1 did.
    """
    graph = tf.compat.v1.get_default_graph()
    while getattr(graph, "outer_graph", None) is not None:
        graph = graph.outer_graph
    return graph


def tf1_layer_scope(cell, scope, base_name: str, reuse):
    """The variable scope TF1's `RNNCell.__call__` + `tf.layers.Layer.__call__` entered for a call.

    The first call in a graph captures the current scope, then a child scope named `base_name`
    (uniquified as TF1 did, `_1`, ...; taken as is with `reuse`); later calls re-enter it with
    reuse=True. An explicit `scope=` is used as is. `cell` keeps the captured scopes in its
    `_rnncell_scope`, `_tf1_scope` and `_tf1_built_graphs` (a WeakSet of graphs).
    """
    graph = program_graph()
    built = graph in cell._tf1_built_graphs
    if scope is not None:
        outer = tf.compat.v1.variable_scope(scope)
    else:
        if cell._rnncell_scope is None or not built:
            cell._rnncell_scope = tf.compat.v1.get_variable_scope()
            # The first call opens the cell's scope right here, as TF1 did: re-entering the current scope by
            # object would reset its subscopes' counts, and a second cell would get `lstm_cell` again, not
            # TF1's `lstm_cell_1`.
            outer = contextlib.nullcontext()
        else:
            outer = tf.compat.v1.variable_scope(cell._rnncell_scope)
    return _Tf1CellScope(cell, outer, scope, built, graph, base_name, reuse)


class _Tf1CellScope:
    """Context manager: outer captured scope, then the cell's own scope (`base_name`)."""

    def __init__(self, cell, outer, explicit_scope, built, graph, base_name, reuse):
        self._cell, self._outer, self._explicit = cell, outer, explicit_scope
        self._built, self._graph = built, graph
        self._base_name, self._reuse = base_name, reuse
        self._inner = None

    def __enter__(self):
        cell = self._cell
        self._outer.__enter__()
        if self._explicit is not None:
            # TF1's _set_scope(scope) re-entered the explicit scope itself: variables go right under it.
            own_scope = tf.compat.v1.get_variable_scope()
        else:
            if cell._tf1_scope is None or not self._built:
                if self._reuse:
                    with tf.compat.v1.variable_scope(self._base_name) as captured:
                        cell._tf1_scope = captured
                else:
                    with tf.compat.v1.variable_scope(None, default_name=self._base_name) as captured:
                        cell._tf1_scope = captured
            own_scope = cell._tf1_scope
        reuse = True if self._built else self._reuse
        self._inner = tf.compat.v1.variable_scope(own_scope, reuse=reuse, auxiliary_name_scope=False)
        return self._inner.__enter__()

    def __exit__(self, *exc):
        self._inner.__exit__(*exc)
        self._outer.__exit__(*exc)
        if exc[0] is None:
            self._cell._tf1_built_graphs.add(self._graph)
        return False
