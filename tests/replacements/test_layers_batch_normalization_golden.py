"""tf.layers batch normalization against real TF 1.15 (fixtures/golden/tlbn_*.npz).

Every case replays the TF1 program (its calls, then its steps: training steps, then inference) and
compares the outputs, the gradients of step 0 and every variable after every step, within the bound
tests/tolerance.py derives for each array (the initial values must be TF1's exactly):

* graph: `tf2norm.replacements.batch_normalization` / `LayersBatchNormalization` in a tf.compat.v1
  graph, the same calls as the TF1 program, the same variable names, shapes and UPDATE_OPS;
* eager / tf_function / keras_model: `tf2norm.replacements.BatchNormalization(tf1_api="layers")`
  with the arguments `tf2norm migrate` maps (momentum=0.99 and scale=True written out), one layer
  object for all the calls of a case (they share their variables in TF1);
* keras_graph: that Keras layer in a tf.compat.v1 graph, its updates run through UPDATE_OPS.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import case_ids, cases
from tf2norm.replacements import (
    BatchNormalization,
    LayersBatchNormalization,
    batch_normalization,
)
from tf2norm.replacements._fused_kernel import SCOPE as FUSED_SCOPE

GOLDEN = {g.name: g for g in cases("tlbn_") if g.name != "tlbn_naming"}
PROGRAMS = [n for n in case_ids("tlbn_") if n != "tlbn_naming"]


def _adjustment(spec):
    scale, bias = np.asarray(spec["scale"], np.float32), np.asarray(spec["bias"], np.float32)
    return lambda shape: (tf.constant(scale), tf.constant(bias))


def tf1_kwargs(kwargs):
    """The TF1 call's keyword arguments, for the tf.compat.v1 replacements."""
    out = dict(kwargs)
    for key, values in out.pop("initializers", {}).items():
        out[f"{key}_initializer"] = tf.compat.v1.constant_initializer(np.asarray(values, np.float32))
    if "adjustment" in out:
        out["adjustment"] = _adjustment(out["adjustment"])
    return out


def keras_layer(kwargs):
    """The Keras layer `tf2norm migrate --target keras` writes for these TF1 arguments."""
    args = {k: v for k, v in kwargs.items() if k not in ("initializers", "adjustment")}
    args.setdefault("momentum", 0.99)
    args.setdefault("scale", True)
    for key, values in kwargs.get("initializers", {}).items():
        # What a migrated call passes on: TF1's initializer object (it also fills [1, ..., C] shapes).
        args[f"{key}_initializer"] = tf.compat.v1.constant_initializer(np.asarray(values, np.float32))
    if "adjustment" in kwargs:
        args["adjustment"] = _adjustment(kwargs["adjustment"])
    return BatchNormalization(tf1_api="layers", **args)


def _layer_variables(layer, golden):
    """TF1 variable name -> the Keras layer's variable of the same role."""
    variables = {name: getattr(layer, name.rsplit("/", 1)[-1]) for name, _ in golden.config["variables"]}
    assert len(variables) == len(layer.weights), "the layer has weights TF1 did not, or lacks some"
    return variables


def _reshaped(value, name, golden):
    return np.reshape(np.asarray(value), golden[f"var:{name}"].shape)


# ----------------------------------------------------------------------------- graph mode
def _build_graph_program(golden):
    cfg = golden.config
    kwargs = tf1_kwargs(cfg["kwargs"])
    layer = LayersBatchNormalization(**kwargs) if cfg["api"] == "class" else None
    built = []
    for spec in cfg["calls"]:
        x = tf.compat.v1.placeholder(tf.float32, cfg["shape"])
        flag = tf.compat.v1.placeholder(tf.bool, []) if spec["training"] == "placeholder" else None
        training = flag if flag is not None else spec["training"]
        before = list(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
        scope = tf.compat.v1.variable_scope(spec["scope"], reuse=spec.get("scope_reuse") or None) \
            if spec.get("scope") else _nothing()
        with scope:
            if layer is not None:
                y = (layer.apply if spec.get("method") == "apply" else layer)(x, training=training)
            else:
                y = batch_normalization(x, training=training, name=spec["name"], reuse=spec["reuse"], **kwargs)
        new = [u for u in tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS) if u not in before]
        built.append((x, flag, y, new))
    return built


def _has_fused_op(graph):
    """TF1's FusedBatchNorm arithmetic in the graph or in one of its functions (tf.cond branches):
    tf2norm writes it out in plain ops under one name scope (oneDNN would replace the op itself)."""
    definition = graph.as_graph_def()
    names = [n.name for n in definition.node]
    names += [n.name for f in definition.library.function for n in f.node_def]
    return any(FUSED_SCOPE in name.split("/") for name in names)


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


def _run_steps(golden, sess, built, variables, grads, grad_names):
    cfg = golden.config
    for k, step in enumerate(cfg["steps"]):
        x, flag, y, _ = built[step["call"]]
        feed = {x: golden[f"in:step{k}"]}
        if flag is not None:
            feed[flag] = step["training"]
        ups = [u for c in step["updates_of"] for u in built[c][3]]
        extra = grads if k == 0 else []
        result = sess.run([y] + extra + ups, feed)
        tolerance.check(result[0], golden, f"out:step{k}", "graph mode")
        for target, value in zip(grad_names, result[1 : 1 + len(extra)]):
            tolerance.check(value, golden, f"grad:{target}", "graph mode")
        for v in variables:
            tolerance.check(sess.run(v), golden, f"after:{k}:{v.op.name}", "graph mode")


@pytest.mark.parametrize("name", PROGRAMS)
def test_graph_mode_replacement_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        built = _build_graph_program(golden)
        variables = tf.compat.v1.global_variables()
        assert [[v.op.name, v.shape.as_list()] for v in variables] == cfg["variables"]
        assert [v.op.name for v in tf.compat.v1.trainable_variables()] == cfg["trainable"]
        assert [len(b[3]) for b in built] == cfg["updates_per_call"]
        assert _has_fused_op(graph) == cfg["graph_has_fused_op"]
        by_name = {v.op.name: v for v in variables}
        grad_names, grads = [], []
        if "in:loss_weights" in golden:
            grad_names = ["inputs"] + cfg["grad_params"]
            loss = tf.reduce_sum(built[0][2] * golden["in:loss_weights"])
            grads = tf.gradients(loss, [built[0][0]] + [by_name[n] for n in cfg["grad_params"]])
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in variables:  # the initialisers must already give TF1's initial values
                np.testing.assert_array_equal(sess.run(v), golden["var:" + v.op.name], f"initial {v.op.name}")
            _run_steps(golden, sess, built, variables, grads, grad_names)


# ----------------------------------------------------------------------------- the Keras layer
def _keras_training(spec, step, tensor):
    return tf.constant(step["training"]) if tensor or spec["training"] == "placeholder" else step["training"]


@pytest.mark.parametrize("mode", ["eager", "tf_function", "keras_model"])
@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_layer_matches_tf1(name, mode):
    golden = GOLDEN[name]
    cfg = golden.config
    layer = keras_layer(cfg["kwargs"])
    layer.build(tuple(cfg["shape"]))
    variables = _layer_variables(layer, golden)
    for tf1_name, variable in variables.items():
        variable.assign(np.reshape(golden["var:" + tf1_name], variable.shape))

    if mode == "keras_model":
        inputs = keras.Input(batch_shape=tuple(cfg["shape"]))
        model = keras.Model(inputs, layer(inputs))

        def run(x, training):
            return model(x, training=training)
    elif mode == "tf_function":
        run = tf.function(lambda x, training: layer(x, training=training))
    else:
        run = lambda x, training: layer(x, training=training)  # noqa: E731

    grad_names = ["inputs"] + cfg.get("grad_params", [])
    for k, step in enumerate(cfg["steps"]):
        spec = cfg["calls"][step["call"]]
        x = tf.constant(golden[f"in:step{k}"])
        # Keras models take a Python bool; the layer itself also a tensor, as the TF1 placeholder.
        training = _keras_training(spec, step, tensor=False) if mode != "keras_model" else step["training"]
        if k == 0 and "in:loss_weights" in golden:
            watched = [variables[n] for n in cfg["grad_params"]]
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = run(x, training)
                loss = tf.reduce_sum(y * golden["in:loss_weights"])
            for target, value in zip(grad_names, tape.gradient(loss, [x] + watched)):
                tolerance.check(np.reshape(value, golden[f"grad:{target}"].shape), golden, f"grad:{target}", mode)
        else:
            y = run(x, training)
        tolerance.check(y, golden, f"out:step{k}", mode)
        for tf1_name, variable in variables.items():
            tolerance.check(_reshaped(variable.numpy(), tf1_name, golden), golden, f"after:{k}:{tf1_name}", mode)


@pytest.mark.parametrize("name", ["tlbn_training_placeholder_fused", "tlbn_virtual_batch_rank2_placeholder",
                                  "tlbn_renorm", "tlbn_trainable_false", "tlbn_rank2_default"])
def test_keras_layer_in_compat_graph_matches_tf1(name):
    # The keras target's layer inside legacy graph code: updates through UPDATE_OPS, as TF1.
    golden = GOLDEN[name]
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        layer = keras_layer(cfg["kwargs"])
        x = tf.compat.v1.placeholder(tf.float32, cfg["shape"])
        flag = tf.compat.v1.placeholder(tf.bool, [])
        y = layer(x, training=flag)
        updates = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
        assert bool(updates) == (cfg["updates_per_call"][0] > 0)
        variables = _layer_variables(layer, golden)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for tf1_name, variable in variables.items():
                sess.run(variable.value.assign(np.reshape(golden["var:" + tf1_name], variable.shape)))
            for k, step in enumerate(cfg["steps"]):
                out = sess.run([y] + updates, {x: golden[f"in:step{k}"], flag: step["training"]})[0]
                tolerance.check(out, golden, f"out:step{k}", "Keras layer in a graph")
                for tf1_name, variable in variables.items():
                    tolerance.check(_reshaped(sess.run(variable.value), tf1_name, golden), golden,
                                    f"after:{k}:{tf1_name}", "Keras layer in a graph")


def test_fused_nchw_rule_equals_transposed_nhwc_tf1_case():
    # TF 1.15's CPU had no fused NCHW kernel: axis=1 is checked against the NHWC transposes.
    golden = GOLDEN["tlbn_rank4_nhwc_fused_from_nchw"]
    layer = BatchNormalization(axis=1, momentum=0.9, scale=True, tf1_api="layers")
    nchw = lambda a: np.transpose(a, (0, 3, 1, 2))  # noqa: E731
    layer.build(nchw(golden["in:step0"]).shape)
    assert layer._config.fused
    for k, step in enumerate(golden.config["steps"]):
        y = layer(tf.constant(nchw(golden[f"in:step{k}"])), training=step["training"])
        tolerance.check(np.transpose(y.numpy(), (0, 2, 3, 1)), golden, f"out:step{k}", "NCHW")
        for stat in ("moving_mean", "moving_variance"):
            tolerance.check(getattr(layer, stat).numpy(), golden, f"after:{k}:batch_normalization/{stat}", "NCHW")


def test_every_required_program_is_covered():
    configs = [GOLDEN[n].config for n in PROGRAMS]
    assert {c["rank"] for c in configs} == {2, 3, 4, 5}
    assert any(c["graph_has_fused_op"] for c in configs) and not all(c["graph_has_fused_op"] for c in configs)
    assert any(c["rank"] == 2 and c["kwargs"].get("fused") for c in configs)
    assert any(c["kwargs"].get("axis") == 1 for c in configs)
    assert any(c["kwargs"].get("renorm_clipping") for c in configs)
    assert any(c["kwargs"].get("virtual_batch_size") and c["kwargs"].get("renorm") for c in configs)
    assert any(c["kwargs"].get("adjustment") for c in configs)
    assert any(c["kwargs"].get("trainable") is False for c in configs)
    assert any(c["api"] == "class" and len(c["calls"]) >= 2 for c in configs)
    assert any(any(s.get("reuse") for s in c["calls"]) for c in configs)
    assert any(any(s["training"] == "placeholder" for s in c["calls"]) for c in configs)
    assert all(sum(s["training"] for s in c["steps"]) >= 2 for c in configs)
    assert all(not s["training"] for c in configs for s in c["steps"][-1:])
