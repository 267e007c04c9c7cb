"""tf2norm: migrate TF1 normalisation code to TF2 / Keras 3 with the numbers TF 1.x computed.

The APIs: tf.contrib.layers.batch_norm and layer_norm (slim's too), tf.layers.batch_normalization /
BatchNormalization, tf.contrib.rnn.LayerNormBasicLSTMCell (with MultiRNNCell, DropoutWrapper,
dynamic_rnn), tensorflow-addons' LayerNormLSTMCell, LayerNormSimpleRNNCell, GroupNormalization and
InstanceNormalization, and the hand-written layer-norm GRU and recurrent batch-norm LSTM cells.

Three products live here, each a subpackage:

* ``tf2norm.rewriters``   - libcst source rewriters (never imports TensorFlow)
* ``tf2norm.replacements`` - TF1-exact Keras 3 layers and tf.compat.v1 functions
* ``tf2norm.checkpoints``  - TF1 checkpoint inspection, conversion and verification
"""

__version__ = "0.1.0"
