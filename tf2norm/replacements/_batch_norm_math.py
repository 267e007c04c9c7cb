"""The arithmetic of TF 1.15 batch normalisation, shared by `BatchNormalization` and `batch_norm`.

TF 1.15 ran one of two arithmetics (NUMERICS.md section 2):

* fused (rank 2 or 4, channel axis last or NCHW, no renorm): the FusedBatchNorm kernel; the
  variance fed to the moving average is Bessel-corrected (n/(n-1)) and epsilon is clamped to at
  least 1.001e-5 (TF 2.x's kernel wrapper no longer clamps, so we clamp here). The kernel's
  arithmetic is written out in plain ops (`_fused_kernel`): TF 2.x runs oneDNN's kernel for the op;
* non-fused: `nn.moments` + `nn.batch_normalization`, biased variance everywhere, no clamp.

tf.layers (`tf.layers.batch_normalization`, the V1 Keras layer underneath contrib's default path)
adds two non-fused variants: `virtual_batch_size` (ghost batch norm: statistics per virtual
sub-batch, their average fed to the moving statistics) and `adjustment` (a scale and bias composed
with gamma and beta while training).

Everything here takes plain tf.Variables (or None) and builds ops; callers decide when the
update ops run (eagerly, inside tf.function, or through UPDATE_OPS in tf.compat.v1 graphs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional

import tensorflow as tf

from tf2norm.replacements import _fused_kernel as fused_kernel
from tf2norm.replacements._modes import smart_cond

FUSED_MIN_EPSILON = 1.001e-5


def fused_arithmetic_applies(rank: int, axis: int, renorm: bool, tf_layers: bool = False,
                             virtual_batch_size=None, adjustment=None) -> bool:
    """Would TF 1.15 have run the fused kernel for this input (`axis` already non-negative)?

    contrib's batch_norm fused rank 2 (reshaped to [-1, 1, 1, C]) and rank 4; tf.layers' V1 layer
    only rank 4, and never with renorm, a virtual batch size or an adjustment.
    """
    if renorm or virtual_batch_size is not None or adjustment is not None:
        return False
    if rank == 4:
        return axis in (1, 3)
    if rank == 2 and not tf_layers:
        return axis == 1
    return False


@dataclass
class BatchNormState:
    """The variables of one batch-norm layer (tf.Variables; None where the config has none)."""

    moving_mean: tf.Variable
    moving_variance: tf.Variable
    beta: Optional[tf.Variable] = None
    gamma: Optional[tf.Variable] = None
    # renorm
    moving_stddev: Optional[tf.Variable] = None
    renorm_mean: Optional[tf.Variable] = None
    renorm_stddev: Optional[tf.Variable] = None
    # zero_debias_moving_mean
    biased: Optional[tf.Variable] = None
    local_step: Optional[tf.Variable] = None


class FlatVariable:
    """A variable of tf.layers' virtual-batch shape `[1, ..., C, ...]` seen as `[C]` by the
    arithmetic here: reads reshape it, assignments reshape the value back (all elementwise)."""

    def __init__(self, variable, channels):
        self.variable, self._channels = variable, channels
        self.dtype = variable.dtype

    @property
    def shape(self):
        return tf.TensorShape([self._channels])

    def _full(self, value):
        return tf.reshape(value, self.variable.shape)

    def _flat(self, value):
        return tf.reshape(value, [self._channels])

    def assign(self, value):
        return self._flat(self.variable.assign(self._full(value)))

    def assign_sub(self, value):
        return self._flat(self.variable.assign_sub(self._full(value)))

    def assign_add(self, value):
        return self._flat(self.variable.assign_add(self._full(value)))


tf.register_tensor_conversion_function(
    FlatVariable, lambda value, dtype=None, name=None, as_ref=False: value._flat(value.variable)
)


def virtual_batch_shape(rank: int, axis: int, channels: int) -> list:
    """The shape tf.layers gave its variables with virtual_batch_size: `[1] * (rank + 1)`, C at axis + 1."""
    shape = [1] * (rank + 1)
    shape[axis + 1] = channels
    return shape


@dataclass
class BatchNormConfig:
    axis: int  # non-negative channel axis
    rank: int
    epsilon: float
    decay: float
    fused: bool
    # TF 1.8-1.15's default rank-4 fused path computed `1 - decay` in float32 from float32(decay).
    decay_in_float32: bool = False
    renorm: bool = False
    renorm_clipping: Optional[dict] = None
    renorm_decay: float = 0.99
    synchronized: bool = False
    # tf.layers only: ghost batch norm, and a (scale, bias) function of the input shape.
    virtual_batch_size: Optional[int] = None
    adjustment: Optional[Callable] = None

    @property
    def reduction_axes(self):
        return [a for a in range(self.rank) if a != self.axis]


def _param(value, channels, fill, dtype=tf.float32):
    if value is None:
        return tf.fill([channels], tf.constant(fill, dtype))
    return tf.convert_to_tensor(value)


def _broadcast_shape(cfg: BatchNormConfig, channels):
    shape = [1] * cfg.rank
    shape[cfg.axis] = channels
    return shape


def _as_broadcast(value, cfg, channels):
    if value is None or cfg.axis == cfg.rank - 1:
        return value
    if value.shape.rank == cfg.rank:  # already broadcastable (TF1's _broadcast left those alone)
        return value
    return tf.reshape(value, _broadcast_shape(cfg, channels))


# ------------------------------------------------------------------ fused arithmetic
def _fused(x, state, cfg, channels, training, mean=None, variance=None):
    """TF 1.15's FusedBatchNorm CPU kernel (rank 2 as [-1, 1, 1, C], NCHW through NHWC), written in
    plain ops by `_fused_kernel` so that oneDNN's kernel never replaces it."""
    return fused_kernel.fused_batch_norm(
        x,
        _param(state.gamma, channels, 1.0),
        _param(state.beta, channels, 0.0),
        epsilon=max(cfg.epsilon, FUSED_MIN_EPSILON),
        training=training,
        mean=mean,
        variance=variance,
        channels_first=cfg.rank == 4 and cfg.axis == 1,
    )


# -------------------------------------------------------------- non-fused arithmetic
def _moments(x, cfg):
    """Biased moments over all axes but the channel axis, in float32 for float16 inputs."""
    x32 = tf.cast(x, tf.float32) if x.dtype in (tf.float16, tf.bfloat16) else x
    mean, variance = tf.nn.moments(x32, cfg.reduction_axes)
    return mean, variance


def _normalize(x, mean, variance, beta, gamma, cfg, channels):
    """TF1's nn.batch_normalization: inv = rsqrt(var+eps)*gamma; y = x*inv + (beta - mean*inv)."""
    dtype = x.dtype

    def cast(v):
        return None if v is None else tf.cast(_as_broadcast(v, cfg, channels), dtype)

    return tf.nn.batch_normalization(x, cast(mean), cast(variance), cast(beta), cast(gamma), cfg.epsilon)


def _synchronized_moments(x, cfg):
    """Mean and biased variance over all replicas, and the global element count per channel."""
    ctx = tf.distribute.get_replica_context()
    x32 = tf.cast(x, tf.float32)
    axes = cfg.reduction_axes
    local_count = tf.cast(tf.size(x32) // tf.shape(x32)[cfg.axis], tf.float32)
    total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(x32, axes))
    count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, local_count)
    mean = total / count
    deviation = x32 - _as_broadcast(mean, cfg, tf.shape(mean)[0])
    squares = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(tf.square(deviation), axes))
    return mean, squares / count, count


def _replicas_in_sync() -> int:
    ctx = tf.distribute.get_replica_context()
    return 1 if ctx is None else ctx.num_replicas_in_sync


# ----------------------------------------------------------------------- forward
def training_forward(x, state: BatchNormState, cfg: BatchNormConfig, channels):
    """Outputs with batch statistics, and the (mean, variance) the moving averages take.

    For renorm the returned variance is the batch variance (the renorm updates derive the
    standard deviation from it), as in TF 1.15's tf.layers.BatchNormalization.
    """
    if cfg.synchronized and _replicas_in_sync() > 1:
        return _synchronized_training_forward(x, state, cfg, channels)
    if cfg.fused:
        return _fused(x, state, cfg, channels, training=True)
    if cfg.virtual_batch_size is not None:
        return _ghost_training_forward(x, state, cfg, channels)
    mean, variance = _moments(x, cfg)
    gamma, beta = _adjusted(x, state, cfg, channels)
    if cfg.renorm:
        r, d = _renorm_correction(mean, variance, state, cfg)
        gamma, beta = _compose_broadcast(r, d, gamma, beta, cfg, channels)
    return _normalize(x, mean, variance, beta, gamma, cfg, channels), mean, variance


def _compose_broadcast(scale, offset, gamma, beta, cfg, channels):
    """`_compose_renorm` on values in their broadcast shape (per-channel vectors reshaped)."""
    return _compose_renorm(*(_as_broadcast(v, cfg, channels) for v in (scale, offset, gamma, beta)))


def _adjusted(x, state, cfg, channels):
    """gamma and beta, composed with tf.layers' `adjustment(shape)` (scale, bias) when given.

    As TF 1.15: scale = adj_scale * gamma, offset = adj_bias * gamma + beta, gamma and beta in
    their broadcast shape (the adjustment's own shape is the caller's business, as in TF1).
    """
    if cfg.adjustment is None:
        return state.gamma, state.beta
    adj_scale, adj_bias = cfg.adjustment(tf.shape(x))
    return _compose_renorm(tf.convert_to_tensor(adj_scale), tf.convert_to_tensor(adj_bias),
                           _as_broadcast(state.gamma, cfg, channels), _as_broadcast(state.beta, cfg, channels))


def _ghost_training_forward(x, state, cfg, channels):
    """tf.layers' virtual_batch_size: x viewed as [virtual_batch_size, -1, ...] (so virtual batch g
    holds examples g, g + B/v, g + 2B/v, ...), normalised with each virtual batch's own moments;
    the moving statistics (and renorm's r and d) take the average of those moments."""
    static = x.shape.as_list()
    if any(d is None for d in static[1:]):
        raise ValueError(f"virtual_batch_size needs the non-batch dimensions known, got shape {x.shape}")
    expanded = tf.reshape(x, [cfg.virtual_batch_size, -1] + static[1:])
    ghost = dataclasses.replace(cfg, axis=cfg.axis + 1, rank=cfg.rank + 1, virtual_batch_size=None)
    axes = [a for a in range(ghost.rank) if a not in (ghost.axis, 1)]
    x32 = tf.cast(expanded, tf.float32) if x.dtype in (tf.float16, tf.bfloat16) else expanded
    mean, variance = tf.nn.moments(x32, axes, keepdims=True)
    new_mean = tf.reshape(tf.reduce_mean(mean, axis=1, keepdims=True), [channels])
    new_variance = tf.reshape(tf.reduce_mean(variance, axis=1, keepdims=True), [channels])
    gamma, beta = state.gamma, state.beta
    if cfg.renorm:
        r, d = _renorm_correction(new_mean, new_variance, state, cfg)
        gamma, beta = _compose_broadcast(r, d, gamma, beta, ghost, channels)
    y = _normalize(expanded, mean, variance, beta, gamma, ghost, channels)
    return tf.reshape(y, tf.shape(x)), new_mean, new_variance


def _synchronized_training_forward(x, state, cfg, channels):
    mean, variance, count = _synchronized_moments(x, cfg)
    gamma, beta = state.gamma, state.beta
    if cfg.renorm:
        r, d = _renorm_correction(mean, variance, state, cfg)
        gamma, beta = _compose_renorm(r, d, gamma, beta)
    if cfg.fused:
        # Same rules as the fused kernel, on global statistics.
        inv = tf.math.rsqrt(variance + max(cfg.epsilon, FUSED_MIN_EPSILON))
        if gamma is not None:
            inv = inv * gamma
        shift = _as_broadcast(mean, cfg, channels)
        y = (tf.cast(x, tf.float32) - shift) * _as_broadcast(inv, cfg, channels)
        if beta is not None:
            y = y + _as_broadcast(tf.convert_to_tensor(beta), cfg, channels)
        return tf.cast(y, x.dtype), mean, variance * count / (count - 1.0)
    return _normalize(x, mean, variance, beta, gamma, cfg, channels), mean, variance


def inference_forward(x, state: BatchNormState, cfg: BatchNormConfig, channels):
    """Outputs with the moving statistics; also returns them (the no-update values)."""
    mean, variance = tf.convert_to_tensor(state.moving_mean), tf.convert_to_tensor(state.moving_variance)
    if cfg.fused:
        y, _, _ = _fused(x, state, cfg, channels, training=False, mean=mean, variance=variance)
    else:
        y = _normalize(x, mean, variance, state.beta, state.gamma, cfg, channels)
    return y, mean, variance


def forward(x, state, cfg, channels, training):
    """(outputs, mean, variance): batch statistics when training, moving ones otherwise.

    `training` is a Python bool or a bool tensor (then a tf.cond, as TF1's smart_cond).
    """
    return smart_cond(
        training,
        lambda: training_forward(x, state, cfg, channels),
        lambda: inference_forward(x, state, cfg, channels),
    )


# ------------------------------------------------------------------------ renorm
def _renorm_correction(mean, variance, state, cfg):
    """TF 1.15's r and d, from the renorm averages before this step's update."""
    stddev = tf.sqrt(variance + cfg.epsilon)
    renorm_stddev = tf.maximum(tf.convert_to_tensor(state.renorm_stddev),
                               tf.sqrt(tf.constant(cfg.epsilon, stddev.dtype)))
    r = stddev / renorm_stddev
    d = (mean - tf.convert_to_tensor(state.renorm_mean)) / renorm_stddev
    clipping = cfg.renorm_clipping or {}
    rmin, rmax, dmax = (clipping.get(k) for k in ("rmin", "rmax", "dmax"))
    if rmin is not None:
        r = tf.maximum(r, rmin)
    if rmax is not None:
        r = tf.minimum(r, rmax)
    if dmax is not None:
        d = tf.minimum(tf.maximum(d, -dmax), dmax)
    return tf.stop_gradient(r), tf.stop_gradient(d)


def _compose_renorm(r, d, gamma, beta):
    """(x*r + d)*gamma + beta as a new scale and offset (TF 1.15's _compose_transforms)."""
    scale, offset = r, d
    if gamma is not None:
        scale = scale * gamma
        offset = offset * gamma
    if beta is not None:
        offset = offset + beta
    return scale, offset


# ------------------------------------------------------------------------ updates
def _one_minus_decay(decay, dtype, in_float32):
    if in_float32:
        return tf.cast(1.0 - tf.constant(decay, tf.float32), dtype)
    return tf.cast(tf.constant(1.0 - decay, tf.float32), dtype)


def assign_moving_average(variable, value, decay, in_float32=False):
    """TF1: `variable -= (variable - value) * (1 - decay)`; returns the new value."""
    rate = _one_minus_decay(decay, variable.dtype, in_float32)
    value = tf.cast(value, variable.dtype)
    return tf.convert_to_tensor(variable.assign_sub((tf.convert_to_tensor(variable) - value) * rate))


def assign_zero_debiased(state: BatchNormState, value, decay):
    """TF1's zero_debias for the moving mean: biased average, step count, unbiased quotient."""
    rate = _one_minus_decay(decay, state.biased.dtype, in_float32=False)
    value = tf.cast(value, state.biased.dtype)
    biased = state.biased.assign_sub((tf.convert_to_tensor(state.biased) - value) * rate)
    step = state.local_step.assign_add(tf.constant(1, state.local_step.dtype))
    bias_factor = 1.0 - tf.pow(1.0 - rate, tf.convert_to_tensor(step))
    return tf.convert_to_tensor(state.moving_mean.assign(tf.convert_to_tensor(biased) / bias_factor))


def moving_updates(state: BatchNormState, cfg: BatchNormConfig, mean, variance):
    """Build every moving-statistics update of one training step; returns the new values."""
    if cfg.renorm:
        stddev = tf.sqrt(variance + cfg.epsilon)
        # The renorm averages move first (TF 1.15 chained them before the moving mean update).
        renorm_mean = assign_moving_average(state.renorm_mean, mean, cfg.renorm_decay)
        renorm_stddev = assign_moving_average(state.renorm_stddev, stddev, cfg.renorm_decay)
        with tf.control_dependencies([renorm_mean, renorm_stddev]):
            new_mean = assign_moving_average(state.moving_mean, mean, cfg.decay)
            moving_stddev = assign_moving_average(state.moving_stddev, stddev, cfg.decay)
            new_variance = tf.convert_to_tensor(
                state.moving_variance.assign(tf.nn.relu(moving_stddev * moving_stddev - cfg.epsilon))
            )
        return [new_mean, new_variance]
    if state.biased is not None:
        new_mean = assign_zero_debiased(state, mean, cfg.decay)
    else:
        new_mean = assign_moving_average(state.moving_mean, mean, cfg.decay, cfg.decay_in_float32)
    new_variance = assign_moving_average(state.moving_variance, variance, cfg.decay, cfg.decay_in_float32)
    return [new_mean, new_variance]


def gated_moving_updates(state, cfg, mean, variance, training, after):
    """`moving_updates` when training; the unchanged values otherwise (a tf.cond for tensors).

    The updates wait for `after` (the layer's outputs): the outputs, and renorm's r and d, must
    read the averages from before this step, as TF1 ordered them with control dependencies.
    """
    with tf.control_dependencies([after]):
        return smart_cond(
            training,
            lambda: moving_updates(state, cfg, mean, variance),
            lambda: [tf.convert_to_tensor(state.moving_mean), tf.convert_to_tensor(state.moving_variance)],
        )
