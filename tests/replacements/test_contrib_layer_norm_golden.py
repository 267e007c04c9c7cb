"""layer_norm and LayerNorm against real TF 1.15 `tf.contrib.layers.layer_norm` (fixtures/golden/layernorm_*.npz).

Every case replays the TF1 program (one or more calls, TF1's perturbed beta/gamma) and compares the
outputs and the gradients of `sum(out * loss_weights)` w.r.t. the inputs, beta and gamma, in TF1's
dtype and within the bound tests/tolerance.py derives for each array:

* graph: `tf2norm.replacements.layer_norm` in a tf.compat.v1 graph, the same calls, TF1's variable
  names (LayerNorm, LayerNorm_1, reuse=True, explicit scope under an outer variable_scope);
* eager / tf_function / keras_model / graph_layer: `tf2norm.replacements.LayerNorm` with the mapped
  arguments, one layer per TF1 scope (reuse = the same layer object);
* keras.layers.LayerNormalization(axis=..., epsilon=1e-12) on the cases it can express.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import case_ids, cases, max_abs_error
from tf2norm.replacements import LayerNorm, layer_norm
from tf2norm.replacements.contrib_layer_norm import resolve_axes

GOLDEN = {g.name: g for g in cases("layernorm_")}
PROGRAMS = case_ids("layernorm_")
ACTIVATIONS = {"relu": tf.nn.relu}


def _close(actual, golden, key, what=""):
    actual = np.asarray(actual)
    assert actual.dtype == golden[key].dtype, (golden.name, key, what, actual.dtype, golden[key].dtype)
    tolerance.check(actual, golden, key, what)


def _call_kwargs(golden, call):
    kwargs = dict(golden.config["kwargs"], **call["kwargs"])
    if "activation_fn" in kwargs:
        kwargs["activation_fn"] = ACTIVATIONS[kwargs["activation_fn"]]
    return kwargs


def _scopes(golden):
    """TF1 scope -> the arguments of its first call (what builds its layer)."""
    scopes = {}
    for call in golden.config["calls"]:
        scopes.setdefault(call["scope"], _call_kwargs(golden, call))
    return scopes


# -- tf.compat.v1 graphs: the TF1-signature function ---------------------------------------------

@pytest.mark.parametrize("name", PROGRAMS)
def test_graph_mode_layer_norm_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    dtype = tf.as_dtype(cfg["dtype"])
    graph = tf.Graph()
    with graph.as_default():
        placeholders, outputs, losses = {}, {}, []

        def build():
            for call in cfg["calls"]:
                x = tf.compat.v1.placeholder(dtype, cfg["shape"])
                placeholders[call["in"]] = x
                y = layer_norm(x, **_call_kwargs(golden, call))
                assert y.dtype == dtype and y.shape.as_list() == cfg["shape"]
                outputs[call["out"]] = y
                losses.append(tf.reduce_sum(y * golden["in:" + call["loss_weights"]]))

        if cfg["outer_scope"]:
            with tf.compat.v1.variable_scope(cfg["outer_scope"]):
                build()
        else:
            build()
        variables = tf.compat.v1.global_variables()
        assert sorted(v.op.name for v in variables) == sorted(golden.with_prefix("var:"))
        assert tf.compat.v1.trainable_variables() == variables
        assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.MODEL_VARIABLES) == variables
        grads = tf.gradients(tf.add_n(losses), list(placeholders.values()) + variables)
        feed = {x: golden["in:" + key] for key, x in placeholders.items()}
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in variables:  # TF1's initialisers: beta zeros, gamma ones
                initial = sess.run(v)
                np.testing.assert_array_equal(initial, 0.0 if v.op.name.endswith("/beta") else 1.0)
                v.load(golden["var:" + v.op.name], sess)
            result = sess.run({"out": outputs, "grads": grads}, feed)
    for key, value in result["out"].items():
        _close(value, golden, "out:" + key, "graph mode")
    names = [f"grad:{key}" for key in placeholders] + [f"grad:{v.op.name}" for v in variables]
    for key, value in zip(names, result["grads"]):
        _close(value, golden, key, "graph mode")


# -- Keras: the LayerNorm layer ---------------------------------------------------------------------

def _layers(golden):
    cfg = golden.config
    layers = {}
    for scope, kwargs in _scopes(golden).items():
        layers[scope] = LayerNorm(
            begin_norm_axis=kwargs.get("begin_norm_axis", 1),
            begin_params_axis=kwargs.get("begin_params_axis", -1),
            center=kwargs.get("center", True),
            scale=kwargs.get("scale", True),
            activation=kwargs.get("activation_fn"),
            dtype=cfg["dtype"],
        )
        layers[scope].build(tuple(cfg["shape"]))
    return layers


def _weights(golden, layers):
    """{TF1 variable name: the layer's variable}, all of them and nothing else."""
    weights = {}
    for scope, layer in layers.items():
        for attribute in ("beta", "gamma"):
            if getattr(layer, attribute) is not None:
                weights[f"{scope}/{attribute}"] = getattr(layer, attribute)
    assert sorted(weights) == sorted(golden.with_prefix("var:"))
    assert sum(len(layer.weights) for layer in layers.values()) == len(weights)
    return weights


def _keras_run(golden, mode):
    """Outputs and gradients ({key: array}) of the golden's calls through LayerNorm layers."""
    cfg = golden.config
    layers = _layers(golden)
    weights = _weights(golden, layers)
    for tf1_name, variable in weights.items():
        assert variable.shape == golden["var:" + tf1_name].shape
        variable.assign(golden["var:" + tf1_name])
    calls = cfg["calls"]
    inputs = [tf.constant(golden["in:" + c["in"]]) for c in calls]
    names = [c["out"] for c in calls]

    if mode == "keras_model":
        model_inputs = [keras.Input(cfg["shape"][1:], dtype=cfg["dtype"]) for _ in calls]
        model = keras.Model(model_inputs, [layers[c["scope"]](x) for c, x in zip(calls, model_inputs)])

        def forward(xs):
            ys = model(xs)
            return list(ys) if isinstance(ys, (list, tuple)) else [ys]
    else:
        def forward(xs):
            return [layers[c["scope"]](x) for c, x in zip(calls, xs)]

    def step(xs):
        with tf.GradientTape() as tape:
            tape.watch(xs)
            ys = forward(xs)
            loss = tf.add_n([tf.reduce_sum(y * golden["in:" + c["loss_weights"]]) for c, y in zip(calls, ys)])
        return ys, tape.gradient(loss, list(xs) + list(weights.values()))

    if mode == "tf_function":
        step = tf.function(step)
    ys, grads = step(inputs)
    found = {f"out:{n}": y.numpy() for n, y in zip(names, ys)}
    keys = [f"grad:{c['in']}" for c in calls] + [f"grad:{n}" for n in weights]
    found.update({k: g.numpy() for k, g in zip(keys, grads)})
    return found


@pytest.mark.parametrize("mode", ["eager", "tf_function", "keras_model"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_layer_matches_tf1(name, mode):
    golden = GOLDEN[name]
    found = _keras_run(golden, mode)
    expected = {k for k in golden.arrays if k.startswith(("out:", "grad:"))}
    assert set(found) == expected
    for key, value in found.items():
        _close(value, golden, key, mode)


@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_layer_in_a_compat_v1_graph_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        layers = _layers(golden)
        weights = _weights(golden, layers)
        placeholders = {c["in"]: tf.compat.v1.placeholder(cfg["dtype"], cfg["shape"]) for c in cfg["calls"]}
        outputs = {c["out"]: layers[c["scope"]](placeholders[c["in"]]) for c in cfg["calls"]}
        loss = tf.add_n([tf.reduce_sum(outputs[c["out"]] * golden["in:" + c["loss_weights"]]) for c in cfg["calls"]])
        variables = [w.value for w in weights.values()]
        grads = tf.gradients(loss, list(placeholders.values()) + variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for tf1_name, variable in zip(weights, variables):
                sess.run(variable.assign(golden["var:" + tf1_name]))
            result = sess.run({"out": outputs, "grads": grads}, {x: golden["in:" + k] for k, x in placeholders.items()})
    for key, value in result["out"].items():
        _close(value, golden, "out:" + key, "Keras layer in a graph")
    keys = [f"grad:{k}" for k in placeholders] + [f"grad:{n}" for n in weights]
    for key, value in zip(keys, result["grads"]):
        _close(value, golden, key, "Keras layer in a graph")


# -- keras.layers.LayerNormalization: where it can express the call ------------------------------

def _keras_axes(cfg, kwargs):
    """The axis list LayerNormalization needs, or None when norm axes != params axes."""
    rank = cfg["rank"]
    norm_axes, params_axis = resolve_axes(rank, kwargs.get("begin_norm_axis", 1), kwargs.get("begin_params_axis", -1))
    params_axes = list(range(rank))[params_axis:]
    return norm_axes if norm_axes == params_axes else None


EXPRESSIBLE = [
    n for n in PROGRAMS
    if GOLDEN[n].config["dtype"] == "float32" and len(GOLDEN[n].config["calls"]) == 1
    and _keras_axes(GOLDEN[n].config, GOLDEN[n].config["kwargs"]) is not None
]


def test_which_cases_keras_can_express():
    # Only equal norm and params axes; the TF1 default (begin_norm_axis=1) with rank > 2 is not.
    assert EXPRESSIBLE == [
        "layernorm_center_scale_false",
        "layernorm_large_offset",
        "layernorm_rank2_default",
        "layernorm_rank3_norm_axis_m1",
        "layernorm_rank3_params_axis_m2",
        "layernorm_rank4_params_axis_1",
        "layernorm_unperturbed",
    ]


def _keras_layer_normalization(golden, epsilon):
    cfg, (call,) = golden.config, golden.config["calls"]
    kwargs = cfg["kwargs"]
    layer = keras.layers.LayerNormalization(axis=_keras_axes(cfg, kwargs), epsilon=epsilon,
                                            center=kwargs.get("center", True), scale=kwargs.get("scale", True))
    x = tf.constant(golden["in:" + call["in"]])
    layer.build(x.shape)
    for attribute in ("beta", "gamma"):
        if getattr(layer, attribute) is not None:
            getattr(layer, attribute).assign(golden[f"var:{call['scope']}/{attribute}"])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * golden["in:" + call["loss_weights"]])
    return y.numpy(), tape.gradient(loss, x).numpy()


@pytest.mark.parametrize("name", EXPRESSIBLE)
def test_keras_layer_normalization_with_tf1_epsilon_matches_where_axes_agree(name):
    golden = GOLDEN[name]
    (call,) = golden.config["calls"]
    y, dx = _keras_layer_normalization(golden, 1e-12)
    _close(y, golden, "out:" + call["out"], "keras.layers.LayerNormalization")
    _close(dx, golden, "grad:" + call["in"], "keras.layers.LayerNormalization")


def test_keras_default_epsilon_is_a_different_layer():
    golden = GOLDEN["layernorm_rank3_norm_axis_m1"]
    y, _ = _keras_layer_normalization(golden, 1e-3)  # Keras' default epsilon
    assert max_abs_error(y, golden["out:outputs"]) > 1e-4


def test_every_required_program_is_covered():
    configs = [GOLDEN[n].config for n in PROGRAMS]
    assert {c["rank"] for c in configs} == {2, 3, 4}
    assert {c["kwargs"].get("begin_norm_axis", 1) for c in configs} >= {1, -1, 2, 0}
    assert {c["kwargs"].get("begin_params_axis", -1) for c in configs} >= {-1, 1, -2}
    assert any(c["kwargs"].get("center") is False for c in configs)
    assert any(c["kwargs"].get("scale") is False for c in configs)
    assert any(c["kwargs"].get("activation_fn") == "relu" for c in configs)
    assert any(c["data"]["mean"] >= 1000 for c in configs)
    assert any(c["dtype"] == "float16" for c in configs)
    assert any(any(call["kwargs"].get("reuse") for call in c["calls"]) for c in configs)
    assert all(c["params_perturbed"] for c in configs if c["case"] != "layernorm_unperturbed")
