"""TF 1.x's CPU FusedBatchNorm kernel written with plain TensorFlow ops, so that oneDNN cannot change it.

TF 1.15's batch norm (contrib's and tf.layers' fused paths) and Keras 2.15's LayerNormalization
(through `tf.nn.fused_batch_norm`) ran the FusedBatchNorm op, whose CPU kernel was Eigen code
(tensorflow/core/kernels/fused_batch_norm_op.cc at r1.15). With `x` viewed as `[rest, C]` (an NCHW
input transposed to NHWC first) and every statistic in float32:

    training:   mean = sum(x, axis 0) * float32(1 / rest)
                var  = sum((x - mean)^2, axis 0) * float32(1 / rest)      (biased: it normalises)
                reported variance = var * float32(rest) / float32(max(rest - 1, 1))   (Bessel)
    inference:  mean, var = the given estimates
    y = (x - mean) * (rsqrt(var + epsilon) * scale) + offset, cast back to the input dtype

On TF 2.x the same op runs oneDNN's kernel instead whenever oneDNN is on, which is TensorFlow's
default on x86 Linux: it sums in another order and its result depends on the machine's instruction
set (1.5e-5 apart from Eigen's on a batch whose variance is 1e-6, measured on an AMD EPYC).
`reduce_sum`, `square`, `rsqrt` and the elementwise ops here are Eigen kernels with oneDNN on or
off, so this module computes TF 1.15's numbers with TensorFlow's default settings, gradients
included (FusedBatchNormGrad's CPU arithmetic, written out the same way).
"""

from __future__ import annotations

import tensorflow as tf

#: The name scope of these ops in a graph (where TF1 had one FusedBatchNorm op).
SCOPE = "fused_batch_norm"


def _as_rows(x, channels_first: bool):
    """`x` (rank 2 or 4) as the kernel read it: float32 `[rest, C]`, and the NHWC shape to undo it."""
    x32 = x if x.dtype == tf.float32 else tf.cast(x, tf.float32)
    if channels_first:
        x32 = tf.transpose(x32, [0, 2, 3, 1])
    return tf.reshape(x32, [-1, tf.shape(x32)[-1]]), tf.shape(x32)


def _from_rows(rows, nhwc_shape, channels_first: bool, dtype):
    y = tf.reshape(rows, nhwc_shape)
    if channels_first:
        y = tf.transpose(y, [0, 3, 1, 2])
    return y if y.dtype == dtype else tf.cast(y, dtype)


def batch_moments(rows):
    """The kernel's training statistics of `[rest, C]` rows: (mean, biased variance, Bessel factor)."""
    rest = tf.cast(tf.shape(rows)[0], tf.float32)
    inverse_rest = tf.constant(1.0, tf.float32) / rest
    mean = tf.reduce_sum(rows, axis=0) * inverse_rest
    variance = tf.reduce_sum(tf.square(rows - mean), axis=0) * inverse_rest
    bessel = rest / tf.maximum(rest - 1.0, 1.0)
    return mean, variance, bessel


def _training_rows(rows, scale, offset, epsilon):
    """Training forward on `[rest, C]` rows, with FusedBatchNormGrad's CPU arithmetic as gradient.

    TF 1.15's gradient kernel (is_training=True), op for op; the batch statistics' own outputs get
    no gradient, as TF's registered gradient of the op ignored them:

        coef0 = rsqrt(var + eps);  d_scale = sum(dy * ((x - mean) * coef0));  d_offset = sum(dy)
        dx = (scale * coef0) * ((dy - d_offset * (1/rest)) - (x - mean) * (coef0^2 * (sum(dy * (x - mean)) / rest)))

    (TensorFlow's automatic gradient of the forward ops is the same derivative in another rounding:
    6e-5 apart from TF 1.15's on the bn_epsilon_clamp golden, against 0 for this one.)
    """

    @tf.custom_gradient
    def forward(rows, scale, offset):
        mean, variance, bessel = batch_moments(rows)
        centred = rows - mean
        coef0 = tf.math.rsqrt(variance + epsilon)
        y = centred * (coef0 * scale) + offset

        def gradient(dy, *_unused_statistics_gradients):
            rest = tf.cast(tf.shape(rows)[0], tf.float32)
            d_scale = tf.reduce_sum(dy * (centred * coef0), axis=0)
            d_offset = tf.reduce_sum(dy, axis=0)
            dy_centred = dy - d_offset * (tf.constant(1.0, tf.float32) / rest)
            # DivNoNan divides like the kernel; grappler strength-reduces a RealDiv by a constant
            # (`rest` is one once shapes are static) to a multiplication by the rounded reciprocal.
            dy_x_mean = tf.math.divide_no_nan(tf.reduce_sum(dy * centred, axis=0), rest)
            dx = (scale * coef0) * (dy_centred - centred * (tf.square(coef0) * dy_x_mean))
            return dx, d_scale, d_offset

        return (y, mean, variance * bessel), gradient

    return forward(rows, scale, offset)


def fused_batch_norm(x, scale, offset, epsilon, training, mean=None, variance=None, channels_first=False):
    """TF 1.15's `tf.nn.fused_batch_norm(x, scale, offset, mean, variance, epsilon, data_format,
    is_training)` on the CPU: returns `(y, mean, variance)` as that op did, and its gradients.

    `x` has rank 4 (NHWC, or NCHW with `channels_first`) or rank 2 (`[N, C]`, what contrib reshaped
    to `[N, 1, 1, C]`: the same rows). `scale`/`offset` are float32 `[C]`; `epsilon` is used as
    given (TF 1.15's Python wrapper had already clamped it to >= 1.001e-5). Training returns the
    batch mean and the Bessel-corrected batch variance; inference the given `mean`/`variance`,
    which get no gradient (as the op's).
    """
    with tf.name_scope(SCOPE):
        rows, nhwc_shape = _as_rows(x, channels_first)
        epsilon = tf.constant(epsilon, tf.float32)
        scale = tf.convert_to_tensor(scale, tf.float32)
        offset = tf.convert_to_tensor(offset, tf.float32)
        if training:
            y, mean, reported = _training_rows(rows, scale, offset, epsilon)
        else:
            mean = tf.stop_gradient(tf.convert_to_tensor(mean, tf.float32))
            reported = tf.stop_gradient(tf.convert_to_tensor(variance, tf.float32))
            # The inference gradient (dy * scaling, and sums for scale and offset) is these ops' own.
            y = (rows - mean) * (tf.math.rsqrt(reported + epsilon) * scale) + offset
        return _from_rows(y, nhwc_shape, channels_first, x.dtype), mean, reported
