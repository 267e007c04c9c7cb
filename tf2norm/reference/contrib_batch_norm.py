"""tf.contrib.layers.batch_norm (TF 1.15)."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _f32, _mean, _rsqrt

#: TF 1.4-1.15 ``tf.nn.fused_batch_norm`` raises any smaller epsilon to this (a cuDNN requirement).
FUSED_MIN_EPSILON = 1.001e-5


def contrib_path(rank, fused=None, renorm=False, batch_weights=None, adjustment=None, *,
                 zero_debias_moving_mean=False, updates_collections_default=True):
    """Which implementation TF 1.15's ``tf.contrib.layers.batch_norm`` dispatches to.

    Returns one of

    * ``"contrib_fused"`` -- contrib's own ``_fused_batch_norm`` (tf.nn.fused_batch_norm, Python-double
      ``1 - decay``). Taken when fused is None/True, the call is fusable (rank 2 or 4, no batch_weights,
      renorm or adjustment) AND (zero_debias_moving_mean or rank == 2 or updates_collections is not
      the UPDATE_OPS key).
    * ``"core_fused"`` / ``"core_nonfused"`` -- ``tf.layers.BatchNormalization`` (the v1 Keras layer),
      taken when batch_weights is None, updates_collections is UPDATE_OPS and not zero_debias.
      The v1 layer turns fused None/True into ``rank == 4 and not renorm and adjustment is None`` (it
      silently falls back instead of raising). Core fused uses float32 ``1 - float32(decay)``.
      With ``trainable=False`` the v1 layer's updates never reached UPDATE_OPS: the moving statistics
      do not move on the core paths (they do on the two contrib paths).
    * ``"contrib_nonfused"`` -- contrib's legacy moments path (batch_weights, updates_collections not
      UPDATE_OPS, or zero_debias, on a non-fusable call). renorm raises there.
    """
    fused = True if fused is None else bool(fused)
    possible_to_fuse = batch_weights is None and not renorm and rank in (2, 4) and adjustment is None
    if fused and possible_to_fuse and (
            zero_debias_moving_mean or rank == 2 or not updates_collections_default):
        return "contrib_fused"
    if batch_weights is None and updates_collections_default and not zero_debias_moving_mean:
        if fused and rank == 4 and not renorm and adjustment is None:
            return "core_fused"
        return "core_nonfused"
    if renorm:
        raise ValueError("renorm is not supported with batch_weights, updates_collections or "
                         "zero_debias_moving_mean")
    return "contrib_nonfused"


def contrib_uses_fused(rank, fused, renorm, batch_weights=None, adjustment=None):
    """True when TF 1.15's contrib batch_norm runs the fused arithmetic (Bessel, epsilon clamp).

    That is ``fused is not False and rank in (2, 4)`` with no batch_weights, renorm or adjustment,
    whichever of the two fused implementations (contrib or core layer) it lands in.
    """
    fused = True if fused is None else bool(fused)
    return bool(fused and batch_weights is None and not renorm and rank in (2, 4)
                and adjustment is None)


def contrib_decay_in_float32(rank, fused=None, renorm=False, batch_weights=None, adjustment=None, *,
                             zero_debias_moving_mean=False, updates_collections_default=True):
    """True when the moving averages use ``1 - decay`` computed in float32 (core fused path only)."""
    return contrib_path(rank, fused, renorm, batch_weights, adjustment,
                        zero_debias_moving_mean=zero_debias_moving_mean,
                        updates_collections_default=updates_collections_default) == "core_fused"


def fused_epsilon(epsilon):
    """The epsilon TF 1.15's fused kernel actually adds: ``max(eps, 1.001e-5)`` as float32."""
    return F32(epsilon if epsilon > FUSED_MIN_EPSILON else FUSED_MIN_EPSILON)


def one_minus_rate(decay, in_float32):
    """TF 1.15's ``1 - decay`` of a moving average: rounded from float32 operands, or from a Python float."""
    if in_float32:
        return (F32(1.0) - F32(decay)).astype(F32)
    return F32(1.0 - decay)


def moving_average(var, value, one_minus_decay):
    """TF 1.15's moving-average update of ``var`` towards ``value``, in float32."""
    # state_ops.assign_sub(v, (v - value) * (1 - decay))
    var = _f32(var)
    return (var - (var - _f32(value)) * one_minus_decay).astype(F32)


def batch_norm(
    x,
    *,
    axis,
    training,
    beta=None,
    gamma=None,
    moving_mean,
    moving_variance,
    epsilon=1e-3,
    decay=0.999,
    fused,
    zero_debias_state=None,
    renorm_state=None,
    renorm_clipping=None,
    renorm_decay=0.99,
    decay_in_float32=False,
    batch_weights=None,
    adjustment=None,
):
    """One call of TF 1.15 ``tf.contrib.layers.batch_norm``; returns ``(y, new_state)``.

    ``axis`` is the channel axis (-1 for NHWC, 1 for NCHW). ``fused`` selects the arithmetic (see
    :func:`contrib_uses_fused`): True is ``tf.nn.fused_batch_norm`` (biased variance to normalise,
    ``var * n/(n-1)`` fed to the moving variance, epsilon clamped to >= 1.001e-5,
    ``y = (x - mean) * (rsqrt(var + eps) * gamma) + beta``); False the moments path (biased variance
    for both, no clamp, ``y = x * inv + (beta - mean * inv)``). ``beta``/``gamma`` None mean
    center/scale False. ``decay_in_float32`` selects ``1 - decay`` computed in float32 (the core fused
    path, :func:`contrib_decay_in_float32`).

    ``zero_debias_state`` ``{"biased", "local_step"}`` turns on zero_debias_moving_mean (mean only);
    ``renorm_state`` ``{"moving_stddev", "renorm_mean", "renorm_stddev"}`` turns on renorm (the v1
    Keras layer's non-fused path). With ``training`` False nothing is updated (``new_state`` holds the
    unchanged values) and the moving statistics normalise.

    ``batch_weights`` (one weight per example; contrib's legacy non-fused path) replaces the moments
    by TF 1.15's ``nn.weighted_moments``: ``sum(w x) * (1 / sum(w))`` and
    ``sum(w (x - mean)^2) * (1 / sum(w))``, the reciprocal taken once. ``adjustment`` is the
    ``(scale, bias)`` arrays tf.layers' ``adjustment(shape)`` returned (core path only, pass None
    where TF 1.15 ignored it), composed in training as ``scale * gamma``, ``bias * gamma + beta``.

    ``new_state`` has ``moving_mean``, ``moving_variance`` and the keys of the given extra states.
    """
    x = _f32(x)
    ndim = x.ndim
    ax = axis % ndim
    red = tuple(i for i in range(ndim) if i != ax)
    bshape = [1] * ndim
    bshape[ax] = x.shape[ax]
    n = int(np.prod([x.shape[i] for i in red]))

    def bc(v):
        return None if v is None else _f32(v).reshape(bshape)

    mm = _f32(moving_mean)
    mv = _f32(moving_variance)
    state = {"moving_mean": mm.copy(), "moving_variance": mv.copy()}
    if zero_debias_state is not None:
        state["biased"] = _f32(zero_debias_state["biased"]).copy()
        state["local_step"] = _f32(zero_debias_state["local_step"]).copy()
    if renorm_state is not None:
        for k in ("moving_stddev", "renorm_mean", "renorm_stddev"):
            state[k] = _f32(renorm_state[k]).copy()
    if fused and renorm_state is not None:
        raise ValueError("renorm never runs on a fused path")

    one_minus_decay = one_minus_rate(decay, decay_in_float32)

    if fused:
        eps = fused_epsilon(epsilon)
        g = F32(1.0) if gamma is None else bc(gamma)
        b = F32(0.0) if beta is None else bc(beta)
        if training:
            # FusedBatchNorm CPU kernel: sums times float32(1/n); Bessel factor float32(n)/float32(n-1).
            inv_n = (F32(1.0) / F32(n)).astype(F32)
            mean = (np.sum(x, axis=red, dtype=F32) * inv_n).astype(F32)
            xc = (x - mean.reshape(bshape)).astype(F32)
            var = (np.sum(xc * xc, axis=red, dtype=F32) * inv_n).astype(F32)
            adjust = F32(1.0) if n <= 1 else (F32(n) / F32(n - 1)).astype(F32)
            batch_var = (var * adjust).astype(F32)
            scaling = (_rsqrt(var + eps).reshape(bshape) * g).astype(F32)
            y = (xc * scaling + b).astype(F32)
            _update_mean(state, mean, one_minus_decay, decay, zero_debias_state is not None)
            state["moving_variance"] = moving_average(mv, batch_var, one_minus_decay)
        else:
            xc = (x - mm.reshape(bshape)).astype(F32)
            scaling = (_rsqrt(mv + eps).reshape(bshape) * g).astype(F32)
            y = (xc * scaling + b).astype(F32)
        return y, state

    eps = F32(epsilon)
    if not training:
        mean, var = mm, mv
        scale, offset = bc(gamma), bc(beta)
    else:
        if batch_weights is None:
            mean = _mean(x, red)
            d = (x - mean.reshape(bshape)).astype(F32)
            var = _mean(d * d, red)
        else:
            w = _f32(batch_weights).reshape([-1] + [1] * (ndim - 1))
            divisor = (F32(1.0) / np.sum((w + np.zeros_like(x)).astype(F32), axis=red, dtype=F32)).astype(F32)
            mean = (np.sum((w * x).astype(F32), axis=red, dtype=F32) * divisor).astype(F32)
            d = (x - mean.reshape(bshape)).astype(F32)
            var = (np.sum((w * (d * d).astype(F32)).astype(F32), axis=red, dtype=F32) * divisor).astype(F32)
        scale, offset = bc(gamma), bc(beta)
        if adjustment is not None:
            # tf.layers' _compose_transforms(adj_scale, adj_bias, gamma, beta).
            a_scale, a_bias = _f32(adjustment[0]), _f32(adjustment[1])
            scale, offset = (a_scale if scale is None else (a_scale * scale).astype(F32),
                             a_bias if scale is None else (a_bias * scale).astype(F32))
            if bc(beta) is not None:
                offset = (offset + bc(beta)).astype(F32)
        if renorm_state is not None:
            r, dd = apply_renorm(state, mean, var, epsilon, renorm_clipping,
                            one_minus_rate(renorm_decay, False))
            # _compose_transforms(r, d, gamma, beta)
            new_scale, new_offset = r.reshape(bshape), dd.reshape(bshape)
            if scale is not None:
                new_scale = (new_scale * scale).astype(F32)
                new_offset = (new_offset * scale).astype(F32)
            if offset is not None:
                new_offset = (new_offset + offset).astype(F32)
            scale, offset = new_scale, new_offset
            state["moving_mean"] = moving_average(mm, mean, one_minus_decay)
            stddev = np.sqrt((var + eps).astype(F32)).astype(F32)
            ms = moving_average(state["moving_stddev"], stddev, one_minus_decay)
            state["moving_stddev"] = ms
            state["moving_variance"] = np.maximum((ms * ms - eps).astype(F32), F32(0))
        else:
            _update_mean(state, mean, one_minus_decay, decay, zero_debias_state is not None)
            state["moving_variance"] = moving_average(mv, var, one_minus_decay)
    # nn.batch_normalization
    inv = _rsqrt((var + eps).astype(F32)).reshape(bshape)
    if scale is not None:
        inv = (inv * scale).astype(F32)
    mb = mean.reshape(bshape)
    shift = (-mb * inv) if offset is None else (offset - mb * inv)
    y = (x * inv + shift.astype(F32)).astype(F32)
    return y, state


def _update_mean(state, mean, one_minus_decay, decay, zero_debias):
    if not zero_debias:
        state["moving_mean"] = moving_average(state["moving_mean"], mean, one_minus_decay)
        return
    # moving_averages._zero_debias: every quantity float32, the step a float32 variable.
    biased = moving_average(state["biased"], mean, one_minus_decay)
    step = (state["local_step"] + F32(1)).astype(F32)
    bias_factor = (F32(1) - np.power((F32(1) - one_minus_decay).astype(F32), step)).astype(F32)
    state["biased"] = biased
    state["local_step"] = step
    state["moving_mean"] = (biased / bias_factor).astype(F32)


def renorm_correction(mean, var, renorm_mean, renorm_stddev, epsilon, renorm_clipping=None):
    """Batch renormalisation's ``(r, d)`` (TF 1.15 ``_renorm_correction_and_moments``), float32.

    ``stddev = sqrt(var + eps)``; ``rs = max(renorm_stddev, sqrt(eps))``; ``r = stddev / rs``;
    ``d = (mean - renorm_mean) / rs``; then ``r`` clipped to [rmin, rmax] and ``d`` to [-dmax, dmax]
    for the keys present in ``renorm_clipping``. Uses the renorm variables from BEFORE this step's
    update.
    """
    eps = F32(epsilon)
    stddev = np.sqrt((_f32(var) + eps).astype(F32)).astype(F32)
    rstd = np.maximum(_f32(renorm_stddev), np.sqrt(eps).astype(F32)).astype(F32)
    r = (stddev / rstd).astype(F32)
    d = ((_f32(mean) - _f32(renorm_mean)) / rstd).astype(F32)
    clipping = renorm_clipping or {}
    rmin, rmax, dmax = (clipping.get(k) for k in ("rmin", "rmax", "dmax"))
    if rmin is not None:
        r = np.maximum(r, F32(rmin))
    if rmax is not None:
        r = np.minimum(r, F32(rmax))
    if dmax is not None:
        d = np.maximum(d, F32(-dmax))
        d = np.minimum(d, F32(dmax))
    return r.astype(F32), d.astype(F32)


def apply_renorm(state, mean, var, epsilon, clipping, one_minus_renorm_decay):
    """r, d from the old renorm variables, then their moving-average update (renorm_momentum)."""
    r, d = renorm_correction(mean, var, state["renorm_mean"], state["renorm_stddev"], epsilon,
                             clipping)
    stddev = np.sqrt((_f32(var) + F32(epsilon)).astype(F32)).astype(F32)
    state["renorm_mean"] = moving_average(state["renorm_mean"], mean, one_minus_renorm_decay)
    state["renorm_stddev"] = moving_average(state["renorm_stddev"], stddev, one_minus_renorm_decay)
    return r, d


def batch_norm_training_grads(x, loss_weights, *, axis, gamma=None, epsilon=1e-3, fused,
                              renorm_r=None, renorm_d=None):
    """Gradients of ``sum(y * loss_weights)`` for a training-mode batch_norm call (float64).

    ``y = xhat * r * gamma + d * gamma + beta`` with ``xhat`` from the batch statistics (biased
    variance, epsilon clamped on the fused path); renorm's ``r``/``d`` are constants to the gradient
    (TF wraps them in stop_gradient), 1 and 0 without renorm. Returns ``{"inputs", "beta", "gamma"}``.
    """
    x = np.asarray(x, np.float64)
    w = np.asarray(loss_weights, np.float64)
    ax = axis % x.ndim
    red = tuple(i for i in range(x.ndim) if i != ax)
    bshape = [1] * x.ndim
    bshape[ax] = x.shape[ax]
    eps = float(fused_epsilon(epsilon)) if fused else float(F32(epsilon))
    mean = x.mean(axis=red, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=red, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv
    g = np.ones(bshape) if gamma is None else np.asarray(gamma, np.float64).reshape(bshape)
    r = np.ones(bshape) if renorm_r is None else np.asarray(renorm_r, np.float64).reshape(bshape)
    d = np.zeros(bshape) if renorm_d is None else np.asarray(renorm_d, np.float64).reshape(bshape)
    dxhat_scale = g * r * inv
    dx = dxhat_scale * (w - w.mean(axis=red, keepdims=True)
                        - xhat * (w * xhat).mean(axis=red, keepdims=True))
    return {"inputs": dx, "beta": w.sum(axis=red), "gamma": (w * (xhat * r + d)).sum(axis=red)}
