"""tfa.layers.GroupNormalization / InstanceNormalization migrated, against real tfa 0.23 (TF 2.15.1)
(fixtures/golden/tfa_norm_*.npz, made by fixtures/tfa/tfa_normalization.py).

`tf2norm migrate` emits `keras.layers.GroupNormalization` (instance normalisation: `groups=-1`)
when the axis is -1 or positive and no float16 policy is visible, else tf2norm's
`GroupNormalization` / `InstanceNormalization`. Checked here, with tfa's weights loaded:

* Keras 3's own layer gives tfa's float32 numbers (outputs and gradients) in every case but tfa's
  per-channel negative-axis bug, where it differs by O(1), and mixed precision, where it differs by
  about an ulp of float16 -- the two cases the replacements exist for;
* the replacements give tfa's numbers in every case, eagerly, in `tf.function` and inside a Keras
  functional model, gradients included;
* the conv net tfa ran as a Keras 2 model, rebuilt in Keras 3 with the migrated layers, and
  fixtures/legacy/tfa_convnet.py (the same net as tfa users wrote it) migrated by `tf2norm migrate`
  with both targets, loaded with the weights tfa saved, giving tfa's outputs and gradients.

"tfa's numbers" means within the bound tests/tolerance.py derives for each array (the conv net's
convolutions and dense layer round differently from machine to machine); under mixed precision the
replacements' outputs are tfa's bit for bit.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import cases, max_abs_error
from tf2norm import reference
from tf2norm.replacements import GroupNormalization, InstanceNormalization
from tf2norm.rewriters import _driver

# The NumPy reference and the layers, both float32, on the migrated module's own normaliser.
REFERENCE_ATOL = 1e-6
GOLDEN = {g.name: g for g in cases("tfa_norm_") if "layer" in g.config}
MODEL = next(g for g in cases("tfa_norm_model_"))
# tfa's per-channel path with a negative axis other than -1 normalises other axes (a tfa bug).
BUGGY_AXIS = ("tfa_norm_gn_axis_neg2_groups_channels", "tfa_norm_in_axis_neg2")
MIXED = ("tfa_norm_gn_mixed_float16", "tfa_norm_in_mixed_float16")
KERAS_EXACT = sorted(set(GOLDEN) - set(BUGGY_AXIS) - set(MIXED))


def _float16_ulps(actual, expected) -> float:
    """Largest difference in float16 ulps at the outputs' scale (x * inv + shift cancels near 0)."""
    expected = np.asarray(expected, np.float16)
    ulp = float(np.spacing(np.abs(expected).max()))
    return max_abs_error(actual, expected) / ulp


def _keras_layer(golden):
    kwargs = dict(golden.config["kwargs"])
    if golden.config["layer"] == "InstanceNormalization":
        kwargs["groups"] = -1  # tfa's InstanceNormalization overwrote any groups with -1
    return keras.layers.GroupNormalization(**kwargs)


def _replacement(golden):
    cls = {"GroupNormalization": GroupNormalization, "InstanceNormalization": InstanceNormalization}
    kwargs = dict(golden.config["kwargs"])
    if "groups" in kwargs and golden.config["layer"] == "InstanceNormalization":
        with pytest.warns(UserWarning, match="groups will be overwritten"):
            return cls["InstanceNormalization"](**kwargs)
    return cls[golden.config["layer"]](**kwargs)


def _load(layer, golden):
    """Build `layer` and give it tfa's gamma/beta (same names, shapes and order)."""
    layer.build(golden["in:inputs"].shape)
    prefix = golden.config["layer_name"] + "/"
    expected = [k[len("var:") + len(prefix):] for k in golden.arrays if k.startswith("var:" + prefix)]
    assert sorted(w.name for w in layer.weights) == sorted(expected)
    for weight in layer.weights:
        weight.assign(golden[f"var:{prefix}{weight.name}"])
    return layer


def _run(layer, golden, mode):
    """(outputs, {grad name: value}) of sum(outputs * loss_weights) in `mode`."""
    x = tf.constant(golden["in:inputs"])
    weights = golden["in:loss_weights"]

    def forward_backward(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = call(inputs)
            loss = tf.reduce_sum(tf.cast(outputs, tf.float32) * weights)
        return outputs, tape.gradient(loss, [inputs] + layer.trainable_weights)

    if mode == "model":
        symbolic = keras.Input(x.shape[1:])
        call = keras.Model(symbolic, layer(symbolic))
    else:
        call = layer
    if mode == "tf_function":
        forward_backward = tf.function(forward_backward)
    outputs, grads = forward_backward(x)
    prefix = golden.config["layer_name"] + "/"
    named = {"inputs": grads[0], **{prefix + w.name: g for w, g in zip(layer.trainable_weights, grads[1:])}}
    return outputs.numpy(), {k: v.numpy() for k, v in named.items()}


def _check_float32(outputs, grads, golden):
    assert outputs.dtype == np.float32
    tolerance.check(outputs, golden, "out:outputs")
    assert set(grads) == set(golden.with_prefix("grad:"))
    for name, grad in grads.items():
        tolerance.check(grad, golden, f"grad:{name}")


@pytest.mark.parametrize("name", KERAS_EXACT)
def test_keras_group_normalization_reproduces_tfa(name):
    golden = GOLDEN[name]
    layer = _load(_keras_layer(golden), golden)
    _check_float32(*_run(layer, golden, "eager"), golden)


@pytest.mark.parametrize("name", BUGGY_AXIS)
def test_keras_group_normalization_does_not_reproduce_tfas_axis_bug(name):
    golden = GOLDEN[name]
    layer = _load(_keras_layer(golden), golden)
    outputs, _ = _run(layer, golden, "eager")
    assert max_abs_error(outputs, golden["out:outputs"]) > 0.5
    # Keras normalises per channel (axis -2); tfa normalised over axes 2 and 3 per row of axis 1.
    beta = golden["var:" + golden.config["layer_name"] + "/beta"]
    centred = np.asarray(outputs, np.float64) - beta[None, None, :, None]
    np.testing.assert_allclose(centred.mean(axis=(1, 3)), 0.0, atol=1e-6)


@pytest.mark.parametrize("name", MIXED)
def test_keras_group_normalization_under_mixed_precision_is_an_ulp_off(name):
    golden = GOLDEN[name]
    layer = _load(_keras_layer(golden), golden)
    outputs, _ = _run(layer, golden, "eager")
    assert outputs.dtype == np.float16
    ulps = _float16_ulps(outputs, golden["out:outputs"])
    assert 0 < ulps <= 1.0


@pytest.mark.parametrize("mode", ["eager", "tf_function", "model"])
@pytest.mark.parametrize("name", sorted(set(GOLDEN) - set(MIXED)))
def test_replacement_reproduces_tfa(name, mode):
    golden = GOLDEN[name]
    layer = _load(_replacement(golden), golden)
    _check_float32(*_run(layer, golden, mode), golden)


@pytest.mark.parametrize("mode", ["eager", "tf_function", "model"])
@pytest.mark.parametrize("name", MIXED)
def test_replacement_reproduces_tfa_mixed_precision_exactly(name, mode):
    golden = GOLDEN[name]
    layer = _load(_replacement(golden), golden)
    assert layer.compute_dtype == "float16" and layer.variable_dtype == "float32"
    outputs, grads = _run(layer, golden, mode)
    assert outputs.dtype == np.float16
    np.testing.assert_array_equal(outputs, golden["out:outputs"])
    for grad_name, grad in grads.items():
        tolerance.check(grad, golden, f"grad:{grad_name}")


def _keras3_convnet():
    """tfa's Keras 2 conv net (see the generator) with the migrated normalisation layers."""
    inputs = keras.Input((6, 6, 3))
    net = keras.layers.Conv2D(8, 3, padding="same", name="conv2d")(inputs)
    net = keras.layers.GroupNormalization(groups=4, name="group_normalization")(net)
    net = keras.layers.ReLU()(net)
    net = keras.layers.Conv2D(6, 3, name="conv2d_1")(net)
    net = keras.layers.GroupNormalization(groups=-1, center=False, name="instance_normalization")(net)
    net = keras.layers.GlobalAveragePooling2D()(net)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(net))


def test_tfa_keras2_convnet_rebuilt_in_keras3():
    layers = {layer["name"]: layer for layer in MODEL.config["layers"]}
    assert layers["group_normalization"]["config"]["groups"] == 4
    # tfa's build turns InstanceNormalization's groups=-1 into the channel count.
    assert layers["instance_normalization"]["class"] == "InstanceNormalization"
    assert layers["instance_normalization"]["config"]["groups"] == 6
    model = _keras3_convnet()
    variables = {f"{layer.name}/{w.name}": w for layer in model.layers for w in layer.weights}
    assert set(variables) == set(MODEL.with_prefix("var:"))
    for name, variable in variables.items():
        variable.assign(MODEL[f"var:{name}"])
    x = tf.constant(MODEL["in:inputs"])
    with tf.GradientTape() as tape:
        outputs = model(x)
        loss = tf.reduce_sum(outputs * MODEL["in:loss_weights"])
    names = [f"{layer.name}/{w.name}" for layer in model.layers for w in layer.trainable_weights]
    trainable = [w for layer in model.layers for w in layer.trainable_weights]
    grads = dict(zip(names, tape.gradient(loss, trainable)))
    tolerance.check(outputs, MODEL, "out:outputs")
    assert set(grads) == set(MODEL.with_prefix("grad:"))
    for name, grad in grads.items():
        tolerance.check(grad, MODEL, f"grad:{name}")


ROOT = Path(__file__).resolve().parents[2]
# The variables of tfa's conv net in the order its layers create them (Keras 3 creates them alike).
CONVNET_WEIGHTS = ("conv2d/kernel", "conv2d/bias", "group_normalization/gamma", "group_normalization/beta",
                   "conv2d_1/kernel", "conv2d_1/bias", "instance_normalization/gamma", "dense/kernel", "dense/bias")


def _migrated_legacy_module(tmp_path, target):
    source = (ROOT / "fixtures" / "legacy" / "tfa_convnet.py").read_bytes()
    output, findings = _driver.migrate_source(source, "tfa_convnet.py", _driver.Options(target=target))
    assert findings == []
    assert b"tensorflow_addons" not in output and b"tfa." not in output
    path = tmp_path / f"tfa_convnet_{target}.py"
    path.write_bytes(output)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("target", ["keras", "compat"])
def test_migrated_legacy_tfa_convnet_computes_tfas_numbers(tmp_path, target):
    module = _migrated_legacy_module(tmp_path, target)
    model = module.build_model()
    # Keras 3 reads the Keras 2 .h5 file real tfa wrote, layer by layer.
    model.load_weights(ROOT / "fixtures" / "checkpoints" / "tfa_norm_convnet" / "weights.h5")
    assert len(model.trainable_weights) == len(CONVNET_WEIGHTS)
    for weight, name in zip(model.trainable_weights, CONVNET_WEIGHTS):
        np.testing.assert_array_equal(weight.numpy(), MODEL[f"var:{name}"], err_msg=name)
    x = tf.constant(MODEL["in:inputs"])
    with tf.GradientTape() as tape:
        outputs = model(x)
        loss = tf.reduce_sum(outputs * MODEL["in:loss_weights"])
    tolerance.check(outputs, MODEL, "out:outputs", target)
    for name, grad in zip(CONVNET_WEIGHTS, tape.gradient(loss, model.trainable_weights)):
        tolerance.check(grad, MODEL, f"grad:{name}", target)


@pytest.mark.parametrize("target", ["keras", "compat"])
def test_migrated_legacy_channels_first_normaliser(tmp_path, target):
    module = _migrated_legacy_module(tmp_path, target)
    normaliser = module.build_feature_normaliser(features=8)
    x = np.random.RandomState(3).normal(2.0, 3.0, (2, 7, 8)).astype(np.float32)
    outputs = normaliser(x).numpy()
    per_feature = reference.tfa_group_norm(x.transpose(0, 2, 1), np.ones(8), np.zeros(8), groups=-1, axis=1,
                                           epsilon=1e-5).transpose(0, 2, 1)
    expected = reference.tfa_group_norm(per_feature, np.ones(8), np.zeros(8), groups=2)
    assert max_abs_error(outputs, expected) <= REFERENCE_ATOL
