"""What every module of the reference shares: float32 rounding as TF 1.x did it, activations."""

from __future__ import annotations

import numpy as np

F32 = np.float32


def _f32(a):
    return np.asarray(a, dtype=F32)


def _rsqrt(v):
    # Eigen's float32 rsqrt; 1/sqrt rounded twice is within an ulp of it.
    v = _f32(v)
    return (F32(1.0) / np.sqrt(v)).astype(F32)


def _sigmoid(x):
    x64 = np.asarray(x, dtype=np.float64)
    return (1.0 / (1.0 + np.exp(-x64))).astype(F32)


def _tanh(x):
    return np.tanh(np.asarray(x, dtype=np.float64)).astype(F32)


def _mean(x, axis, keepdims=False):
    # reduce_mean: float32 sum divided by the float32 count.
    x = _f32(x)
    n = 1
    for a in np.atleast_1d(axis):
        n *= x.shape[a]
    s = np.sum(x, axis=axis, keepdims=keepdims, dtype=F32)
    return (s / F32(n)).astype(F32)


def _activation(activation):
    if activation is None or activation is np.tanh:
        return _tanh
    return activation


def _reverse_sequence(x, lengths):
    x = np.array(x, copy=True)
    if lengths is None:
        return x[:, ::-1].copy()
    for b, n in enumerate(np.asarray(lengths).reshape(-1)):
        x[b, :n] = x[b, :n][::-1].copy()
    return x
