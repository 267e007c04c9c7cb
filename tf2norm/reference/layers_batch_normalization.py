"""tf.layers.batch_normalization / tf.layers.BatchNormalization (TF 1.15)."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _f32, _mean, _rsqrt
from tf2norm.reference.contrib_batch_norm import (
    apply_renorm,
    batch_norm,
    moving_average,
    one_minus_rate,
)


def layers_uses_fused(rank, axis=-1, fused=None, renorm=False, virtual_batch_size=None, adjustment=None):
    """True when TF 1.15's ``tf.layers`` batch normalization runs the fused arithmetic.

    The V1 Keras layer under ``tf.layers`` turns fused None/True into ``rank == 4`` with the channel
    axis 1 or 3 and no renorm, ``virtual_batch_size`` or ``adjustment``; anything else (rank 2
    included, which contrib fused) silently runs the moments path. ``fused=False`` never fuses.
    """
    if fused is False or renorm or virtual_batch_size is not None or adjustment is not None:
        return False
    return rank == 4 and axis % rank in (1, 3)


def layers_batch_normalization(
    x,
    *,
    axis=-1,
    training,
    beta=None,
    gamma=None,
    moving_mean,
    moving_variance,
    epsilon=1e-3,
    momentum=0.99,
    fused,
    renorm_state=None,
    renorm_clipping=None,
    renorm_momentum=0.99,
    virtual_batch_size=None,
    adjustment=None,
    update=True,
):
    """One call of TF 1.15 ``tf.layers.batch_normalization``; returns ``(y, new_state)``.

    ``fused`` (:func:`layers_uses_fused`) is :func:`batch_norm`'s fused arithmetic with ``1 - momentum``
    computed in float32. Otherwise the moments path, with two tf.layers extras:

    * ``virtual_batch_size`` v: ``x`` viewed as ``[v, B/v, ...]`` (so virtual batch g holds examples
      g, g + B/v, ...); each virtual batch is normalised with its own biased moments, and the moving
      statistics (and renorm's r, d) take the mean of those moments over the virtual batches;
    * ``adjustment``: the ``(scale, bias)`` arrays ``adjustment(shape)`` returned, composed while
      training as ``scale * gamma`` and ``bias * gamma + beta`` before renorm's r and d.

    Variables may have tf.layers' virtual-batch shape ``[1, ..., C]``; the new state keeps each
    shape. ``update=False`` (a frozen layer, whose updates never reached UPDATE_OPS) normalises with
    the batch statistics but changes nothing. ``renorm_state`` as in :func:`batch_norm`.
    """
    x = _f32(x)
    shapes = {"moving_mean": np.shape(moving_mean), "moving_variance": np.shape(moving_variance)}
    flat = lambda v: None if v is None else _f32(v).reshape(-1)  # noqa: E731
    beta, gamma = flat(beta), flat(gamma)
    state = {"moving_mean": flat(moving_mean), "moving_variance": flat(moving_variance)}
    if renorm_state is not None:
        for k in ("moving_stddev", "renorm_mean", "renorm_stddev"):
            shapes[k] = np.shape(renorm_state[k])
            state[k] = flat(renorm_state[k])
    old = {k: v.copy() for k, v in state.items()}

    if fused:
        if renorm_state is not None or virtual_batch_size is not None or adjustment is not None:
            raise ValueError("renorm, virtual_batch_size and adjustment never run fused in tf.layers")
        y, new = batch_norm(x, axis=axis, training=training, beta=beta, gamma=gamma, epsilon=epsilon,
                            decay=momentum, fused=True, decay_in_float32=True, **state)
        state.update(new)
    else:
        y = _layers_moments_path(x, axis, training, beta, gamma, state, epsilon, momentum, renorm_clipping,
                                 renorm_momentum, virtual_batch_size, adjustment, renorm_state is not None)
    if not (training and update):
        state = old
    return y, {k: v.reshape(shapes[k]) for k, v in state.items()}


def _layers_moments_path(x, axis, training, beta, gamma, state, epsilon, momentum, clipping, renorm_momentum,
                         virtual_batch_size, adjustment, renorm):
    eps = F32(epsilon)
    ax = axis % x.ndim
    ex = x if virtual_batch_size is None else x.reshape((virtual_batch_size, -1) + x.shape[1:])
    if virtual_batch_size is not None:
        ax += 1
    skip = (ax,) if virtual_batch_size is None else (ax, 1)
    red = tuple(i for i in range(ex.ndim) if i not in skip)
    bshape = [1] * ex.ndim
    bshape[ax] = ex.shape[ax]

    def bc(v):
        return None if v is None else _f32(v).reshape(bshape)

    scale, offset = bc(gamma), bc(beta)
    if not training:
        mean, var = bc(state["moving_mean"]), bc(state["moving_variance"])
    else:
        mean = _mean(ex, red, keepdims=True)
        d = (ex - mean).astype(F32)
        var = _mean(d * d, red, keepdims=True)
        if virtual_batch_size is None:
            new_mean, new_var = mean.reshape(-1), var.reshape(-1)
        else:
            new_mean, new_var = _mean(mean, 1).reshape(-1), _mean(var, 1).reshape(-1)
        if adjustment is not None:
            a_scale, a_bias = _f32(adjustment[0]), _f32(adjustment[1])
            scale, offset = _compose(a_scale, a_bias, scale, offset)
        one_minus = one_minus_rate(momentum, False)
        if renorm:
            r, dd = apply_renorm(state, new_mean, new_var, epsilon, clipping, one_minus_rate(renorm_momentum, False))
            scale, offset = _compose(r.reshape(bshape), dd.reshape(bshape), scale, offset)
            state["moving_mean"] = moving_average(state["moving_mean"], new_mean, one_minus)
            stddev = np.sqrt((new_var + eps).astype(F32)).astype(F32)
            ms = moving_average(state["moving_stddev"], stddev, one_minus)
            state["moving_stddev"] = ms
            state["moving_variance"] = np.maximum((ms * ms - eps).astype(F32), F32(0))
        else:
            state["moving_mean"] = moving_average(state["moving_mean"], new_mean, one_minus)
            state["moving_variance"] = moving_average(state["moving_variance"], new_var, one_minus)
    # nn.batch_normalization
    inv = _rsqrt((var + eps).astype(F32))
    if scale is not None:
        inv = (inv * scale).astype(F32)
    shift = (-mean * inv) if offset is None else (offset - mean * inv)
    y = (ex * inv + shift.astype(F32)).astype(F32)
    return y.reshape(x.shape)


def _compose(scale, offset, then_scale, then_offset):
    # TF 1.15's _compose_transforms: (x * scale + offset) * then_scale + then_offset.
    if then_scale is not None:
        scale = (scale * then_scale).astype(F32)
        offset = (offset * then_scale).astype(F32)
    if then_offset is not None:
        offset = (offset + then_offset).astype(F32)
    return scale, offset
