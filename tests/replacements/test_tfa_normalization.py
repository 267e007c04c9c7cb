"""tf2norm.replacements.GroupNormalization / InstanceNormalization: arguments, errors, weights,
serialisation, dynamic shapes and mixed precision (the numbers are in test_tfa_normalization_golden)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import GroupNormalization, InstanceNormalization


def _inputs(shape, seed=0):
    return np.random.RandomState(seed).normal(1.0, 2.0, shape).astype(np.float32)


def test_tfas_defaults():
    layer = GroupNormalization()
    assert (layer.groups, layer.axis, layer.epsilon, layer.center, layer.scale) == (32, -1, 1e-3, True, True)
    instance = InstanceNormalization()
    assert (instance.groups, instance.axis, instance.epsilon) == (-1, -1, 1e-3)


def test_weights_are_tfas_gamma_then_beta_of_shape_channels():
    layer = GroupNormalization(groups=2)
    layer.build((None, 3, 8))
    assert [(w.name, tuple(w.shape), w.trainable) for w in layer.weights] == [
        ("gamma", (8,), True), ("beta", (8,), True)]
    no_beta = GroupNormalization(groups=2, center=False)
    no_beta.build((None, 8))
    assert [w.name for w in no_beta.weights] == ["gamma"]
    no_gamma = InstanceNormalization(scale=False)
    no_gamma.build((None, 4, 5))
    assert [w.name for w in no_gamma.weights] == ["beta"]


@pytest.mark.parametrize("kwargs, error, message", [
    ({"axis": 0}, ValueError, "axis=0 is the batch axis"),
    ({"axis": 1.0}, TypeError, "axis must be an int"),
    ({"axis": True}, TypeError, "axis must be an int"),
    ({"axis": [1, 2]}, TypeError, "axis must be an int"),
    ({"groups": 0}, ValueError, "invalid value for argument `groups`"),
    ({"groups": 2.0}, ValueError, "invalid value for argument `groups`"),
])
def test_bad_arguments_are_rejected_when_constructed(kwargs, error, message):
    with pytest.raises(error, match=message):
        GroupNormalization(**kwargs)


@pytest.mark.parametrize("kwargs, shape, message", [
    ({"groups": 3}, (2, 4, 8), r"Number of groups \(3\) must be a multiple of the number of channels \(8\)"),
    ({"groups": 16}, (2, 4, 8), r"Number of groups \(16\) cannot be more than the number of channels \(8\)"),
    ({"groups": -1, "axis": -2}, (2, 4, 8), "tensorflow-addons failed here too"),
    ({"groups": 4, "axis": -2}, (2, 4, 8), "tensorflow-addons failed here too"),
    ({"groups": 2, "axis": 3}, (2, 4, 8), "out of range"),
])
def test_bad_shapes_are_rejected_when_built(kwargs, shape, message):
    with pytest.raises((ValueError, IndexError), match=message):
        GroupNormalization(**kwargs)(_inputs(shape))


def test_instance_normalization_overwrites_groups_with_a_warning_as_tfa():
    with pytest.warns(UserWarning, match="groups will be overwritten with -1"):
        layer = InstanceNormalization(groups=2)
    x = _inputs((2, 4, 5, 6))
    np.testing.assert_array_equal(layer(x), InstanceNormalization()(x))
    assert layer.groups == 6


def test_instance_normalization_takes_keywords_only_as_tfa():
    with pytest.raises(TypeError):
        InstanceNormalization(-1)


def test_tfas_per_channel_negative_axis_rule_is_kept():
    """axis=-2, one channel per group: tfa normalised each row of axis 1 over axes 2 and 3."""
    x = _inputs((2, 4, 6, 3))
    y = InstanceNormalization(axis=-2, epsilon=0.0)(x).numpy()
    np.testing.assert_allclose(y.mean(axis=(2, 3)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(2, 3)), 1.0, atol=1e-4)
    # Several channels per group: the intended axes, the same as Keras' layer.
    grouped = GroupNormalization(groups=2, axis=-2)(x)
    np.testing.assert_array_equal(grouped, keras.layers.GroupNormalization(groups=2, axis=-2)(x))


@pytest.mark.parametrize("layer", [
    GroupNormalization(groups=4, axis=1, epsilon=1e-5, center=False, gamma_initializer="ones", name="gn"),
    InstanceNormalization(scale=False, beta_regularizer="l2", name="inorm"),
])
def test_config_round_trip_and_keras_serialisation(layer):
    x = _inputs((2, 8, 3, 8))
    expected = layer(x)
    config = layer.get_config()
    if isinstance(layer, InstanceNormalization):
        assert "groups" not in config
    clone = type(layer).from_config(config)
    clone.build(x.shape)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), expected)
    revived = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(revived) is type(layer)


def test_saved_keras_model_reloads_with_the_replacements(tmp_path):
    inputs = keras.Input((5, 5, 4))
    outputs = InstanceNormalization()(GroupNormalization(groups=2, axis=-1)(inputs))
    model = keras.Model(inputs, outputs)
    for w in model.weights:
        w.assign(np.random.RandomState(1).uniform(0.5, 1.5, w.shape).astype(np.float32))
    x = _inputs((2, 5, 5, 4))
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert [type(layer).__name__ for layer in reloaded.layers[1:]] == ["GroupNormalization", "InstanceNormalization"]
    np.testing.assert_array_equal(reloaded(x), model(x))


def test_unknown_batch_and_spatial_sizes():
    layer = GroupNormalization(groups=2)
    inputs = keras.Input((None, None, 8))
    model = keras.Model(inputs, layer(inputs))
    for shape in [(1, 3, 4, 8), (3, 6, 2, 8)]:
        x = _inputs(shape)
        np.testing.assert_array_equal(model(x), layer(x))
        np.testing.assert_allclose(layer(x), reference.tfa_group_norm(x, *(w.numpy() for w in layer.weights),
                                                                     groups=2), atol=1e-6)
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 8], tf.float32)])
    x = _inputs((2, 3, 3, 8))
    np.testing.assert_array_equal(traced(x), layer(x))


def test_global_mixed_precision_policy_is_followed_like_tfa():
    x = _inputs((2, 4, 5, 8))
    explicit = GroupNormalization(groups=2, dtype="mixed_float16")
    expected = explicit(x)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = GroupNormalization(groups=2)
        outputs = layer(x)
    finally:
        keras.config.set_dtype_policy(previous)
    assert outputs.dtype == tf.float16 and layer.gamma.dtype == "float32"
    np.testing.assert_array_equal(outputs, expected)
    # The NumPy emulation of float16 arithmetic rounds a few intermediates (x * inv, up to twice
    # the outputs) the other way: two ulps at the outputs' scale.
    emulated = reference.tfa_group_norm(x, np.ones(8), np.zeros(8), groups=2, dtype=np.float16)
    assert emulated.dtype == np.float16
    np.testing.assert_allclose(outputs, emulated, rtol=0, atol=2 * float(np.spacing(np.abs(emulated).max())))


def test_autocast_false_keeps_the_inputs_dtype():
    x = _inputs((2, 4, 5, 8))
    layer = GroupNormalization(groups=2, dtype="mixed_float16", autocast=False)
    assert not layer.autocast and GroupNormalization(groups=2).autocast
    outputs = layer(x)
    assert outputs.dtype == tf.float32
    np.testing.assert_allclose(outputs, reference.tfa_group_norm(x, np.ones(8), np.zeros(8), groups=2), atol=1e-6)
