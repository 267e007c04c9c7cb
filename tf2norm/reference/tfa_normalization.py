"""tensorflow-addons 0.23 GroupNormalization / InstanceNormalization."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _in_precision, _mean


def tfa_group_norm_layout(shape, groups, axis=-1):
    """How tfa 0.23 groups an input of ``shape``: ``(grouped shape, reduction axes, weight shape)``.

    ``groups=-1`` means one group per channel. With several channels per group the input is reshaped
    so that ``axis`` becomes ``(groups, C // groups)`` and moments are taken over every axis but the
    batch and the group axis. With one channel per group tfa does not reshape and drops reduction
    axis ``axis - 1`` (``-1`` for ``axis=-1``) from ``[1, rank)``: the channel axis for ``axis=-1`` or
    ``axis > 0``, another axis for other negative ones (a tfa bug, reproduced; rank 3 fails there).
    gamma/beta (shape ``[C]``) are reshaped to the weight shape.
    """
    shape = tuple(shape)
    rank = len(shape)
    channels = shape[axis]
    groups = channels if groups == -1 else groups
    if axis == 0 or channels % groups:
        raise ValueError("tfa GroupNormalization: bad axis %d or groups %d for %d channels" % (axis, groups, channels))
    weights = [1] * rank
    if channels // groups == 1:
        reduction = list(range(1, rank))
        reduction.pop(-1 if axis == -1 else axis - 1)  # IndexError where tfa raised it
        weights[axis] = groups
        return shape, tuple(reduction), tuple(weights)
    grouped = list(shape)
    grouped[axis] = channels // groups
    grouped.insert(axis, groups)
    reduction = list(range(1, rank + 1))
    reduction.pop(-2 if axis == -1 else axis - 1)
    weights[axis] = channels // groups
    weights.insert(axis, groups)
    return tuple(grouped), tuple(reduction), tuple(weights)


def _tfa_moments(x, axes):
    # tf.nn.moments: float16 inputs are averaged in float32; var = mean((x - mean)^2); then cast back.
    y = np.asarray(x, F32)
    mean = _mean(y, axes, keepdims=True)
    d = (y - mean).astype(F32)
    var = _mean(d * d, axes, keepdims=True)
    return mean.astype(_in_precision(x.dtype)), var.astype(_in_precision(x.dtype))


def tfa_group_norm(x, gamma=None, beta=None, *, groups=32, axis=-1, epsilon=1e-3, dtype=np.float32):
    """``tfa.layers.GroupNormalization(groups, axis, epsilon)`` (InstanceNormalization: ``groups=-1``).

    ``gamma``/``beta`` of shape ``[C]`` or None (scale/center False). Arithmetic as tfa's
    ``tf.nn.batch_normalization`` in ``dtype`` (the layer's compute dtype: float16 under
    mixed precision, where the inputs are cast first): ``inv = rsqrt(var + eps) * gamma``,
    ``y = x * inv + (beta - mean * inv)``.
    """
    dtype = _in_precision(dtype)
    x = np.asarray(x).astype(dtype)
    grouped_shape, reduction, weights = tfa_group_norm_layout(x.shape, groups, axis)
    xg = x.reshape(grouped_shape)
    mean, var = _tfa_moments(xg, reduction)
    eps = dtype.type(epsilon)
    inv = (dtype.type(1.0) / np.sqrt((var + eps).astype(F32))).astype(dtype)
    if gamma is not None:
        inv = (inv * np.asarray(gamma).astype(dtype).reshape(weights)).astype(dtype)
    shift = (-(mean * inv)).astype(dtype)
    if beta is not None:
        shift = (np.asarray(beta).astype(dtype).reshape(weights) - (mean * inv).astype(dtype)).astype(dtype)
    return ((xg * inv).astype(dtype) + shift).astype(dtype).reshape(x.shape)


def tfa_group_norm_grads(x, loss_weights, gamma=None, beta=None, *, groups=32, axis=-1, epsilon=1e-3):
    """Gradients of ``sum(tfa_group_norm(x) * loss_weights)`` in float64.

    Over each normalised set (the reduction axes of :func:`tfa_group_norm_layout`):
    ``dx = inv * (g - mean(g) - xhat * mean(g * xhat))`` with ``g = loss_weights * gamma``;
    ``dgamma``/``dbeta`` sum ``loss_weights * xhat`` / ``loss_weights`` per channel.
    Returns ``{"inputs", "gamma", "beta"}`` (gamma/beta only when given).
    """
    x = np.asarray(x, np.float64)
    grouped_shape, reduction, weights = tfa_group_norm_layout(x.shape, groups, axis)
    xg = x.reshape(grouped_shape)
    w = np.asarray(loss_weights, np.float64).reshape(grouped_shape)
    mean = xg.mean(axis=reduction, keepdims=True)
    inv = 1.0 / np.sqrt(((xg - mean) ** 2).mean(axis=reduction, keepdims=True) + epsilon)
    xhat = (xg - mean) * inv
    g = w if gamma is None else w * np.asarray(gamma, np.float64).reshape(weights)
    dx = inv * (g - g.mean(axis=reduction, keepdims=True) - xhat * (g * xhat).mean(axis=reduction, keepdims=True))
    outer = tuple(a for a, n in enumerate(weights) if n == 1)
    out = {"inputs": dx.reshape(x.shape)}
    if gamma is not None:
        out["gamma"] = (w * xhat).sum(axis=outer).reshape(-1)
    if beta is not None:
        out["beta"] = w.sum(axis=outer).reshape(-1)
    return out
