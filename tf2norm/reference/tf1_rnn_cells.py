"""TF1's core RNN cells (``BasicRNNCell``, ``BasicLSTMCell``, ``LSTMCell``, ``GRUCell``), written from TF 1.15's
``tensorflow/python/ops/rnn_cell_impl.py``, and ``dynamic_rnn`` over one of them or a ``MultiRNNCell``
stack (``sequence_length`` semantics: zero outputs past a length, state frozen).

Weights are keyed by the TF1 names relative to the cell scope (``kernel``, ``bias``, ``w_f_diag``,
``projection/kernel``, ``gates/kernel``, ...). States are tuples ``(h,)`` or ``(c, h)``.
"""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _activation, _f32, _sigmoid
from tf2norm.reference.hand_rolled_layer_norm_gru import ln_gru_step


def _affine(x, h, kernel, bias):
    return (np.matmul(np.concatenate([_f32(x), _f32(h)], axis=1), _f32(kernel)).astype(F32) + _f32(bias)).astype(F32)


def basic_rnn_step(x, state, weights, *, activation=np.tanh):
    """``BasicRNNCell``: ``h = act([x, h] @ kernel + bias)``; returns ``(output, (h,))``."""
    (h,) = state
    out = _f32(_activation(activation)(_affine(x, h, weights["kernel"], weights["bias"])))
    return out, (out,)


def gru_step(x, state, weights, *, activation=np.tanh):
    """``GRUCell`` (the LN-GRU reference without layer norm is TF1's GRUCell op for op)."""
    (h,) = state
    new_h = ln_gru_step(x, h, weights, layer_norm=False, activation=activation)
    return new_h, (new_h,)


def basic_lstm_step(x, state, weights, *, forget_bias=1.0, activation=np.tanh):
    """``BasicLSTMCell``: ``new_c = c*sig(f + forget_bias) + sig(i)*act(j)``, ``new_h = act(new_c)*sig(o)``."""
    act = _activation(activation)
    c, h = (_f32(s) for s in state)
    i, j, f, o = np.split(_affine(x, h, weights["kernel"], weights["bias"]), 4, axis=1)
    new_c = ((c * _sigmoid((f + F32(forget_bias)).astype(F32))).astype(F32)
             + (_sigmoid(i) * _f32(act(j))).astype(F32)).astype(F32)
    new_h = (_f32(act(new_c)) * _sigmoid(o)).astype(F32)
    return new_h, (new_c, new_h)


def lstm_step(x, state, weights, *, forget_bias=1.0, use_peepholes=False, cell_clip=None, num_proj=None,
              proj_clip=None, activation=np.tanh):
    """``LSTMCell``: peepholes (``w_f_diag``, ``w_i_diag``, ``w_o_diag``), cell clip, projection and its clip."""
    act = _activation(activation)
    c_prev, m_prev = (_f32(s) for s in state)
    i, j, f, o = np.split(_affine(x, m_prev, weights["kernel"], weights["bias"]), 4, axis=1)
    fb = F32(forget_bias)
    if use_peepholes:
        forget = _sigmoid((f + fb + (_f32(weights["w_f_diag"]) * c_prev).astype(F32)).astype(F32))
        write = _sigmoid((i + (_f32(weights["w_i_diag"]) * c_prev).astype(F32)).astype(F32))
    else:
        forget, write = _sigmoid((f + fb).astype(F32)), _sigmoid(i)
    c = ((forget * c_prev).astype(F32) + (write * _f32(act(j))).astype(F32)).astype(F32)
    if cell_clip is not None:
        c = np.clip(c, F32(-cell_clip), F32(cell_clip)).astype(F32)
    if use_peepholes:
        m = (_sigmoid((o + (_f32(weights["w_o_diag"]) * c).astype(F32)).astype(F32)) * _f32(act(c))).astype(F32)
    else:
        m = (_sigmoid(o) * _f32(act(c))).astype(F32)
    if num_proj is not None:
        m = np.matmul(m, _f32(weights["projection/kernel"])).astype(F32)
        if proj_clip is not None:
            m = np.clip(m, F32(-proj_clip), F32(proj_clip)).astype(F32)
    return m, (c, m)


#: TF1 class name -> (step function, the constructor keywords it takes, its state has c).
STEPS = {
    "BasicRNNCell": (basic_rnn_step, ("activation",), False),
    "GRUCell": (gru_step, ("activation",), False),
    "BasicLSTMCell": (basic_lstm_step, ("forget_bias", "activation"), True),
    "LSTMCell": (lstm_step, ("forget_bias", "use_peepholes", "cell_clip", "num_proj", "proj_clip", "activation"), True),
}


def cell_step(cls: str, kwargs: dict):
    """``step(x, state, weights)`` of TF1 class ``cls`` built with constructor ``kwargs`` (activation a name)."""
    step, accepted, _ = STEPS[cls]
    options = {k: v for k, v in kwargs.items() if k in accepted}
    if options.get("activation") == "relu":
        options["activation"] = lambda v: np.maximum(v, 0)
    return lambda x, state, weights: step(x, state, weights, **options)


def zero_state(cls: str, kwargs: dict, batch: int) -> tuple:
    """The zero state of a cell, as the tuple the steps take."""
    units = kwargs["num_units"]
    if not STEPS[cls][2]:
        return (np.zeros((batch, units), F32),)
    h_size = kwargs.get("num_proj") or units
    return np.zeros((batch, units), F32), np.zeros((batch, h_size), F32)


def dynamic_rnn(inputs, steps, states, weights, sequence_length=None):
    """``tf.nn.dynamic_rnn`` over cells stacked as a ``MultiRNNCell`` (one cell: a stack of one).

    ``steps``: one ``step(x, state, weights)`` per layer; ``states``: their initial state tuples;
    ``weights``: one dict per layer. Returns ``(outputs [B, T, out], final states)``.
    """
    inputs = _f32(inputs)
    b, t = inputs.shape[:2]
    lengths = None if sequence_length is None else np.asarray(sequence_length).reshape(-1)
    outputs = []
    states = list(states)
    for step_index in range(t):
        x = inputs[:, step_index]
        new_states = []
        for step, state, w in zip(steps, states, weights):
            x, new_state = step(x, state, w)
            new_states.append(new_state)
        if lengths is None:
            states = new_states
            outputs.append(x)
        else:
            live = (step_index < lengths)[:, None]
            outputs.append(np.where(live, x, F32(0)).astype(F32))
            states = [tuple(np.where(live, n, o).astype(F32) for n, o in zip(new, old))
                      for new, old in zip(new_states, states)]
    return np.stack(outputs, axis=1), states
