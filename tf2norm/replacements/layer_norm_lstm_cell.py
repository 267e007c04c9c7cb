"""`LayerNormBasicLSTMCell`: TF 1.x `tf.contrib.rnn.LayerNormBasicLSTMCell`, op for op, on Keras 3.

The same object works two ways:

* as a Keras 3 RNN cell: `keras.layers.RNN(cell)`, `Bidirectional`, stacking. Dropout of the
  candidate `g` runs only when `training` is true, as for every Keras layer.
* as a TF1 cell handed to `tf.compat.v1.nn.dynamic_rnn` / `bidirectional_dynamic_rnn` (called as
  `cell(x, state)` with no `training`): dropout runs whenever `dropout_keep_prob` is not the float
  1.0, as TF1 did. In a tf.compat.v1 graph the variables are created with `get_variable` under
  TF1's exact scopes (`.../layer_norm_basic_lstm_cell/kernel`, `.../input/gamma`, ...), so a TF1
  `Saver` checkpoint restores unchanged; in eager code the cell's Keras weights are used.

The math (NUMERICS.md section 1): `z = [x, h] @ kernel (+ bias without layer norm)`, gates
i, j, f, o each layer-normalised over its own H units with epsilon 1e-12, `forget_bias` added
after the norm, the normalised cell state carried.
"""

from __future__ import annotations

import collections
import warnings

import keras
import tensorflow as tf

from tf2norm.replacements._modes import static_bool
from tf2norm.replacements._tf1_cell import Tf1Cell
from tf2norm.replacements._tf1_cell import is_active_keep_prob as _is_active_keep_prob

_GATES = ("input", "transform", "forget", "output")
_NORMS = _GATES + ("state",)
_TF1_SCOPE = "layer_norm_basic_lstm_cell"


class LSTMStateTuple(collections.namedtuple("LSTMStateTuple", ("c", "h"))):
    """TF1's `LSTMStateTuple(c, h)`, which raises on Keras 3 under `tf.compat.v1.nn.rnn_cell`."""

    __slots__ = ()

    @property
    def dtype(self):
        if self.c.dtype != self.h.dtype:
            raise TypeError(f"Inconsistent internal state: {self.c.dtype} vs {self.h.dtype}")
        return self.c.dtype


def layer_norm_epsilon(dtype) -> float:
    # TF 1.15's contrib layer_norm: 1e-12, except 1e-3 for float16 (its range cannot hold 1e-12).
    return 1e-3 if tf.as_dtype(dtype) == tf.float16 else 1e-12


def layer_norm(x, gamma, beta):
    """TF1's `contrib.layers.layer_norm(begin_norm_axis=1)`: nn.moments + nn.batch_normalization."""
    mean, variance = tf.nn.moments(x, axes=[1], keepdims=True)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, layer_norm_epsilon(x.dtype))


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormBasicLSTMCell(Tf1Cell, keras.layers.Layer):
    """LSTM cell with layer normalisation and recurrent dropout, exactly as TF 1.x computed it.

    Args (TF1's, verbatim):
      num_units: H, the number of units.
      forget_bias: added to the normalised forget gate at run time (never a variable).
      input_size: ignored, with a warning, as in TF1.
      activation: activation of the candidate and of the output (default tanh).
      layer_norm: if False there is no normalisation and the projection has a bias instead.
      norm_gain, norm_shift: initial gamma and beta of the five layer norms.
      dropout_keep_prob: keep probability of the candidate `g`: a float or a scalar tensor.
      dropout_prob_seed: op seed of that dropout.
      reuse: TF1 variable-scope reuse, honoured in tf.compat.v1 graph code.
      **kwargs: Keras layer keywords (name, dtype, trainable, ...).

    Weights (Keras): `kernel [D+H, 4H]` in gate order i, j, f, o; `bias [4H]` only without layer
    norm (glorot-uniform initialised, as TF1); with layer norm `<gate>_gamma`, `<gate>_beta` for
    gate in input, transform, forget, output, state.
    """

    TF1_SCOPE = _TF1_SCOPE

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        input_size=None,
        activation=None,
        layer_norm=True,
        norm_gain=1.0,
        norm_shift=0.0,
        dropout_keep_prob=1.0,
        dropout_prob_seed=None,
        reuse=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if input_size is not None:
            warnings.warn("LayerNormBasicLSTMCell: input_size is ignored (as in TF 1.x).", stacklevel=2)
        self.num_units = int(num_units)
        self.forget_bias = forget_bias
        self._activation_config = activation
        self.activation = tf.tanh if activation is None else keras.activations.get(activation)
        self.layer_norm = bool(layer_norm)
        self.norm_gain = norm_gain
        self.norm_shift = norm_shift
        self.dropout_keep_prob = dropout_keep_prob
        self.dropout_prob_seed = dropout_prob_seed
        self.reuse = reuse
        self.state_size = LSTMStateTuple(self.num_units, self.num_units)
        self.output_size = self.num_units
        self._init_tf1_scoping()

    # ------------------------------------------------------------------ weights
    def build(self, input_shape):
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the last input dimension must be known, got shape {input_shape}")
        units = self.num_units
        self.kernel = self.add_weight(
            name="kernel", shape=(int(depth) + units, 4 * units), initializer="glorot_uniform"
        )
        if self.layer_norm:
            for norm in _NORMS:
                gamma = self.add_weight(
                    name=f"{norm}_gamma", shape=(units,), initializer=keras.initializers.Constant(self.norm_gain)
                )
                beta = self.add_weight(
                    name=f"{norm}_beta", shape=(units,), initializer=keras.initializers.Constant(self.norm_shift)
                )
                setattr(self, f"{norm}_gamma", gamma)
                setattr(self, f"{norm}_beta", beta)
        else:
            self.bias = self.add_weight(name="bias", shape=(4 * units,), initializer="glorot_uniform")
        self.built = True

    def _keras_weights(self) -> dict:
        weights = {"kernel": self.kernel}
        if self.layer_norm:
            for norm in _NORMS:
                weights[f"{norm}/gamma"] = getattr(self, f"{norm}_gamma")
                weights[f"{norm}/beta"] = getattr(self, f"{norm}_beta")
        else:
            weights["bias"] = self.bias
        return weights

    def _tf1_graph_weights(self, depth: int, dtype) -> dict:
        """TF1's own variables, from `get_variable` in the current (TF1) variable scope."""
        units = self.num_units
        get = tf.compat.v1.get_variable
        weights = {"kernel": get("kernel", [depth + units, 4 * units], dtype=dtype)}
        if self.layer_norm:
            for norm in _NORMS:
                with tf.compat.v1.variable_scope(norm):
                    weights[f"{norm}/gamma"] = get(
                        "gamma", [units], dtype=dtype, initializer=tf.compat.v1.constant_initializer(self.norm_gain)
                    )
                    weights[f"{norm}/beta"] = get(
                        "beta", [units], dtype=dtype, initializer=tf.compat.v1.constant_initializer(self.norm_shift)
                    )
        else:
            weights["bias"] = get("bias", [4 * units], dtype=dtype)
        return weights

    # -------------------------------------------------------------------- math
    def _step(self, inputs, c, h, weights, apply_dropout):
        z = tf.matmul(tf.concat([inputs, h], 1), weights["kernel"])
        if not self.layer_norm:
            z = tf.nn.bias_add(z, weights["bias"])
        i, j, f, o = tf.split(z, 4, axis=1)
        if self.layer_norm:
            i, j, f, o = (
                layer_norm(gate, weights[f"{name}/gamma"], weights[f"{name}/beta"])
                for gate, name in zip((i, j, f, o), _GATES)
            )
        g = self.activation(j)
        g = apply_dropout(g)
        new_c = c * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * g
        if self.layer_norm:
            new_c = layer_norm(new_c, weights["state/gamma"], weights["state/beta"])
        new_h = self.activation(new_c) * tf.sigmoid(o)
        return new_h, new_c

    def _dropout(self, g):
        keep_prob = self.dropout_keep_prob
        return tf.nn.dropout(g, rate=1.0 - tf.cast(keep_prob, g.dtype), seed=self.dropout_prob_seed)

    # -------------------------------------------------------------- Keras path
    def call(self, inputs, states, training=None):
        c, h = states[0], states[1]
        training_value = static_bool(training)
        active = _is_active_keep_prob(self.dropout_keep_prob)

        def apply_dropout(g):
            if not active or training_value is False or training is None:
                return g
            if training_value is None:
                return tf.cond(tf.cast(training, tf.bool), lambda: self._dropout(g), lambda: g)
            return self._dropout(g)

        new_h, new_c = self._step(inputs, c, h, self._keras_weights(), apply_dropout)
        return new_h, [new_c, new_h]

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zero state. Keras passes only batch_size (list state); TF1 passes dtype (tuple state)."""
        if dtype is None:
            dtype = self.compute_dtype
            zeros = tf.zeros([batch_size, self.num_units], dtype=dtype)
            return [zeros, zeros]
        return self.zero_state(batch_size, dtype)

    # ------------------------------------------------------------- legacy path
    def zero_state(self, batch_size, dtype):
        zeros = tf.zeros(tf.stack([batch_size, self.num_units]), dtype=dtype)
        return LSTMStateTuple(zeros, zeros)

    def _legacy_call(self, inputs, state, scope=None):
        inputs = tf.convert_to_tensor(inputs)
        c, h = state
        apply_dropout = self._dropout if _is_active_keep_prob(self.dropout_keep_prob) else (lambda g: g)
        with self._legacy_weights(inputs, scope) as weights:
            new_h, new_c = self._step(inputs, c, h, weights, apply_dropout)
        return new_h, LSTMStateTuple(new_c, new_h)

    # ----------------------------------------------------------------- config
    def get_config(self):
        if not isinstance(self.dropout_keep_prob, (int, float)):
            raise ValueError(
                "LayerNormBasicLSTMCell.get_config: dropout_keep_prob is a tensor and cannot be serialised; "
                "use a float to save this cell"
            )
        config = super().get_config()
        activation = self._activation_config
        if activation is not None and not isinstance(activation, str):
            activation = keras.activations.serialize(keras.activations.get(activation))
        config.update(
            num_units=self.num_units,
            forget_bias=self.forget_bias,
            activation=activation,
            layer_norm=self.layer_norm,
            norm_gain=self.norm_gain,
            norm_shift=self.norm_shift,
            dropout_keep_prob=self.dropout_keep_prob,
            dropout_prob_seed=self.dropout_prob_seed,
        )
        return config
