"""Independent NumPy implementation of the TF 1.x math tf2norm must reproduce (a second oracle).

Written from the formulas of ``NUMERICS.md`` sections 1 and 2 and from the TF 1.15 Python sources,
never from tf2norm's replacements, and it never imports TensorFlow. Arithmetic is float32 wherever
TF 1.15 computed in float32 (matmul, reductions, the layer-norm and batch-norm formulas, the moving
averages); transcendental functions are evaluated in float64 and rounded once, which is closer to
the true value than TF's own float32 kernels (those differ from it by a few ulp only).

Inside ``with float64():`` every one of those float32 (and float16) roundings is a float64 one
instead: the same formulas, evaluated without float32 rounding. tests/tolerance.py measures TF 1.x's
own float32 error with it (a golden against this on the golden's own inputs and weights).

Public functions:

* :func:`layer_norm` -- ``tf.contrib.layers.layer_norm`` over the last axis, as the LN-LSTM cell uses it.
* :func:`ln_lstm_step`, :func:`ln_lstm_sequence` -- ``tf.contrib.rnn.LayerNormBasicLSTMCell`` one step,
  and run by ``tf.nn.dynamic_rnn`` (with its ``sequence_length`` semantics);
  :func:`ln_lstm_multi_sequence` for a ``MultiRNNCell`` stack and :func:`ln_lstm_bidirectional`
  for ``bidirectional_dynamic_rnn``.
* :func:`batch_norm` -- one call of ``tf.contrib.layers.batch_norm`` (TF 1.15): outputs and the new
  values of every variable it updates.
* :func:`batch_norm_training_grads`, :func:`renorm_correction` -- the training-mode gradients
  (float64) and batch renormalisation's r/d corrections.
* :func:`contrib_path`, :func:`contrib_uses_fused`, :func:`contrib_decay_in_float32` -- which code
  path, hence which arithmetic, TF 1.15's contrib ``batch_norm`` takes for a combination of arguments.
* :func:`contrib_layer_norm`, :func:`contrib_layer_norm_grads`, :func:`layer_norm_axes` --
  ``tf.contrib.layers.layer_norm`` with any ``begin_norm_axis`` / ``begin_params_axis``.
* :func:`tfa_group_norm`, :func:`tfa_group_norm_grads`, :func:`tfa_group_norm_layout` --
  tensorflow-addons 0.23's ``GroupNormalization`` / ``InstanceNormalization`` (from tfa's source).
* :func:`layers_batch_normalization`, :func:`layers_uses_fused` -- ``tf.layers.batch_normalization``
  (TF 1.15): its fused rule (rank 4 only), virtual batches, adjustment.
* :func:`keras2_layer_norm`, :func:`tfa_ln_lstm_step`, :func:`tfa_ln_simple_rnn_step`,
  :func:`keras_rnn`, :func:`keras_bidirectional` -- tensorflow-addons 0.23's LayerNormLSTMCell and
  LayerNormSimpleRNNCell on Keras 2.15 (its two LayerNormalization paths), run as Keras' RNN did.
"""

from __future__ import annotations

import contextlib

import numpy as np

__all__ = [
    "float64",
    "layer_norm",
    "ln_lstm_step",
    "ln_lstm_sequence",
    "ln_lstm_multi_sequence",
    "ln_lstm_bidirectional",
    "batch_norm",
    "batch_norm_training_grads",
    "renorm_correction",
    "contrib_path",
    "contrib_uses_fused",
    "contrib_decay_in_float32",
    "fused_epsilon",
    "FUSED_MIN_EPSILON",
    "LN_GATES",
    "contrib_layer_norm",
    "contrib_layer_norm_grads",
    "layer_norm_axes",
    "tfa_group_norm",
    "tfa_group_norm_grads",
    "tfa_group_norm_layout",
    "layers_batch_normalization",
    "layers_uses_fused",
]

#: The type every float32 step of TF 1.x is rounded to here; `float64()` swaps it for float64.
F32 = np.float32


@contextlib.contextmanager
def float64():
    """Evaluate this module's functions in float64 while the block runs: the same math as TF 1.x's
    float32 (and float16) arithmetic, without its rounding. Epsilons stay those of the input dtype
    (a float16 layer norm keeps its 1e-3). Not thread-safe: it swaps a module global."""
    global F32
    saved, F32 = F32, np.float64
    try:
        yield
    finally:
        F32 = saved


def _in_precision(dtype):
    """`dtype` (a float16 the golden was computed in), or float64 inside `float64()`."""
    return np.dtype(np.float64) if F32 is np.float64 else np.dtype(dtype)

#: TF 1.4-1.15 ``tf.nn.fused_batch_norm`` raises any smaller epsilon to this (a cuDNN requirement).
FUSED_MIN_EPSILON = 1.001e-5

#: The layer-norm scopes of LayerNormBasicLSTMCell, in the order the gates come out of the split.
LN_GATES = ("input", "transform", "forget", "output")


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


# --------------------------------------------------------------------------------------------
# Layer norm and LayerNormBasicLSTMCell
# --------------------------------------------------------------------------------------------


def layer_norm(x, gamma, beta, epsilon=1e-12):
    """``tf.contrib.layers.layer_norm(x, begin_norm_axis=-1)`` as LayerNormBasicLSTMCell runs it.

    ``mean = reduce_mean(x, -1)``, ``var = reduce_mean((x - mean)^2, -1)`` (biased),
    ``inv = rsqrt(var + eps) * gamma``, ``y = x * inv + (beta - mean * inv)``; all float32.
    """
    x = _f32(x)
    gamma = _f32(gamma)
    beta = _f32(beta)
    mean = _mean(x, -1, keepdims=True)
    d = (x - mean).astype(F32)
    var = _mean(d * d, -1, keepdims=True)
    inv = (_rsqrt(var + F32(epsilon)) * gamma).astype(F32)
    return (x * inv + (beta - mean * inv)).astype(F32)


def _activation(activation):
    if activation is None or activation is np.tanh:
        return _tanh
    return activation


def ln_lstm_step(x, state, weights, *, forget_bias=1.0, layer_norm=True, activation=np.tanh):
    """One step of ``LayerNormBasicLSTMCell`` (no dropout).

    ``weights`` is keyed by the TF1 names relative to the cell scope: ``"kernel"`` ``[D+H, 4H]``,
    ``"bias"`` ``[4H]`` (only when ``layer_norm=False``) and ``"<gate>/gamma"``, ``"<gate>/beta"`` for
    gate in input, transform, forget, output, state. Returns ``(new_h, (new_c, new_h))``.
    """
    act = _activation(activation)
    x = _f32(x)
    c, h = (_f32(s) for s in state)
    args = np.concatenate([x, h], axis=1)
    z = np.matmul(args, _f32(weights["kernel"])).astype(F32)
    if not layer_norm:
        z = (z + _f32(weights["bias"])).astype(F32)
    i, j, f, o = np.split(z, 4, axis=1)
    if layer_norm:
        i, j, f, o = (
            globals()["layer_norm"](g, weights[name + "/gamma"], weights[name + "/beta"])
            for g, name in zip((i, j, f, o), LN_GATES)
        )
    g = act(j)
    new_c = (c * _sigmoid(f + F32(forget_bias)) + _sigmoid(i) * g).astype(F32)
    if layer_norm:
        new_c = globals()["layer_norm"](new_c, weights["state/gamma"], weights["state/beta"])
    new_h = (act(new_c) * _sigmoid(o)).astype(F32)
    return new_h, (new_c, new_h)


def ln_lstm_sequence(
    inputs,
    weights,
    *,
    forget_bias=1.0,
    layer_norm=True,
    sequence_length=None,
    initial_state=None,
    activation=np.tanh,
):
    """``tf.nn.dynamic_rnn(LayerNormBasicLSTMCell(...), inputs [B,T,D])`` (batch-major).

    With ``sequence_length`` the outputs are zero at and after each example's length and its state
    stays frozen at its last valid step, as dynamic_rnn's ``_rnn_step`` selects them.
    Returns ``(outputs [B,T,H], (c, h))``.
    """
    inputs = _f32(inputs)
    b, t = inputs.shape[:2]
    hidden = _f32(weights["kernel"]).shape[1] // 4
    if initial_state is None:
        c = np.zeros((b, hidden), F32)
        h = np.zeros((b, hidden), F32)
    else:
        c, h = (_f32(s) for s in initial_state)
    lengths = None if sequence_length is None else np.asarray(sequence_length).reshape(-1)
    outputs = np.zeros((b, t, hidden), F32)
    for step in range(t):
        out, (new_c, new_h) = ln_lstm_step(
            inputs[:, step], (c, h), weights,
            forget_bias=forget_bias, layer_norm=layer_norm, activation=activation,
        )
        if lengths is None:
            outputs[:, step] = out
            c, h = new_c, new_h
        else:
            live = (step < lengths)[:, None]
            outputs[:, step] = np.where(live, out, F32(0))
            c = np.where(live, new_c, c).astype(F32)
            h = np.where(live, new_h, h).astype(F32)
    return outputs, (c, h)


def ln_lstm_multi_sequence(inputs, weights_per_layer, *, forget_bias=1.0, layer_norm=True,
                           sequence_length=None, initial_states=None, activation=np.tanh):
    """``dynamic_rnn(MultiRNNCell([cell, ...]))``: returns ``(outputs, [(c, h) per layer])``.

    Running the stack layer by layer over the whole sequence equals TF's step-by-step stack: past an
    example's length every layer's state is frozen and its (discarded) outputs never reach a kept value.
    """
    x = _f32(inputs)
    states = []
    for k, w in enumerate(weights_per_layer):
        init = None if initial_states is None else initial_states[k]
        x, st = ln_lstm_sequence(x, w, forget_bias=forget_bias, layer_norm=layer_norm,
                                 sequence_length=sequence_length, initial_state=init,
                                 activation=activation)
        states.append(st)
    return x, states


def _reverse_sequence(x, lengths):
    x = np.array(x, copy=True)
    if lengths is None:
        return x[:, ::-1].copy()
    for b, n in enumerate(np.asarray(lengths).reshape(-1)):
        x[b, :n] = x[b, :n][::-1].copy()
    return x


def ln_lstm_bidirectional(inputs, weights_fw, weights_bw, *, forget_bias=1.0, layer_norm=True,
                          sequence_length=None, activation=np.tanh):
    """``bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs)``.

    The backward cell reads ``reverse_sequence(inputs, sequence_length)`` (the whole time axis when no
    lengths) and its outputs are reversed back the same way.
    Returns ``((out_fw, out_bw), ((c_fw, h_fw), (c_bw, h_bw)))``.
    """
    kw = dict(forget_bias=forget_bias, layer_norm=layer_norm, sequence_length=sequence_length,
              activation=activation)
    out_fw, st_fw = ln_lstm_sequence(inputs, weights_fw, **kw)
    rev = _reverse_sequence(_f32(inputs), sequence_length)
    out_bw_rev, st_bw = ln_lstm_sequence(rev, weights_bw, **kw)
    out_bw = _reverse_sequence(out_bw_rev, sequence_length)
    return (out_fw, out_bw), (st_fw, st_bw)


# --------------------------------------------------------------------------------------------
# tf.contrib.layers.batch_norm (TF 1.15)
# --------------------------------------------------------------------------------------------


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


def _one_minus(decay, in_float32):
    if in_float32:
        return (F32(1.0) - F32(decay)).astype(F32)
    return F32(1.0 - decay)


def _moving_average(var, value, one_minus_decay):
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

    one_minus_decay = _one_minus(decay, decay_in_float32)

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
            state["moving_variance"] = _moving_average(mv, batch_var, one_minus_decay)
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
        mean = _mean(x, red)
        d = (x - mean.reshape(bshape)).astype(F32)
        var = _mean(d * d, red)
        scale, offset = bc(gamma), bc(beta)
        if renorm_state is not None:
            r, dd = _renorm(state, mean, var, epsilon, renorm_clipping,
                            _one_minus(renorm_decay, False))
            # _compose_transforms(r, d, gamma, beta)
            new_scale, new_offset = r.reshape(bshape), dd.reshape(bshape)
            if scale is not None:
                new_scale = (new_scale * scale).astype(F32)
                new_offset = (new_offset * scale).astype(F32)
            if offset is not None:
                new_offset = (new_offset + offset).astype(F32)
            scale, offset = new_scale, new_offset
            state["moving_mean"] = _moving_average(mm, mean, one_minus_decay)
            stddev = np.sqrt((var + eps).astype(F32)).astype(F32)
            ms = _moving_average(state["moving_stddev"], stddev, one_minus_decay)
            state["moving_stddev"] = ms
            state["moving_variance"] = np.maximum((ms * ms - eps).astype(F32), F32(0))
        else:
            _update_mean(state, mean, one_minus_decay, decay, zero_debias_state is not None)
            state["moving_variance"] = _moving_average(mv, var, one_minus_decay)
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
        state["moving_mean"] = _moving_average(state["moving_mean"], mean, one_minus_decay)
        return
    # moving_averages._zero_debias: every quantity float32, the step a float32 variable.
    biased = _moving_average(state["biased"], mean, one_minus_decay)
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


def _renorm(state, mean, var, epsilon, clipping, one_minus_renorm_decay):
    """r, d from the old renorm variables, then their moving-average update (renorm_momentum)."""
    r, d = renorm_correction(mean, var, state["renorm_mean"], state["renorm_stddev"], epsilon,
                             clipping)
    stddev = np.sqrt((_f32(var) + F32(epsilon)).astype(F32)).astype(F32)
    state["renorm_mean"] = _moving_average(state["renorm_mean"], mean, one_minus_renorm_decay)
    state["renorm_stddev"] = _moving_average(state["renorm_stddev"], stddev, one_minus_renorm_decay)
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


# --------------------------------------------------------------------------------------------
# tf.contrib.layers.layer_norm (TF 1.15), any begin_norm_axis / begin_params_axis
# --------------------------------------------------------------------------------------------

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
    parameters; eps as in :func:`contrib_layer_norm` (from ``x``'s dtype). Returns ``{"inputs", "beta", "gamma"}`` (beta/gamma only when given).
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


# --------------------------------------------------------------------------------------------
# tensorflow-addons 0.23 GroupNormalization / InstanceNormalization
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# LayerNormGRUCell: the hand-rolled TF1 layer-norm GRU (spec: tf2norm/replacements/layer_norm_gru_cell.py,
# TF1 code: fixtures/tf1/make_golden_layer_norm_gru.py)
# --------------------------------------------------------------------------------------------

#: The layer norms of the LN-GRU cell, one per [B, H] pre-activation: reset and update gates, candidate.
LN_GRU_GATES = ("reset", "update", "candidate")

__all__ += ["LN_GRU_GATES", "ln_gru_step", "ln_gru_sequence", "ln_gru_multi_sequence", "ln_gru_bidirectional"]


def ln_gru_step(x, h, weights, *, layer_norm=True, activation=np.tanh):
    """One step of the layer-norm GRU cell (no dropout); ``layer_norm=False`` is TF1's ``GRUCell``.

    ``weights`` is keyed by the TF1 names relative to the cell scope: ``"gates/kernel"`` ``[D+H, 2H]``
    (gate order r, u), ``"candidate/kernel"`` ``[D+H, H]``, and either ``"<gate>/gamma"``,
    ``"<gate>/beta"`` for gate in reset, update, candidate, or ``"gates/bias"`` ``[2H]`` and
    ``"candidate/bias"`` ``[H]``. ``z = [x, h] @ Wg``; r, u = sigmoid of LN_reset/LN_update of its two
    halves (or sigmoid(z + bg) split); ``s = [x, r*h] @ Wc``, LN_candidate(s) (or s + bc);
    ``new_h = u*h + (1-u)*activation(s)``. Returns ``new_h`` (the output and the state).
    """
    act = _activation(activation)
    x = _f32(x)
    h = _f32(h)
    z = np.matmul(np.concatenate([x, h], axis=1), _f32(weights["gates/kernel"])).astype(F32)
    if layer_norm:
        r, u = np.split(z, 2, axis=1)
        r = _sigmoid(globals()["layer_norm"](r, weights["reset/gamma"], weights["reset/beta"]))
        u = _sigmoid(globals()["layer_norm"](u, weights["update/gamma"], weights["update/beta"]))
    else:
        r, u = np.split(_sigmoid((z + _f32(weights["gates/bias"])).astype(F32)), 2, axis=1)
    s = np.matmul(np.concatenate([x, (r * h).astype(F32)], axis=1), _f32(weights["candidate/kernel"])).astype(F32)
    if layer_norm:
        s = globals()["layer_norm"](s, weights["candidate/gamma"], weights["candidate/beta"])
    else:
        s = (s + _f32(weights["candidate/bias"])).astype(F32)
    c = _f32(act(s))
    return ((u * h).astype(F32) + ((F32(1) - u) * c).astype(F32)).astype(F32)


def ln_gru_sequence(inputs, weights, *, layer_norm=True, sequence_length=None, initial_state=None,
                    activation=np.tanh):
    """``tf.nn.dynamic_rnn(<LN-GRU cell>, inputs [B,T,D])`` (batch-major), dynamic_rnn's
    ``sequence_length`` semantics (zero outputs past a length, state frozen). Returns ``(outputs, h)``.
    """
    inputs = _f32(inputs)
    b, t = inputs.shape[:2]
    hidden = _f32(weights["candidate/kernel"]).shape[1]
    h = np.zeros((b, hidden), F32) if initial_state is None else _f32(initial_state)
    lengths = None if sequence_length is None else np.asarray(sequence_length).reshape(-1)
    outputs = np.zeros((b, t, hidden), F32)
    for step in range(t):
        new_h = ln_gru_step(inputs[:, step], h, weights, layer_norm=layer_norm, activation=activation)
        if lengths is None:
            outputs[:, step] = new_h
            h = new_h
        else:
            live = (step < lengths)[:, None]
            outputs[:, step] = np.where(live, new_h, F32(0))
            h = np.where(live, new_h, h).astype(F32)
    return outputs, h


def ln_gru_multi_sequence(inputs, weights_per_layer, *, layer_norm=True, sequence_length=None,
                          initial_states=None, activation=np.tanh):
    """``dynamic_rnn(MultiRNNCell([<LN-GRU cell>, ...]))``: returns ``(outputs, [h per layer])``."""
    x = _f32(inputs)
    states = []
    for k, w in enumerate(weights_per_layer):
        init = None if initial_states is None else initial_states[k]
        x, h = ln_gru_sequence(x, w, layer_norm=layer_norm, sequence_length=sequence_length,
                               initial_state=init, activation=activation)
        states.append(h)
    return x, states


def ln_gru_bidirectional(inputs, weights_fw, weights_bw, *, layer_norm=True, sequence_length=None,
                         activation=np.tanh):
    """``bidirectional_dynamic_rnn`` over two LN-GRU cells: ``((out_fw, out_bw), (h_fw, h_bw))``."""
    kw = dict(layer_norm=layer_norm, sequence_length=sequence_length, activation=activation)
    out_fw, h_fw = ln_gru_sequence(inputs, weights_fw, **kw)
    rev = _reverse_sequence(_f32(inputs), sequence_length)
    out_bw_rev, h_bw = ln_gru_sequence(rev, weights_bw, **kw)
    return (out_fw, _reverse_sequence(out_bw_rev, sequence_length)), (h_fw, h_bw)


# --------------------------------------------------------------------------------------------
# tensorflow-addons 0.23 cells on Keras 2.15: tfa.rnn.LayerNormLSTMCell, LayerNormSimpleRNNCell
# --------------------------------------------------------------------------------------------

__all__ += ["KERAS2_FUSED_MIN_EPSILON", "keras2_layer_norm", "keras2_activation", "tfa_ln_lstm_step",
            "tfa_ln_simple_rnn_step", "keras_rnn", "keras_bidirectional"]

#: Keras 2.15's LayerNormalization used fused_batch_norm only at or above this epsilon (float32).
KERAS2_FUSED_MIN_EPSILON = 1.001e-5


def keras2_layer_norm(x, gamma=None, beta=None, epsilon=1e-3):
    """Keras 2.15 ``LayerNormalization(axis=-1)`` on ``[B, N]`` float32 inputs, as tfa's cells ran it.

    Both of Keras 2's paths normalise with the biased variance; they differ in operation order:

    * ``epsilon >= 1.001e-5``: ``fused_batch_norm`` of a ``[1, B, N, 1]`` NCHW reshape with unit
      scale and zero offset (``mean = sum(x) * (1/N)``, ``var = sum((x - mean)^2) * (1/N)``,
      ``y = (x - mean) * rsqrt(var + eps)``), then ``y * gamma + beta``;
    * smaller epsilon: ``nn.moments`` + ``nn.batch_normalization``:
      ``inv = rsqrt(var + eps) * gamma``, ``y = x * inv + (beta - mean * inv)``.
    """
    x = _f32(x)
    n = x.shape[-1]
    if epsilon >= KERAS2_FUSED_MIN_EPSILON:
        inv_n = F32(1.0) / F32(n)
        mean = (np.sum(x, axis=-1, keepdims=True, dtype=F32) * inv_n).astype(F32)
        centered = (x - mean).astype(F32)
        var = (np.sum(centered * centered, axis=-1, keepdims=True, dtype=F32) * inv_n).astype(F32)
        y = (centered * _rsqrt(var + F32(epsilon))).astype(F32)
        if gamma is not None:
            y = (y * _f32(gamma)).astype(F32)
        if beta is not None:
            y = (y + _f32(beta)).astype(F32)
        return y
    mean = _mean(x, -1, keepdims=True)
    d = (x - mean).astype(F32)
    var = _mean(d * d, -1, keepdims=True)
    inv = _rsqrt(var + F32(epsilon))
    if gamma is not None:
        inv = (inv * _f32(gamma)).astype(F32)
    shift = (-(mean * inv)).astype(F32) if beta is None else (_f32(beta) - mean * inv).astype(F32)
    return (x * inv + shift).astype(F32)


def keras2_activation(name):
    """A Keras 2.15 activation by name (``None`` is linear); ``hard_sigmoid`` is ``clip(0.2x + 0.5, 0, 1)``."""
    if name in (None, "linear"):
        return lambda x: _f32(x)
    functions = {
        "tanh": _tanh,
        "sigmoid": _sigmoid,
        "relu": lambda x: np.maximum(_f32(x), F32(0)),
        "hard_sigmoid": lambda x: np.clip(_f32(x) * F32(0.2) + F32(0.5), F32(0), F32(1)).astype(F32),
    }
    return functions[name]


def tfa_ln_lstm_step(x, state, weights, *, norm_epsilon=1e-3, activation="tanh",
                     recurrent_activation="sigmoid"):
    """One step of ``tfa.rnn.LayerNormLSTMCell`` (no dropout).

    ``weights`` by the names under the cell: ``kernel [D,4H]``, ``recurrent_kernel [H,4H]``, ``bias
    [4H]`` (optional) and ``{kernel,recurrent,state}_norm/{gamma,beta}``. ``state = (h, c)``.
    Returns ``(h, (h, c))``; the carried ``c`` is the normalised one.
    """
    act, rec = keras2_activation(activation), keras2_activation(recurrent_activation)
    h, c = (_f32(s) for s in state)

    def norm(v, name):
        return keras2_layer_norm(v, weights[name + "/gamma"], weights[name + "/beta"], norm_epsilon)

    z = norm(np.matmul(_f32(x), _f32(weights["kernel"])).astype(F32), "kernel_norm")
    z = (z + norm(np.matmul(h, _f32(weights["recurrent_kernel"])).astype(F32), "recurrent_norm")).astype(F32)
    if "bias" in weights:
        z = (z + _f32(weights["bias"])).astype(F32)
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=1)
    i, f, o = rec(z_i), rec(z_f), rec(z_o)
    new_c = (f * c + i * act(z_c)).astype(F32)
    new_c = norm(new_c, "state_norm")
    new_h = (o * act(new_c)).astype(F32)
    return new_h, (new_h, new_c)


def tfa_ln_simple_rnn_step(x, state, weights, *, layernorm_epsilon=1e-5, activation="tanh"):
    """One step of ``tfa.rnn.LayerNormSimpleRNNCell`` (no dropout): ``act(LN(x K + h R) * gamma + bias)``.

    ``weights``: ``kernel [D,H]``, ``recurrent_kernel [H,H]``, ``gamma [H]``, ``bias [H]`` (optional).
    Returns ``(h, (h,))``.
    """
    (h,) = (_f32(s) for s in state)
    net = (np.matmul(_f32(x), _f32(weights["kernel"])).astype(F32)
           + np.matmul(h, _f32(weights["recurrent_kernel"])).astype(F32)).astype(F32)
    out = keras2_layer_norm(net, weights["gamma"], None, layernorm_epsilon)
    if "bias" in weights:
        out = (out + _f32(weights["bias"])).astype(F32)
    out = keras2_activation(activation)(out)
    return out, (out,)


def keras_rnn(step, inputs, initial_state, *, mask=None, go_backwards=False, zero_output_for_mask=False):
    """``keras.layers.RNN(cell, return_sequences=True, return_state=True)`` over ``step(x_t, state)``.

    A masked step keeps the previous state and outputs the previous output (zeros with
    ``zero_output_for_mask``, which Bidirectional forces). ``go_backwards`` runs the reversed
    sequence and returns its outputs in that reversed order, as Keras' RNN does.
    Returns ``(outputs [B,T,H], final state tuple)``.
    """
    inputs = _f32(inputs)
    b, t = inputs.shape[:2]
    steps = range(t - 1, -1, -1) if go_backwards else range(t)
    state = tuple(_f32(s) for s in initial_state)
    previous = np.zeros_like(state[0])
    outputs = []
    for k in steps:
        out, new_state = step(inputs[:, k], state)
        if mask is not None:
            live = np.asarray(mask)[:, k][:, None]
            out = np.where(live, out, F32(0) if zero_output_for_mask else previous).astype(F32)
            new_state = tuple(np.where(live, n, s).astype(F32) for n, s in zip(new_state, state))
        outputs.append(out)
        previous, state = out, new_state
    return np.stack(outputs, axis=1), state


def keras_bidirectional(step_fw, step_bw, inputs, initial_state, *, mask=None):
    """``Bidirectional(RNN(..., return_sequences=True, return_state=True))`` with merge_mode ``concat``.

    Returns ``(outputs [B,T,2H], forward final state, backward final state)``; the backward
    outputs are put back in input order before the concatenation, as Keras does.
    """
    fw, state_fw = keras_rnn(step_fw, inputs, initial_state, mask=mask, zero_output_for_mask=True)
    bw, state_bw = keras_rnn(step_bw, inputs, initial_state, mask=mask, go_backwards=True, zero_output_for_mask=True)
    return np.concatenate([fw, bw[:, ::-1]], axis=-1), state_fw, state_bw


# --------------------------------------------------------------------------------------------
# The widely copied TF1 BNLSTMCell (recurrent batch normalisation, NUMERICS.md section 3)
# --------------------------------------------------------------------------------------------

#: The normalised terms of BNLSTMCell; only ``xh`` has no offset.
BN_LSTM_GROUPS = ("xh", "hh", "c")

__all__ += ["bn_lstm_batch_norm", "bn_lstm_step", "bn_lstm_sequence", "BN_LSTM_GROUPS"]


def bn_lstm_batch_norm(z, scale, offset, pop_mean, pop_var, *, training, decay=0.95, epsilon=1e-5):
    """One ``BNLSTMCell._batch_norm`` at one statistics row: ``(y, new_pop_mean, new_pop_var)``.

    Training: ``mean, var = nn.moments(z, [0])`` (biased), the row moves to
    ``pop * decay + batch * (1 - decay)`` and ``y`` uses the batch statistics; inference: ``y`` uses
    the row, which stays. ``y = z * inv + (offset - mean * inv)``, ``inv = rsqrt(var + eps) * scale``
    (``nn.batch_normalization``; ``offset`` None for ``xh``). All float32.
    """
    z = _f32(z)
    pop_mean, pop_var = _f32(pop_mean), _f32(pop_var)
    if training:
        mean = _mean(z, 0)
        d = (z - mean).astype(F32)
        var = _mean(d * d, 0)
        new_mean = (pop_mean * F32(decay) + mean * F32(1 - decay)).astype(F32)
        new_var = (pop_var * F32(decay) + var * F32(1 - decay)).astype(F32)
    else:
        mean, var = pop_mean, pop_var
        new_mean, new_var = pop_mean, pop_var
    inv = (_rsqrt(var + F32(epsilon)) * _f32(scale)).astype(F32)
    shift = (-(mean * inv)).astype(F32) if offset is None else (_f32(offset) - mean * inv).astype(F32)
    return (z * inv + shift).astype(F32), new_mean, new_var


def bn_lstm_step(x, state, weights, *, max_bn_steps, training, decay=0.95, epsilon=1e-5, forget_bias=0.0,
                 activation=np.tanh):
    """One step of the copied ``BNLSTMCell``: ``(new_h, (new_c, new_h, new_step), new_statistics)``.

    ``weights`` is keyed by the TF1 names relative to the cell scope (``"W_xh"`` ``[D, 4H]``,
    ``"W_hh"`` ``[H, 4H]``, ``"<g>/scale"``, ``"hh/offset"``, ``"c/offset"``, ``"<g>/pop_mean"``,
    ``"<g>/pop_var"`` ``[max_bn_steps, size]``); ``state`` is ``(c, h, step)`` with ``step``
    ``[B, 1]``. The statistics row is ``min(int(step[0, 0]), max_bn_steps - 1)``, the FIRST
    example's step. ``new_statistics`` holds the six ``pop_*`` arrays after the step's updates.
    """
    act = _activation(activation)
    x = _f32(x)
    c, h, step = (_f32(s) for s in state)
    row = min(int(step[0, 0]), max_bn_steps - 1)
    stats = {k: _f32(v).copy() for k, v in weights.items() if k.rsplit("/", 1)[-1] in ("pop_mean", "pop_var")}

    def bn(z, group):
        y, stats[f"{group}/pop_mean"][row], stats[f"{group}/pop_var"][row] = bn_lstm_batch_norm(
            z, weights[f"{group}/scale"], weights.get(f"{group}/offset"), stats[f"{group}/pop_mean"][row],
            stats[f"{group}/pop_var"][row], training=training, decay=decay, epsilon=epsilon)
        return y

    xh = np.matmul(x, _f32(weights["W_xh"])).astype(F32)
    hh = np.matmul(h, _f32(weights["W_hh"])).astype(F32)
    hidden = (bn(xh, "xh") + bn(hh, "hh")).astype(F32)
    f, i, o, j = np.split(hidden, 4, axis=1)
    new_c = (c * _sigmoid(f + F32(forget_bias)) + _sigmoid(i) * act(j)).astype(F32)
    new_h = (act(bn(new_c, "c")) * _sigmoid(o)).astype(F32)
    return new_h, (new_c, new_h, (step + F32(1)).astype(F32)), stats


def bn_lstm_sequence(inputs, layers, *, max_bn_steps, training, decay=0.95, epsilon=1e-5, forget_bias=0.0,
                     activation=np.tanh, sequence_length=None, initial_states=None):
    """``tf.nn.dynamic_rnn(cell, inputs [B,T,D])`` over one BNLSTMCell or a MultiRNNCell of several.

    ``layers`` is a list of weight dicts (see :func:`bn_lstm_step`), one per stacked cell. Each time
    step runs every layer on the whole batch and updates the statistics in order (what TF1 computed
    with ``parallel_iterations=1``; its default let updates of a row shared by several steps race).
    With ``sequence_length`` the outputs are zero past each example's length and its states (the step
    counters included) stay frozen; past the longest length TF1 ran no cell at all.
    Returns ``(outputs [B,T,H], [(c, h, step) per layer], [statistics per layer])``.
    """
    inputs = _f32(inputs)
    b, t = inputs.shape[:2]
    states, stats = [], []
    for k, weights in enumerate(layers):
        units = _f32(weights["W_hh"]).shape[0]
        if initial_states is None:
            states.append((np.zeros((b, units), F32), np.zeros((b, units), F32), np.zeros((b, 1), F32)))
        else:
            states.append(tuple(_f32(s) for s in initial_states[k]))
        stats.append({n: _f32(v).copy() for n, v in weights.items() if "/pop_" in n})
    lengths = None if sequence_length is None else np.asarray(sequence_length).reshape(-1)
    outputs = np.zeros((b, t, _f32(layers[-1]["W_hh"]).shape[0]), F32)
    for step in range(t):
        if lengths is not None and step >= lengths.max():
            break
        out = inputs[:, step]
        new_states = []
        for k, weights in enumerate(layers):
            out, new_state, stats[k] = bn_lstm_step(
                out, states[k], {**weights, **stats[k]}, max_bn_steps=max_bn_steps, training=training,
                decay=decay, epsilon=epsilon, forget_bias=forget_bias, activation=activation)
            new_states.append(new_state)
        if lengths is None:
            outputs[:, step] = out
            states = new_states
        else:
            live = (step < lengths)[:, None]
            outputs[:, step] = np.where(live, out, F32(0))
            states = [tuple(np.where(live, n, s).astype(F32) for n, s in zip(new, old))
                      for new, old in zip(new_states, states)]
    return outputs, states, stats


# --------------------------------------------------------------------------------------------
# tf.layers.batch_normalization / tf.layers.BatchNormalization (TF 1.15)
# --------------------------------------------------------------------------------------------


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
        one_minus = _one_minus(momentum, False)
        if renorm:
            r, dd = _renorm(state, new_mean, new_var, epsilon, clipping, _one_minus(renorm_momentum, False))
            scale, offset = _compose(r.reshape(bshape), dd.reshape(bshape), scale, offset)
            state["moving_mean"] = _moving_average(state["moving_mean"], new_mean, one_minus)
            stddev = np.sqrt((new_var + eps).astype(F32)).astype(F32)
            ms = _moving_average(state["moving_stddev"], stddev, one_minus)
            state["moving_stddev"] = ms
            state["moving_variance"] = np.maximum((ms * ms - eps).astype(F32), F32(0))
        else:
            state["moving_mean"] = _moving_average(state["moving_mean"], new_mean, one_minus)
            state["moving_variance"] = _moving_average(state["moving_variance"], new_var, one_minus)
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
