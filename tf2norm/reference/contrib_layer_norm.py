"""tf.contrib.layers.layer_norm (TF 1.15), any begin_norm_axis / begin_params_axis."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _in_precision, _mean

#: TF 1.15 contrib layer_norm's variance epsilon (1e-3 for float16 inputs).
LAYER_NORM_EPSILON = 1e-12


LAYER_NORM_FLOAT16_EPSILON = 1e-3


def layer_norm_axes(rank, begin_norm_axis=1, begin_params_axis=-1):
    """(norm axes, params axes) of ``tf.contrib.layers.layer_norm`` for inputs of ``rank``.

    Moments over ``[begin_norm_axis, rank)`` (negative counts from the end); beta and gamma of
    shape ``shape[begin_params_axis:]`` (a slice, so below ``-rank`` means every axis).
    """
    norm = begin_norm_axis + rank if begin_norm_axis < 0 else begin_norm_axis
    if begin_params_axis >= rank or not 0 <= norm < rank:
        raise ValueError("begin_norm_axis %d / begin_params_axis %d out of range for rank %d"
                         % (begin_norm_axis, begin_params_axis, rank))
    params = tuple(range(rank))[begin_params_axis:]
    return tuple(range(norm, rank)), params


def contrib_layer_norm(x, beta=None, gamma=None, *, begin_norm_axis=1, begin_params_axis=-1,
                       activation=None):
    """One ``tf.contrib.layers.layer_norm`` call (TF 1.15), in the input's precision.

    ``mean = reduce_mean(x, axes)``, ``var = reduce_mean((x - mean)^2, axes)``,
    ``inv = rsqrt(var + eps) * gamma``, ``y = x * inv + (beta - mean * inv)`` (``-mean * inv``
    without beta); eps 1e-12. float16 inputs: the moments are taken in float32 and rounded to
    float16, eps is 1e-3 and the rest runs in float16. ``beta``/``gamma`` have shape
    ``x.shape[begin_params_axis:]``; ``activation`` (a NumPy function) is applied last.
    """
    x = np.asarray(x)
    dtype = _in_precision(np.float16) if x.dtype == np.float16 else np.dtype(F32)
    axes, params = layer_norm_axes(x.ndim, begin_norm_axis, begin_params_axis)
    expected = tuple(x.shape[a] for a in params)
    for name, p in (("beta", beta), ("gamma", gamma)):
        if p is not None and np.shape(p) != expected:
            raise ValueError("%s has shape %s, expected %s" % (name, np.shape(p), expected))
    mean = _mean(x, axes, keepdims=True)
    d = (x.astype(F32) - mean).astype(F32)
    var = _mean(d * d, axes, keepdims=True)
    eps = LAYER_NORM_FLOAT16_EPSILON if x.dtype == np.float16 else LAYER_NORM_EPSILON
    mean, var = mean.astype(dtype), var.astype(dtype)
    s = (var + dtype.type(eps)).astype(dtype)
    inv = (1.0 / np.sqrt(s.astype(np.float64))).astype(dtype)
    if gamma is not None:
        inv = (inv * np.asarray(gamma, dtype)).astype(dtype)
    shift = (-(mean * inv)).astype(dtype) if beta is None else \
        (np.asarray(beta, dtype) - (mean * inv).astype(dtype)).astype(dtype)
    y = ((x.astype(dtype) * inv).astype(dtype) + shift).astype(dtype)
    return y if activation is None else np.asarray(activation(y), dtype)


def contrib_layer_norm_grads(x, loss_weights, beta=None, gamma=None, *, begin_norm_axis=1,
                             begin_params_axis=-1):
    """Gradients of ``sum(layer_norm(x) * loss_weights)`` in float64 (no activation).

    ``y = xhat * gamma + beta`` with ``xhat = (x - mean) / sqrt(var + eps)`` over the norm axes:
    ``dx = inv * (g - mean(g) - xhat * mean(g * xhat))`` with ``g = loss_weights * gamma``;
    ``dbeta``/``dgamma`` sum ``loss_weights`` / ``loss_weights * xhat`` over the axes before the
    parameters; eps as in :func:`contrib_layer_norm` (from ``x``'s dtype). Returns
    ``{"inputs", "beta", "gamma"}`` (beta/gamma only when given).
    """
    eps = LAYER_NORM_FLOAT16_EPSILON if np.asarray(x).dtype == np.float16 else LAYER_NORM_EPSILON
    x = np.asarray(x, np.float64)
    w = np.asarray(loss_weights, np.float64)
    axes, params = layer_norm_axes(x.ndim, begin_norm_axis, begin_params_axis)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    g = w if gamma is None else w * np.asarray(gamma, np.float64)
    dx = inv * (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    outer = tuple(a for a in range(x.ndim) if a not in params)
    out = {"inputs": dx}
    if beta is not None:
        out["beta"] = w.sum(axis=outer)
    if gamma is not None:
        out["gamma"] = (w * xhat).sum(axis=outer)
    return out
