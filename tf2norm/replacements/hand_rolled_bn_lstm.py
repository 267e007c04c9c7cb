"""`BatchNormLSTMCell`: recurrent batch normalisation (Cooijmans et al. 2016), as TF 1.x users ran it.

TF 1.x never shipped a batch-normalised LSTM cell; one hand-written `BNLSTMCell` was copied from
repository to repository (NUMERICS.md section 3). This cell computes what that one computed, op
for op, on Keras 3; `fixtures/tf1/hand_rolled_bn_lstm.py` holds the TF1 cell itself, whose outputs
on real TF 1.15 are the goldens the tests hold this replacement to.

Spec. The TF1 cell was `BNLSTMCell(num_units, is_training_tensor, max_bn_steps, initial_scale=0.1,
activation=tf.tanh, decay=0.95)`; here `BatchNormLSTMCell(num_units, max_bn_steps,
initial_scale=0.1, decay=0.95, epsilon=1e-5, activation=tanh, forget_bias=0.0, training=None)`
(`training` is the TF1 `is_training_tensor`; `forget_bias` and `epsilon` serve the copies that
added or changed them). The state is `(c, h, step)` with `step` a float `[B, 1]` counter, and one
step with `x [B, D]` is

    row = min(int(step[0, 0]), max_bn_steps - 1)      # the FIRST example's step picks the row
    hidden = BN_xh(x @ W_xh) + BN_hh(h @ W_hh)         # W_xh [D, 4H], W_hh [H, 4H]
    f, i, o, j = split(hidden, 4, axis=1)              # gate order f, i, o, j
    new_c = c * sigmoid(f + forget_bias) + sigmoid(i) * activation(j)
    new_h = activation(BN_c(new_c)) * sigmoid(o)
    return new_h, (new_c, new_h, step + 1)             # the UN-normalised c is carried

    BN_g(z) = (z - mean) * rsqrt(var + epsilon) * scale_g + offset_g      # nn.batch_normalization
      training:  mean, var = moments(z, axis 0) (biased), and
                 pop_mean_g[row] <- pop_mean_g[row] * decay + mean * (1 - decay)   (same for var)
      inference: mean, var = pop_mean_g[row], pop_var_g[row]

- Statistics are kept separately for each time step up to `max_bn_steps - 1`; later steps all
  share the last row. `scale_g` starts at `initial_scale` (0.1), `offset_hh` at 1 on the forget
  quarter and 0 elsewhere, `offset_c` at 0; `BN_xh` has **no offset**; `pop_mean` starts at 0 and
  `pop_var` at 1; `W_xh`, `W_hh` orthogonal.
- `training` is a Python bool or a bool tensor (then a `tf.cond`, as TF1's); a Python bool picks
  one branch while building (TF1's cell needed a tensor: its `tf.cond` rejects Python bools).
  TF1-style calls (`dynamic_rnn`) use the constructor's `training` (None: inference). Keras calls
  use the `training` Keras passes, the constructor's only when that is None: `keras.layers.RNN`
  passes False unless called with `training=` or inside `fit`, as for every Keras layer.
- The statistics update when training, wherever the cell runs: eagerly, inside `tf.function` and
  `Model.fit`, and in tf.compat.v1 graphs, where, as in TF1, the updates are forced by a control
  dependency of the normalised output (nothing goes to UPDATE_OPS).
- A row used by several time steps of one sequence (steps past `max_bn_steps - 1`, or all steps
  after the first example's sequence ends) takes every update in turn. TF1's `dynamic_rnn` with
  its default `parallel_iterations=32` lost all but one of those updates (the reads of the row did
  not wait for the previous step's assignment, and which update survives varies from run to run);
  with `parallel_iterations=1`, and for every other row, TF1 computed what this cell computes.
  Here each step's reads of the statistics wait for the previous step's updates (through the step
  counter), in every mode.
- With `sequence_length` (TF1) or a mask (Keras) the state of a finished example, its step
  included, is frozen, so the row stops advancing when the first example ends. The batch moments
  still include every example, finished or not, as in TF1. TF1's `dynamic_rnn` ran no cell at all
  past the longest sequence; `keras.layers.RNN` does, and those steps then update the statistics:
  trim the time axis to the longest sequence (per-batch padding) for TF1's numbers.

TF1 variables under `variable_scope(scope or "BNLSTMCell")` (the TF1 cell overrode `__call__`, so
no layer scope was added; `rnn/`, `rnn/multi_rnn_cell/cell_N/` and user scopes come before it):
`W_xh`, `W_hh`, `xh/{scale,pop_mean,pop_var}`, `hh/{scale,offset,pop_mean,pop_var}`,
`c/{scale,offset,pop_mean,pop_var}` (`pop_* [max_bn_steps, size]`, size 4H for xh and hh, H for c).

The same object works two ways, as LayerNormBasicLSTMCell does: as a Keras 3 RNN cell
(`keras.layers.RNN(cell)`, stacking), and as a TF1 cell called `cell(x, state)` by
`tf.compat.v1.nn.dynamic_rnn` (with `tf2norm.replacements.MultiRNNCell`), which in a tf.compat.v1
graph creates its variables with `get_variable` under the TF1 names above, so a TF1 `Saver`
checkpoint of the copied cell restores unchanged.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf2norm.replacements import _keras_internals
from tf2norm.replacements._modes import smart_cond, static_bool
from tf2norm.replacements._tf1_cell import Tf1RecurrentCell, Weight
from tf2norm.replacements._tf1_variables import tf_variable

#: The normalised terms, in the order TF1 created their variables.
GROUPS = ("hh", "xh", "c")
STATISTICS = ("pop_mean", "pop_var")


def _forget_quarter(shape, dtype=None):
    """hh/offset's initial value: 1 on the forget quarter (the first), 0 on i, o, j."""
    quarter = shape[0] // 4
    value = np.concatenate([np.ones(quarter), np.zeros(shape[0] - quarter)])
    return tf.constant(value, dtype=dtype or "float32")


@keras.saving.register_keras_serializable(package="tf2norm")
class BatchNormLSTMCell(Tf1RecurrentCell):
    """LSTM cell with recurrent batch normalisation and per-step population statistics.

    The module docstring is the spec. Args:
      num_units: H, the number of units.
      max_bn_steps: rows of population statistics; time steps from `max_bn_steps - 1` on share
        the last row.
      initial_scale: initial value of the three BN scales (gamma), 0.1 as in the paper.
      decay: of the population statistics: `pop = pop * decay + batch * (1 - decay)`.
      epsilon: added to the variance.
      activation: of the candidate and the output (default tanh).
      forget_bias: added to the normalised forget gate at run time (0.0: the common copy had none).
      training: the TF1 `is_training_tensor`: a Python bool or a scalar bool tensor, used by
        TF1-style calls and by Keras calls that pass no `training`. None means inference.
      **kwargs: Keras layer keywords (name, dtype, trainable, ...).

    Weights (Keras), the TF1 names with `/` replaced by `_`: `W_xh [D, 4H]`, `W_hh [H, 4H]`,
    `xh_scale`, `hh_scale`, `hh_offset [4H]`, `c_scale`, `c_offset [H]`, and the non-trainable
    `<g>_pop_mean`, `<g>_pop_var [max_bn_steps, size]` for g in xh, hh, c.
    """

    # The TF1 cell overrode RNNCell.__call__: `variable_scope(scope or "BNLSTMCell")` on every call,
    # no uniquified layer scope, reuse inherited from the enclosing scope.
    TF1_SCOPE = "BNLSTMCell"
    TF1_SCOPING = "call"
    CONFIG = ("num_units", "max_bn_steps", "initial_scale", "decay", "epsilon", "activation", "forget_bias",
              "training")
    # The statistics are updated in place: a TF1-style call uses the variables themselves.
    CAST_LEGACY_WEIGHTS = False

    def __init__(
        self,
        num_units,
        max_bn_steps,
        initial_scale=0.1,
        decay=0.95,
        epsilon=1e-5,
        activation=None,
        forget_bias=0.0,
        training=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(num_units, bool) or not isinstance(num_units, (int, np.integer)) or num_units <= 0:
            raise ValueError(f"BatchNormLSTMCell: num_units must be a positive integer, got {num_units!r}")
        if isinstance(max_bn_steps, bool) or not isinstance(max_bn_steps, (int, np.integer)) or max_bn_steps <= 0:
            raise ValueError(f"BatchNormLSTMCell: max_bn_steps must be a positive integer, got {max_bn_steps!r}")
        if not 0.0 <= float(decay) <= 1.0:
            raise ValueError(f"BatchNormLSTMCell: decay must be in [0, 1], got {decay!r}")
        if float(epsilon) < 0.0:
            raise ValueError(f"BatchNormLSTMCell: epsilon must be >= 0, got {epsilon!r}")
        self.num_units = int(num_units)
        self.max_bn_steps = int(max_bn_steps)
        self.initial_scale = float(initial_scale)
        self.decay = float(decay)
        self.epsilon = float(epsilon)
        self._set_activation(activation)
        self.forget_bias = forget_bias
        self.default_training = training
        self.state_size = (self.num_units, self.num_units, 1)
        self.output_size = self.num_units

    # ------------------------------------------------------------------ weights
    def tf1_weights(self, depth: int) -> dict[str, Weight]:
        """TF1 name (relative to the cell scope) -> Weight, in TF1's creation order."""
        units, rows = self.num_units, self.max_bn_steps
        scale = keras.initializers.Constant(self.initial_scale)
        weights = {"W_xh": Weight((depth, 4 * units), "orthogonal"), "W_hh": Weight((units, 4 * units), "orthogonal")}
        for group in GROUPS:
            size = units if group == "c" else 4 * units
            weights[f"{group}/scale"] = Weight((size,), scale)
            if group == "hh":
                weights["hh/offset"] = Weight((size,), _forget_quarter)
            elif group == "c":
                weights["c/offset"] = Weight((size,), "zeros")
            weights[f"{group}/pop_mean"] = Weight((rows, size), "zeros", trainable=False)
            weights[f"{group}/pop_var"] = Weight((rows, size), "ones", trainable=False)
        return weights

    # -------------------------------------------------------------------- math
    def _batch_norm(self, z, group, row, weights, training, update=True):
        """BN of one term at one statistics row; updates the row when training (and `update`)."""
        pop_mean, pop_var = (tf_variable(weights[f"{group}/{s}"]) for s in STATISTICS)
        scale = tf.cast(weights[f"{group}/scale"], z.dtype)
        offset = weights.get(f"{group}/offset")
        offset = None if offset is None else tf.cast(offset, z.dtype)
        # A gather by the row index: the read happens when the row (from the step state, which
        # waits for the previous step's updates) is known, never earlier.
        row_mean = tf.cast(tf.gather(pop_mean, row), z.dtype)
        row_var = tf.cast(tf.gather(pop_var, row), z.dtype)
        batch_mean, batch_var = tf.nn.moments(z, [0])

        def with_batch_statistics():
            new_mean = row_mean * self.decay + batch_mean * (1 - self.decay)
            new_var = row_var * self.decay + batch_var * (1 - self.decay)
            updates = [] if not update else [
                variable.scatter_update(tf.IndexedSlices(tf.cast(value, variable.dtype)[None], row[None]))
                for variable, value in ((pop_mean, new_mean), (pop_var, new_var))
            ]
            with tf.control_dependencies(updates):
                return tf.nn.batch_normalization(z, batch_mean, batch_var, offset, scale, self.epsilon)

        def with_population_statistics():
            return tf.nn.batch_normalization(z, row_mean, row_var, offset, scale, self.epsilon)

        return smart_cond(training, with_batch_statistics, with_population_statistics)

    def step(self, inputs, state, weights, training, legacy):
        # TF1-style calls use the constructor's `training`; Keras calls Keras' (the constructor's
        # when Keras passes None). Keras' shape probe (see _keras_internals) must not update.
        training = self._resolve_training(training)
        update = legacy or not _keras_internals.in_rnn_shape_probe()
        c, h, step = state
        row = tf.minimum(tf.cast(step[0, 0], tf.int32), self.max_bn_steps - 1)
        xh = tf.matmul(inputs, tf.cast(weights["W_xh"], inputs.dtype))
        hh = tf.matmul(h, tf.cast(weights["W_hh"], inputs.dtype))
        bn_hh = self._batch_norm(hh, "hh", row, weights, training, update)
        bn_xh = self._batch_norm(xh, "xh", row, weights, training, update)
        f, i, o, j = tf.split(bn_xh + bn_hh, 4, axis=1)
        if not (isinstance(self.forget_bias, (int, float)) and self.forget_bias == 0):
            f = f + tf.cast(self.forget_bias, f.dtype)
        new_c = c * tf.sigmoid(f) + tf.sigmoid(i) * self.activation(j)
        bn_new_c = self._batch_norm(new_c, "c", row, weights, training, update)
        new_h = self.activation(bn_new_c) * tf.sigmoid(o)
        # The next step reads the statistics through its step: make that wait for this step's
        # updates (the normalised terms depend on them when training).
        with tf.control_dependencies([bn_hh, bn_xh, bn_new_c]):
            new_step = step + tf.constant(1, step.dtype)
        return new_h, (new_c, new_h, new_step)

    def _resolve_training(self, training):
        if training is None:
            training = self.default_training
        if training is None:
            return False
        if isinstance(training, (bool, int, np.bool_)):
            return bool(training)
        if not isinstance(training, tf.Variable):
            training = tf.convert_to_tensor(training)
        if training.shape.rank not in (None, 0):
            raise ValueError(f"BatchNormLSTMCell: training must be a scalar, got shape {training.shape}")
        static = static_bool(training)
        return training if static is None else static

    def state_tuple(self, state):
        if not isinstance(state, (list, tuple)) or len(state) != 3:
            raise ValueError(f"BatchNormLSTMCell: the state is (c, h, step), got {state!r}")
        return tuple(state)

    # ----------------------------------------------------------------- config
    def _config_value(self, name):
        return self.default_training if name == "training" else super()._config_value(name)

    def _unserialisable(self, name, value):
        if name == "training" and value is not None and not isinstance(value, bool):
            return "pass training=... when calling the layer instead"
        return None
