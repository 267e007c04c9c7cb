"""Independent NumPy implementation of the TF 1.x math tf2norm must reproduce (a second oracle).

Written from the formulas of ``NUMERICS.md`` sections 1 and 2 and from the TF 1.15 Python sources,
never from tf2norm's replacements, and it never imports TensorFlow. Arithmetic is float32 wherever
TF 1.15 computed in float32 (matmul, reductions, the layer-norm and batch-norm formulas, the moving
averages); transcendental functions are evaluated in float64 and rounded once, which is closer to
the true value than TF's own float32 kernels (those differ from it by a few ulp only).

One module per legacy API, named by its id in tf2norm.apis; everything is importable from here:
``from tf2norm import reference; reference.ln_lstm_sequence(...)``. Public functions:

* :func:`layer_norm` -- ``tf.contrib.layers.layer_norm`` over the last axis, as the LN-LSTM cell uses it.
* :func:`ln_lstm_step`, :func:`ln_lstm_sequence` -- ``tf.contrib.rnn.LayerNormBasicLSTMCell`` one step,
  and run by ``tf.nn.dynamic_rnn`` (with its ``sequence_length`` semantics);
  :func:`ln_lstm_multi_sequence` for a ``MultiRNNCell`` stack and :func:`ln_lstm_bidirectional`
  for ``bidirectional_dynamic_rnn``.
* :func:`batch_norm` -- one call of ``tf.contrib.layers.batch_norm`` (TF 1.15): outputs and the new
  values of every variable it updates.
* :func:`batch_norm_training_grads`, :func:`renorm_correction` -- the training-mode gradients
  (float64) and batch renormalisation's r/d corrections.
* :func:`contrib_path`, :func:`contrib_uses_fused`, :func:`contrib_decay_in_float32` -- which code
  path, hence which arithmetic, TF 1.15's contrib ``batch_norm`` takes for a combination of arguments.
* :func:`contrib_layer_norm`, :func:`contrib_layer_norm_grads`, :func:`layer_norm_axes` --
  ``tf.contrib.layers.layer_norm`` with any ``begin_norm_axis`` / ``begin_params_axis``.
* :func:`tfa_group_norm`, :func:`tfa_group_norm_grads`, :func:`tfa_group_norm_layout` --
  tensorflow-addons 0.23's ``GroupNormalization`` / ``InstanceNormalization`` (from tfa's source).
* :func:`layers_batch_normalization`, :func:`layers_uses_fused` -- ``tf.layers.batch_normalization``
  (TF 1.15): its fused rule (rank 4 only), virtual batches, adjustment.
* :func:`keras2_layer_norm`, :func:`tfa_ln_lstm_step`, :func:`tfa_ln_simple_rnn_step`,
  :func:`keras_rnn`, :func:`keras_bidirectional` -- tensorflow-addons 0.23's LayerNormLSTMCell and
  LayerNormSimpleRNNCell on Keras 2.15 (its two LayerNormalization paths), run as Keras' RNN did.
"""

from __future__ import annotations

from tf2norm.reference._common import F32, float64
from tf2norm.reference._common import (
    _mean as reduce_mean,  # TF1's float32 reduce_mean, for replays
)
from tf2norm.reference.contrib_batch_norm import (
    FUSED_MIN_EPSILON,
    batch_norm,
    batch_norm_training_grads,
    contrib_decay_in_float32,
    contrib_path,
    contrib_uses_fused,
    fused_epsilon,
    renorm_correction,
)
from tf2norm.reference.contrib_layer_norm import (
    LAYER_NORM_EPSILON,
    LAYER_NORM_FLOAT16_EPSILON,
    contrib_layer_norm,
    contrib_layer_norm_grads,
    layer_norm_axes,
)
from tf2norm.reference.hand_rolled_bn_lstm import (
    BN_LSTM_GROUPS,
    bn_lstm_batch_norm,
    bn_lstm_sequence,
    bn_lstm_step,
)
from tf2norm.reference.hand_rolled_layer_norm_gru import (
    LN_GRU_GATES,
    ln_gru_bidirectional,
    ln_gru_multi_sequence,
    ln_gru_sequence,
    ln_gru_step,
)
from tf2norm.reference.layer_norm_basic_lstm_cell import (
    LN_GATES,
    layer_norm,
    ln_lstm_bidirectional,
    ln_lstm_multi_sequence,
    ln_lstm_sequence,
    ln_lstm_step,
)
from tf2norm.reference.layers_batch_normalization import (
    layers_batch_normalization,
    layers_uses_fused,
)
from tf2norm.reference.tfa_normalization import (
    tfa_group_norm,
    tfa_group_norm_grads,
    tfa_group_norm_layout,
)
from tf2norm.reference.tfa_rnn_cells import (
    KERAS2_FUSED_MIN_EPSILON,
    keras2_activation,
    keras2_layer_norm,
    keras_bidirectional,
    keras_rnn,
    tfa_ln_lstm_step,
    tfa_ln_simple_rnn_step,
)

__all__ = [
    "F32",
    "float64",
    "reduce_mean",
    "LN_GATES",
    "layer_norm",
    "ln_lstm_bidirectional",
    "ln_lstm_multi_sequence",
    "ln_lstm_sequence",
    "ln_lstm_step",
    "FUSED_MIN_EPSILON",
    "batch_norm",
    "batch_norm_training_grads",
    "contrib_decay_in_float32",
    "contrib_path",
    "contrib_uses_fused",
    "fused_epsilon",
    "renorm_correction",
    "LAYER_NORM_EPSILON",
    "LAYER_NORM_FLOAT16_EPSILON",
    "contrib_layer_norm",
    "contrib_layer_norm_grads",
    "layer_norm_axes",
    "tfa_group_norm",
    "tfa_group_norm_grads",
    "tfa_group_norm_layout",
    "LN_GRU_GATES",
    "ln_gru_bidirectional",
    "ln_gru_multi_sequence",
    "ln_gru_sequence",
    "ln_gru_step",
    "KERAS2_FUSED_MIN_EPSILON",
    "keras2_activation",
    "keras2_layer_norm",
    "keras_bidirectional",
    "keras_rnn",
    "tfa_ln_lstm_step",
    "tfa_ln_simple_rnn_step",
    "BN_LSTM_GROUPS",
    "bn_lstm_batch_norm",
    "bn_lstm_sequence",
    "bn_lstm_step",
    "layers_batch_normalization",
    "layers_uses_fused",
]
