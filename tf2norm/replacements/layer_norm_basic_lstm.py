"""`LayerNormBasicLSTM`: the whole `LayerNormBasicLSTMCell` sequence as one fast Keras 3 layer.

`LayerNormBasicLSTM(units, ...)` takes the cell's arguments plus Keras' RNN ones and owns a
`LayerNormBasicLSTMCell` (`layer.cell`): the weights are the cell's, under the cell's names
(`kernel`, `bias` or the ten `<norm>_gamma/_beta`), so checkpoint tools, `from_cell` and
`keras.layers.RNN(layer.cell)` see the same variables. What changes is how the time loop runs:

* the forward loop is one `tf.while_loop` with the cell's arithmetic op for op (the matmul of
  `[x, h]`, the four per-gate layer norms, the state layer norm, epsilon 1e-12), so its numbers
  are those of `keras.layers.RNN(cell)` run in the same compilation mode: bit for bit in the
  tests (graph mode, and XLA with `jit_compile=True`). Under XLA the loop is pipelined: step
  t + 1's projection and gate norms run at the end of step t. The ops and their order are the
  same; what changes is how XLA cuts the step into kernels (it no longer splits the cell update
  over two threads every step, a hand-off that costs more than it saves at these sizes);
* the backward pass is written by hand instead of being derived from the loop: the reverse loop
  keeps only `dz @ W_h^T` and elementwise work per step, and sums the layer-norm gammas' and
  betas' gradients in its state; the gradients of the inputs and the kernel are a few large
  matmuls over all steps;
* the input projection stays inside the loop (`[x_t, h] @ kernel`, as the cell) and the four
  gate norms stay four per-gate moments. Both alternatives were measured (issue 15) and change
  the numbers without being faster here: hoisting `x @ W_x` out of the loop as one big matmul
  changes the summation order (8e-7 after 50 steps at H=128) and was slower under XLA (each step
  then reads its slice of a [T, B, 4H] array inside several kernels); one `[B, 4, H]` moments
  call for the four gates reduces in another order at some shapes (under XLA even depending on
  the surrounding kernels) and saved kernels but no time. Matmuls for the moments, separate
  matmuls for x and h, and two half-batch chains per step were no faster either;
* both loops are compiled with XLA (`jit_compile=True`, the default), which fuses each step's
  elementwise work. Under XLA, tanh, sigmoid and rsqrt use XLA's own kernels, which differ from
  TensorFlow's by an ulp or so; over a sequence that reaches a few 1e-6 at H=128 (the same
  difference `keras.layers.RNN(cell)` shows between `jit_compile=True` and `False`). Against
  real TF 1.15 both modes stay within the 2e-6 of the golden fixtures. `jit_compile=False`
  runs the same loops in plain TensorFlow graph mode. XLA compiles once per input shape (a
  second or two): with many distinct sequence lengths, pad to a few bucket lengths or use
  `jit_compile=False`.

Masking (Keras semantics: a masked step keeps the state and outputs the previous output, or
zeros with `zero_output_for_mask=True`), `go_backwards`, `initial_state=[c, h]`,
`return_state` (`outputs, c, h`) and `stateful` behave as in `keras.layers.RNN(cell)`. Dropout of
the candidate `g` runs only when `training` is true, as the cell's Keras path; its masks are
drawn for all steps at once (same distribution, a different random stream than the per-step
cell). With an activation other than tanh the layer falls back to Keras' per-step loop over the
cell (same numbers, no speed-up). `unroll` is accepted for signature compatibility and ignored.

TF1 `dynamic_rnn(cell, x, sequence_length=n, initial_state=s)` maps to
`LayerNormBasicLSTM(..., return_sequences=True, return_state=True, zero_output_for_mask=True)`
called as `layer(x, mask=tf.sequence_mask(n, T), initial_state=[s.c, s.h])`, which returns
`outputs, c, h`: zero outputs past each length and the state at each sequence's last step.
Migrated TF1 code keeps dynamic_rnn's own contract with
`LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, sequence_length=n, initial_state=s)`, which
returns `outputs, LSTMStateTuple(c, h)` and runs dropout as TF1 did (see `dynamic_rnn`); it works
eagerly, in `tf.function` and in tf.compat.v1 graphs, where the weights are the cell's Keras
variables (initialised by `global_variables_initializer()`), not TF1's `get_variable` names.
"""

from __future__ import annotations

import inspect

import keras
import tensorflow as tf

from tf2norm.replacements import _keras_internals
from tf2norm.replacements._layer_norm_math import tf1_epsilon
from tf2norm.replacements._modes import static_bool
from tf2norm.replacements._tf1_cell import LSTMStateTuple, is_active_keep_prob
from tf2norm.replacements.layer_norm_basic_lstm_cell import (
    GATES,
    LayerNormBasicLSTMCell,
)

_TANH = (tf.tanh, tf.math.tanh, tf.nn.tanh, keras.activations.tanh)
# The cell's own keyword defaults (forget_bias=1.0, ..., reuse=None), read from its signature so
# the two classes cannot drift apart.
_CELL_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(LayerNormBasicLSTMCell.__init__).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


def _dim(x, axis):
    """A static dimension where known (so outputs keep static shapes), else the dynamic one."""
    return x.shape[axis] if x.shape[axis] is not None else tf.shape(x)[axis]


def _is_default(value, default) -> bool:
    return value is default or (isinstance(value, (bool, int, float, str)) and value == default)


def _layer_norm(x, gamma, beta, eps):
    """TF1's layer norm over the last axis (`nn.moments` + `nn.batch_normalization`), the cell's ops.

    Returns y and, for the backward pass, the mean and 1/std (unused ones are pruned).
    """
    mean, variance = tf.nn.moments(x, axes=[x.shape.rank - 1], keepdims=True)
    rstd = tf.math.rsqrt(variance + eps)
    inv = rstd * gamma
    return x * inv + (beta - mean * inv), mean, rstd


def _layer_norm_backward(dy, xhat, rstd, gamma):
    """d loss / d x of y = xhat * gamma + beta, xhat = (x - mean(x)) * rsqrt(var(x) + eps)."""
    dxhat = dy * gamma
    mean_dxhat = tf.reduce_mean(dxhat, axis=-1, keepdims=True)
    mean_dxhat_xhat = tf.reduce_mean(dxhat * xhat, axis=-1, keepdims=True)
    return rstd * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat)


class _Recurrence:
    """The time loop of one layer configuration, time-major: forward and hand-written backward.

    Weights come in as tensors: `kernel [D+H, 4H]`, and either `bias [4H]` or `gamma4, beta4
    [4, H]` (gates i, j, f, o) with `state_gamma, state_beta [H]`.
    """

    def __init__(self, units, layer_norm, forget_bias, eps, zero_output_for_mask, jit_compile):
        self.units = units
        self.layer_norm = layer_norm
        self.forget_bias = forget_bias
        self.eps = eps
        self.zero_output_for_mask = zero_output_for_mask
        # Under XLA the forward loop is pipelined (see `_forward`); the plain loop keeps the
        # graph mode op for op the same graph as `keras.layers.RNN(cell)`'s.
        self.pipelined = jit_compile
        options = dict(jit_compile=jit_compile, autograph=False)
        self.forward = tf.function(self._forward, **options)
        self.backward = tf.function(self._backward, **options)

    # ------------------------------------------------------------------ forward
    def _forward(self, x, c0, h0, mask, drop, weights, save):
        """x [T,B,D], c0/h0 [B,H], mask [T,B,1] bool or None, drop [T,B,H] (0 or 1/keep) or None.

        Returns outputs [T,B,H], c, h and, if `save`, a dict of per-step tensors stacked over T.
        """
        dtype = x.dtype
        steps = _dim(x, 0)
        kernel, bias = weights["kernel"], weights.get("bias")
        forget_bias = tf.cast(self.forget_bias, dtype)
        zero_output = tf.zeros_like(h0)

        # LayerNormBasicLSTMCell._step, op for op, so the numbers are the cell's, in two halves:
        # `gates` up to the four normalised gates, `finish` the rest of the step. Each also
        # returns what the backward pass needs from the step (pruned when nothing saves it).
        def gates(t, h):
            xh = tf.concat([x[t], h], 1)
            z = tf.matmul(xh, kernel)
            if not self.layer_norm:
                z = tf.nn.bias_add(z, bias)
                return tuple(tf.split(z, 4, axis=1)), ({"xh": xh, "z": z} if save else {})
            normed = [
                _layer_norm(gate, weights["gamma4"][k], weights["beta4"][k], self.eps)
                for k, gate in enumerate(tf.split(z, 4, axis=1))
            ]
            saved = {}
            if save:
                saved = {
                    "xh": xh,  # the kernel's gradient is one matmul over all steps' [x, h]
                    "z": z,
                    "zmean": tf.concat([n[1] for n in normed], 1),
                    "zrstd": tf.concat([n[2] for n in normed], 1),
                }
            return tuple(n[0] for n in normed), saved

        def finish(t, c, h, prev_out, ijfo):
            i, j, f, o = ijfo
            saved = {"cprev": c}
            g = tf.tanh(j)
            if drop is not None:
                g = g * drop[t]
            new_c = c * tf.sigmoid(f + forget_bias) + tf.sigmoid(i) * g
            if self.layer_norm:
                c_raw = new_c
                new_c, mean, rstd = _layer_norm(c_raw, weights["state_gamma"], weights["state_beta"], self.eps)
                saved["chat"], saved["crstd"] = (c_raw - mean) * rstd, rstd
            new_h = tf.tanh(new_c) * tf.sigmoid(o)
            out = new_h
            if mask is not None:
                m = mask[t]
                new_c = tf.where(m, new_c, c)
                out = tf.where(m, new_h, zero_output if self.zero_output_for_mask else prev_out)
                new_h = tf.where(m, new_h, h)
            return new_c, new_h, out, saved

        def write(t, tas, out, saved):
            """Step t's output (unless None) and the saved tensors in `saved`, into the arrays."""
            out_ta, saved_tas = tas
            if out is not None:
                out_ta = out_ta.write(t, out)
            return out_ta, {k: ta.write(t, saved[k]) if k in saved else ta for k, ta in saved_tas.items()}

        ijfo0, gates_saved0 = gates(0, h0)
        saved_tas = {}
        if save:
            # The shapes of what a step saves (nothing uses this step's values, so it is pruned).
            probe = dict(gates_saved0, **finish(0, c0, h0, zero_output, ijfo0)[3])
            saved_tas = {k: tf.TensorArray(dtype, size=steps, element_shape=v.shape) for k, v in probe.items()}
        tas = (tf.TensorArray(dtype, size=steps, element_shape=h0.shape), saved_tas)

        if not self.pipelined:

            def body(t, c, h, prev_out, tas):
                ijfo, gates_saved = gates(t, h)
                new_c, new_h, out, saved = finish(t, c, h, prev_out, ijfo)
                return t + 1, new_c, new_h, out, write(t, tas, out, dict(saved, **gates_saved))

            _, c, h, _, tas = tf.while_loop(
                lambda t, *_: t < steps, body, (tf.constant(0), c0, h0, zero_output, tas), maximum_iterations=steps
            )
        else:
            # Step t + 1's gates are computed at the end of step t and carried to the next
            # iteration (the first before the loop, the last step's finish after it): the same
            # ops on the same values, but XLA then compiles the gate norms and the cell update
            # into separate small kernels instead of one kernel it splits over two threads
            # every step, a hand-off that costs more than it saves at these sizes.
            # What the gates save is written where it is computed, not carried (a carried
            # array would be copied in and out of every iteration).
            def body(t, c, h, prev_out, ijfo, tas):
                new_c, new_h, out, saved = finish(t, c, h, prev_out, ijfo)
                ijfo, gates_saved = gates(t + 1, new_h)
                tas = write(t + 1, write(t, tas, out, saved), None, gates_saved)
                return t + 1, new_c, new_h, out, ijfo, tas

            last = steps - 1
            _, c, h, prev_out, ijfo, tas = tf.while_loop(
                lambda t, *_: t < last,
                body,
                (tf.constant(0), c0, h0, zero_output, ijfo0, write(0, tas, None, gates_saved0)),
                maximum_iterations=last,
            )
            c, h, out, saved = finish(last, c, h, prev_out, ijfo)
            tas = write(last, tas, out, saved)
        out_ta, saved_tas = tas
        outputs = out_ta.stack()
        if not save:
            return outputs, c, h
        return outputs, c, h, {k: ta.stack() for k, ta in saved_tas.items()}

    # ----------------------------------------------------------------- backward
    def _backward(self, d_outputs, d_c, d_h, x, mask, drop, weights, saved):
        """The reverse loop of `_forward`, from its saved tensors.

        Returns d_c0, d_h0, the gradients of the pre-norm gates `dz` [T,B,4H] stacked over T and,
        with layer norm, the gradients of the gammas and betas: "gamma" and "beta" [5, H], rows
        i, j, f, o and the state.
        """
        units, dtype = self.units, x.dtype
        steps = _dim(x, 0)
        w_h_t = weights["kernel_h_t"]
        forget_bias = tf.cast(self.forget_bias, dtype)
        carry_output = mask is not None and not self.zero_output_for_mask

        def body(t, dc, dh, d_prev_out, dz_ta, sums):
            d_out = d_outputs[t]
            if mask is not None:
                # A masked step passes the state (and, without zero_output_for_mask, the
                # previous output) through unchanged: so do their gradients.
                m = tf.cast(mask[t], dtype)
                d_total = d_out + d_prev_out if carry_output else d_out
                d_new_h, d_new_c = m * (dh + d_total), m * dc
                pass_h, pass_c = (1 - m) * dh, (1 - m) * dc
                if carry_output:
                    d_prev_out = (1 - m) * d_total
            else:
                d_new_h, d_new_c = dh + d_out, dc
            c_prev = saved["cprev"][t]
            if self.layer_norm:
                # Gate by gate, as in the forward pass: XLA compiles a [B, 4, H] stack of the
                # four gates' gradients into slow concatenating kernels.
                z_mean, z_rstd = tf.split(saved["zmean"][t], 4, axis=1), tf.split(saved["zrstd"][t], 4, axis=1)
                zhat = [(z_k - z_mean[k]) * z_rstd[k] for k, z_k in enumerate(tf.split(saved["z"][t], 4, axis=1))]
                i, j, f, o = (zhat[k] * weights["gamma4"][k] + weights["beta4"][k] for k in range(4))
            else:
                i, j, f, o = tf.split(saved["z"][t], 4, axis=1)
            tanh_j = tf.tanh(j)
            g = tanh_j * drop[t] if drop is not None else tanh_j
            s_i, s_f, s_o = tf.sigmoid(i), tf.sigmoid(f + forget_bias), tf.sigmoid(o)
            if self.layer_norm:
                chat = saved["chat"][t]
                new_c = chat * weights["state_gamma"] + weights["state_beta"]
            else:
                new_c = c_prev * s_f + s_i * g
            tanh_c = tf.tanh(new_c)
            d_o = d_new_h * tanh_c * s_o * (1 - s_o)
            d_c_norm = d_new_c + d_new_h * s_o * (1 - tanh_c * tanh_c)
            if self.layer_norm:
                d_c_raw = _layer_norm_backward(d_c_norm, chat, saved["crstd"][t], weights["state_gamma"])
            else:
                d_c_raw = d_c_norm
            d_j = d_c_raw * s_i * (1 - tanh_j * tanh_j)
            if drop is not None:
                d_j = d_j * drop[t]
            d_i = d_c_raw * g * s_i * (1 - s_i)
            d_f = d_c_raw * c_prev * s_f * (1 - s_f)
            if self.layer_norm:
                dy = (d_i, d_j, d_f, d_o, d_c_norm)  # the five norms' output gradients
                xhat = (*zhat, chat)
                # The gammas' and betas' gradients are summed over the steps in the loop state,
                # elementwise per batch row (the batch is summed once, after the loop): no
                # [T, B, 5H] arrays to fill, write and reduce afterwards.
                sums = {
                    "gamma": [acc + d * xh for acc, d, xh in zip(sums["gamma"], dy, xhat)],
                    "beta": [acc + d for acc, d in zip(sums["beta"], dy)],
                }
                dz = tf.concat(
                    [_layer_norm_backward(dy[k], zhat[k], z_rstd[k], weights["gamma4"][k]) for k in range(4)], 1
                )
            else:
                dz = tf.concat([d_i, d_j, d_f, d_o], 1)
            if mask is not None:
                dz = tf.where(mask[t], dz, tf.zeros_like(dz))  # no NaN from a padded step's values
            dz_ta = dz_ta.write(t, dz)
            dh_prev = tf.matmul(dz, w_h_t)
            dc_prev = d_c_raw * s_f
            if mask is not None:
                dh_prev, dc_prev = dh_prev + pass_h, m * dc_prev + pass_c
            return t - 1, dc_prev, dh_prev, d_prev_out, dz_ta, sums

        dz_ta = tf.TensorArray(dtype, size=steps, element_shape=[d_h.shape[0], 4 * units])
        sums = {}
        if self.layer_norm:
            sums = {"gamma": [tf.zeros_like(d_h)] * 5, "beta": [tf.zeros_like(d_h)] * 5}  # [B, H] each
        _, d_c0, d_h0, _, dz_ta, sums = tf.while_loop(
            lambda t, *_: t >= 0,
            body,
            (steps - 1, d_c, d_h, tf.zeros_like(d_h), dz_ta, sums),
            maximum_iterations=steps,
        )
        return d_c0, d_h0, dz_ta.stack(), {k: tf.reduce_sum(tf.stack(v), axis=1) for k, v in sums.items()}

    def gradients(self, d_outputs, d_c, d_h, x, mask, drop, weights, saved):
        """d_x [T,B,D], d_c0, d_h0 and the weight gradients keyed like `weights`.

        Only the reverse loop runs compiled; what does not feed the recurrence is two large
        matmuls over all steps (d_x, and the kernel's gradient from the saved `[x, h]`), left to
        TensorFlow's kernels, so that graph pruning drops d_x when nobody asks for it (a first
        layer).
        """
        units = self.units
        steps, batch, depth = _dim(x, 0), _dim(x, 1), x.shape[-1]
        # W_h^T is transposed once here: inside the compiled loop the matmul library would
        # repack the transposed operand at every step.
        w_h_t = tf.transpose(weights["kernel"][depth:])
        d_c0, d_h0, dz, sums = self.backward(
            d_outputs, d_c, d_h, x, mask, drop, dict(weights, kernel_h_t=w_h_t), saved
        )
        dz = tf.reshape(dz, [-1, 4 * units])
        w_x = weights["kernel"][:depth]
        d_x = tf.reshape(tf.matmul(dz, w_x, transpose_b=True), [steps, batch, depth])
        xh = tf.reshape(saved["xh"], [-1, depth + units])
        grads = {"kernel": tf.matmul(xh, dz, transpose_a=True)}
        if self.layer_norm:
            grads["gamma4"], grads["beta4"] = sums["gamma"][:4], sums["beta"][:4]
            grads["state_gamma"], grads["state_beta"] = sums["gamma"][4], sums["beta"][4]
        else:
            grads["bias"] = tf.reduce_sum(dz, axis=0)
        return d_x, d_c0, d_h0, grads


def _run_recurrence(recurrence, x, c0, h0, mask, drop, weights, save):
    """The loop as one differentiable op: forward now, the hand-written backward on demand.

    `save=False` (inference) runs a lean forward; if a gradient is asked for anyway, the backward
    pass first recomputes the forward with its saved tensors.
    """
    keys = sorted(weights)

    @tf.custom_gradient
    def op(x, c0, h0, *values):
        w = dict(zip(keys, values))
        if save:
            outputs, c, h, saved = recurrence.forward(x, c0, h0, mask, drop, w, True)
        else:
            outputs, c, h = recurrence.forward(x, c0, h0, mask, drop, w, False)
            saved = None

        def grad(d_outputs, d_c, d_h):
            d_outputs = tf.zeros_like(outputs) if d_outputs is None else d_outputs
            d_c = tf.zeros_like(c) if d_c is None else d_c
            d_h = tf.zeros_like(h) if d_h is None else d_h
            s = saved if saved is not None else recurrence.forward(x, c0, h0, mask, drop, w, True)[3]
            d_x, d_c0, d_h0, d_w = recurrence.gradients(d_outputs, d_c, d_h, x, mask, drop, w, s)
            return (d_x, d_c0, d_h0, *[d_w[k] for k in keys])

        return (outputs, c, h), grad

    return op(x, c0, h0, *[weights[k] for k in keys])


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormBasicLSTM(keras.layers.RNN):
    """A sequence of `LayerNormBasicLSTMCell` steps, computed fast (see the module docstring).

    Args:
      units: H (the cell's `num_units`).
      forget_bias, input_size, activation, layer_norm, norm_gain, norm_shift, dropout_keep_prob,
        dropout_prob_seed, reuse: the cell's arguments (`LayerNormBasicLSTMCell`).
      return_sequences, return_state, go_backwards, stateful, unroll, zero_output_for_mask:
        `keras.layers.RNN`'s. The states are `[c, h]` (TF1's `LSTMStateTuple` order):
        `initial_state=[c, h]`, and with `return_state` the layer returns `outputs, c, h`.
      jit_compile: compile the forward and backward loops with XLA (default True).
      cell: an existing `LayerNormBasicLSTMCell` to run (its weights are shared); the cell
        arguments must then be left at their defaults. `from_cell(cell, ...)` says the same.
      **kwargs: Keras layer keywords (name, dtype, trainable, ...).

    Weights: `layer.cell.kernel [D+H, 4H]` (gates i, j, f, o), and `layer.cell.bias [4H]`
    without layer norm, or `layer.cell.<norm>_gamma/_beta` for input, transform, forget, output
    and state with it.
    """

    def __init__(
        self,
        units,
        forget_bias=1.0,
        input_size=None,
        activation=None,
        layer_norm=True,
        norm_gain=1.0,
        norm_shift=0.0,
        dropout_keep_prob=1.0,
        dropout_prob_seed=None,
        reuse=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        jit_compile=True,
        cell=None,
        **kwargs,
    ):
        cell_args = dict(
            forget_bias=forget_bias,
            input_size=input_size,
            activation=activation,
            layer_norm=layer_norm,
            norm_gain=norm_gain,
            norm_shift=norm_shift,
            dropout_keep_prob=dropout_keep_prob,
            dropout_prob_seed=dropout_prob_seed,
            reuse=reuse,
        )
        if cell is None:
            cell = LayerNormBasicLSTMCell(units, dtype=kwargs.get("dtype"), **cell_args)
        else:
            if not isinstance(cell, LayerNormBasicLSTMCell):
                raise TypeError(f"LayerNormBasicLSTM: cell must be a LayerNormBasicLSTMCell, got {type(cell).__name__}")
            changed = sorted(k for k, v in cell_args.items() if not _is_default(v, _CELL_DEFAULTS[k]))
            if changed:
                raise ValueError("LayerNormBasicLSTM: with cell=, the cell's own settings apply; "
                                 f"do not pass {changed}")
            if units is not None and int(units) != cell.num_units:
                raise ValueError(f"LayerNormBasicLSTM: units={units} but the cell has num_units={cell.num_units}")
        super().__init__(
            cell,
            return_sequences=return_sequences,
            return_state=return_state,
            go_backwards=go_backwards,
            stateful=stateful,
            unroll=unroll,
            zero_output_for_mask=zero_output_for_mask,
            **kwargs,
        )
        self.jit_compile = bool(jit_compile)
        self._recurrences = {}

    @classmethod
    def from_cell(cls, cell, **kwargs):
        """The layer over an existing cell (weights shared), e.g. `from_cell(cell, return_sequences=True)`.

        The layer takes the cell's dtype policy unless `dtype=` says otherwise.
        """
        kwargs.setdefault("dtype", cell.dtype_policy)
        return cls(cell.num_units, cell=cell, **kwargs)

    # The cell's settings, readable on the layer as on keras.layers.LSTM.
    units = property(lambda self: self.cell.num_units)
    forget_bias = property(lambda self: self.cell.forget_bias)
    layer_norm = property(lambda self: self.cell.layer_norm)
    norm_gain = property(lambda self: self.cell.norm_gain)
    norm_shift = property(lambda self: self.cell.norm_shift)
    dropout_keep_prob = property(lambda self: self.cell.dropout_keep_prob)
    dropout_prob_seed = property(lambda self: self.cell.dropout_prob_seed)

    def _recurrence(self, dtype, zero_output_for_mask):
        key = (tf.as_dtype(dtype).name, bool(zero_output_for_mask))
        if key not in self._recurrences:
            cell = self.cell
            self._recurrences[key] = _Recurrence(
                cell.num_units,
                cell.layer_norm,
                cell.forget_bias,
                tf1_epsilon(dtype),
                zero_output_for_mask,
                self.jit_compile,
            )
        return self._recurrences[key]

    def _dropout_mask(self, x, training):
        """[T,B,H] multipliers of g (0 or 1/keep_prob), or None when no dropout runs."""
        cell = self.cell
        training_value = static_bool(training)
        if not is_active_keep_prob(cell.dropout_keep_prob) or training is None or training_value is False:
            return None
        shape = tf.concat([tf.shape(x)[:2], [cell.num_units]], 0)

        def draw():
            return cell.drop(tf.ones(shape, x.dtype))

        if training_value is None:
            return tf.cond(tf.cast(training, tf.bool), draw, lambda: tf.ones(shape, x.dtype))
        return draw()

    def inner_loop(self, sequences, initial_state, mask, training=False):
        if keras.tree.is_nested(mask):
            mask = mask[0]
        if self.cell.activation not in _TANH:
            return super().inner_loop(sequences, initial_state, mask, training=training)
        x = tf.transpose(sequences, [1, 0, 2])
        if mask is not None:
            mask = tf.transpose(tf.cast(mask, tf.bool), [1, 0])[:, :, None]
        if self.go_backwards:
            x = tf.reverse(x, [0])
            mask = None if mask is None else tf.reverse(mask, [0])
        # Save the backward pass's tensors unless this is plainly inference.
        save = training is not None and static_bool(training) is not False
        outputs, c, h = self._fast_loop(x, initial_state[0], initial_state[1], mask, training, save,
                                        self.zero_output_for_mask)
        last_output = outputs[-1]
        outputs = tf.transpose(outputs, [1, 0, 2]) if self.return_sequences else last_output[:, None]
        return last_output, outputs, [c, h]

    def _fast_loop(self, x, c0, h0, mask, training, save, zero_output_for_mask):
        """x [T,B,D] time-major, mask [T,B,1] bool or None: outputs [T,B,H], c, h from the compiled loops."""
        cell = self.cell
        dtype = x.dtype
        c0, h0 = tf.cast(c0, dtype), tf.cast(h0, dtype)
        weights = {k: tf.cast(tf.convert_to_tensor(v), dtype) for k, v in cell.tf1_named_weights().items()}
        if cell.layer_norm:
            packed = {
                "kernel": weights["kernel"],
                "gamma4": tf.stack([weights[f"{g}/gamma"] for g in GATES]),
                "beta4": tf.stack([weights[f"{g}/beta"] for g in GATES]),
                "state_gamma": weights["state/gamma"],
                "state_beta": weights["state/beta"],
            }
        else:
            packed = {"kernel": weights["kernel"], "bias": weights["bias"]}
        drop = self._dropout_mask(x, training)
        recurrence = self._recurrence(dtype, zero_output_for_mask)
        return _run_recurrence(recurrence, x, c0, h0, mask, drop, packed, save)

    # ------------------------------------------------------------- TF1 entry
    def dynamic_rnn(self, inputs, sequence_length=None, initial_state=None, dtype=None, time_major=False,
                    training=None):
        """TF1's `tf.compat.v1.nn.dynamic_rnn(self.cell, inputs, ...)`, computed by this layer's loops.

        What `tf2norm migrate` emits for dynamic_rnn over one LayerNormBasicLSTMCell:
        `LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, sequence_length=n, initial_state=s)`.
        The layer's own return_sequences, return_state and zero_output_for_mask do not apply here;
        go_backwards and stateful have no dynamic_rnn meaning and are rejected.

        Args:
          inputs: `[B, T, D]`, or `[T, B, D]` with `time_major=True`. Floating inputs are cast to
            the cell's compute dtype, as a Keras call does.
          sequence_length: `[B]` integer lengths, or None (every step of every sequence runs).
            Outputs past a sequence's length are zero, and its final state is the state after its
            last valid step (the initial state for a length of 0), as in TF1.
          initial_state: `LSTMStateTuple(c, h)` or any `(c, h)` pair of `[B, H]`; zeros if None.
          dtype: TF1's dtype of the zero state. The sequence runs in the cell's compute dtype
            (float32 unless the cell was built with `dtype=`); a different dtype is an error,
            rather than a silent change of precision.
          time_major: inputs and outputs are `[T, B, ...]`.
          training: None runs dropout as TF1 did: whenever the cell's `dropout_keep_prob` is not
            the float 1.0 (a keep_prob tensor always runs it). Otherwise the flag decides, as in a
            Keras call (a bool, or a bool tensor, e.g. a placeholder).

        Returns:
          `(outputs, LSTMStateTuple(c, h))`: outputs `[B, T, H]` (`[T, B, H]` if time_major).
        """
        if self.go_backwards or self.stateful:
            raise ValueError("LayerNormBasicLSTM.dynamic_rnn: not for a layer built with go_backwards or stateful")
        if keras.tree.is_nested(inputs):
            raise TypeError("LayerNormBasicLSTM.dynamic_rnn: nested inputs are not supported; concatenate them")
        cell = self.cell
        compute = tf.as_dtype(cell.compute_dtype)
        if dtype is not None and tf.as_dtype(dtype) != compute:
            raise ValueError(
                f"LayerNormBasicLSTM.dynamic_rnn: dtype={tf.as_dtype(dtype).name}, but the cell computes in "
                f"{compute.name}; build the cell with dtype='{tf.as_dtype(dtype).name}'"
            )
        x = tf.convert_to_tensor(inputs)
        if x.dtype != compute:
            if not x.dtype.is_floating:
                raise TypeError(f"LayerNormBasicLSTM.dynamic_rnn: inputs must be floating point, got {x.dtype.name}")
            x = tf.cast(x, compute)
        if x.shape.rank != 3:
            raise ValueError(f"LayerNormBasicLSTM.dynamic_rnn: inputs must have rank 3, got shape {x.shape}")
        if not self.built:
            # Builds the cell, unless it has its weights already.
            self.build((x.shape[1], x.shape[0], x.shape[2]) if time_major else tuple(x.shape))
        if training is None:
            training = is_active_keep_prob(cell.dropout_keep_prob)
            save = True  # a TF1-style call may well be differentiated
        else:
            save = static_bool(training) is not False
        with tf.name_scope(self.name):
            x_tm = x if time_major else tf.transpose(x, [1, 0, 2])
            steps, batch = _dim(x_tm, 0), _dim(x_tm, 1)
            if initial_state is None:
                c0 = h0 = tf.zeros([batch, cell.num_units], compute)
            else:
                c0, h0 = (tf.cast(tf.convert_to_tensor(s), compute) for s in initial_state)
            mask = None  # [T, B, 1]
            if sequence_length is not None:
                mask = tf.transpose(tf.sequence_mask(sequence_length, maxlen=steps))[:, :, None]
            if cell.activation in _TANH:
                outputs, c, h = self._fast_loop(x_tm, c0, h0, mask, training, save, zero_output_for_mask=True)
            else:
                # The cell's Keras call step by step (inner_loop's fallback), with dynamic_rnn's settings.
                def step(inputs_t, states):
                    output, new_states = cell(inputs_t, states, training=training)
                    return output, list(new_states)

                _, outputs, (c, h) = _keras_internals.rnn(
                    step, x_tm, [c0, h0], mask=mask, time_major=True, zero_output_for_mask=True,
                    input_length=x_tm.shape[0],
                )
            if not time_major:
                outputs = tf.transpose(outputs, [1, 0, 2])
        return outputs, LSTMStateTuple(c, h)

    # ----------------------------------------------------------------- config
    def get_config(self):
        cell_config = self.cell.get_config()
        config = keras.layers.Layer.get_config(self)
        config.update(units=self.cell.num_units)
        config.update({k: cell_config[k] for k in _CELL_DEFAULTS if k in cell_config})
        config.update(
            return_sequences=self.return_sequences,
            return_state=self.return_state,
            go_backwards=self.go_backwards,
            stateful=self.stateful,
            unroll=self.unroll,
            zero_output_for_mask=self.zero_output_for_mask,
            jit_compile=self.jit_compile,
        )
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)
