"""contrib's block and Cudnn-compatible RNN cells, which went with `tf.contrib` in TF 2.0.

`LSTMBlockCell`, `GRUBlockCell`, `GRUBlockCellV2` (`tf.contrib.rnn`), `CudnnCompatibleLSTMCell` and
`CudnnCompatibleGRUCell` (`tf.contrib.cudnn_rnn`): TF 1.15's constructors, variable names and numbers
(`tensorflow/contrib/rnn/python/ops/lstm_ops.py`, `gru_ops.py`,
`tensorflow/contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py`), on `Tf1RecurrentCell` like tf2norm's core
cells: TF1-style calls in a tf.compat.v1 graph create TF1's variables under TF1's names (a TF1 `Saver`
checkpoint restores unchanged), and each is a Keras 3 RNN cell too.

The block cells ran one fused kernel (`LSTMBlockCell`, `GRUBlockCell` ops) computing the standard
LSTM / GRU step; here the same step is written out in TensorFlow ops, in the kernel's order. Two
facts of those kernels that the plain cells do not share, both measured on TF 1.15:

* `LSTMBlockCell(cell_clip=c)` clips the cell state to [-c, c] only when c > 0 (None, 0 and negative
  values mean no clip), and its gradient kernel ignores the clip: the gradient flows through a
  clipped cell state as if it had not been clipped (`LSTMCell`'s clip has a zero gradient there);
* the peephole weights are created `w_i_diag, w_f_diag, w_o_diag` (`LSTMCell`: f, i, o).

`CudnnCompatibleGRUCell` is cuDNN's GRU, not TF's: the reset gate multiplies the hidden projection
after its matmul and bias, `c = tanh(x @ W_x + b_x + r * (h @ W_h + b_h))`.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph
from tf2norm.replacements._tf1_cell import LSTMStateTuple, Weight, program_graph
from tf2norm.replacements.tf1_rnn_cells import _CoreCell, _LSTMStates, _OneState

__all__ = ["CudnnCompatibleGRUCell", "CudnnCompatibleLSTMCell", "GRUBlockCell", "GRUBlockCellV2", "LSTMBlockCell",
           "LSTMBlockFusedCell"]

_ZEROS = keras.initializers.Zeros()
_ONES = keras.initializers.Constant(1.0)


@tf.custom_gradient
def _clip_passing_gradient(value, clip):
    """`clip_by_value(value, -clip, clip)` whose gradient is the identity, as TF 1.15's LSTMBlockCellGrad."""

    def grad(upstream):
        return upstream, None

    return tf.clip_by_value(value, -clip, clip), grad


@keras.saving.register_keras_serializable(package="tf2norm")
class LSTMBlockCell(_LSTMStates, _CoreCell):
    """contrib's `LSTMBlockCell(num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, dtype=None,
    reuse=None, name="lstm_cell")`.

    One step, as TF 1.15's `LSTMBlockCell` kernel (state `LSTMStateTuple(c, h)`):

        i, ci, f, o = split(concat([x, h_prev]) @ kernel + bias, 4)
        i = sigmoid(i [+ c_prev * w_i_diag]);  f = sigmoid(f + forget_bias [+ c_prev * w_f_diag])
        c = tanh(ci) * i + c_prev * f
        c = clip(c, -cell_clip, cell_clip)     # only if cell_clip > 0; its gradient is the identity
        h = tanh(c) * sigmoid(o [+ c * w_o_diag])

    TF1 variables under `lstm_cell` (the name `LSTMCell` uses, and the same gates): `kernel [D+H, 4H]`
    (the scope's initializer, glorot-uniform), `bias [4H]` (zeros), with `use_peephole` `w_i_diag,
    w_f_diag, w_o_diag [H]` in that order.
    """

    TF1_SCOPE = "lstm_cell"
    CONFIG = ("num_units", "forget_bias", "cell_clip", "use_peephole")
    state_is_tuple = True

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, dtype=None, reuse=None,
                 **kwargs):
        super().__init__(reuse=reuse, dtype=dtype, **kwargs)
        self.num_units = int(num_units)
        self.forget_bias = forget_bias
        self.cell_clip = cell_clip
        self.use_peephole = bool(use_peephole)
        self.state_size = self._state_sizes_of(self.num_units, self.num_units)
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units = self.num_units
        weights = {"kernel": Weight((depth + units, 4 * units)), "bias": Weight((4 * units,), _ZEROS)}
        if self.use_peephole:
            for name in ("w_i_diag", "w_f_diag", "w_o_diag"):
                weights[name] = Weight((units,))
        return weights

    def step(self, inputs, state, weights, training, legacy):
        c_prev, h_prev = state
        z = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h_prev], 1), weights["kernel"]), weights["bias"])
        i, ci, f, o = tf.split(z, 4, axis=1)
        f = f + tf.constant(self.forget_bias, dtype=f.dtype)
        if self.use_peephole:
            i = tf.sigmoid(c_prev * weights["w_i_diag"] + i)
            f = tf.sigmoid(c_prev * weights["w_f_diag"] + f)
        else:
            i, f = tf.sigmoid(i), tf.sigmoid(f)
        c = tf.tanh(ci) * i + c_prev * f
        if self.cell_clip is not None and self.cell_clip > 0:
            c = _clip_passing_gradient(c, tf.constant(self.cell_clip, dtype=c.dtype))
        o = tf.sigmoid(c * weights["w_o_diag"] + o) if self.use_peephole else tf.sigmoid(o)
        h = tf.tanh(c) * o
        return h, (c, h)


@keras.saving.register_keras_serializable(package="tf2norm")
class CudnnCompatibleLSTMCell(LSTMBlockCell):
    """contrib.cudnn_rnn's `CudnnCompatibleLSTMCell(num_units, reuse=None)`: `LSTMBlockCell(num_units,
    forget_bias=0, cell_clip=None, use_peephole=False)` under the scope `cudnn_compatible_lstm_cell`
    (its `kernel`, `bias` hold what `CudnnLSTM`'s canonical weights convert to)."""

    TF1_SCOPE = "cudnn_compatible_lstm_cell"
    CONFIG = ("num_units",)

    def __init__(self, num_units, reuse=None, **kwargs):
        super().__init__(num_units, forget_bias=0.0, cell_clip=None, use_peephole=False, reuse=reuse, **kwargs)


def _gru_cell_size(num_units, cell_size):
    if (cell_size is None) == (num_units is None):
        raise ValueError("Exactly one of num_units or cell_size must be provided.")
    return int(num_units if num_units is not None else cell_size)


@keras.saving.register_keras_serializable(package="tf2norm")
class GRUBlockCell(_OneState, _CoreCell):
    """contrib's `GRUBlockCell(num_units=None, cell_size=None, reuse=None, name="gru_cell")` (`cell_size`: the
    deprecated name of `num_units`; exactly one of them).

    TF 1.15's `GRUBlockCell` kernel, which is `GRUCell`'s step with tanh: `r, u = split(sigmoid(concat([x,
    h]) @ w_ru + b_ru))`, `c = tanh(concat([x, r * h]) @ w_c + b_c)`, `new_h = (1 - u) * c + u * h`.
    TF1 variables under `gru_cell`: `w_ru [D+H, 2H]`, `b_ru [2H]` (1.0), `w_c [D+H, H]`, `b_c [H]` (zeros).
    """

    TF1_SCOPE = "gru_cell"
    CONFIG = ("num_units",)
    NAMES = {"gates_kernel": "w_ru", "gates_bias": "b_ru", "candidate_kernel": "w_c", "candidate_bias": "b_c"}

    def __init__(self, num_units=None, cell_size=None, reuse=None, **kwargs):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = _gru_cell_size(num_units, cell_size)
        self.state_size = self.num_units
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units, names = self.num_units, self.NAMES
        return {
            names["gates_kernel"]: Weight((depth + units, 2 * units)),
            names["gates_bias"]: Weight((2 * units,), _ONES),
            names["candidate_kernel"]: Weight((depth + units, units)),
            names["candidate_bias"]: Weight((units,), _ZEROS),
        }

    def step(self, inputs, state, weights, training, legacy):
        (h,) = state
        names = self.NAMES
        gates = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), weights[names["gates_kernel"]]),
                               weights[names["gates_bias"]])
        r, u = tf.split(tf.sigmoid(gates), 2, axis=1)
        c = tf.tanh(tf.nn.bias_add(tf.matmul(tf.concat([inputs, r * h], 1), weights[names["candidate_kernel"]]),
                                   weights[names["candidate_bias"]]))
        new_h = (1 - u) * c + u * h
        return new_h, (new_h,)


@keras.saving.register_keras_serializable(package="tf2norm")
class GRUBlockCellV2(GRUBlockCell):
    """contrib's `GRUBlockCellV2`: `GRUBlockCell` with `GRUCell`'s variable names (`gates/kernel`,
    `gates/bias`, `candidate/kernel`, `candidate/bias` under `gru_cell`)."""

    NAMES = {"gates_kernel": "gates/kernel", "gates_bias": "gates/bias", "candidate_kernel": "candidate/kernel",
             "candidate_bias": "candidate/bias"}


@keras.saving.register_keras_serializable(package="tf2norm")
class CudnnCompatibleGRUCell(_OneState, _CoreCell):
    """contrib.cudnn_rnn's `CudnnCompatibleGRUCell(num_units, reuse=None, kernel_initializer=None)`: cuDNN's GRU.

        r, u = split(sigmoid(concat([x, h]) @ gates/kernel + gates/bias), 2)
        c = tanh(x @ candidate/input_projection/kernel + candidate/input_projection/bias
                 + r * (h @ candidate/hidden_projection/kernel + candidate/hidden_projection/bias))
        new_h = (1 - u) * c + u * h

    TF1 variables under `cudnn_compatible_gru_cell`, in TF1's order: `gates/kernel [D+H, 2H]`, `gates/bias
    [2H]` (1.0), `candidate/input_projection/kernel [D, H]`, `candidate/hidden_projection/kernel [H, H]`,
    `candidate/input_projection/bias [H]`, `candidate/hidden_projection/bias [H]` (zeros); the kernels
    take `kernel_initializer` (None: the scope's, glorot-uniform).
    """

    TF1_SCOPE = "cudnn_compatible_gru_cell"
    CONFIG = ("num_units", "kernel_initializer")

    def __init__(self, num_units, reuse=None, kernel_initializer=None, **kwargs):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        self.kernel_initializer = kernel_initializer
        self.state_size = self.num_units
        self.output_size = self.num_units

    def tf1_weights(self, depth):
        units, kernel = self.num_units, self.kernel_initializer
        return {
            "gates/kernel": Weight((depth + units, 2 * units), kernel),
            "gates/bias": Weight((2 * units,), _ONES),
            "candidate/input_projection/kernel": Weight((depth, units), kernel),
            "candidate/hidden_projection/kernel": Weight((units, units), kernel),
            "candidate/input_projection/bias": Weight((units,), _ZEROS),
            "candidate/hidden_projection/bias": Weight((units,), _ZEROS),
        }

    def step(self, inputs, state, weights, training, legacy):
        (h,) = state
        gates = tf.nn.bias_add(tf.matmul(tf.concat([inputs, h], 1), weights["gates/kernel"]), weights["gates/bias"])
        r, u = tf.split(tf.sigmoid(gates), 2, axis=1)
        candidate = tf.nn.bias_add(tf.matmul(inputs, weights["candidate/input_projection/kernel"]),
                                   weights["candidate/input_projection/bias"])
        candidate += r * tf.nn.bias_add(tf.matmul(h, weights["candidate/hidden_projection/kernel"]),
                                        weights["candidate/hidden_projection/bias"])
        c = tf.tanh(candidate)
        new_h = (1 - u) * c + u * h
        return new_h, (new_h,)


class LSTMBlockFusedCell:
    """contrib's `LSTMBlockFusedCell(num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, reuse=None,
    dtype=None, name="lstm_fused_cell")`: the whole sequence in one call, time-major.

    `cell(inputs, initial_state=None, dtype=None, sequence_length=None)`: `inputs` `[time, batch, depth]` (or a
    list of `[batch, depth]` tensors, one per step); returns `(outputs, LSTMStateTuple(c, h))`, `outputs`
    `[time, batch, num_units]` (a list for a list), zero past each `sequence_length`, the final state the
    one after each sequence's last step. TF 1.15 ran one `BlockLSTM` op of `LSTMBlockCell`'s step; here
    that step (`LSTMBlockCell`, cell clip and its gradient included) runs under
    `tf.compat.v1.nn.dynamic_rnn(time_major=True)`, which masks and keeps the final states as TF1's
    wrapper did. TF1 variables `kernel`, `bias` (and `w_i_diag`, `w_f_diag`, `w_o_diag`) right under the
    cell's scope, `lstm_fused_cell` (`name=`), uniquified as TF1's layers were (`lstm_fused_cell_1`, ...;
    taken as is with `reuse=True`), reused by later calls; eagerly, the inner cell's Keras weights.
    `scope=` at the call (TF1 put the variables right under it) is not supported.
    """

    def __init__(self, num_units, forget_bias=1.0, cell_clip=None, use_peephole=False, reuse=None, dtype=None,
                 name="lstm_fused_cell"):
        self.num_units = int(num_units)
        self.name = name
        self.reuse = reuse
        self.cell = LSTMBlockCell(num_units, forget_bias=forget_bias, cell_clip=cell_clip,
                                  use_peephole=use_peephole, dtype=dtype, reuse=reuse, name=name)
        self._scopes: dict = {}

    def _scope(self):
        """The cell's TF1 scope in this program graph, opened where the first call is made."""
        graph = program_graph()
        if graph not in self._scopes:
            opened = (tf.compat.v1.variable_scope(self.name) if self.reuse
                      else tf.compat.v1.variable_scope(None, default_name=self.name))
            with opened as captured:
                self._scopes[graph] = captured
        return self._scopes[graph]

    def __call__(self, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
        if scope is not None:
            raise NotImplementedError("LSTMBlockFusedCell(...)(inputs, scope=...): tf2norm's fused cell takes its "
                                      "variable scope from name= (default lstm_fused_cell); enter the scope around "
                                      "the call and pass name= instead")
        is_list = isinstance(inputs, list)
        inputs = tf.stack(inputs) if is_list else tf.convert_to_tensor(inputs)
        if inputs.shape.rank != 3 or inputs.shape[2] is None:
            raise ValueError(f"Expecting inputs_shape[2] to be set: {inputs.shape}")
        if initial_state is None:
            if dtype is None:
                raise ValueError("Either initial_state or dtype needs to be specified")
        elif len(initial_state) != 2:
            raise ValueError("Expecting initial_state to be a tuple with length 2 or None")
        elif not isinstance(initial_state, LSTMStateTuple):
            initial_state = LSTMStateTuple(*initial_state)
        scope = self._scope() if in_legacy_graph() else None
        outputs, state = tf.compat.v1.nn.dynamic_rnn(
            _ScopedCell(self.cell, scope), inputs, sequence_length=sequence_length, initial_state=initial_state,
            dtype=dtype, time_major=True, scope=scope)
        return (tf.unstack(outputs) if is_list else outputs), state


class _ScopedCell:
    """A TF1 cell called with `scope=` (its variables right under that scope), for dynamic_rnn."""

    def __init__(self, cell, scope):
        self.cell, self.scope = cell, scope

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def output_size(self):
        return self.cell.output_size

    def zero_state(self, batch_size, dtype):
        return self.cell.zero_state(batch_size, dtype)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        return self.cell.zero_state(batch_size, dtype)

    def __call__(self, inputs, state, scope=None):
        return self.cell(inputs, state, scope=self.scope)
