"""LayerNormGRUCell: the hand-rolled TF1 layer-norm GRU (spec: tf2norm/replacements/hand_rolled_layer_norm_gru.py,
TF1 code: fixtures/tf1/hand_rolled_layer_norm_gru.py)."""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import (
    F32,
    _activation,
    _f32,
    _reverse_sequence,
    _sigmoid,
)
from tf2norm.reference.layer_norm_basic_lstm_cell import (
    layer_norm as _ln,  # the parameters are named layer_norm
)

#: The layer norms of the LN-GRU cell, one per [B, H] pre-activation: reset and update gates, candidate.
LN_GRU_GATES = ("reset", "update", "candidate")


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
        r = _sigmoid(_ln(r, weights["reset/gamma"], weights["reset/beta"]))
        u = _sigmoid(_ln(u, weights["update/gamma"], weights["update/beta"]))
    else:
        r, u = np.split(_sigmoid((z + _f32(weights["gates/bias"])).astype(F32)), 2, axis=1)
    s = np.matmul(np.concatenate([x, (r * h).astype(F32)], axis=1), _f32(weights["candidate/kernel"])).astype(F32)
    if layer_norm:
        s = _ln(s, weights["candidate/gamma"], weights["candidate/beta"])
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
