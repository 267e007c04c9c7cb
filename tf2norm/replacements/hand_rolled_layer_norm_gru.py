"""`LayerNormGRUCell`: the layer-norm GRU cell people wrote by hand for TF 1.x, on Keras 3.

TF 1.x never shipped a layer-norm GRU. The usual hand-rolled one copies the recipe of
`tf.contrib.rnn.LayerNormBasicLSTMCell` (its `_norm` and `_linear`) onto `tf.nn.rnn_cell.GRUCell`;
this module defines that cell precisely (the spec below), and
`fixtures/tf1/hand_rolled_layer_norm_gru.py` holds it written as a TF 1.15 `RNNCell`, whose outputs
on real TF 1.15 are the goldens the tests hold this replacement to. A hand-written cell that differs
from the spec (layer norm over all 2H gate units at once, biases kept beside the norm, gate order
u, r, ...) is a different cell: compare it with the spec before switching.

Spec. Constructor `(num_units, activation=tanh, layer_norm=True, norm_gain=1.0, norm_shift=0.0,
dropout_keep_prob=1.0, dropout_prob_seed=None, reuse=None, kernel_initializer=None,
bias_initializer=None)`. State: one tensor `h [B,H]`, which is also the output. One step,
`x [B,D]`:

    z = concat([x, h], 1) @ gates/kernel            # [D+H, 2H]
    if layer_norm:
        r, u = split(z, 2, axis=1)                  # gate order r (reset), u (update)
        r, u = sigmoid(LN_reset(r)), sigmoid(LN_update(u))
    else:
        r, u = split(sigmoid(z + gates/bias), 2, axis=1)        # GRUCell, verbatim
    s = concat([x, r * h], 1) @ candidate/kernel    # [D+H, H]
    s = LN_candidate(s) if layer_norm else s + candidate/bias
    c = activation(s)
    if keep_prob is not the float 1.0: c = dropout(c, keep_prob, seed)   # new mask every step
    new_h = u * h + (1 - u) * c
    return new_h, new_h

- Layer norm as in contrib's LN-LSTM (NUMERICS.md section 1): each `[B,H]` chunk on its own over
  its H units, `mean = reduce_mean(x, 1)`, biased variance, `y = x * inv + (beta - mean * inv)`
  with `inv = rsqrt(var + eps) * gamma`, **eps 1e-12** (1e-3 for float16).
- With layer norm there are **no biases** (beta plays their part) and the reset gate acts inside
  the candidate's pre-activation: `LN_candidate` normalises `concat(x, r*h) @ candidate/kernel`,
  the whole candidate projection (TF1 GRUCell applies r to h before the matmul; so does this cell).
- Dropout (Semeniuta et al., as contrib) touches only the candidate `c`, never `h`.
- gamma starts at `norm_gain`, beta at `norm_shift`; kernels glorot-uniform (TF1's `get_variable`
  default); without layer norm `gates/bias` starts at 1.0 and `candidate/bias` at 0.0 (GRUCell's).
- `layer_norm=False` is exactly `tf.nn.rnn_cell.GRUCell` (same variables, same numbers; the fixture
  generator asserts this bit for bit on TF 1.15), plus the recurrent dropout when asked for.

TF1 variables under the cell scope `layer_norm_gru_cell` (the snake case of the class name, as TF1
layers named themselves): `gates/kernel [D+H, 2H]`, `candidate/kernel [D+H, H]`, and either
`{reset,update,candidate}/{gamma,beta} [H]` or `gates/bias [2H]`, `candidate/bias [H]`. Scopes around
it as for every TF1 cell: `rnn/`, `rnn/multi_rnn_cell/cell_N/`, `bidirectional_rnn/fw|bw/`.

The same object works two ways, as LayerNormBasicLSTMCell does:

* as a Keras 3 RNN cell: `keras.layers.RNN(cell)`, `Bidirectional`, stacking. Dropout runs only
  when `training` is true.
* as a TF1 cell handed to `tf.compat.v1.nn.dynamic_rnn` / `bidirectional_dynamic_rnn` (called as
  `cell(x, state)`): dropout runs whenever `dropout_keep_prob` is not the float 1.0, as TF1 did. In
  a tf.compat.v1 graph the variables are created with `get_variable` under the TF1 names above, so a
  TF1 `Saver` checkpoint of the hand-rolled cell restores unchanged; eagerly the Keras weights are used.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf2norm.replacements._tf1_cell import Tf1RecurrentCell, Weight
from tf2norm.replacements.layer_norm_basic_lstm_cell import layer_norm

#: The layer norms of the cell, each over one [B, H] pre-activation.
LN_GATES = ("reset", "update", "candidate")


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormGRUCell(Tf1RecurrentCell):
    """GRU cell with layer normalisation per gate and recurrent dropout (the module docstring is the spec).

    Args:
      num_units: H, the number of units.
      activation: activation of the candidate (default tanh).
      layer_norm: if False the cell is TF1's `GRUCell` (with biases, no normalisation).
      norm_gain, norm_shift: initial gamma and beta of the three layer norms.
      dropout_keep_prob: keep probability of the candidate `c`: a float or a scalar tensor.
      dropout_prob_seed: op seed of that dropout.
      reuse: TF1 variable-scope reuse, honoured in tf.compat.v1 graph code.
      kernel_initializer: of both kernels (default glorot-uniform, as TF1's get_variable).
      bias_initializer: of both biases without layer norm (default GRUCell's: 1.0 for the gates,
        0.0 for the candidate).
      **kwargs: Keras layer keywords (name, dtype, trainable, ...).

    Weights (Keras), the TF1 names with `/` replaced by `_`: `gates_kernel [D+H, 2H]` (gate order r, u),
    `candidate_kernel [D+H, H]`; with layer norm `reset_gamma, reset_beta, update_gamma, update_beta,
    candidate_gamma, candidate_beta [H]`; without, `gates_bias [2H]` and `candidate_bias [H]`.
    """

    TF1_SCOPE = "layer_norm_gru_cell"
    CONFIG = ("num_units", "activation", "layer_norm", "norm_gain", "norm_shift", "dropout_keep_prob",
              "dropout_prob_seed", "kernel_initializer", "bias_initializer")

    def __init__(
        self,
        num_units,
        activation=None,
        layer_norm=True,
        norm_gain=1.0,
        norm_shift=0.0,
        dropout_keep_prob=1.0,
        dropout_prob_seed=None,
        reuse=None,
        kernel_initializer=None,
        bias_initializer=None,
        **kwargs,
    ):
        super().__init__(reuse=reuse, **kwargs)
        self.num_units = int(num_units)
        if self.num_units <= 0:
            raise ValueError(f"LayerNormGRUCell: num_units must be a positive integer, got {num_units!r}")
        self._set_activation(activation)
        self.layer_norm = bool(layer_norm)
        self.norm_gain = norm_gain
        self.norm_shift = norm_shift
        self.dropout_keep_prob = dropout_keep_prob
        self.dropout_prob_seed = dropout_prob_seed
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.state_size = self.num_units
        self.output_size = self.num_units

    def tf1_weights(self, depth: int) -> dict[str, Weight]:
        """TF1's variables in the order TF1 created them."""
        units = self.num_units
        gamma = keras.initializers.Constant(self.norm_gain)
        beta = keras.initializers.Constant(self.norm_shift)
        if not self.layer_norm:
            return {
                "gates/kernel": Weight((depth + units, 2 * units), self.kernel_initializer),
                "gates/bias": Weight((2 * units,), self._bias_initializer(1.0)),
                "candidate/kernel": Weight((depth + units, units), self.kernel_initializer),
                "candidate/bias": Weight((units,), self._bias_initializer(0.0)),
            }
        return {
            "gates/kernel": Weight((depth + units, 2 * units), self.kernel_initializer),
            "reset/gamma": Weight((units,), gamma), "reset/beta": Weight((units,), beta),
            "update/gamma": Weight((units,), gamma), "update/beta": Weight((units,), beta),
            "candidate/kernel": Weight((depth + units, units), self.kernel_initializer),
            "candidate/gamma": Weight((units,), gamma), "candidate/beta": Weight((units,), beta),
        }

    def _bias_initializer(self, gru_default: float):
        if self.bias_initializer is not None:
            return self.bias_initializer
        return keras.initializers.Constant(gru_default)

    def step(self, inputs, state, weights, training, legacy):
        (h,) = state
        z = tf.matmul(tf.concat([inputs, h], 1), weights["gates/kernel"])
        if self.layer_norm:
            r, u = tf.split(z, 2, axis=1)
            r = tf.sigmoid(layer_norm(r, weights["reset/gamma"], weights["reset/beta"]))
            u = tf.sigmoid(layer_norm(u, weights["update/gamma"], weights["update/beta"]))
        else:
            r, u = tf.split(tf.sigmoid(tf.nn.bias_add(z, weights["gates/bias"])), 2, axis=1)
        s = tf.matmul(tf.concat([inputs, r * h], 1), weights["candidate/kernel"])
        if self.layer_norm:
            s = layer_norm(s, weights["candidate/gamma"], weights["candidate/beta"])
        else:
            s = tf.nn.bias_add(s, weights["candidate/bias"])
        c = self.dropout(self.activation(s), training, legacy)
        new_h = u * h + (1 - u) * c
        return new_h, (new_h,)

    def tf1_state(self, state):
        return state[0]

    def state_tuple(self, state):
        if isinstance(state, (list, tuple)):
            if len(state) != 1:
                raise ValueError(f"LayerNormGRUCell: the state is one tensor [batch, {self.num_units}], got {state!r}")
            state = state[0]
        return (state,)

    def _unserialisable(self, name, value):
        if name == "dropout_keep_prob" and not isinstance(value, (int, float)):
            return "use a float to save this cell"
        return None
