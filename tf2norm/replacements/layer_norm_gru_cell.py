"""`LayerNormGRUCell`: the layer-norm GRU cell people wrote by hand for TF 1.x, on Keras 3.

TF 1.x never shipped a layer-norm GRU. The usual hand-rolled one copies the recipe of
`tf.contrib.rnn.LayerNormBasicLSTMCell` (its `_norm` and `_linear`) onto `tf.nn.rnn_cell.GRUCell`;
this module defines that cell precisely (the spec below), and
`fixtures/tf1/make_golden_layer_norm_gru.py` holds it written as a TF 1.15 `RNNCell`, whose outputs
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

from tf2norm.replacements._modes import static_bool
from tf2norm.replacements._tf1_cell import Tf1Cell, is_active_keep_prob
from tf2norm.replacements.layer_norm_lstm_cell import layer_norm

#: The layer norms of the cell, each over one [B, H] pre-activation.
LN_GATES = ("reset", "update", "candidate")
_TF1_SCOPE = "layer_norm_gru_cell"


def _weight_order(layer_norm_on: bool):
    """TF1 names relative to the cell scope, in the order TF1 created them."""
    if not layer_norm_on:
        return ("gates/kernel", "gates/bias", "candidate/kernel", "candidate/bias")
    return (
        "gates/kernel", "reset/gamma", "reset/beta", "update/gamma", "update/beta",
        "candidate/kernel", "candidate/gamma", "candidate/beta",
    )  # fmt: skip


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNormGRUCell(Tf1Cell, keras.layers.Layer):
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

    TF1_SCOPE = _TF1_SCOPE

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
        super().__init__(**kwargs)
        self.num_units = int(num_units)
        if self.num_units <= 0:
            raise ValueError(f"LayerNormGRUCell: num_units must be a positive integer, got {num_units!r}")
        self._activation_config = activation
        self.activation = tf.tanh if activation is None else keras.activations.get(activation)
        self.layer_norm = bool(layer_norm)
        self.norm_gain = norm_gain
        self.norm_shift = norm_shift
        self.dropout_keep_prob = dropout_keep_prob
        self.dropout_prob_seed = dropout_prob_seed
        self.reuse = reuse
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.state_size = self.num_units
        self.output_size = self.num_units
        self._init_tf1_scoping()

    # ------------------------------------------------------------------ weights
    def _shapes(self, depth: int) -> dict:
        units = self.num_units
        shapes = {"gates/kernel": (depth + units, 2 * units), "candidate/kernel": (depth + units, units)}
        if self.layer_norm:
            shapes.update({f"{gate}/{p}": (units,) for gate in LN_GATES for p in ("gamma", "beta")})
        else:
            shapes.update({"gates/bias": (2 * units,), "candidate/bias": (units,)})
        return shapes

    def _initial_value(self, name: str):
        """The initial value rule of one weight, as a Keras initializer (None: glorot-uniform)."""
        if name.endswith("/kernel"):
            return self.kernel_initializer
        if name.endswith("/gamma"):
            return keras.initializers.Constant(self.norm_gain)
        if name.endswith("/beta"):
            return keras.initializers.Constant(self.norm_shift)
        if self.bias_initializer is not None:
            return self.bias_initializer
        return keras.initializers.Constant(1.0 if name == "gates/bias" else 0.0)

    def build(self, input_shape):
        depth = input_shape[-1]
        if depth is None:
            raise ValueError(f"{self.name}: the last input dimension must be known, got shape {input_shape}")
        shapes = self._shapes(int(depth))
        for name in _weight_order(self.layer_norm):
            initializer = self._initial_value(name)
            weight = self.add_weight(
                name=name.replace("/", "_"),
                shape=shapes[name],
                initializer="glorot_uniform" if initializer is None else initializer,
            )
            setattr(self, name.replace("/", "_"), weight)
        self.built = True

    def _keras_weights(self) -> dict:
        return {name: getattr(self, name.replace("/", "_")) for name in _weight_order(self.layer_norm)}

    def _tf1_graph_weights(self, depth: int, dtype) -> dict:
        """TF1's own variables, from `get_variable` in the current (TF1) variable scope."""
        shapes = self._shapes(depth)
        weights = {}
        for name in _weight_order(self.layer_norm):
            scope, leaf = name.split("/")
            initializer = self._initial_value(name)
            if isinstance(initializer, keras.initializers.Constant):
                initializer = tf.compat.v1.constant_initializer(initializer.value)
            elif isinstance(initializer, str) or isinstance(initializer, keras.initializers.Initializer):
                initializer = _keras_to_tf1_initializer(keras.initializers.get(initializer))
            with tf.compat.v1.variable_scope(scope):
                weights[name] = tf.compat.v1.get_variable(leaf, list(shapes[name]), dtype=dtype, initializer=initializer)
        return weights

    # -------------------------------------------------------------------- math
    def _step(self, inputs, h, weights, apply_dropout):
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
        c = apply_dropout(self.activation(s))
        return u * h + (1 - u) * c

    def _dropout(self, c):
        keep_prob = self.dropout_keep_prob
        return tf.nn.dropout(c, rate=1.0 - tf.cast(keep_prob, c.dtype), seed=self.dropout_prob_seed)

    # -------------------------------------------------------------- Keras path
    def call(self, inputs, states, training=None):
        # Keras' RNN passes [h]; MultiRNNCell passes each cell its own state, a bare tensor.
        listed = isinstance(states, (list, tuple))
        h = states[0] if listed else states
        training_value = static_bool(training)
        active = is_active_keep_prob(self.dropout_keep_prob)

        def apply_dropout(c):
            if not active or training_value is False or training is None:
                return c
            if training_value is None:
                return tf.cond(tf.cast(training, tf.bool), lambda: self._dropout(c), lambda: c)
            return self._dropout(c)

        new_h = self._step(inputs, h, self._keras_weights(), apply_dropout)
        return new_h, ([new_h] if listed else new_h)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """Zero state. Keras passes only batch_size (list state); TF1 passes dtype (one tensor)."""
        if dtype is None:
            return [tf.zeros([batch_size, self.num_units], dtype=self.compute_dtype)]
        return self.zero_state(batch_size, dtype)

    # ------------------------------------------------------------- legacy path
    def zero_state(self, batch_size, dtype):
        return tf.zeros(tf.stack([batch_size, self.num_units]), dtype=dtype)

    def _legacy_call(self, inputs, state, scope=None):
        inputs = tf.convert_to_tensor(inputs)
        if isinstance(state, (list, tuple)):
            if len(state) != 1:
                raise ValueError(f"LayerNormGRUCell: the state is one tensor [batch, {self.num_units}], got {state!r}")
            state = state[0]
        apply_dropout = self._dropout if is_active_keep_prob(self.dropout_keep_prob) else (lambda c: c)
        with self._legacy_weights(inputs, scope) as weights:
            new_h = self._step(inputs, state, weights, apply_dropout)
        return new_h, new_h

    # ----------------------------------------------------------------- config
    def get_config(self):
        if not isinstance(self.dropout_keep_prob, (int, float)):
            raise ValueError(
                "LayerNormGRUCell.get_config: dropout_keep_prob is a tensor and cannot be serialised; "
                "use a float to save this cell"
            )
        config = super().get_config()
        activation = self._activation_config
        if activation is not None and not isinstance(activation, str):
            activation = keras.activations.serialize(keras.activations.get(activation))
        config.update(
            num_units=self.num_units,
            activation=activation,
            layer_norm=self.layer_norm,
            norm_gain=self.norm_gain,
            norm_shift=self.norm_shift,
            dropout_keep_prob=self.dropout_keep_prob,
            dropout_prob_seed=self.dropout_prob_seed,
            kernel_initializer=_serialize_initializer(self.kernel_initializer),
            bias_initializer=_serialize_initializer(self.bias_initializer),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            if isinstance(config.get(key), dict):
                config[key] = keras.initializers.deserialize(config[key])
        return cls(**config)


def _serialize_initializer(initializer):
    if initializer is None or isinstance(initializer, str):
        return initializer
    return keras.initializers.serialize(keras.initializers.get(initializer))


def _keras_to_tf1_initializer(initializer):
    """A Keras 3 initializer as `get_variable` wants it: `(shape, dtype, partition_info) -> tensor`."""

    def init(shape, dtype=None, partition_info=None):
        return initializer(shape, dtype=tf.as_dtype(dtype or tf.float32).name)

    return init
