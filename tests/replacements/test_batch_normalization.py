"""`tf2norm.replacements.BatchNormalization` as a Keras 3 layer: modes, distribution, precision, saving.

The numbers against real TF1 are in test_contrib_batch_norm_golden.py.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm.replacements import BatchNormalization

X = np.random.RandomState(1).normal(1.5, 2.0, (8, 4, 4, 3)).astype(np.float32)
BESSEL = X.var((0, 1, 2)) * 128 / 127


def test_contrib_defaults_not_keras_defaults():
    layer = BatchNormalization()
    layer.build(X.shape)
    assert (layer.momentum, layer.epsilon, layer.center, layer.scale) == (0.999, 1e-3, True, False)
    assert layer.gamma is None
    assert [w.name for w in layer.weights] == ["beta", "moving_mean", "moving_variance"]


def test_training_none_is_inference_and_true_updates_with_bessel():
    layer = BatchNormalization(momentum=0.5)
    y = layer(X)
    np.testing.assert_allclose(y.numpy(), X / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 0.0)
    layer(X, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), X.mean((0, 1, 2)) * 0.5, rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance.numpy(), 0.5 + BESSEL * 0.5, rtol=1e-6)


def test_tensor_training_inside_tf_function_updates_only_when_true():
    layer = BatchNormalization(momentum=0.5)
    step = tf.function(lambda x, training: layer(x, training=training))
    y = step(tf.constant(X), tf.constant(False))
    np.testing.assert_allclose(y.numpy(), X / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(layer.moving_mean.numpy(), 0.0)
    y = step(tf.constant(X), tf.constant(True))
    np.testing.assert_allclose(y.numpy().mean((0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(layer.moving_mean.numpy(), X.mean((0, 1, 2)) * 0.5, rtol=1e-6)


def test_graph_mode_update_ops_go_to_update_ops():
    with tf.Graph().as_default():
        layer = BatchNormalization(momentum=0.5)
        x = tf.compat.v1.placeholder(tf.float32, X.shape)
        y = layer(x, training=True)
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        assert len(updates) == 2
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run(y, {x: X})  # the output alone does not update, as in TF1
            np.testing.assert_array_equal(sess.run(layer.moving_mean.value), 0.0)
            sess.run([y] + updates, {x: X})
            np.testing.assert_allclose(sess.run(layer.moving_mean.value), X.mean((0, 1, 2)) * 0.5, rtol=1e-6)


def test_keras_fit_updates_statistics():
    model = keras.Sequential([keras.Input((4, 4, 3)), BatchNormalization(momentum=0.5), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, np.zeros((8, 1)), batch_size=8, epochs=1, verbose=0)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.moving_mean.numpy(), X.mean((0, 1, 2)) * 0.5, rtol=1e-5)


def test_trainable_false_freezes_params_but_training_still_uses_batch_statistics():
    # Rank 4 went through tf.layers' layer in TF 1.15: frozen, its statistics never moved
    # (golden: bn_trainable_false). Rank 2 went through contrib's own fused path, which kept
    # updating them (golden: bn_trainable_false_rank2_fused).
    layer = BatchNormalization(scale=True, trainable=False, momentum=0.5)
    y = layer(X, training=True)
    assert layer.trainable_weights == []
    np.testing.assert_allclose(y.numpy().mean((0, 1, 2)), 0.0, atol=1e-5)  # TF1 semantics
    np.testing.assert_array_equal(layer.moving_mean.numpy(), np.zeros(3, np.float32))
    x2 = X.reshape(-1, 3)
    rank2 = BatchNormalization(scale=True, trainable=False, momentum=0.5)
    rank2(x2, training=True)
    np.testing.assert_allclose(rank2.moving_mean.numpy(), x2.mean(0) * 0.5, rtol=1e-6)


def test_nonfused_rank3_and_nchw_axis():
    x3 = X.reshape(8, 16, 3)
    layer = BatchNormalization(momentum=0.0)
    layer(x3, training=True)
    assert not layer._config.fused
    np.testing.assert_allclose(layer.moving_variance.numpy(), x3.var((0, 1)), rtol=1e-5)  # no Bessel
    nchw = np.transpose(X, (0, 3, 1, 2))
    layer = BatchNormalization(axis=1, momentum=0.0)
    y = layer(nchw, training=True)
    assert layer._config.fused
    np.testing.assert_allclose(layer.moving_variance.numpy(), BESSEL, rtol=1e-5)
    assert y.shape == nchw.shape


def test_a_built_layer_rejects_another_rank_clearly():
    layer = BatchNormalization()
    layer.build((None, 4, 4, 3))
    with pytest.raises(ValueError, match="expected ndim=4, found ndim=2"):
        layer(np.ones((2, 3), np.float32), training=False)


def test_regularizers_constraints_and_initializers():
    layer = BatchNormalization(
        scale=True,
        gamma_regularizer=keras.regularizers.L2(0.5),
        beta_regularizer="l2",
        gamma_initializer=keras.initializers.Constant(2.0),
        beta_constraint=keras.constraints.NonNeg(),
    )
    layer(X, training=True)
    assert len(layer.losses) == 2
    np.testing.assert_allclose(layer.gamma.numpy(), 2.0)


def test_renorm_and_zero_debias_weights():
    renorm = BatchNormalization(renorm=True, renorm_clipping={"rmax": 2.0, "dmax": 1.0}, renorm_momentum=0.9)
    renorm(X, training=True)
    assert [w.name for w in renorm.weights] == [
        "beta", "moving_mean", "moving_variance", "moving_stddev", "renorm_mean", "renorm_stddev"
    ]
    debiased = BatchNormalization(zero_debias_moving_mean=True, momentum=0.9)
    debiased(X, training=True)
    # After one step the zero-debiased mean is exactly the batch mean.
    np.testing.assert_allclose(debiased.moving_mean.numpy(), X.mean((0, 1, 2)), rtol=1e-5)
    with pytest.raises(ValueError, match="renorm_clipping"):
        BatchNormalization(renorm=True, renorm_clipping={"rmaxx": 1.0})


def test_config_round_trip_and_keras_file(tmp_path):
    layer = BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, scale=True, renorm=True, renorm_momentum=0.8)
    clone = BatchNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    model = keras.Sequential([keras.Input((3, 4, 4)), BatchNormalization(axis=1, scale=True, momentum=0.5)])
    model(np.transpose(X, (0, 3, 1, 2)), training=True)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    assert isinstance(restored.layers[0], BatchNormalization)
    np.testing.assert_array_equal(restored.layers[0].moving_mean.numpy(), model.layers[0].moving_mean.numpy())


def test_mixed_float16_keeps_statistics_in_float32():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = BatchNormalization(scale=True, momentum=0.5)
        y = layer(X, training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == tf.float16
    assert all(w.dtype == "float32" for w in layer.weights)
    np.testing.assert_allclose(layer.moving_mean.numpy(), X.astype(np.float16).mean((0, 1, 2)) * 0.5, rtol=1e-3)
    np.testing.assert_allclose(y.numpy().astype(np.float32).mean((0, 1, 2)), 0.0, atol=1e-2)


_MIRRORED = textwrap.dedent(
    """
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tf2norm.replacements import BatchNormalization
    x = np.random.RandomState(2).normal(0.0, 1.0, (8, 2, 2, 3)).astype(np.float32)
    x[4:] = x[4:] * 3.0 + 5.0   # the two replicas see very different halves
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    results = {}
    for synchronized in (True, False):
        with strategy.scope():
            layer = BatchNormalization(momentum=0.0, synchronized=synchronized)
            layer.build(x.shape)
        dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(x).batch(8))
        @tf.function
        def step(batch):
            return strategy.run(lambda b: layer(b, training=True), args=(batch,))
        outputs = step(next(iter(dataset)))
        results[synchronized] = (layer.moving_mean.numpy(), layer.moving_variance.numpy(),
                                 np.concatenate([o.numpy() for o in strategy.experimental_local_results(outputs)]))
    mean, var, y = results[True]
    np.testing.assert_allclose(mean, x.mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, x.var((0, 1, 2)) * 32 / 31, rtol=1e-5)
    np.testing.assert_allclose(y, (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-3), rtol=1e-4, atol=1e-5)
    # Per-replica statistics differ: the mirrored update averages the two replicas' variances.
    halves = [x[:4], x[4:]]
    local_var = np.mean([h.var((0, 1, 2)) * 16 / 15 for h in halves], axis=0)
    np.testing.assert_allclose(results[False][1], local_var, rtol=1e-5)
    print("MIRRORED_OK")
    """
)


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_synchronized_under_mirrored_strategy_on_two_logical_cpus():
    # Logical devices must be configured before TensorFlow starts: use a fresh interpreter.
    result = subprocess.run([sys.executable, "-c", _MIRRORED], capture_output=True, text=True, timeout=300)
    assert "MIRRORED_OK" in result.stdout, result.stderr[-3000:]


def test_graph_variables_take_contrib_scope_names():
    """In a tf.compat.v1 graph the layer's variables sit where contrib's batch_norm put them.

    TF 1.15 (`tf.contrib.layers.batch_norm(h, is_training=t)` twice, then scope='bn', then once
    more, inside `variable_scope("net")`) gave net/BatchNorm, net/BatchNorm_1, net/bn,
    net/BatchNorm_2: unnamed calls counted per variable scope, `scope=` exactly as given.
    """
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, (2, 4, 4, 3))
        t = tf.compat.v1.placeholder(tf.bool, [])
        with tf.compat.v1.variable_scope("net"):
            for name in (None, None, "bn", None):
                x = BatchNormalization(name=name)(x, training=t)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
    assert names == [f"net/{scope}/{variable}" for scope in ("BatchNorm", "BatchNorm_1", "bn", "BatchNorm_2")
                     for variable in ("beta", "moving_mean", "moving_variance")]


def test_a_tf1_scope_path_is_a_usable_name():
    """issue 13: scope='block1/bn' became name='block1/bn', which Keras 3 rejected at build time."""
    layer = BatchNormalization(name="block1/bn", scale=True)
    assert layer.name == "block1_bn"
    np.testing.assert_allclose(layer(X, training=False).numpy(), X / np.sqrt(1.0 + 1e-3), rtol=1e-6)
    assert BatchNormalization.from_config(layer.get_config())._tf1_name == "block1/bn"
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, X.shape)
        with tf.compat.v1.variable_scope("net"):
            BatchNormalization(name="block1/bn")(x, training=True)
            BatchNormalization(name="block2/bn", scale=True, tf1_api="layers")(x, training=True)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
    # TF1: contrib's variable_scope('block1/bn') and tf.layers' name='block2/bn' nest the path.
    assert names == [f"net/block1/bn/{n}" for n in ("beta", "moving_mean", "moving_variance")] + [
        f"net/block2/bn/{n}" for n in ("gamma", "beta", "moving_mean", "moving_variance")]


def _tower(x, training):
    """Layer calls as the keras target writes them, in a function that knows nothing of reuse."""
    h = BatchNormalization(name="bn", scale=True)(x, training=training)
    return BatchNormalization(scale=True)(h, training=training)


def test_graph_towers_share_by_variable_scope_as_tf1():
    """issue 13 item 5: variable_scope(reuse=True) around the caller (in another function or file) made
    new variables (7 TF1 variables became 13 in the measured program). TF 1.15, for the same towers
    with tf.contrib.layers.batch_norm: model/bn/{beta,gamma,moving_mean,moving_variance}, the same
    under model/BatchNorm, and 8 update ops (4 per tower)."""
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, (4, 3))
        t = tf.compat.v1.placeholder(tf.bool, [])
        with tf.compat.v1.variable_scope("model"):
            _tower(x, t)
        with tf.compat.v1.variable_scope("model", reuse=True):
            _tower(x, t)
        names = sorted(v.op.name for v in tf.compat.v1.global_variables())
        assert names == sorted(f"model/{scope}/{v}" for scope in ("bn", "BatchNorm")
                               for v in ("beta", "gamma", "moving_mean", "moving_variance"))
        assert len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == 8
        with tf.compat.v1.variable_scope("model", reuse=True):
            with pytest.raises(ValueError, match=r"'model/other' is reused \(reuse=True\) but no layer"):
                BatchNormalization(name="other")(x, training=t)
        with tf.compat.v1.variable_scope("model"):
            with pytest.raises(ValueError, match="'model/bn' already has this layer's variables"):
                BatchNormalization(name="bn")(x, training=t)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            data = X[:4, 0, 0, :]
            second_tower = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)[4:6]  # its "bn" layer
            session.run(second_tower, {x: data, t: True})
            moving = {v.op.name: session.run(v) for v in tf.compat.v1.global_variables()}
    # The second tower's updates move the one set of statistics.
    np.testing.assert_allclose(moving["model/bn/moving_mean"], data.mean(0) * (1 - 0.999), rtol=1e-5)
