"""What every module of the reference shares: float32 rounding as TF 1.x did it, activations."""

from __future__ import annotations

import contextlib
import sys

import numpy as np

#: The type every float32 step of TF 1.x is rounded to; `float64()` swaps it for float64.
F32 = np.float32


@contextlib.contextmanager
def float64():
    """Evaluate the reference's functions in float64 while the block runs: the same math as TF 1.x's
    float32 (and float16) arithmetic, without its rounding. tests/tolerance.py measures TF 1.x's own
    float32 error with it. Epsilons stay those of the input dtype (a float16 layer norm keeps its
    1e-3). Not thread-safe: it swaps the module global `F32` of every reference module (each imports
    it by name)."""
    modules = [m for name, m in list(sys.modules.items())
               if name.startswith("tf2norm.reference") and m is not None and hasattr(m, "F32")]
    saved = [(m, m.F32) for m in modules]
    for m in modules:
        m.F32 = np.float64
    try:
        yield
    finally:
        for m, value in saved:
            m.F32 = value


def _in_precision(dtype):
    """`dtype` (a float16 the golden was computed in), or float64 inside `float64()`."""
    return np.dtype(np.float64) if F32 is np.float64 else np.dtype(dtype)


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
