"""Every use of Keras 3 internals (`keras.src`), in one place, each with the reason it is needed.

The replacements otherwise use Keras' public API. These two reach inside it, checked against the
Keras versions in `TESTED` by tests/replacements/test_keras_internals.py, which fails first when a
Keras upgrade moves them:

* `rnn`: `keras.src.backend.rnn`, Keras' own per-step RNN loop (what `keras.layers.RNN` runs), which
  `LayerNormBasicLSTM` falls back to for activations its fast loop does not cover; Keras has no
  public function for it.
* `in_rnn_shape_probe()`: `keras.layers.RNN` (keras/src/backend/tensorflow/rnn.py) calls the cell
  once on the first time step only to learn the output's shape and dtype ("the value is
  discarded"), then again for real inside the loop. A cell with side effects (BatchNormLSTMCell's
  statistics updates) must skip them in that first call, which Keras does not mark: it is made
  from `rnn()` itself, before `rnn()` creates its output TensorArrays (`output_ta`), when not
  unrolled. This reads the caller frames (`sys._getframe`) to tell.
"""

from __future__ import annotations

import sys

from keras.src.backend import rnn  # noqa: F401  (re-exported: see the module docstring)

#: The Keras versions whose internals these were checked against (major.minor).
TESTED = ("3.15",)

try:  # Keras' TensorFlow RNN loop
    from keras.src.backend.tensorflow.rnn import rnn as _tf_rnn

    _TF_RNN_CODE = _tf_rnn.__code__
except (ImportError, AttributeError):  # pragma: no cover - another Keras layout: the version test fails
    _TF_RNN_CODE = None

# How far up the stack Keras' rnn() may be from the cell's step (Layer.__call__ adds a dozen frames).
_MAX_FRAMES = 60


def in_rnn_shape_probe() -> bool:
    """True inside the extra cell call Keras' TensorFlow RNN loop makes before the loop (see above)."""
    frame = sys._getframe(1)
    for _ in range(_MAX_FRAMES):
        if frame is None:
            return False
        if frame.f_code is _TF_RNN_CODE:
            local = frame.f_locals
            return local.get("unroll") is False and "output_ta" not in local
        frame = frame.f_back
    return False
