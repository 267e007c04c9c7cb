"""tf2norm: migrate TF1 LayerNormBasicLSTMCell and contrib batch_norm code to TF2 / Keras 3.

Three products live here, each a subpackage:

* ``tf2norm.rewriters``   - libcst source rewriters (never imports TensorFlow)
* ``tf2norm.replacements`` - TF1-exact Keras 3 layers and tf.compat.v1 functions
* ``tf2norm.checkpoints``  - TF1 checkpoint inspection, conversion and verification
"""

__version__ = "0.1.0"
