"""Layer norm and LayerNormBasicLSTMCell."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import (
    F32,
    _activation,
    _f32,
    _mean,
    _reverse_sequence,
    _rsqrt,
    _sigmoid,
)

#: The layer-norm scopes of LayerNormBasicLSTMCell, in the order the gates come out of the split.
LN_GATES = ("input", "transform", "forget", "output")


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
