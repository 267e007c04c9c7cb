"""TF1's core RNN cells, which raise "not available with Keras 3" under `tf.compat.v1.nn.rnn_cell` on TF 2.16+.

`BasicRNNCell`, `BasicLSTMCell`, `LSTMCell` (peepholes, cell clip, projection, projection clip),
`GRUCell`: TF 1.15's `tensorflow/python/ops/rnn_cell_impl.py`, op for op, with its constructors, on
`Tf1RecurrentCell`; and `RNNCell`, the base that hand-written TF1 cells derive from.

Each cell works two ways, like every tf2norm TF1 cell:

* as a TF1 cell called `cell(x, state)` by `tf.compat.v1.nn.dynamic_rnn`, `static_rnn`,
  `bidirectional_dynamic_rnn` or tf2norm's `MultiRNNCell`: in a tf.compat.v1 graph it creates TF1's
  variables with `get_variable` under TF1's names (`rnn/basic_lstm_cell/kernel`,
  `rnn/multi_rnn_cell/cell_0/lstm_cell/projection/kernel`, `gru_cell/gates/bias`, ...), with TF1's
  scoping (the cell's scope captured at its first call, `name=` as the scope, `reuse=`), so a TF1
  `Saver` checkpoint restores unchanged; eagerly it uses its Keras weights;
* as a Keras 3 RNN cell (`keras.layers.RNN(cell)`), its weights named after TF1's (`kernel`,
  `gates_kernel`, `projection_kernel`, `w_f_diag`, ...).

States are TF1's: a tensor, or `LSTMStateTuple(c, h)` (TensorFlow's own class) for the LSTM cells
with `state_is_tuple=True`, and `concat([c, h], 1)` with `state_is_tuple=False`.
"""

from __future__ import annotations

import re
import weakref

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph
from tf2norm.replacements._tf1_cell import (
    LSTMStateTuple,
    Tf1RecurrentCell,
    Weight,
    tf1_layer_scope,
)

__all__ = ["BasicLSTMCell", "BasicRNNCell", "GRUCell", "LSTMCell", "RNNCell"]

_ZEROS = keras.initializers.Zeros()


def _to_snake_case(name: str) -> str:
    """TF1's `to_snake_case`: the default scope of a layer or cell from its class name."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def zero_state_tensors(state_size, batch_size, dtype):
    """TF1's `_zero_state_tensors`: zeros `[batch_size, s]` for each `s` of a (nested) state size."""
    static_batch = tf.get_static_value(batch_size)

    def zeros(size):
        dims = tf.TensorShape(size).as_list()
        value = tf.zeros(tf.concat([tf.reshape(batch_size, [1]), tf.constant(dims, tf.int32)], 0), dtype=dtype)
        if not tf.executing_eagerly():
            value.set_shape([static_batch if static_batch is not None else None, *dims])
        return value

    return tf.nest.map_structure(zeros, state_size)


class RNNCell:
    """TF1's `RNNCell` base, for the cells people wrote by hand (`class MyCell(tf.nn.rnn_cell.RNNCell)`).

    A subclass defines `state_size`, `output_size` and `call(inputs, state)` (or overrides
    `__call__`, as many did), and may define `build(input_shape)`, creating its variables there with
    `self.add_variable(...)` as TF1's `LayerRNNCell` subclasses did. What this base gives, as TF1's did:

    * `cell(inputs, state, scope=None)`: at the first call in a graph, `build(inputs.shape)` and the
      cell's variable scope (the snake case of the class name, `my_cell`, uniquified `my_cell_1`, or
      `name=`; `scope=` as given), re-entered with reuse at later calls, so `call()` creating
      variables with `tf.compat.v1.get_variable` gets TF1's names and shares them between steps and
      calls. Eagerly (no graph), the variables are created once per cell, at its first call, and
      reused after (`tf.compat.v1.make_template`).
    * `zero_state(batch_size, dtype)` and `get_initial_state(...)`: zeros of `state_size`'s structure.

    It is a plain Python class, not a Keras layer: TF1 code, which is what derives from it, never
    needed Keras, and its subclasses often skip `super().__init__()` (TF1 allowed that for cells
    that override `__call__`). `tf.compat.v1.nn.dynamic_rnn` and tf2norm's wrappers take it.
    """

    _rnncell_scope = None
    _tf1_scope = None
    _rnncell_reuse = None
    _rnncell_name = None
    dtype = None
    trainable = True

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        self._rnncell_name = name
        self._rnncell_reuse = kwargs.pop("_reuse", None)
        self.trainable = trainable
        self.dtype = dtype

    @property
    def _tf1_built_graphs(self):
        graphs = self.__dict__.get("_rnncell_graphs")
        if graphs is None:
            graphs = self.__dict__["_rnncell_graphs"] = weakref.WeakSet()
        return graphs

    @property
    def state_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define state_size")

    @property
    def output_size(self):
        raise NotImplementedError(f"{type(self).__name__} must define output_size")

    def build(self, input_shape):
        """Called once before the first call (TF1's RNNCell.build did nothing)."""

    def add_variable(self, name, shape, dtype=None, initializer=None, trainable=True, **kwargs):
        """TF1's `LayerRNNCell.add_variable` (in `build`): `tf.compat.v1.get_variable` in the cell's scope.

        `build` runs inside the cell's variable scope, so the variable gets TF1's name
        (`<cell scope>/<name>`); `regularizer`, `constraint` and `partitioner` are passed on.
        """
        options = {k: v for k, v in kwargs.items() if k in ("regularizer", "constraint", "partitioner")}
        return tf.compat.v1.get_variable(name, shape, dtype=dtype or self.dtype or tf.float32,
                                         initializer=initializer, trainable=trainable, **options)

    add_weight = add_variable

    def call(self, inputs, state):
        raise NotImplementedError(f"{type(self).__name__} must define call(inputs, state) or __call__")

    def __call__(self, inputs, state, scope=None):
        inputs = tf.convert_to_tensor(inputs)
        base_name = self._rnncell_name or _to_snake_case(type(self).__name__)
        if in_legacy_graph():
            with tf1_layer_scope(self, scope, base_name, self._rnncell_reuse):
                return self._build_and_call(inputs, state)
        template = self.__dict__.get("_rnncell_template")
        if template is None:
            template = self.__dict__["_rnncell_template"] = tf.compat.v1.make_template(
                scope or base_name, self._build_and_call)
        return template(inputs, state)

    def _build_and_call(self, inputs, state):
        if not self.__dict__.get("_rnncell_built"):
            self.build(inputs.shape)
            self.__dict__["_rnncell_built"] = True
        return self.call(inputs, state)

    def zero_state(self, batch_size, dtype):
        """Zero-filled state of `state_size`'s structure, `[batch_size, s]` each."""
        with tf.name_scope(type(self).__name__ + "ZeroState"):
            return zero_state_tensors(self.state_size, batch_size, dtype)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """TF1's: the zero state for `inputs`' batch and dtype, or the given ones."""
        if inputs is not None:
            inputs = tf.convert_to_tensor(inputs)
            batch_size = inputs.shape[0] if inputs.shape[0] is not None else tf.shape(inputs)[0]
            dtype = inputs.dtype
        if batch_size is None or dtype is None:
            raise ValueError(f"batch_size and dtype cannot be None while constructing initial state: "
                             f"batch_size={batch_size}, dtype={dtype}")
        return self.zero_state(batch_size, dtype)


class _CoreCell(Tf1RecurrentCell):
    """What TF1's core cells share: `name=` is their scope, their zero state keeps TF1's shapes."""

    TF1_NAME_IS_SCOPE = True

    def zero_state(self, batch_size, dtype):
        with tf.name_scope(type(self).__name__ + "ZeroState"):
            return self.tf1_state(tuple(tf.nest.flatten(zero_state_tensors(self.state_size, batch_size, dtype))))


class _OneState:
    """The state convention of TF1's RNN and GRU cells: the state is `h` itself, a tensor."""

    def tf1_state(self, state):
        return state[0]

    def state_tuple(self, state):
        return (state[0] if isinstance(state, (list, tuple)) else state,)


@keras.saving.register_keras_serializable(package="tf2norm")
class BasicRNNCell(_OneState, _CoreCell):
    """TF1's `BasicRNNCell(num_units, activation=None, reuse=None, name=None, dtype=None)`.

    `output = new_state = activation(concat([x, h], 1) @ kernel + bias)`. TF1 variables `kernel
    [D+H, H]` (glorot-uniform), `bias [H]` (zeros) under `basic_rnn_cell`.
    """

    TF1_SCOPE = "basic_rnn_cell"
    CONFIG = ("num_units", "activation")

    def __init__(self, num_units, activation=None, reuse=None, **kwargs):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        self._set_activation(activation)
        self.state_size = self.num_units
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units = self.num_units
        return {"kernel": Weight((depth + units, units)), "bias": Weight((units,), _ZEROS)}

    def step(self, inputs, state, weights, training, legacy):
        (h,) = state
        output = self.activation(tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), weights["kernel"]),
                                                weights["bias"]))
        return output, (output,)


@keras.saving.register_keras_serializable(package="tf2norm")
class GRUCell(_OneState, _CoreCell):
    """TF1's `GRUCell(num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
    name=None, dtype=None)`.

    `r, u = split(sigmoid(concat([x, h]) @ gates/kernel + gates/bias))`, `c = activation(concat([x, r * h])
    @ candidate/kernel + candidate/bias)`, `new_h = u * h + (1 - u) * c`. TF1 variables under
    `gru_cell`: `gates/kernel [D+H, 2H]`, `gates/bias [2H]` (1.0 unless `bias_initializer`),
    `candidate/kernel [D+H, H]`, `candidate/bias [H]` (zeros unless `bias_initializer`).
    """

    TF1_SCOPE = "gru_cell"
    CONFIG = ("num_units", "activation", "kernel_initializer", "bias_initializer")

    def __init__(self, num_units, activation=None, reuse=None, kernel_initializer=None, bias_initializer=None,
                 **kwargs):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        self._set_activation(activation)
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.state_size = self.num_units
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units, kernel = self.num_units, self.kernel_initializer
        gates_bias = self.bias_initializer if self.bias_initializer is not None else keras.initializers.Constant(1.0)
        candidate_bias = self.bias_initializer if self.bias_initializer is not None else _ZEROS
        return {
            "gates/kernel": Weight((depth + units, 2 * units), kernel),
            "gates/bias": Weight((2 * units,), gates_bias),
            "candidate/kernel": Weight((depth + units, units), kernel),
            "candidate/bias": Weight((units,), candidate_bias),
        }

    def step(self, inputs, state, weights, training, legacy):
        (h,) = state
        gates = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), weights["gates/kernel"]), weights["gates/bias"])
        r, u = tf.split(tf.sigmoid(gates), 2, axis=1)
        candidate = tf.nn.bias_add(tf.matmul(tf.concat([inputs, r * h], 1), weights["candidate/kernel"]),
                                   weights["candidate/bias"])
        c = self.activation(candidate)
        new_h = u * h + (1 - u) * c
        return new_h, (new_h,)


class _LSTMStates:
    """The state conventions of TF1's two LSTM cells: `LSTMStateTuple(c, h)` or `concat([c, h], 1)`."""

    state_is_tuple: bool
    num_units: int

    def _state_sizes_of(self, c_size, h_size):
        return LSTMStateTuple(c_size, h_size) if self.state_is_tuple else c_size + h_size

    def _c_h(self, state, h_size):
        if self.state_is_tuple:
            return state
        (concatenated,) = state
        return tuple(tf.split(concatenated, [self.num_units, h_size], axis=1))

    def _new_state(self, c, h):
        return (c, h) if self.state_is_tuple else (tf.concat([c, h], 1),)

    def tf1_state(self, state):
        return LSTMStateTuple(*state) if self.state_is_tuple else state[0]

    def state_tuple(self, state):
        if self.state_is_tuple:
            if not isinstance(state, (list, tuple)) or len(state) != 2:
                raise ValueError(f"{type(self).__name__}: expected a state (c, h), got {state!r}")
            return tuple(state)
        return (state[0] if isinstance(state, (list, tuple)) else state,)


@keras.saving.register_keras_serializable(package="tf2norm")
class BasicLSTMCell(_LSTMStates, _CoreCell):
    """TF1's `BasicLSTMCell(num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None,
    name=None, dtype=None)`.

    `i, j, f, o = split(concat([x, h]) @ kernel + bias, 4)`, `new_c = c * sigmoid(f + forget_bias) +
    sigmoid(i) * activation(j)`, `new_h = activation(new_c) * sigmoid(o)`. TF1 variables `kernel
    [D+H, 4H]`, `bias [4H]` (zeros) under `basic_lstm_cell`.
    """

    TF1_SCOPE = "basic_lstm_cell"
    CONFIG = ("num_units", "forget_bias", "state_is_tuple", "activation")

    def __init__(self, num_units, forget_bias=1.0, state_is_tuple=True, activation=None, reuse=None, **kwargs):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        self.forget_bias = forget_bias
        self.state_is_tuple = bool(state_is_tuple)
        self._set_activation(activation)
        self.state_size = self._state_sizes_of(self.num_units, self.num_units)
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units = self.num_units
        return {"kernel": Weight((depth + units, 4 * units)), "bias": Weight((4 * units,), _ZEROS)}

    def step(self, inputs, state, weights, training, legacy):
        c, h = self._c_h(state, self.num_units)
        z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), weights["kernel"]), weights["bias"])
        i, j, f, o = tf.split(z, 4, axis=1)
        forget_bias = tf.constant(self.forget_bias, dtype=f.dtype)
        new_c = tf.add(tf.multiply(c, tf.sigmoid(tf.add(f, forget_bias))),
                       tf.multiply(tf.sigmoid(i), self.activation(j)))
        new_h = tf.multiply(self.activation(new_c), tf.sigmoid(o))
        return new_h, self._new_state(new_c, new_h)


@keras.saving.register_keras_serializable(package="tf2norm")
class LSTMCell(_LSTMStates, _CoreCell):
    """TF1's `LSTMCell(num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
    proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
    activation=None, reuse=None, name=None, dtype=None)`.

    One step, as TF 1.15 (`m` is the output, `h` the previous one):

        i, j, f, o = split(concat([x, m_prev]) @ kernel + bias, 4)
        c = sigmoid(f + forget_bias [+ w_f_diag * c_prev]) * c_prev + sigmoid(i [+ w_i_diag * c_prev]) * act(j)
        c = clip(c, -cell_clip, cell_clip)                     # if cell_clip is not None
        m = sigmoid(o [+ w_o_diag * c]) * act(c)
        m = clip(m @ projection/kernel, -proj_clip, proj_clip)  # if num_proj (clip if proj_clip)

    TF1 variables under `lstm_cell`: `kernel [D+P, 4H]` (P = num_proj or H), `bias [4H]` (zeros),
    with peepholes `w_f_diag, w_i_diag, w_o_diag [H]`, with a projection `projection/kernel [H, P]`;
    `initializer` initialises the kernels and peepholes (None: the scope's, glorot-uniform). The
    deprecated `num_unit_shards` / `num_proj_shards` partitioned the variables: not supported (use
    None; a partitioned checkpoint must be re-saved unpartitioned).
    """

    TF1_SCOPE = "lstm_cell"
    CONFIG = ("num_units", "use_peepholes", "cell_clip", "initializer", "num_proj", "proj_clip", "forget_bias",
              "state_is_tuple", "activation")

    def __init__(self, num_units, use_peepholes=False, cell_clip=None, initializer=None, num_proj=None,
                 proj_clip=None, num_unit_shards=None, num_proj_shards=None, forget_bias=1.0, state_is_tuple=True,
                 activation=None, reuse=None, **kwargs):
        if num_unit_shards is not None or num_proj_shards is not None:
            raise NotImplementedError("LSTMCell(num_unit_shards=/num_proj_shards=): partitioned variables are not "
                                      "supported by tf2norm; pass None (TF1 deprecated them)")
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        self.use_peepholes = bool(use_peepholes)
        self.cell_clip = cell_clip
        self.initializer = initializer
        self.num_proj = None if num_proj is None else int(num_proj)
        self.proj_clip = proj_clip
        self.forget_bias = forget_bias
        self.state_is_tuple = bool(state_is_tuple)
        self._set_activation(activation)
        # TF1 tested `if num_proj:` here, so num_proj=0 meant no projection in the sizes.
        h_size = self.num_proj if self.num_proj else self.num_units
        self.state_size = self._state_sizes_of(self.num_units, h_size)
        self.output_size = h_size

    def _config_value(self, name):
        if name == "initializer":
            value = self.initializer
            return value if value is None or isinstance(value, str) else keras.initializers.serialize(
                keras.initializers.get(value))
        return super()._config_value(name)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("initializer"), dict):
            config["initializer"] = keras.initializers.deserialize(config["initializer"])
        return super().from_config(config)

    def tf1_weights(self, depth):
        units, init = self.num_units, self.initializer
        h_depth = units if self.num_proj is None else self.num_proj
        weights = {"kernel": Weight((depth + h_depth, 4 * units), init), "bias": Weight((4 * units,), _ZEROS)}
        if self.use_peepholes:
            for name in ("w_f_diag", "w_i_diag", "w_o_diag"):
                weights[name] = Weight((units,), init)
        if self.num_proj is not None:
            weights["projection/kernel"] = Weight((units, self.num_proj), init)
        return weights

    def step(self, inputs, state, weights, training, legacy):
        h_size = self.num_units if self.num_proj is None else self.num_proj
        c_prev, m_prev = self._c_h(state, h_size)
        z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, m_prev], 1), weights["kernel"]), weights["bias"])
        i, j, f, o = tf.split(z, 4, axis=1)
        act = self.activation
        if self.use_peepholes:
            c = (tf.sigmoid(f + self.forget_bias + weights["w_f_diag"] * c_prev) * c_prev
                 + tf.sigmoid(i + weights["w_i_diag"] * c_prev) * act(j))
        else:
            c = tf.sigmoid(f + self.forget_bias) * c_prev + tf.sigmoid(i) * act(j)
        if self.cell_clip is not None:
            c = tf.clip_by_value(c, -self.cell_clip, self.cell_clip)
        if self.use_peepholes:
            m = tf.sigmoid(o + weights["w_o_diag"] * c) * act(c)
        else:
            m = tf.sigmoid(o) * act(c)
        if self.num_proj is not None:
            m = tf.matmul(m, weights["projection/kernel"])
            if self.proj_clip is not None:
                m = tf.clip_by_value(m, -self.proj_clip, self.proj_clip)
        return m, self._new_state(c, m)
