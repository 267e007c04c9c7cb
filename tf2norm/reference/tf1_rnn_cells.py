"""TF1's core RNN cells (``BasicRNNCell``, ``BasicLSTMCell``, ``LSTMCell``, ``GRUCell``), written from TF 1.15's
``tensorflow/python/ops/rnn_cell_impl.py``; contrib's block and Cudnn-compatible cells (``LSTMBlockCell``,
``GRUBlockCell[V2]``, ``CudnnCompatibleLSTMCell``, ``CudnnCompatibleGRUCell``), written from the equations in
the docstrings of TF 1.15's ``contrib/rnn/python/ops/lstm_ops.py``, ``gru_ops.py`` and
``contrib/cudnn_rnn/python/ops/cudnn_rnn_ops.py``; and ``dynamic_rnn`` over one of them or a ``MultiRNNCell``
stack (``sequence_length`` semantics: zero outputs past a length, state frozen).

Weights are keyed by the TF1 names relative to the cell scope (``kernel``, ``bias``, ``w_f_diag``,
``projection/kernel``, ``gates/kernel``, ...). States are tuples ``(h,)`` or ``(c, h)``.
"""

from __future__ import annotations

import numpy as np

from tf2norm.reference._common import F32, _activation, _f32, _sigmoid, _tanh
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


class StraightThroughClip:
    """The cell clip of TF 1.15's ``LSTMBlockCell`` kernel as its gradient kernel sees it: the identity.

    Called as ``clip(c, limit)``. Recording (the default), it clips and keeps each ``clip(c) - c``;
    after ``replay()``, the n-th call returns ``c`` plus the n-th kept offset instead: the same values
    at the recorded point, and the derivative of the identity around it, so central differences of a
    replay are the gradients TF1's block kernel computed.
    """

    def __init__(self):
        self.offsets: list = []
        self.replaying = False
        self.index = 0

    def replay(self):
        self.replaying, self.index = True, 0

    def __call__(self, c, limit):
        if not self.replaying:
            clipped = np.clip(c, F32(-limit), F32(limit)).astype(F32)
            self.offsets.append(clipped - c)
            return clipped
        offset = self.offsets[self.index]
        self.index += 1
        return (c + offset).astype(F32)


def _clip(c, limit):
    return np.clip(c, F32(-limit), F32(limit)).astype(F32)


def lstm_block_step(x, state, weights, *, forget_bias=1.0, cell_clip=None, use_peephole=False, clip=_clip):
    """contrib's ``LSTMBlockCell`` kernel: ``[i, ci, f, o] = [x, h] @ W + b``, ``f += forget_bias``, ``i =
    sig(c_prev*wci + i)``, ``f = sig(c_prev*wcf + f)``, ``cs = tanh(ci)*i + c_prev*f``, clipped only if
    ``cell_clip > 0`` (``clip``: see StraightThroughClip), ``h = tanh(cs) * sig(cs*wco + o)``."""
    c_prev, h_prev = (_f32(s) for s in state)
    i, ci, f, o = np.split(_affine(x, h_prev, weights["kernel"], weights["bias"]), 4, axis=1)
    f = (f + F32(forget_bias)).astype(F32)
    if use_peephole:
        i = _sigmoid(((c_prev * _f32(weights["w_i_diag"])).astype(F32) + i).astype(F32))
        f = _sigmoid(((c_prev * _f32(weights["w_f_diag"])).astype(F32) + f).astype(F32))
    else:
        i, f = _sigmoid(i), _sigmoid(f)
    cs = ((_tanh(ci) * i).astype(F32) + (c_prev * f).astype(F32)).astype(F32)
    if cell_clip is not None and cell_clip > 0:
        cs = clip(cs, cell_clip)
    if use_peephole:
        o = _sigmoid(((cs * _f32(weights["w_o_diag"])).astype(F32) + o).astype(F32))
    else:
        o = _sigmoid(o)
    h = (_tanh(cs) * o).astype(F32)
    return h, (cs, h)


def cudnn_lstm_step(x, state, weights):
    """contrib.cudnn_rnn's ``CudnnCompatibleLSTMCell``: ``LSTMBlockCell`` with ``forget_bias=0``."""
    return lstm_block_step(x, state, weights, forget_bias=0.0)


_GRU_BLOCK_NAMES = {"w_ru": "gates/kernel", "b_ru": "gates/bias", "w_c": "candidate/kernel", "b_c": "candidate/bias"}


def gru_block_step(x, state, weights):
    """contrib's ``GRUBlockCell`` kernel (``w_ru``, ``b_ru``, ``w_c``, ``b_c``; ``GRUBlockCellV2``: ``GRUCell``'s
    names): ``r, u = sig([x, h] @ w_ru + b_ru)``, ``c = tanh([x, r*h] @ w_c + b_c)``, ``h = (1-u)*c + u*h``,
    which is ``GRUCell``'s step."""
    return gru_step(x, state, {_GRU_BLOCK_NAMES.get(k, k): v for k, v in weights.items()})


def cudnn_gru_step(x, state, weights):
    """contrib.cudnn_rnn's ``CudnnCompatibleGRUCell`` (cuDNN's GRU): ``r, u = sig([x, h] @ gates/kernel +
    gates/bias)``, ``c = tanh(x @ Wx + bx + r * (h @ Wh + bh))``, ``h = (1-u)*c + u*h``."""
    (h,) = state
    x, h = _f32(x), _f32(h)
    r, u = np.split(_sigmoid(_affine(x, h, weights["gates/kernel"], weights["gates/bias"])), 2, axis=1)
    from_input = (np.matmul(x, _f32(weights["candidate/input_projection/kernel"])).astype(F32)
                  + _f32(weights["candidate/input_projection/bias"])).astype(F32)
    from_hidden = (np.matmul(h, _f32(weights["candidate/hidden_projection/kernel"])).astype(F32)
                   + _f32(weights["candidate/hidden_projection/bias"])).astype(F32)
    c = _tanh((from_input + (r * from_hidden).astype(F32)).astype(F32))
    new_h = (((1 - u).astype(F32) * c).astype(F32) + (u * h).astype(F32)).astype(F32)
    return new_h, (new_h,)


#: TF1 class name -> (step function, the constructor keywords it takes, its state has c).
STEPS = {
    "BasicRNNCell": (basic_rnn_step, ("activation",), False),
    "GRUCell": (gru_step, ("activation",), False),
    "BasicLSTMCell": (basic_lstm_step, ("forget_bias", "activation"), True),
    "LSTMCell": (lstm_step, ("forget_bias", "use_peepholes", "cell_clip", "num_proj", "proj_clip", "activation"), True),
    "LSTMBlockCell": (lstm_block_step, ("forget_bias", "cell_clip", "use_peephole"), True),
    # its BlockLSTM op runs LSTMBlockCell's step over the sequence (outputs masked, final states at the lengths)
    "LSTMBlockFusedCell": (lstm_block_step, ("forget_bias", "cell_clip", "use_peephole"), True),
    "CudnnCompatibleLSTMCell": (cudnn_lstm_step, (), True),
    "GRUBlockCell": (gru_block_step, (), False),
    "GRUBlockCellV2": (gru_block_step, (), False),
    "CudnnCompatibleGRUCell": (cudnn_gru_step, (), False),
}


def cell_step(cls: str, kwargs: dict, clip=None):
    """``step(x, state, weights)`` of TF1 class ``cls`` built with constructor ``kwargs`` (activation a name);
    ``clip``: the cell clip of ``LSTMBlockCell`` (a StraightThroughClip; default: plain clipping)."""
    step, accepted, _ = STEPS[cls]
    options = {k: v for k, v in kwargs.items() if k in accepted}
    if clip is not None and cls in ("LSTMBlockCell", "LSTMBlockFusedCell"):
        options["clip"] = clip
    if options.get("activation") == "relu":
        options["activation"] = lambda v: np.maximum(v, 0)
    return lambda x, state, weights: step(x, state, weights, **options)


def zero_state(cls: str, kwargs: dict, batch: int) -> tuple:
    """The zero state of a cell, as the tuple the steps take."""
    units = kwargs.get("num_units") or kwargs["cell_size"]
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


def stack_bidirectional_rnn(inputs, layers_fw, layers_bw, sequence_length=None):
    """contrib's ``stack_bidirectional_dynamic_rnn`` (and the static one: the same numbers) over layers of
    ``(step, zero state, weights)``: each layer runs its forward cell over the sequence and its backward
    cell over the sequence reversed within each length (``reverse_sequence``), reversing its outputs back,
    and the two outputs concatenated are the next layer's input. Returns ``(outputs, final states of the
    forward layers, final states of the backward layers)``."""
    from tf2norm.reference._common import _reverse_sequence

    x = _f32(inputs)
    states_fw, states_bw = [], []
    for (step_fw, zero_fw, w_fw), (step_bw, zero_bw, w_bw) in zip(layers_fw, layers_bw):
        out_fw, (state_fw,) = dynamic_rnn(x, [step_fw], [zero_fw], [w_fw], sequence_length)
        out_bw, (state_bw,) = dynamic_rnn(_reverse_sequence(x, sequence_length), [step_bw], [zero_bw], [w_bw],
                                          sequence_length)
        x = np.concatenate([out_fw, _reverse_sequence(out_bw, sequence_length)], axis=2)
        states_fw.append(state_fw)
        states_bw.append(state_bw)
    return x, states_fw, states_bw
