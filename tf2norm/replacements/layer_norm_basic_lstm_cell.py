"""`LayerNormBasicLSTMCell`: TF 1.x `tf.contrib.rnn.LayerNormBasicLSTMCell`, op for op, on Keras 3.

The same object works two ways:

* as a Keras 3 RNN cell: `keras.layers.RNN(cell)`, `Bidirectional`, stacking. Dropout of the
  candidate `g` runs only when `training` is true, as for every Keras layer.
* as a TF1 cell handed to `tf.compat.v1.nn.dynamic_rnn` / `bidirectional_dynamic_rnn` (called as
  `cell(x, state)` with no `training`): dropout runs whenever `dropout_keep_prob` is not the float
  1.0, as TF1 did. In a tf.compat.v1 graph the variables are created with `get_variable` under
  TF1's exact scopes (`.../layer_norm_basic_lstm_cell/kernel`, `.../input/gamma`, ...), so a TF1
  `Saver` checkpoint restores unchanged; in eager code the cell's Keras weights are used.

The math (NUMERICS.md section 1): `z = [x, h] @ kernel (+ bias without layer norm)`, gates
i, j, f, o each layer-normalised over its own H units with epsilon 1e-12, `forget_bias` added
after the norm, the normalised cell state carried.
"""

from __future__ import annotations

import warnings

import keras
import tensorflow as tf

from tf2norm.replacements._layer_norm_math import normalize
from tf2norm.replacements._tf1_cell import LSTMStateTuple, Tf1RecurrentCell, Weight

#: The layer-normalised gates, in the kernel's order, and the norms (the gates' and the state's).
GATES = ("input", "transform", "forget", "output")
NORMS = GATES + ("state",)


def layer_norm(x, gamma, beta):
    """TF1's `contrib.layers.layer_norm(begin_norm_axis=1)` of one `[B, H]` pre-activation."""
    return normalize(x, [1], beta, gamma)


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormBasicLSTMCell(Tf1RecurrentCell):
    """LSTM cell with layer normalisation and recurrent dropout, exactly as TF 1.x computed it.

    Args (TF1's, verbatim):
      num_units: H, the number of units.
      forget_bias: added to the normalised forget gate at run time (never a variable).
      input_size: ignored, with a warning, as in TF1.
      activation: activation of the candidate and of the output (default tanh).
      layer_norm: if False there is no normalisation and the projection has a bias instead.
      norm_gain, norm_shift: initial gamma and beta of the five layer norms.
      dropout_keep_prob: keep probability of the candidate `g`: a float or a scalar tensor.
      dropout_prob_seed: op seed of that dropout.
      reuse: TF1 variable-scope reuse, honoured in tf.compat.v1 graph code.
      **kwargs: Keras layer keywords (name, dtype, trainable, ...).

    Weights (Keras): `kernel [D+H, 4H]` in gate order i, j, f, o; `bias [4H]` only without layer
    norm (glorot-uniform initialised, as TF1); with layer norm `<gate>_gamma`, `<gate>_beta` for
    gate in input, transform, forget, output, state.
    """

    TF1_SCOPE = "layer_norm_basic_lstm_cell"
    CONFIG = ("num_units", "forget_bias", "activation", "layer_norm", "norm_gain", "norm_shift", "dropout_keep_prob",
              "dropout_prob_seed")

    def __init__(
        self,
        num_units,
        forget_bias=1.0,
        input_size=None,
        activation=None,
        layer_norm=True,
        norm_gain=1.0,
        norm_shift=0.0,
        dropout_keep_prob=1.0,
        dropout_prob_seed=None,
        reuse=None,
        **kwargs,
    ):
        super().__init__(reuse=reuse, **kwargs)
        if input_size is not None:
            warnings.warn("LayerNormBasicLSTMCell: input_size is ignored (as in TF 1.x).", stacklevel=2)
        self.num_units = int(num_units)
        self.forget_bias = forget_bias
        self._set_activation(activation)
        self.layer_norm = bool(layer_norm)
        self.norm_gain = norm_gain
        self.norm_shift = norm_shift
        self.dropout_keep_prob = dropout_keep_prob
        self.dropout_prob_seed = dropout_prob_seed
        self.state_size = LSTMStateTuple(self.num_units, self.num_units)
        self.output_size = self.num_units

    def tf1_weights(self, depth: int) -> dict[str, Weight]:
        units = self.num_units
        weights = {"kernel": Weight((depth + units, 4 * units))}
        if self.layer_norm:
            for norm in NORMS:
                weights[f"{norm}/gamma"] = Weight((units,), keras.initializers.Constant(self.norm_gain))
                weights[f"{norm}/beta"] = Weight((units,), keras.initializers.Constant(self.norm_shift))
        else:
            weights["bias"] = Weight((4 * units,))
        return weights

    def step(self, inputs, state, weights, training, legacy):
        c, h = state
        z = tf.matmul(tf.concat([inputs, h], 1), weights["kernel"])
        if not self.layer_norm:
            z = tf.nn.bias_add(z, weights["bias"])
        i, j, f, o = tf.split(z, 4, axis=1)
        if self.layer_norm:
            i, j, f, o = (
                layer_norm(gate, weights[f"{name}/gamma"], weights[f"{name}/beta"])
                for gate, name in zip((i, j, f, o), GATES)
            )
        g = self.dropout(self.activation(j), training, legacy)
        new_c = c * tf.sigmoid(f + self.forget_bias) + tf.sigmoid(i) * g
        if self.layer_norm:
            new_c = layer_norm(new_c, weights["state/gamma"], weights["state/beta"])
        new_h = self.activation(new_c) * tf.sigmoid(o)
        return new_h, (new_c, new_h)

    def tf1_state(self, state):
        return LSTMStateTuple(*state)

    def _unserialisable(self, name, value):
        if name == "dropout_keep_prob" and not isinstance(value, (int, float)):
            return "use a float to save this cell"
        return None
