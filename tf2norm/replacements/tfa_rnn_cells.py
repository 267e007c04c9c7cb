"""`LayerNormLSTMCell`, `LayerNormSimpleRNNCell`: tensorflow-addons' `tfa.rnn` cells on Keras 3, same numbers.

tensorflow-addons reached end of life with TF 2.15 and does not install on TF 2.16+. These are its
two layer-normalised cells (tfa 0.23) rebuilt on Keras 3 with what actually ran under Keras 2.15:

* the same constructor, argument for argument and default for default (tfa's order, so positional
  calls keep working), `**kwargs` for Keras layer keywords (`name`, `dtype`, `seed`, ...);
* the same weights, in the same order and shapes, so `cell.set_weights(tfa_cell.get_weights())` and
  `model.set_weights(tfa_model.get_weights())` move a trained tfa model over unchanged;
* the same arithmetic, including Keras 2.15's `LayerNormalization`, which is not Keras 3's: with
  epsilon >= 1.001e-5 and float32 variables it normalised with `fused_batch_norm` on a `[1, B, N, 1]`
  NCHW reshape and applied gamma and beta afterwards; below that it used `nn.moments` +
  `nn.batch_normalization`. tfa's LSTM default (1e-3) takes the first path, its simple RNN default
  (1e-5) the second. Both are reproduced op for op;
* activation names mean what they meant in Keras 2.15: `"hard_sigmoid"` is `clip(0.2 x + 0.5, 0, 1)`
  there (Keras 3's is `clip(x / 6 + 0.5, 0, 1)`);
* dropout and recurrent_dropout as Keras RNN cells do them: one mask per sequence for the inputs and
  one for the recurrent state, applied only when `training` is true.

Math of one step (`x [B,D]`, `h, c [B,H]`; LN = the Keras 2 layer norm over the last axis):

    LayerNormLSTMCell:       z = LN_kernel(x @ kernel) + LN_recurrent(h @ recurrent_kernel) (+ bias)
                             i, f, g, o = split(z, 4)             # Keras' gate order
                             c = LN_state(sigmoid(f) * c + sigmoid(i) * tanh(g))   # normalised c carried
                             h = sigmoid(o) * tanh(c);  state [h, c]
    LayerNormSimpleRNNCell:  h = tanh(LN(x @ kernel + h @ recurrent_kernel) (+ bias))   # LN: gamma only

(`sigmoid`/`tanh` stand for `recurrent_activation`/`activation`.)
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf2norm.replacements import _fused_kernel as fused_kernel

#: Keras 2's LayerNormalization took the fused_batch_norm path only at or above this epsilon.
FUSED_MIN_EPSILON = 1.001e-5


def _keras2_hard_sigmoid(x):
    # keras 2.15 backend.hard_sigmoid: clip(0.2 * x + 0.5, 0, 1), computed in x's dtype.
    x = tf.convert_to_tensor(x)
    return tf.clip_by_value(x * tf.cast(0.2, x.dtype) + tf.cast(0.5, x.dtype), tf.cast(0.0, x.dtype),
                            tf.cast(1.0, x.dtype))


def _keras2_activation(function):
    """The function Keras 2.15 ran for a Keras 3 activation (they differ for hard_sigmoid only)."""
    return _keras2_hard_sigmoid if function is keras.activations.hard_sigmoid else function


def keras2_layer_norm(x, gamma, beta, epsilon, fused, float32_variables=True):
    """Keras 2.15 `LayerNormalization(axis=-1)(x)` for a `[B, N]` tensor, op for op.

    `fused`: the path Keras 2 chose at build time (epsilon >= 1.001e-5 and float32 variables).
    `gamma`/`beta` may be None (scale=False / center=False).
    """
    if not fused:
        input_dtype = x.dtype
        if input_dtype in (tf.float16, tf.bfloat16) and float32_variables:
            # Keras 2 normalised mixed-precision inputs in float32.
            x = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(x, [x.shape.rank - 1], keepdims=True)
        outputs = tf.nn.batch_normalization(x, mean, variance, offset=beta, scale=gamma, variance_epsilon=epsilon)
        return tf.cast(outputs, input_dtype)
    shape = tf.shape(x)
    rows = tf.reduce_prod(shape[:-1])
    squeezed = tf.reshape(x, [1, rows, shape[-1], 1])
    # One "channel" per row: fused_batch_norm's batch statistics are each row's mean and variance.
    # TF 2.15's CPU kernel, in plain ops (oneDNN's, TF's default, sums in another order).
    ones = tf.ones([rows], dtype=tf.float32)
    zeros = tf.zeros([rows], dtype=tf.float32)
    outputs, _, _ = fused_kernel.fused_batch_norm(squeezed, ones, zeros, epsilon, training=True,
                                                  channels_first=True)
    outputs = tf.reshape(outputs, shape)
    if gamma is not None:
        outputs = outputs * tf.cast(gamma, outputs.dtype)
    if beta is not None:
        outputs = outputs + tf.cast(beta, outputs.dtype)
    return outputs


class Keras2LayerNormalization(keras.layers.Layer):
    """Keras 2.15's `LayerNormalization(axis=-1)` for `[batch, units]` inputs, as tfa's cells built it.

    Weights `gamma` (if scale) and `beta` (if center) of shape `[units]`, never autocast (as Keras 2).
    Created by the cells; not meant to be serialised on its own.
    """

    def __init__(self, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True

    @property
    def fused(self) -> bool:
        # Keras 2: `epsilon < 1.001e-5 or self.dtype != "float32"` ruled the fused kernel out.
        return self.epsilon >= FUSED_MIN_EPSILON and self.dtype == "float32"

    def build(self, input_shape):
        units = input_shape[-1]
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(name="gamma", shape=(units,), initializer=self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint,
                                         autocast=False)
        if self.center:
            self.beta = self.add_weight(name="beta", shape=(units,), initializer=self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint,
                                        autocast=False)
        self.built = True

    def call(self, inputs):
        gamma = None if self.gamma is None else self.gamma.value
        beta = None if self.beta is None else self.beta.value
        return keras2_layer_norm(inputs, gamma, beta, self.epsilon, self.fused, self.dtype == "float32")

    def compute_output_shape(self, input_shape):
        return input_shape


def _dropout_mask(mask):
    # Keras 3's LSTMCell asks for four masks once recurrent_dropout is set; tfa used the first one.
    return mask[0] if isinstance(mask, (list, tuple)) else mask


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormLSTMCell(keras.layers.LSTMCell):
    """tfa.rnn.LayerNormLSTMCell (tensorflow-addons 0.23) on Keras 3: same arguments, weights and numbers.

    Args (tfa's, in tfa's order, with tfa's defaults): units, activation="tanh",
    recurrent_activation="sigmoid", use_bias=True, kernel_initializer="glorot_uniform",
    recurrent_initializer="orthogonal", bias_initializer="zeros", unit_forget_bias=True,
    kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
    recurrent_constraint, bias_constraint, dropout=0.0, recurrent_dropout=0.0,
    norm_gamma_initializer="ones", norm_beta_initializer="zeros", norm_epsilon=1e-3, **kwargs
    (Keras layer keywords, and `seed` for the dropout masks).

    Weights, in `get_weights()` order: `kernel [D, 4H]`, `recurrent_kernel [H, 4H]`, `bias [4H]`
    (only with use_bias; gate order i, f, c, o), then the sublayers `kernel_norm` (`gamma`, `beta`
    `[4H]`), `recurrent_norm` (`[4H]`), `state_norm` (`[H]`). State `[h, c]`; c is carried normalised.
    """

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        norm_gamma_initializer="ones",
        norm_beta_initializer="zeros",
        norm_epsilon=1e-3,
        **kwargs,
    ):
        super().__init__(
            units,
            activation=activation,
            recurrent_activation=recurrent_activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            unit_forget_bias=unit_forget_bias,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            **kwargs,
        )
        self.norm_gamma_initializer = keras.initializers.get(norm_gamma_initializer)
        self.norm_beta_initializer = keras.initializers.get(norm_beta_initializer)
        self.norm_epsilon = norm_epsilon
        # As tfa: the norm layers take the global dtype policy, not the cell's dtype.
        self.kernel_norm = self._create_norm_layer("kernel_norm")
        self.recurrent_norm = self._create_norm_layer("recurrent_norm")
        self.state_norm = self._create_norm_layer("state_norm")

    def _create_norm_layer(self, name):
        return Keras2LayerNormalization(beta_initializer=self.norm_beta_initializer,
                                        gamma_initializer=self.norm_gamma_initializer,
                                        epsilon=self.norm_epsilon, name=name)

    def build(self, input_shape):
        super().build(input_shape)
        for norm, width in ((self.kernel_norm, 4 * self.units), (self.recurrent_norm, 4 * self.units),
                            (self.state_norm, self.units)):
            if not norm.built:
                norm.build((None, width))

    def call(self, inputs, states, training=False):
        h_tm1, c_tm1 = states[0], states[1]
        if training and 0.0 < self.dropout < 1.0:
            inputs = inputs * _dropout_mask(self.get_dropout_mask(inputs))
        z = self.kernel_norm(tf.matmul(inputs, self.kernel))
        if training and 0.0 < self.recurrent_dropout < 1.0:
            h_tm1 = h_tm1 * _dropout_mask(self.get_recurrent_dropout_mask(h_tm1))
        z += self.recurrent_norm(tf.matmul(h_tm1, self.recurrent_kernel))
        if self.use_bias:
            z = tf.nn.bias_add(z, self.bias)
        z0, z1, z2, z3 = tf.split(z, num_or_size_splits=4, axis=1)
        recurrent_activation = _keras2_activation(self.recurrent_activation)
        activation = _keras2_activation(self.activation)
        i = recurrent_activation(z0)
        f = recurrent_activation(z1)
        c = f * c_tm1 + i * activation(z2)
        o = recurrent_activation(z3)
        c = self.state_norm(c)
        h = o * activation(c)
        return h, [h, c]

    def get_config(self):
        config = super().get_config()
        config.update(
            norm_gamma_initializer=keras.initializers.serialize(self.norm_gamma_initializer),
            norm_beta_initializer=keras.initializers.serialize(self.norm_beta_initializer),
            norm_epsilon=self.norm_epsilon,
        )
        return config


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormSimpleRNNCell(keras.layers.SimpleRNNCell):
    """tfa.rnn.LayerNormSimpleRNNCell (tensorflow-addons 0.23) on Keras 3: same arguments, weights, numbers.

    Args (tfa's order and defaults): units, activation="tanh", use_bias=True, layernorm_epsilon=1e-5,
    kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
    gamma_initializer="ones", kernel_regularizer, recurrent_regularizer, bias_regularizer,
    gamma_regularizer, kernel_constraint, recurrent_constraint, bias_constraint, gamma_constraint,
    dropout=0.0, recurrent_dropout=0.0, **kwargs (Keras layer keywords, `seed`).

    Weights, in `get_weights()` order: `kernel [D, H]`, `recurrent_kernel [H, H]`, `bias [H]` (only
    with use_bias), then `layernorm.gamma [H]` (the norm scales only; the bias is added after it).
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        layernorm_epsilon=1e-05,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        gamma_initializer="ones",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        gamma_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        gamma_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        **kwargs,
    ):
        # Keras 2's base layer took `implementation` (as Keras 3's LSTMCell still does); it never
        # changed this cell's computation.
        kwargs.pop("implementation", None)
        super().__init__(
            units,
            activation=activation,
            use_bias=use_bias,
            kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            **kwargs,
        )
        # tfa handed the cell's layer keywords to its LayerNormalization too; dtype and trainable
        # are the ones that change what it computes.
        shared = {k: kwargs[k] for k in ("dtype", "trainable") if k in kwargs}
        self.layernorm = Keras2LayerNormalization(
            epsilon=layernorm_epsilon, center=False, scale=True, gamma_initializer=gamma_initializer,
            gamma_regularizer=gamma_regularizer, gamma_constraint=gamma_constraint, name="layernorm", **shared)

    @property
    def layernorm_epsilon(self):
        return self.layernorm.epsilon

    def build(self, input_shape):
        super().build(input_shape)
        if not self.layernorm.built:
            self.layernorm.build((None, self.units))

    def call(self, sequence, states, training=False):
        prev_output = states[0] if isinstance(states, (list, tuple)) else states
        dp_mask = self.get_dropout_mask(sequence)
        rec_dp_mask = self.get_recurrent_dropout_mask(prev_output)
        if training and dp_mask is not None:
            sequence = sequence * dp_mask
        h = tf.matmul(sequence, self.kernel)
        # tfa adds the bias after the layer norm, not here.
        if training and rec_dp_mask is not None:
            prev_output = prev_output * rec_dp_mask
        output = h + tf.matmul(prev_output, self.recurrent_kernel)
        output = self.layernorm(output)
        if self.bias is not None:
            output = tf.nn.bias_add(output, self.bias)
        if self.activation is not None:
            output = _keras2_activation(self.activation)(output)
        new_state = [output] if isinstance(states, (list, tuple)) else output
        return output, new_state

    def get_config(self):
        config = super().get_config()
        config.update(
            layernorm_epsilon=self.layernorm.epsilon,
            gamma_initializer=keras.initializers.serialize(self.layernorm.gamma_initializer),
            gamma_regularizer=keras.regularizers.serialize(self.layernorm.gamma_regularizer),
            gamma_constraint=keras.constraints.serialize(self.layernorm.gamma_constraint),
        )
        return config
