"""The Keras internals tf2norm.replacements relies on (_keras_internals) still behave as it assumes.

A Keras upgrade that moves or changes them fails here first, with the reason, instead of as a wrong
statistic in a BatchNormLSTMCell test.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import tensorflow as tf

from tf2norm.replacements import _keras_internals


def test_this_keras_is_one_the_internals_were_checked_against():
    major_minor = ".".join(keras.__version__.split(".")[:2])
    assert major_minor in _keras_internals.TESTED, (
        f"Keras {keras.__version__}: check _keras_internals against it, then add it to TESTED")


def test_the_rnn_loop_takes_what_layer_norm_basic_lstm_passes():
    parameters = inspect.signature(_keras_internals.rnn).parameters
    assert list(parameters)[:3] == ["step_function", "inputs", "initial_states"]
    assert {"mask", "time_major", "zero_output_for_mask", "input_length"} <= set(parameters)


class _Recorder(keras.layers.Layer):
    """A cell that records, for each call, whether it is Keras' shape probe."""

    def __init__(self):
        super().__init__()
        self.state_size = 2
        self.output_size = 2
        self.calls = []

    def call(self, inputs, states):
        self.calls.append(_keras_internals.in_rnn_shape_probe())
        return inputs, [states[0] + inputs]


def test_the_shape_probe_is_the_one_call_before_the_loop():
    x = np.ones((1, 4, 2), np.float32)
    cell = _Recorder()
    keras.layers.RNN(cell)(x)
    # Eagerly Keras' loop is a Python loop: the probe, then one call per step.
    assert cell.calls == [True, False, False, False, False]

    cell = _Recorder()
    rnn = keras.layers.RNN(cell)
    tf.function(rnn)(x)
    # Traced: the probe, then the while loop's body, traced once.
    assert cell.calls == [True, False]

    cell = _Recorder()
    keras.layers.RNN(cell, unroll=True)(x)
    assert True not in cell.calls
    assert not _keras_internals.in_rnn_shape_probe()
