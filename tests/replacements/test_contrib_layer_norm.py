"""`LayerNorm` and `layer_norm` beyond the numbers: TF1's variables, collections, errors, Keras use.

The numbers against real TF 1.15 are in test_contrib_layer_norm_golden.py.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tf2norm import reference
from tf2norm.replacements import LayerNorm, layer_norm

X = np.random.RandomState(3).normal(0.5, 2.0, (4, 3, 5)).astype(np.float32)
GRAPH_KEYS = tf.compat.v1.GraphKeys


def _graph_call(shape=X.shape, dtype=tf.float32, **kwargs):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(dtype, shape)
        y = layer_norm(x, **kwargs)
    return graph, x, y


# -- the TF1-signature function ---------------------------------------------------------------------

def test_signature_is_tf1s():
    import inspect

    assert list(inspect.signature(layer_norm).parameters) == [
        "inputs", "center", "scale", "activation_fn", "reuse", "variables_collections", "outputs_collections",
        "trainable", "begin_norm_axis", "begin_params_axis", "scope",
    ]
    defaults = {k: p.default for k, p in inspect.signature(layer_norm).parameters.items() if k != "inputs"}
    assert defaults == dict(center=True, scale=True, activation_fn=None, reuse=None, variables_collections=None,
                            outputs_collections=None, trainable=True, begin_norm_axis=1, begin_params_axis=-1,
                            scope=None)


def test_variables_shapes_and_collections():
    graph, _, _ = _graph_call(begin_params_axis=1)
    with graph.as_default():
        names = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
        assert names == {"LayerNorm/beta": [3, 5], "LayerNorm/gamma": [3, 5]}
        assert len(tf.compat.v1.get_collection(GRAPH_KEYS.MODEL_VARIABLES)) == 2
        assert len(tf.compat.v1.trainable_variables()) == 2


def test_trainable_false_and_variables_collections_list_and_dict():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, X.shape)
        layer_norm(x, trainable=False, variables_collections=["mine"])
        layer_norm(x, variables_collections={"gamma": ["gammas"]})
        assert tf.compat.v1.trainable_variables() == [v for v in tf.compat.v1.global_variables()
                                                      if v.op.name.startswith("LayerNorm_1/")]
        assert [v.op.name for v in tf.compat.v1.get_collection("mine")] == ["LayerNorm/beta", "LayerNorm/gamma"]
        assert [v.op.name for v in tf.compat.v1.get_collection("gammas")] == ["LayerNorm_1/gamma"]


def test_outputs_collections_get_the_output_with_its_scope_as_alias():
    graph, _, y = _graph_call(outputs_collections=["outs"], scope="ln")
    with graph.as_default():
        assert tf.compat.v1.get_collection("outs") == [y]
        assert y.aliases == ["ln"]


def test_activation_fn_is_applied_last():
    graph, x, y = _graph_call(activation_fn=tf.nn.relu)
    assert y.op.type == "Relu"
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        out = sess.run(y, {x: X})
    np.testing.assert_allclose(out, np.maximum(reference.contrib_layer_norm(X), 0), atol=1e-6)


def test_center_and_scale_false_create_no_variables():
    graph, x, y = _graph_call(center=False, scale=False)
    with graph.as_default():
        assert tf.compat.v1.global_variables() == []
    with tf.compat.v1.Session(graph=graph) as sess:
        out = sess.run(y, {x: X})
    np.testing.assert_allclose(out, reference.contrib_layer_norm(X), atol=1e-6)


def test_reuse_needs_an_existing_scope_and_a_second_call_without_reuse_gets_a_new_one():
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, X.shape)
        with pytest.raises(ValueError, match="does not exist"):
            layer_norm(x, reuse=True, scope="ln")
        layer_norm(x, scope="ln")
        with pytest.raises(ValueError, match="already exists"):
            layer_norm(x, scope="ln")
        layer_norm(x, scope="ln", reuse=True)
        with tf.compat.v1.variable_scope("outer", reuse=tf.compat.v1.AUTO_REUSE):
            layer_norm(x, scope="ln")
            layer_norm(x, scope="ln")
        assert sorted(v.op.name for v in tf.compat.v1.global_variables()) == [
            "ln/beta", "ln/gamma", "outer/ln/beta", "outer/ln/gamma"]


def test_a_saver_checkpoint_of_tf1_names_restores_into_the_function(tmp_path):
    values = {"model/LayerNorm/beta": np.linspace(-1, 1, 5).astype(np.float32),
              "model/LayerNorm/gamma": np.linspace(0.5, 1.5, 5).astype(np.float32)}
    with tf.Graph().as_default():  # variables under TF1's names, as a TF1 program saved them
        for name, value in values.items():
            tf.compat.v1.get_variable(name, initializer=value)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, X.shape)
        with tf.compat.v1.variable_scope("model"):
            y = layer_norm(x)
        with tf.compat.v1.Session(graph=graph) as sess:
            tf.compat.v1.train.Saver().restore(sess, path)
            out = sess.run(y, {x: X})
    expected = reference.contrib_layer_norm(X, values["model/LayerNorm/beta"], values["model/LayerNorm/gamma"])
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_float16_inputs_make_float16_variables_and_use_epsilon_1e_3():
    x16 = np.ones((2, 4), np.float16)  # zero variance: epsilon is what keeps the output finite
    graph, x, y = _graph_call(shape=x16.shape, dtype=tf.float16)
    with graph.as_default():
        assert {v.dtype.base_dtype for v in tf.compat.v1.global_variables()} == {tf.float16}
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        np.testing.assert_array_equal(sess.run(y, {x: x16}), np.zeros_like(x16))


BAD_CALLS = [
    (dict(begin_norm_axis=3), ValueError,
     r"begin_params_axis \(-1\) and begin_norm_axis \(3\) must be < rank\(inputs\) \(3\)"),
    (dict(begin_params_axis=3), ValueError, r"begin_params_axis \(3\) and begin_norm_axis \(1\) must be < rank"),
    (dict(begin_norm_axis=-4), ValueError, r"begin_norm_axis \(-4\) must be >= -rank\(inputs\) \(-3\)"),
    (dict(begin_norm_axis=1.0), TypeError, "begin_norm_axis must be a Python int"),
    (dict(begin_params_axis=tf.constant(1)), TypeError, "begin_params_axis must be a Python int"),
]


@pytest.mark.parametrize("kwargs, error, message", BAD_CALLS)
def test_bad_arguments_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        _graph_call(**kwargs)
    with pytest.raises(error, match=message):
        LayerNorm(**kwargs)(X)


def test_undefined_rank_or_params_shape_is_an_error():
    with pytest.raises(ValueError, match="has undefined rank"):
        _graph_call(shape=None)
    with pytest.raises(ValueError, match=r"shape\(inputs\)\[-1:\] is not fully defined"):
        _graph_call(shape=[4, 3, None])
    with pytest.raises(ValueError, match=r"input_shape\[-1:\] must be fully defined"):
        LayerNorm().build((4, 3, None))


def test_called_eagerly_it_points_to_the_layer():
    with pytest.raises(RuntimeError, match=r"use tf2norm.replacements.LayerNorm"):
        layer_norm(X)


# -- the Keras layer --------------------------------------------------------------------------------

def test_defaults_are_tf1s_and_weights_have_tf1_shapes():
    layer = LayerNorm()
    y = layer(X)
    assert (layer.begin_norm_axis, layer.begin_params_axis, layer.center, layer.scale, layer.epsilon) == (
        1, -1, True, True, None)
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [("beta", (5,)), ("gamma", (5,))]
    np.testing.assert_allclose(y.numpy(), reference.contrib_layer_norm(X), atol=1e-6)
    layer = LayerNorm(begin_params_axis=-2, center=False)
    layer.build(X.shape)
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [("gamma", (3, 5))]


def test_begin_params_axis_below_minus_rank_covers_every_axis_as_tf1():
    layer = LayerNorm(begin_params_axis=-7)
    layer.build(X.shape)
    assert tuple(layer.gamma.shape) == X.shape
    gamma = np.random.RandomState(0).uniform(0.5, 1.5, X.shape).astype(np.float32)
    layer.gamma.assign(gamma)
    expected = reference.contrib_layer_norm(X, None, gamma, begin_params_axis=-7)
    np.testing.assert_allclose(layer(X).numpy(), expected, atol=1e-6)


def test_a_built_layer_takes_other_ranks_as_tf1_reusing_its_variables_did():
    layer = LayerNorm(begin_params_axis=-2)
    layer(X)
    x4 = np.random.RandomState(4).normal(size=(2, 6, 3, 5)).astype(np.float32)
    gamma = layer.gamma.numpy()
    np.testing.assert_allclose(layer(x4).numpy(), reference.contrib_layer_norm(x4, layer.beta.numpy(), gamma,
                                                                               begin_params_axis=-2), atol=1e-6)
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 5"):
        layer(X[:, :, :4])
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        layer(X[0, 0])
    layer(X[:2])  # the batch axis is free


def test_parameters_counted_from_the_front_fix_the_rank():
    layer = LayerNorm(begin_params_axis=1)
    layer(X)
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=4"):
        layer(X[:, None])


def test_explicit_epsilon_and_activation():
    layer = LayerNorm(epsilon=0.5, activation="relu", center=False, scale=False)
    y = layer(X).numpy()
    mean = X.mean(axis=(1, 2), keepdims=True)
    var = X.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, np.maximum((X - mean) / np.sqrt(var + 0.5), 0), atol=1e-5)
    with pytest.raises(ValueError, match="epsilon must be None or >= 0"):
        LayerNorm(epsilon=-1.0)


def test_mixed_float16_uses_tf1s_float16_epsilon():
    layer = LayerNorm(dtype="mixed_float16")
    y = layer(np.ones((2, 4), np.float32))  # zero variance: epsilon 1e-12 would underflow to 0 -> nan
    assert y.dtype == tf.float16 and layer.gamma.dtype == "float32"
    np.testing.assert_array_equal(y.numpy(), 0.0)


def test_keras_fit_trains_beta_and_gamma_and_saving_round_trips(tmp_path):
    model = keras.Sequential([keras.Input((3, 5)), LayerNorm(begin_params_axis=1, name="ln"), keras.layers.Flatten(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(X, np.ones((4, 1)), epochs=2, verbose=0)
    ln = model.get_layer("ln")
    assert not np.allclose(ln.gamma.numpy(), 1.0) and not np.allclose(ln.beta.numpy(), 0.0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    config = loaded.get_layer("ln").get_config()
    assert (config["begin_norm_axis"], config["begin_params_axis"], config["epsilon"]) == (1, 1, None)


def test_tf_function_and_gradients_reach_the_weights():
    layer = LayerNorm()
    step = tf.function(lambda x: layer(x))
    with tf.GradientTape() as tape:
        y = step(tf.constant(X))
        loss = tf.reduce_sum(y * y[::-1])
    grads = tape.gradient(loss, layer.trainable_weights)
    assert [g.shape for g in grads] == [(5,), (5,)] and all(np.isfinite(g.numpy()).all() for g in grads)


def test_numpy_integer_axes_are_accepted_as_tf1_did():
    layer = LayerNorm(begin_norm_axis=np.int64(-1), begin_params_axis=np.int32(-1))
    assert type(layer.begin_norm_axis) is int and layer.get_config()["begin_norm_axis"] == -1
    np.testing.assert_allclose(layer(X).numpy(), reference.contrib_layer_norm(X, begin_norm_axis=-1), atol=1e-6)


def test_keras_layer_in_a_graph_takes_tf1_names_and_shares_by_scope():
    """issue 13 item 5: the keras target's LayerNorm in a tf.compat.v1 graph. TF 1.15 gave the same
    program written with tf.contrib.layers.layer_norm (a tower of layer_norm(scope='ln') and an
    unnamed one, built in variable_scope('model') and again with reuse=True, plus scope='a/b'):
    model/ln/{beta,gamma}, model/LayerNorm/{beta,gamma}, model/a/b/{beta,gamma}."""

    def tower(x):
        return LayerNorm()(LayerNorm(name="ln")(x))

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [4, 3])
        with tf.compat.v1.variable_scope("model"):
            tower(x)
            LayerNorm(name="a/b")(x)
        with tf.compat.v1.variable_scope("model", reuse=True):
            tower(x)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
    assert names == [f"model/{scope}/{v}" for scope in ("ln", "LayerNorm", "a/b") for v in ("beta", "gamma")]
