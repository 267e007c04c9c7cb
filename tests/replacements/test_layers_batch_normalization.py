"""batch_normalization / LayersBatchNormalization (tf.compat.v1 graphs) and BatchNormalization(tf1_api="layers"):
TF1's names and collections, the errors for what cannot be done, and the Keras layer's new arguments."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.golden import GOLDEN_DIR, Golden
from tf2norm.replacements import (
    BatchNormalization,
    LayersBatchNormalization,
    batch_normalization,
)

GENERATOR = Path(__file__).resolve().parents[2] / "fixtures" / "tf1" / "layers_batch_normalization.py"
UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS


def _generator():
    """fixtures/tf1/layers_batch_normalization.py, for the very program whose TF1 names tlbn_naming holds."""
    import sys

    sys.path.insert(0, str(GENERATOR.parent))
    try:
        spec = importlib.util.spec_from_file_location("layers_batch_normalization_generator", GENERATOR)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(GENERATOR.parent))
    return module


def test_names_shapes_and_update_ops_match_tf1_for_many_layers():
    golden = Golden(GOLDEN_DIR / "tlbn_naming.npz").config
    graph = tf.Graph()
    with graph.as_default():
        x2 = tf.compat.v1.placeholder(tf.float32, (6, 4))
        x4 = tf.compat.v1.placeholder(tf.float32, (6, 3, 3, 4))
        flag = tf.compat.v1.placeholder(tf.bool, [])
        objects = _generator().build_naming_program(
            batch_normalization, LayersBatchNormalization, flag, tf.compat.v1.variable_scope, x2, x4)
        assert [[v.op.name, v.shape.as_list()] for v in tf.compat.v1.global_variables()] == golden["variables"]
        assert [v.op.name for v in tf.compat.v1.trainable_variables()] == golden["trainable"]
        assert len(tf.compat.v1.get_collection(UPDATE_OPS)) == golden["update_ops"]
        assert [len(o.updates) for o in objects] == golden["class_updates"]
        assert [o.scope_name for o in objects] == golden["class_scope_names"]


def _graph():
    return tf.Graph().as_default()


def test_same_name_twice_without_reuse_fails_as_in_tf1():
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, (4, 3))
        batch_normalization(x, name="bn")
        with pytest.raises(ValueError, match="bn/gamma already exists"):
            batch_normalization(x, name="bn")
        with pytest.raises(ValueError, match="other/gamma does not exist"):
            batch_normalization(x, name="other", reuse=True)


def test_layer_object_attributes_follow_tf1():
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, (4, 3))
        layer = LayersBatchNormalization(renorm=True, gamma_regularizer=lambda g: tf.reduce_sum(g * g), name="bn")
        with pytest.raises(ValueError, match="has not been used yet"):
            layer.scope_name
        layer(x, training=True)
        layer.apply(x, training=False)
        layer(x, training=True)
        assert layer.scope_name == "bn" and layer.name == "bn" and layer.built
        assert [v.op.name for v in layer.variables] == [
            "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance", "bn/moving_stddev", "bn/renorm_mean",
            "bn/renorm_stddev"]
        assert layer.trainable_variables == [layer.gamma, layer.beta]
        assert len(layer.updates) == 4  # two per training call, none for inference
        assert tf.compat.v1.get_collection(UPDATE_OPS) == layer.updates
        # The regularizer ran once, when gamma was created (TF1 did not add it again on reuse).
        assert len(layer.losses) == 1
        assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES) == layer.losses


def test_frozen_layer_updates_nothing_and_trains_nothing():
    with _graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, (4, 3))
        y = batch_normalization(x, training=True, trainable=False, momentum=0.5)
        assert tf.compat.v1.get_collection(UPDATE_OPS) == []
        assert tf.compat.v1.trainable_variables() == []
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            data = np.arange(12, dtype=np.float32).reshape(4, 3)
            out = sess.run(y, {x: data})
            np.testing.assert_allclose(out.mean(0), 0.0, atol=1e-5)  # batch statistics all the same
            mean = tf.compat.v1.global_variables()[2]
            np.testing.assert_array_equal(sess.run(mean), np.zeros(3, np.float32))


def test_training_may_be_a_variable_a_tensor_or_none():
    with _graph() as graph:
        x = tf.compat.v1.placeholder(tf.float32, (4, 3))
        flag = tf.compat.v1.Variable(True, trainable=False)
        y_var = batch_normalization(x, training=flag, name="a")
        y_none = batch_normalization(x, training=None, name="b")
        y_const = batch_normalization(x, training=tf.constant(False), name="c")
        assert len(tf.compat.v1.get_collection(UPDATE_OPS)) == 2  # only the Variable's call
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            data = np.arange(12, dtype=np.float32).reshape(4, 3)
            out_var, out_none, out_const = sess.run([y_var, y_none, y_const], {x: data})
        np.testing.assert_allclose(out_var.mean(0), 0.0, atol=1e-5)
        np.testing.assert_allclose(out_none, data / np.sqrt(1 + 1e-3), rtol=1e-6)
        np.testing.assert_allclose(out_const, out_none)


def test_keras_layer_in_a_graph_takes_an_unshaped_training_placeholder():
    # `tf.placeholder(tf.bool)` without a shape (DeepXDE's maps.Map, facenet's phase_train): TF1's
    # layer took it; Keras 3 raised "as_list() is not defined on an unknown TensorShape" at build.
    outputs, means = [], []
    for shape in ([], None):
        with _graph() as graph:
            x = tf.compat.v1.placeholder(tf.float32, (4, 3))
            flag = tf.compat.v1.placeholder(tf.bool, shape)
            y = BatchNormalization(momentum=0.5, scale=True, tf1_api="layers")(x, training=flag)
            updates = tf.compat.v1.get_collection(UPDATE_OPS)
            assert len(updates) == 2
            with tf.compat.v1.Session(graph=graph) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                data = np.arange(12, dtype=np.float32).reshape(4, 3)
                train, _ = sess.run([y, updates], {x: data, flag: True})
                infer = sess.run(y, {x: data, flag: False})
                outputs.append((train, infer))
                (mean,) = [v for v in tf.compat.v1.global_variables() if v.op.name.endswith("moving_mean")]
                means.append(sess.run(mean))
                if shape is None:
                    with pytest.raises(tf.errors.InvalidArgumentError):  # TF1's cond wanted a scalar too
                        sess.run(y, {x: data, flag: [True, False]})
    np.testing.assert_array_equal(outputs[1][0], outputs[0][0])
    np.testing.assert_array_equal(outputs[1][1], outputs[0][1])
    np.testing.assert_array_equal(means[1], means[0])
    np.testing.assert_allclose(means[0], [2.25, 2.75, 3.25])  # 0.5 * 0 + 0.5 * batch mean [4.5, 5.5, 6.5]
    np.testing.assert_allclose(outputs[0][0].mean(0), 0.0, atol=1e-5)


def test_float16_inputs_keep_float32_variables():
    with _graph() as graph:
        x = tf.compat.v1.placeholder(tf.float16, (4, 2, 2, 3))
        y = batch_normalization(x, training=True)
        assert y.dtype == tf.float16
        assert {v.dtype.base_dtype for v in tf.compat.v1.global_variables()} == {tf.float32}
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            out = sess.run(y, {x: np.random.RandomState(0).normal(size=(4, 2, 2, 3)).astype(np.float16)})
        assert np.isfinite(out).all()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"axis": [1, 2]}, ValueError, "multi-axis batch normalization"),
    ({"axis": "1"}, TypeError, "axis must be int or list"),
    ({"renorm": True, "renorm_clipping": {"rmax": 2.0, "bad": 1}}, ValueError, "contains keys not in"),
    ({"unknown": 1}, TypeError, "unexpected keyword arguments"),
])
def test_constructor_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        LayersBatchNormalization(**kwargs)


@pytest.mark.parametrize("shape, kwargs, message", [
    ((4, 3), {"axis": 2}, "Invalid axis: 2"),
    ((4, 3), {"virtual_batch_size": 0}, "virtual_batch_size must be a positive integer"),
    ((4, 3), {"virtual_batch_size": 2, "axis": 0}, "axis cannot include 0"),
    ((4, 3), {"virtual_batch_size": 2, "adjustment": lambda s: (1.0, 0.0)}, "adjustment cannot be specified"),
    ((4, None), {}, "undefined `axis` dimension"),
])
def test_build_errors(shape, kwargs, message):
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, shape)
        with pytest.raises(ValueError, match=message):
            batch_normalization(x, **kwargs)


def test_eager_calls_point_to_the_keras_layer():
    with pytest.raises(RuntimeError, match="tf1_api='layers'"):
        batch_normalization(tf.ones((2, 3)), training=True)
    with pytest.raises(RuntimeError, match="BatchNormalization"):
        LayersBatchNormalization()(tf.ones((2, 3)))


# ------------------------------------------------------------------------------ the Keras layer
def test_keras_layer_arguments_are_checked():
    with pytest.raises(ValueError, match="tf1_api must be one of"):
        BatchNormalization(tf1_api="slim")
    with pytest.raises(TypeError, match="multi-axis batch normalization"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(ValueError, match="virtual_batch_size must be a positive integer"):
        BatchNormalization(virtual_batch_size=-2)
    with pytest.raises(ValueError, match="cannot be used together"):
        BatchNormalization(virtual_batch_size=2, adjustment=lambda s: (1.0, 0.0))
    with pytest.raises(TypeError, match="adjustment must be a function"):
        BatchNormalization(adjustment=(1.0, 0.0))
    with pytest.raises(ValueError, match="synchronized=True is not supported"):
        BatchNormalization(virtual_batch_size=2, synchronized=True)
    # contrib had no such arguments and raised for fused renorm; tf.layers silently fell back.
    with pytest.raises(ValueError, match="fused=True cannot be used with renorm"):
        BatchNormalization(fused=True, renorm=True)
    layer = BatchNormalization(fused=True, renorm=True, tf1_api="layers")
    layer.build((4, 2, 2, 3))
    assert not layer._config.fused


def test_keras_layer_fused_rule_per_api():
    for api, rank2_fused in (("contrib", True), ("layers", False)):
        layer = BatchNormalization(tf1_api=api)
        layer.build((8, 3))
        assert layer._config.fused is rank2_fused
        layer = BatchNormalization(tf1_api=api)
        layer.build((8, 2, 2, 3))
        assert layer._config.fused and layer._config.decay_in_float32


def test_keras_layer_virtual_batch_must_divide_the_batch():
    layer = BatchNormalization(virtual_batch_size=3, tf1_api="layers")
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError)):
        layer(tf.ones((4, 2)), training=True)


def test_keras_layer_config_round_trip_and_saving(tmp_path):
    layer = BatchNormalization(momentum=0.9, scale=True, virtual_batch_size=2, tf1_api="layers", name="bn")
    config = layer.get_config()
    assert config["virtual_batch_size"] == 2 and config["tf1_api"] == "layers"
    clone = BatchNormalization.from_config(config)
    assert clone.virtual_batch_size == 2 and clone.tf1_api == "layers" and clone.momentum == 0.9
    inputs = keras.Input((3,))
    model = keras.Model(inputs, BatchNormalization(virtual_batch_size=2, tf1_api="layers")(inputs))
    x = np.random.RandomState(1).normal(size=(4, 3)).astype(np.float32)
    model(x, training=True)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded(x, training=False), model(x, training=False), rtol=1e-6)
    assert json.loads(json.dumps(loaded.layers[-1].get_config()))["virtual_batch_size"] == 2


def test_keras_layer_tensor_training_inside_tf_function_with_virtual_batches():
    layer = BatchNormalization(virtual_batch_size=2, momentum=0.5, tf1_api="layers")
    x = tf.constant(np.arange(8, dtype=np.float32).reshape(8, 1) * np.ones((1, 2), np.float32))
    step = tf.function(lambda x, t: layer(x, training=t))
    y = step(x, tf.constant(True))
    # virtual batches {0, 4}, {1, 5}, ...: the TF 1.15 striding (see tests/test_reference.py).
    np.testing.assert_allclose(y.numpy()[:, 0], [-1, -1, -1, -1, 1, 1, 1, 1], atol=2e-3)
    assert layer.moving_mean.shape == (1, 1, 2)  # TF1's virtual-batch shape, so checkpoints fit
    np.testing.assert_allclose(layer.moving_mean.numpy(), [[[1.75, 1.75]]], rtol=1e-6)
    before = layer.moving_mean.numpy()
    step(x, tf.constant(False))
    np.testing.assert_array_equal(layer.moving_mean.numpy(), before)


def _scopes_of_keras_layers_in_graph(build):
    """The variable scopes (sorted, without the variable names) of Keras layers built by `build(x, flag)`."""
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, (2, 4, 4, 3))
        flag = tf.compat.v1.placeholder(tf.bool, [])
        with tf.compat.v1.variable_scope("resnet"):
            build(x, flag)
        return sorted({v.op.name.rsplit("/", 1)[0] for v in tf.compat.v1.global_variables()})


def test_keras_layer_in_a_graph_takes_tf1_layer_names():
    """BLOCKERS.md L8: the second unnamed layer was `batch_normalization_1_1` and ludwig's restore failed.

    The expected names are what TF 1.15 gave the same programs written with `tf.layers` (run with
    /work/main/.tf1/bin/python: `tf.layers.BatchNormalization(axis=3, fused=True)(h, training=t)`
    three times; `tf.layers.batch_normalization` unnamed, name='batch_normalization_1', unnamed,
    name='bn'; the class named 'bn' twice then unnamed; nested in `variable_scope("block")`).
    """

    def layer(name=None):
        return BatchNormalization(axis=3, momentum=0.99, scale=True, fused=True, tf1_api="layers", name=name)

    def unnamed_three(x, t):
        for _ in range(3):
            x = layer()(x, training=t)

    def named_between(x, t):
        for name in (None, "batch_normalization_1", None, "bn"):
            x = layer(name)(x, training=t)

    def class_named_twice(x, t):
        for name in ("bn", "bn", None):
            x = layer(name)(x, training=t)

    def nested(x, t):
        x = layer()(x, training=t)
        with tf.compat.v1.variable_scope("block"):
            x = layer()(x, training=t)
        layer()(x, training=t)

    names = [f"resnet/batch_normalization{suffix}" for suffix in ("", "_1", "_2")]
    assert _scopes_of_keras_layers_in_graph(unnamed_three) == names
    assert _scopes_of_keras_layers_in_graph(named_between) == [*names, "resnet/bn"]
    assert _scopes_of_keras_layers_in_graph(class_named_twice) == [names[0], "resnet/bn", "resnet/bn_1"]
    assert _scopes_of_keras_layers_in_graph(nested) == [*names[:2], "resnet/block/batch_normalization"]


def test_keras_layer_in_a_graph_restores_a_tf1_saver_checkpoint_by_name(tmp_path):
    """Names alone decide a Saver restore: a checkpoint saved under TF1's names loads into the layers."""
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, (2, 4, 4, 3))
        with tf.compat.v1.variable_scope("resnet"):
            for i in range(3):
                batch_normalization(x, axis=3, training=True)
        values = {v.op.name: np.full(v.shape, i, np.float32) for i, v in enumerate(tf.compat.v1.global_variables())}
        with tf.compat.v1.Session() as session:
            for v in tf.compat.v1.global_variables():
                v.load(values[v.op.name], session)
            tf.compat.v1.train.Saver().save(session, str(tmp_path / "ckpt"))
    with _graph():
        x = tf.compat.v1.placeholder(tf.float32, (2, 4, 4, 3))
        with tf.compat.v1.variable_scope("resnet"):
            for _ in range(3):
                BatchNormalization(axis=3, momentum=0.99, scale=True, tf1_api="layers")(x, training=False)
        with tf.compat.v1.Session() as session:
            tf.compat.v1.train.Saver().restore(session, str(tmp_path / "ckpt"))
            restored = {v.op.name: session.run(v) for v in tf.compat.v1.global_variables()}
    assert sorted(restored) == sorted(values)
    for name, value in values.items():
        np.testing.assert_array_equal(restored[name], value)
