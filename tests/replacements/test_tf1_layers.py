"""tf2norm.replacements' tf.layers (tf1_layers): TF1's variable names, sharing, losses, a TF1 Saver checkpoint and
seeded dropout, against what real TF 1.15 did (fixtures/saver/tf1_layers/, written by fixtures/tf1/tf1_layers.py).

The programs are the generator's own functions (`naming_program`, `model`, `train_op`), called with
tf2norm's layers where the generator passed `tf.layers`, so both sides build the same graph.

Not goldens (fixtures/golden/): the checkpoint's continuation runs a whole model whose reference would
be the model itself, and dropout's masks cannot be replayed. They are held to the proof's bound of
issue 13 for whole programs, 2e-6 + 1e-5 relative: the model is ten small float32 layers on values of
order 1, whose golden bounds (tests/replacements/test_tf1_layers_golden.py, 4 x TF1's own float32
error) are all below 1e-5; a dropout mask off by one element moves an output by more than 0.1.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests.golden import Golden
from tf2norm import replacements as R
from tf2norm.replacements import tf1_layers

ROOT = Path(__file__).resolve().parents[2]
SAVER = ROOT / "fixtures" / "saver" / "tf1_layers"
ATOL, RTOL = 2e-6, 1e-5


def _generator():
    spec = importlib.util.spec_from_file_location("tf1_layers_generator", ROOT / "fixtures" / "tf1" / "tf1_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATOR = _generator()


def _config(name):
    return json.loads(str(np.load(SAVER / name)["config"]))


def _close(actual, expected, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, what
    error = float(np.max(np.abs(actual - expected)))
    bound = ATOL + RTOL * float(np.max(np.abs(expected)))
    assert error <= bound, f"{what}: max |tf2norm - TF1| {error:.3g} > {bound:.3g}"


def _keras_target_batch_normalization(x, training):
    # What `tf2norm migrate --target keras` writes for tf.layers.batch_normalization.
    return R.BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=training)


@pytest.mark.parametrize("batch_normalization", [R.batch_normalization, _keras_target_batch_normalization],
                         ids=["compat", "keras"])
def test_a_mixed_program_names_every_variable_as_tf1(batch_normalization):
    tf1 = _config("naming.npz")
    graph = tf.Graph()
    with graph.as_default():
        GENERATOR.naming_program(R, batch_normalization)
        variables = [[v.op.name, v.shape.as_list()] for v in tf.compat.v1.global_variables()]
        trainable = [v.op.name for v in tf.compat.v1.trainable_variables()]
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    assert variables == tf1["variables"]
    assert trainable == tf1["trainable"]
    # The regularizers' own ops are Keras 3's; the scopes they run in are TF1's.
    assert [t.name.rsplit("/", 1)[0] for t in losses] == [n.rsplit("/", 1)[0] for n in tf1["regularization_losses"]]
    assert len(updates) == tf1["update_ops"]


def _restored_model():
    data = Golden(SAVER / "model.npz")
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None, 7, 7, 2])
        y = tf.compat.v1.placeholder(tf.float32, [None, 3])
        training = tf.compat.v1.placeholder(tf.bool, [])
        logits = GENERATOR.model(R, R.batch_normalization, x, training)
        loss, step = GENERATOR.train_op(logits, y)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        saver = tf.compat.v1.train.Saver()
        sess = tf.compat.v1.Session(graph=graph)
        saver.restore(sess, str(SAVER / "model.ckpt"))
    return data, names, sess, (x, y, training, logits, loss, step)


def test_a_tf1_saver_checkpoint_restores_unchanged_and_training_continues_as_in_tf1():
    data, names, sess, (x, y, training, logits, loss, step) = _restored_model()
    with sess:
        assert names == data.config["variables"]
        reader = tf.train.load_checkpoint(str(SAVER / "model.ckpt"))
        assert sorted(reader.get_variable_to_shape_map()) == sorted(names)
        feed = {x: data["in:inputs"], training: False}
        _close(sess.run(logits, feed), data["out:eval"], "eval after restore")
        for k in range(2):
            value, _ = sess.run([loss, step], {x: data["in:inputs"], y: data["in:labels"], training: True})
            _close(value, data[f"out:loss{k}"], f"loss of continuation step {k}")
        _close(sess.run(logits, feed), data["out:eval_after"], "eval after two more steps")


def test_seeded_dropout_draws_tf1s_masks():
    data = Golden(SAVER / "dropout.npz")
    inputs = data["in:inputs"]
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(data.config["graph_seed"])
        x = tf.compat.v1.placeholder(tf.float32, inputs.shape)
        training = tf.compat.v1.placeholder(tf.bool, [])
        plain = R.dropout(x, 0.3, seed=7, training=True)
        fed = R.dropout(x, 0.1, seed=8, training=training)
        shaped = R.dropout(x, 0.5, noise_shape=[4, 1, 6], seed=9, training=True)
        grad = tf.gradients(tf.reduce_sum(plain * inputs), x)[0]
        with tf.compat.v1.Session(graph=graph) as sess:
            out = sess.run([plain, shaped, grad], {x: inputs})
            on = sess.run(fed, {x: inputs, training: True})
            off = sess.run(fed, {x: inputs, training: False})
    for key, value in (("out:plain", out[0]), ("out:shaped", out[1]), ("grad:plain", out[2]), ("out:fed_on", on),
                       ("out:fed_off", off)):
        _close(value, data[key], key)
    assert np.array_equal(off, inputs)  # training False: the inputs themselves
    assert np.array_equal(out[1] == 0, np.broadcast_to((out[1] == 0).any(axis=1, keepdims=True), out[1].shape))


def test_a_user_layer_on_tf1s_base():
    # ludwig's Projection (recurrent_modules.py:57): __init__(name=..., **kwargs), call(inputs, **kwargs).
    class Projection(R.Layer):
        def __init__(self, weights, name=None, **kwargs):
            super().__init__(name=name, **kwargs)
            self.projection_weights = weights

        def build(self, input_shape):
            self.bias = self.add_variable("bias", [int(self.projection_weights.shape[1])],
                                          initializer=tf.compat.v1.ones_initializer())

        def call(self, inputs, **kwargs):
            return tf.matmul(inputs, self.projection_weights) + self.bias

    graph = tf.Graph()
    with graph.as_default():
        w = tf.constant(np.eye(3, 2, dtype=np.float32))
        with tf.compat.v1.variable_scope("decoder"):
            unnamed, named = Projection(w), Projection(w, name="output_projection")
            a = unnamed(tf.ones([2, 3]))
            b = named.apply(tf.ones([2, 3]))
            c = unnamed(tf.ones([1, 3]))  # built: reuses its variable
        assert [v.op.name for v in tf.compat.v1.global_variables()] == ["decoder/projection/bias",
                                                                       "decoder/output_projection/bias"]
        assert (unnamed.scope_name, named.name, unnamed.name) == ("decoder/projection", "output_projection",
                                                                  "projection")
        assert unnamed.trainable_variables == [tf.compat.v1.global_variables()[0]]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            np.testing.assert_array_equal(sess.run(a), [[2.0, 2.0], [2.0, 2.0]])
            np.testing.assert_array_equal(sess.run(b), sess.run(a))
            np.testing.assert_array_equal(sess.run(c), [[2.0, 2.0]])


def test_variable_sharing_is_tf1s():
    # The same sequence in TF 1.15 raises the same two errors and creates the same six variables.
    graph = tf.Graph()
    with graph.as_default():
        x = tf.ones([2, 4])
        R.dense(x, 3, name="fc")
        with pytest.raises(ValueError, match="fc/kernel already exists"):
            R.dense(x, 3, name="fc")
        R.dense(x, 3, name="fc", reuse=True)
        R.dense(x, 3)
        R.dense(x, 3, reuse=True)  # no name, reuse: TF1 shared the first unnamed layer's scope `dense`
        with pytest.raises(ValueError, match="fc/kernel"):
            R.dense(tf.ones([2, 5]), 3, name="fc", reuse=True)  # another shape
        layer = R.Dense(2, name="fc")  # a class's name is made unique
        layer(x)
        assert [v.op.name for v in tf.compat.v1.global_variables()] == [
            "fc/kernel", "fc/bias", "dense/kernel", "dense/bias", "fc_1/kernel", "fc_1/bias"]


def test_a_frozen_layer_and_the_scope_initializer():
    graph = tf.Graph()
    with graph.as_default():
        with tf.compat.v1.variable_scope("s", initializer=tf.compat.v1.constant_initializer(0.5)):
            y = R.dense(tf.ones([1, 2]), 2, trainable=False)
        assert tf.compat.v1.trainable_variables() == []
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            # The scope's initializer for the kernel (TF1's kernel_initializer=None), zeros for the bias.
            np.testing.assert_array_equal(sess.run(y), [[1.0, 1.0]])


def test_the_dtype_is_the_first_inputs():
    class P(R.Layer):
        def build(self, shape):
            self.w = self.add_weight("w", [2])

        def call(self, x):
            return x

    graph = tf.Graph()
    with graph.as_default():
        p = P()
        p(tf.ones([2], tf.int32))
        # What TF 1.15 prints for the same program: int32 <dtype: 'int32_ref'>.
        assert (p.dtype, p.w.dtype.base_dtype) == (tf.int32, tf.int32)


def test_eager_code_is_told_to_use_keras():
    with pytest.raises(RuntimeError, match="tf.compat.v1 graph code"):
        R.dense(tf.ones([1, 2]), 3)
    with pytest.raises(RuntimeError, match="tf.compat.v1 graph code"):
        R.Conv2D(3, 3)(tf.ones([1, 4, 4, 1]))


# What TF 1.15 reports (inspect.signature of tf.layers' functions and constructors, self and **kwargs aside).
TF1_SIGNATURES = {'Dense': ('units',
           'activation',
           'use_bias',
           'kernel_initializer',
           'bias_initializer',
           'kernel_regularizer',
           'bias_regularizer',
           'activity_regularizer',
           'kernel_constraint',
           'bias_constraint',
           'trainable',
           'name'),
 'Dropout': ('rate', 'noise_shape', 'seed', 'name'),
 'Flatten': ('data_format',),
 'Conv1D': ('filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name'),
 'Conv2D': ('filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name'),
 'Conv3D': ('filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name'),
 'Conv2DTranspose': ('filters',
                     'kernel_size',
                     'strides',
                     'padding',
                     'data_format',
                     'activation',
                     'use_bias',
                     'kernel_initializer',
                     'bias_initializer',
                     'kernel_regularizer',
                     'bias_regularizer',
                     'activity_regularizer',
                     'kernel_constraint',
                     'bias_constraint',
                     'trainable',
                     'name'),
 'SeparableConv2D': ('filters',
                     'kernel_size',
                     'strides',
                     'padding',
                     'data_format',
                     'dilation_rate',
                     'depth_multiplier',
                     'activation',
                     'use_bias',
                     'depthwise_initializer',
                     'pointwise_initializer',
                     'bias_initializer',
                     'depthwise_regularizer',
                     'pointwise_regularizer',
                     'bias_regularizer',
                     'activity_regularizer',
                     'depthwise_constraint',
                     'pointwise_constraint',
                     'bias_constraint',
                     'trainable',
                     'name'),
 'MaxPooling1D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'MaxPooling2D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'MaxPooling3D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'AveragePooling1D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'AveragePooling2D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'AveragePooling3D': ('pool_size', 'strides', 'padding', 'data_format', 'name'),
 'Layer': ('trainable', 'name', 'dtype'),
 'dense': ('inputs',
           'units',
           'activation',
           'use_bias',
           'kernel_initializer',
           'bias_initializer',
           'kernel_regularizer',
           'bias_regularizer',
           'activity_regularizer',
           'kernel_constraint',
           'bias_constraint',
           'trainable',
           'name',
           'reuse'),
 'dropout': ('inputs', 'rate', 'noise_shape', 'seed', 'training', 'name'),
 'flatten': ('inputs', 'name', 'data_format'),
 'conv1d': ('inputs',
            'filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name',
            'reuse'),
 'conv2d': ('inputs',
            'filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name',
            'reuse'),
 'conv3d': ('inputs',
            'filters',
            'kernel_size',
            'strides',
            'padding',
            'data_format',
            'dilation_rate',
            'activation',
            'use_bias',
            'kernel_initializer',
            'bias_initializer',
            'kernel_regularizer',
            'bias_regularizer',
            'activity_regularizer',
            'kernel_constraint',
            'bias_constraint',
            'trainable',
            'name',
            'reuse'),
 'conv2d_transpose': ('inputs',
                      'filters',
                      'kernel_size',
                      'strides',
                      'padding',
                      'data_format',
                      'activation',
                      'use_bias',
                      'kernel_initializer',
                      'bias_initializer',
                      'kernel_regularizer',
                      'bias_regularizer',
                      'activity_regularizer',
                      'kernel_constraint',
                      'bias_constraint',
                      'trainable',
                      'name',
                      'reuse'),
 'separable_conv2d': ('inputs',
                      'filters',
                      'kernel_size',
                      'strides',
                      'padding',
                      'data_format',
                      'dilation_rate',
                      'depth_multiplier',
                      'activation',
                      'use_bias',
                      'depthwise_initializer',
                      'pointwise_initializer',
                      'bias_initializer',
                      'depthwise_regularizer',
                      'pointwise_regularizer',
                      'bias_regularizer',
                      'activity_regularizer',
                      'depthwise_constraint',
                      'pointwise_constraint',
                      'bias_constraint',
                      'trainable',
                      'name',
                      'reuse'),
 'max_pooling1d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name'),
 'max_pooling2d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name'),
 'max_pooling3d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name'),
 'average_pooling1d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name'),
 'average_pooling2d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name'),
 'average_pooling3d': ('inputs', 'pool_size', 'strides', 'padding', 'data_format', 'name')}


@pytest.mark.parametrize("name", sorted(TF1_SIGNATURES))
def test_signatures_are_tf1s(name):
    import inspect

    target = getattr(R, name)
    assert target is getattr(tf1_layers, name)
    function = target.__init__ if isinstance(target, type) else target
    parameters = tuple(p for p in inspect.signature(function).parameters if p not in ("self", "kwargs"))
    assert parameters == TF1_SIGNATURES[name]
