"""batch_norm and BatchNormalization against real TF 1.15 (fixtures/golden/bn_*.npz).

Every case replays the TF1 program step by step (several training steps, then inference) and
compares the outputs, every variable after every step and the first step's gradients, within the
bound tests/tolerance.py derives for each array (the initial values must be TF1's exactly):

* graph: `tf2norm.replacements.batch_norm` in a tf.compat.v1 graph, the same calls as the TF1
  program (UPDATE_OPS run with the output, or updates_collections=None), TF1 variable names;
* eager / tf_function: `tf2norm.replacements.BatchNormalization` with the mapped arguments.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import case_ids, cases
from tf2norm.replacements import BatchNormalization, batch_norm

GOLDEN = {g.name: g for g in cases("bn_")}
PROGRAMS = case_ids("bn_")

# TF1 name under the scope -> BatchNormalization attribute.
LAYER_ATTRIBUTE = {
    "beta": "beta",
    "gamma": "gamma",
    "moving_mean": "moving_mean",
    "moving_variance": "moving_variance",
    "moving_stddev": "moving_stddev",
    "renorm_mean": "renorm_mean",
    "renorm_stddev": "renorm_stddev",
    "BatchNorm/moving_mean/biased": "moving_mean_biased",
    "BatchNorm/moving_mean/local_step": "moving_mean_local_step",
}


def _tf1_kwargs(cfg):
    kwargs = dict(cfg["kwargs"])
    if kwargs.get("updates_collections") == "UPDATE_OPS":
        kwargs.pop("updates_collections")
    if "param_initializers" in kwargs:
        kwargs["param_initializers"] = {
            k: tf.compat.v1.constant_initializer(np.asarray(v, np.float32))
            for k, v in kwargs["param_initializers"].items()
        }
    return kwargs


@pytest.mark.parametrize("name", PROGRAMS)
def test_graph_mode_batch_norm_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    shape = cfg["shape"]
    kwargs = _tf1_kwargs(cfg)
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, shape)
        if cfg["is_training"] == "python":
            y_train = batch_norm(x, is_training=True, data_format=cfg["data_format"], **kwargs)
            update_ops = list(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
            x_inf = tf.compat.v1.placeholder(tf.float32, shape)
            inf_kwargs = dict(kwargs, scope="BatchNorm", reuse=True)
            y_inf = batch_norm(x_inf, is_training=False, data_format=cfg["data_format"], **inf_kwargs)
            assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS) == update_ops

            def step(k, training):
                if training:
                    return [y_train], {x: golden[f"in:step{k}"]}
                return [y_inf], {x_inf: golden[f"in:step{k}"]}

            y_grad = y_train
        else:
            flag = tf.compat.v1.placeholder(tf.bool, [])
            y = batch_norm(x, is_training=flag, data_format=cfg["data_format"], **kwargs)
            update_ops = list(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))

            def step(k, training):
                return [y], {x: golden[f"in:step{k}"], flag: training}

            y_grad = y
        assert bool(update_ops) == cfg["run_update_ops"]
        variables = tf.compat.v1.global_variables()
        assert sorted(v.op.name for v in variables) == sorted(golden.with_prefix("var:"))
        by_name = {v.op.name: v for v in variables}
        grad_names = [n for n in ("BatchNorm/beta", "BatchNorm/gamma") if n in by_name]
        grads = []
        if "in:loss_weights" in golden:
            loss = tf.reduce_sum(y_grad * golden["in:loss_weights"])
            grads = tf.gradients(loss, [x] + [by_name[n] for n in grad_names])
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in variables:  # the initialisers must already give TF1's initial values
                np.testing.assert_array_equal(sess.run(v), golden["var:" + v.op.name], f"{name} initial {v.op.name}")
            for k, spec in enumerate(cfg["steps"]):
                fetch, feed = step(k, spec["training"])
                ups = update_ops if (spec["training"] or cfg["is_training"] != "python") else []
                extra = grads if k == 0 and "in:loss_weights" in golden else []
                result = sess.run(fetch + extra + ups, feed)
                tolerance.check(result[0], golden, f"out:step{k}", "graph mode")
                for target, value in zip(["inputs"] + grad_names, result[1 : 1 + len(extra)]):
                    tolerance.check(value, golden, f"grad:{target}", "graph mode")
                for v in variables:
                    tolerance.check(sess.run(v), golden, f"after:{k}:{v.op.name}", "graph mode")


def _layer_for(cfg):
    kwargs = cfg["kwargs"]
    return BatchNormalization(
        axis=1 if cfg["data_format"] == "NCHW" else -1,
        momentum=kwargs.get("decay", 0.999),
        epsilon=kwargs.get("epsilon", 0.001),
        center=kwargs.get("center", True),
        scale=kwargs.get("scale", False),
        fused=kwargs.get("fused"),
        zero_debias_moving_mean=kwargs.get("zero_debias_moving_mean", False),
        renorm=kwargs.get("renorm", False),
        renorm_clipping=kwargs.get("renorm_clipping"),
        trainable=kwargs.get("trainable", True),
        renorm_momentum=kwargs.get("renorm_decay", 0.99),
    )


def _layer_variables(layer, golden):
    names = golden.with_prefix("var:")
    variables = {}
    for tf1_name in names:
        relative = tf1_name[len("BatchNorm/") :]
        variables[tf1_name] = getattr(layer, LAYER_ATTRIBUTE[relative])
    assert len(variables) == len(layer.weights), "the layer has weights TF1 did not, or lacks some"
    return variables


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_layer_matches_tf1(name, mode):
    golden = GOLDEN[name]
    cfg = golden.config
    layer = _layer_for(cfg)
    layer.build(tuple(cfg["shape"]))
    variables = _layer_variables(layer, golden)
    for tf1_name, variable in variables.items():
        variable.assign(golden["var:" + tf1_name])
    tensor_training = cfg["is_training"] == "placeholder"

    def call(x, training):
        return layer(x, training=training)

    run = tf.function(call) if mode == "tf_function" else call
    for k, spec in enumerate(cfg["steps"]):
        x = tf.constant(golden[f"in:step{k}"])
        training = tf.constant(spec["training"]) if tensor_training else spec["training"]
        if k == 0 and "in:loss_weights" in golden:
            watched = [v for n, v in variables.items() if n in ("BatchNorm/beta", "BatchNorm/gamma")]
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = run(x, training)
                loss = tf.reduce_sum(y * golden["in:loss_weights"])
            grads = tape.gradient(loss, [x] + watched)
            names = ["inputs"] + [n for n in variables if n in ("BatchNorm/beta", "BatchNorm/gamma")]
            for target, value in zip(names, grads):
                tolerance.check(value, golden, f"grad:{target}", mode)
        else:
            y = run(x, training)
        tolerance.check(y, golden, f"out:step{k}", mode)
        for tf1_name, variable in variables.items():
            tolerance.check(variable.numpy(), golden, f"after:{k}:{tf1_name}", mode)


def test_fused_nchw_rule_equals_transposed_nhwc_tf1_case():
    # TF 1.15's CPU had no fused NCHW kernel; the fused NCHW rule is checked against the
    # fused NHWC case whose inputs are the NHWC transposes.
    golden = GOLDEN["bn_rank4_nhwc_fused_from_nchw"]
    layer = BatchNormalization(axis=1, momentum=golden.config["kwargs"]["decay"])
    nchw = lambda a: np.transpose(a, (0, 3, 1, 2))  # noqa: E731
    layer.build(nchw(golden["in:step0"]).shape)
    assert layer._config.fused
    for k, spec in enumerate(golden.config["steps"]):
        y = layer(tf.constant(nchw(golden[f"in:step{k}"])), training=spec["training"])
        tolerance.check(np.transpose(y.numpy(), (0, 2, 3, 1)), golden, f"out:step{k}", "NCHW")
        tolerance.check(layer.moving_mean.numpy(), golden, f"after:{k}:BatchNorm/moving_mean", "NCHW")
        tolerance.check(layer.moving_variance.numpy(), golden, f"after:{k}:BatchNorm/moving_variance", "NCHW")


def test_every_required_program_is_covered():
    configs = [GOLDEN[n].config for n in PROGRAMS]
    assert {c["rank"] for c in configs} == {2, 3, 4, 5}
    assert {c["data_format"] for c in configs} == {"NHWC", "NCHW"}
    assert any(c["kwargs"].get("updates_collections") is None for c in configs)
    assert any(c["kwargs"].get("zero_debias_moving_mean") for c in configs)
    assert any(c["kwargs"].get("renorm") for c in configs)
    assert any(c["kwargs"].get("scale") for c in configs)
    assert any(c["is_training"] == "placeholder" for c in configs)
    programs = [c for c in configs if c["case"] != "bn_tf1_vector_clamp"]  # that vector is inference only
    assert all(sum(s["training"] for s in c["steps"]) >= 2 for c in programs)


def test_numerics_md_batch_norm_vectors():
    # NUMERICS.md: epsilon 0 is clamped on the fused path, so 9 becomes 8.999995231628418.
    clamp = GOLDEN["bn_tf1_vector_clamp"]
    np.testing.assert_array_equal(clamp["out:step0"], np.float32(8.999995231628418))
    layer = BatchNormalization(epsilon=0.0, scale=True, beta_initializer=keras_constant(5.0),
                               gamma_initializer=keras_constant(2.0), moving_mean_initializer=keras_constant(5.0),
                               moving_variance_initializer=keras_constant(4.0))
    y = layer(tf.ones((5, 3, 3, 3)) * 9.0, training=False)
    np.testing.assert_array_equal(y.numpy(), np.float32(8.999995231628418))  # TF 1.15's kernel, op for op
    # decay 0.1, updates forced, 10 runs on fixed data: moving variance -> batch variance * 40/39.
    bessel = GOLDEN["bn_tf1_vector_bessel"]
    x = bessel["in:step0"]
    layer = BatchNormalization(momentum=0.1)
    for _ in range(10):
        layer(tf.constant(x), training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), x.mean((0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), x.var((0, 1, 2)) * 40 / 39, rtol=1e-5)
    tolerance.check(layer.moving_variance.numpy(), bessel, "after:9:BatchNorm/moving_variance")


def keras_constant(value):
    import keras

    return keras.initializers.Constant(value)
