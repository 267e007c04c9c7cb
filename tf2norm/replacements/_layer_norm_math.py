"""TF 1.15's layer normalisation arithmetic, shared by `LayerNorm`/`layer_norm` and the layer-norm cells.

`tf.contrib.layers.layer_norm` (and contrib's LayerNormBasicLSTMCell, and the layer-norm GRU people
built from it) computed `nn.moments(keep_dims=True)` then `nn.batch_normalization`:

    mean = reduce_mean(x, norm_axes)
    var  = reduce_mean(squared_difference(x, stop_gradient(mean)), norm_axes)   # biased
    inv  = rsqrt(var + epsilon) * gamma
    y    = x * inv + (beta - mean * inv)

with epsilon 1e-12, or 1e-3 for float16 inputs (whose moments are computed in float32 and cast
back): `normalize` runs these ops in this order.
"""

from __future__ import annotations

import tensorflow as tf

#: TF 1.15's variance epsilon, and the one it used for float16 inputs (1e-12 rounds to 0 there).
EPSILON = 1e-12
FLOAT16_EPSILON = 1e-3


def tf1_epsilon(dtype) -> float:
    """The epsilon TF 1.15's layer norm used for inputs of `dtype`."""
    return FLOAT16_EPSILON if tf.as_dtype(dtype) == tf.float16 else EPSILON


def normalize(inputs, norm_axes, beta=None, gamma=None, epsilon=None):
    """TF 1.15's arithmetic: `nn.moments(keep_dims=True)` then `nn.batch_normalization`, op for op."""
    dtype = inputs.dtype
    if epsilon is None:
        epsilon = tf1_epsilon(dtype)
    # nn.moments computes float16 statistics in float32 and casts them back.
    y = tf.cast(inputs, tf.float32) if dtype == tf.float16 else inputs
    mean = tf.reduce_mean(y, norm_axes, keepdims=True, name="mean")
    variance = tf.reduce_mean(tf.math.squared_difference(y, tf.stop_gradient(mean)), norm_axes, keepdims=True,
                              name="variance")
    if dtype == tf.float16:
        mean, variance = tf.cast(mean, tf.float16), tf.cast(variance, tf.float16)
    inv = tf.math.rsqrt(variance + epsilon)
    if gamma is not None:
        inv *= gamma
    shift = beta - mean * inv if beta is not None else -mean * inv
    return inputs * tf.cast(inv, dtype) + tf.cast(shift, dtype)
