"""TF 1.15's ``tf.layers`` dense, convolutions, pooling and flatten, written from TF 1.15's
``tensorflow/python/keras/layers/{core,convolutional,pooling}.py`` and the ops they call (channels-last).

* ``dense``: ``inputs @ kernel`` over the last axis (TF1: MatMul for rank 2, tensordot above) + bias;
* ``conv``: N-d cross-correlation (``nn.convolution``) with strides, dilation, 'valid' / 'same'
  (TensorFlow's padding: the extra row or column at the end) and Conv1D's 'causal' (left padding of
  ``(k - 1) * dilation``), then the bias;
* ``conv2d_transpose``: the adjoint of a strided 2-D convolution, output size ``in * stride`` plus
  ``max(k - stride, 0)`` for 'valid';
* ``separable_conv2d``: a depthwise convolution (channel c times multiplier m is output c * M + m)
  then a 1x1 pointwise one;
* ``pool``: max or average pooling (an average over the window's elements inside the input, as
  TensorFlow's 'SAME' average pooling), any rank;
* ``flatten``: ``reshape(x, [batch, -1])``.

Sums are float32 (``F32``) as TF's kernels rounded them; their order is another question (see
tests/tolerance.py), which the float64 replay answers.
"""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _f32, _tanh

ACTIVATIONS = {None: lambda x: x, "tanh": _tanh}


def dense(x, kernel, bias=None, activation=None):
    x, kernel = _f32(x), _f32(kernel)
    out = np.tensordot(x, kernel, axes=[[x.ndim - 1], [0]]).astype(F32)
    if bias is not None:
        out = (out + _f32(bias)).astype(F32)
    return _f32(ACTIVATIONS[activation](out))


def _pads(length, kernel, stride, dilation, padding):
    """(before, after) zeros of one spatial axis, as TensorFlow's 'VALID' / 'SAME' / Keras' 'causal'."""
    effective = (kernel - 1) * dilation + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return effective - 1, 0
    out = -(-length // stride)
    total = max((out - 1) * stride + effective - length, 0)
    return total // 2, total - total // 2


def _windows(x, kernel_shape, strides, dilation, padding, fill=0.0):
    """[B, *out, *kernel, C] windows of x [B, *spatial, C] (padded with `fill`), and the padded mask."""
    rank = len(kernel_shape)
    pads = [_pads(x.shape[1 + i], kernel_shape[i], strides[i], dilation[i], padding) for i in range(rank)]
    mask = np.ones(x.shape[1:-1], bool)
    x = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=fill)
    mask = np.pad(mask, pads, constant_values=False)
    effective = [(k - 1) * d + 1 for k, d in zip(kernel_shape, dilation)]
    axes = tuple(range(1, rank + 1))
    w = np.lib.stride_tricks.sliding_window_view(x, effective, axis=axes)  # [B, *out', C, *effective]
    m = np.lib.stride_tricks.sliding_window_view(mask, effective)          # [*out', *effective]
    index = (slice(None),) + tuple(slice(None, None, s) for s in strides) + (slice(None),) \
        + tuple(slice(None, None, d) for d in dilation)
    w = w[index]
    m = m[tuple(slice(None, None, s) for s in strides) + tuple(slice(None, None, d) for d in dilation)]
    w = np.moveaxis(w, 1 + rank, -1)  # [B, *out, *kernel, C]
    return w, m


def conv(x, kernel, bias=None, strides=None, padding="valid", dilation_rate=None, activation=None):
    """``nn.convolution`` (channels last) of x [B, *spatial, C] with kernel [*k, C, F], then the bias."""
    x, kernel = _f32(x), _f32(kernel)
    rank = kernel.ndim - 2
    strides = tuple(strides or (1,) * rank)
    dilation = tuple(dilation_rate or (1,) * rank)
    w, _ = _windows(x, kernel.shape[:rank], strides, dilation, padding)
    batch_out = w.shape[:1 + rank]
    patches = w.reshape(batch_out + (-1,))
    out = np.matmul(patches, kernel.reshape(-1, kernel.shape[-1])).astype(F32)
    if bias is not None:
        out = (out + _f32(bias)).astype(F32)
    return _f32(ACTIVATIONS[activation](out))


def conv2d_transpose(x, kernel, bias=None, strides=(1, 1), padding="valid", activation=None):
    """``nn.conv2d_transpose`` of x [B, H, W, C] with kernel [kh, kw, F, C] (TF1's layer shapes), then the bias."""
    x, kernel = _f32(x), _f32(kernel)
    (sh, sw), (kh, kw) = strides, kernel.shape[:2]
    batch, height, width, _ = x.shape
    out_h = height * sh + (max(kh - sh, 0) if padding == "valid" else 0)
    out_w = width * sw + (max(kw - sw, 0) if padding == "valid" else 0)
    # The padding the forward convolution of the output would have used.
    top = _pads(out_h, kh, sh, 1, padding)[0] if padding == "same" else 0
    left = _pads(out_w, kw, sw, 1, padding)[0] if padding == "same" else 0
    full = np.zeros((batch, (height - 1) * sh + kh + top + kh, (width - 1) * sw + kw + left + kw, kernel.shape[2]),
                    F32)
    for i in range(height):
        for j in range(width):
            contribution = np.einsum("bc,uvfc->buvf", x[:, i, j, :], kernel).astype(F32)
            full[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :] += contribution
    out = full[:, top:top + out_h, left:left + out_w, :].astype(F32)
    if bias is not None:
        out = (out + _f32(bias)).astype(F32)
    return _f32(ACTIVATIONS[activation](out))


def separable_conv2d(x, depthwise, pointwise, bias=None, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
                     activation=None):
    """Depthwise [kh, kw, C, M] then pointwise [1, 1, C * M, F] convolution, then the bias."""
    x, depthwise = _f32(x), _f32(depthwise)
    w, _ = _windows(x, depthwise.shape[:2], tuple(strides), tuple(dilation_rate), padding)  # [B, H, W, kh, kw, C]
    depth = np.einsum("bhwuvc,uvcm->bhwcm", w, depthwise).astype(F32)
    depth = depth.reshape(depth.shape[:3] + (-1,))
    out = conv(depth, pointwise)
    if bias is not None:
        out = (out + _f32(bias)).astype(F32)
    return _f32(ACTIVATIONS[activation](out))


def pool(x, pool_size, strides, padding="valid", kind="max"):
    """Max or average pooling of x [B, *spatial, C] (any rank)."""
    x = _f32(x)
    rank = x.ndim - 2
    fill = -np.inf if kind == "max" else 0.0
    w, m = _windows(x, tuple(pool_size), tuple(strides), (1,) * rank, padding, fill=fill)
    axes = tuple(range(1 + rank, 1 + 2 * rank))
    if kind == "max":
        return w.max(axis=axes).astype(F32)
    total = w.sum(axis=axes, dtype=F32)
    count = m.sum(axis=tuple(range(rank, 2 * rank))).astype(F32)[None, ..., None]
    return (total / count).astype(F32)


def flatten(x):
    x = _f32(x)
    return x.reshape(x.shape[0], -1)
