"""tensorflow-addons 0.23 cells on Keras 2.15: tfa.rnn.LayerNormLSTMCell, LayerNormSimpleRNNCell."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _f32, _mean, _rsqrt, _sigmoid, _tanh

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
