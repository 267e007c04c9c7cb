"""The widely copied TF1 BNLSTMCell (recurrent batch normalisation, NUMERICS.md section 3)."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _activation, _f32, _mean, _rsqrt, _sigmoid

#: The normalised terms of BNLSTMCell; only ``xh`` has no offset.
BN_LSTM_GROUPS = ("xh", "hh", "c")


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
