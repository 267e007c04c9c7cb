"""The golden TF1 programs as source, migrated by `tf2norm migrate`, compute TF 1.15's numbers.

Each fixtures/golden/layernorm_*.npz case is written out as the TF1 code that produced it
(`tf.contrib.layers.layer_norm(...)` calls, under its variable_scope), migrated with both targets,
run in a tf.compat.v1 graph with TF1's beta/gamma loaded, and compared with TF1's outputs and
gradients. The keras target must pick keras.layers.LayerNormalization exactly where the axes agree.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tests.golden import case_ids, cases
from tf2norm.rewriters import _driver

GOLDEN = {g.name: g for g in cases("layernorm_")}
PROGRAMS = case_ids("layernorm_")


def _tf1_source(golden) -> str:
    cfg = golden.config
    # tf.compat.v1 spelling, as tf_upgrade_v2 leaves TF1 code (it stops at tf.contrib).
    lines = ["import tensorflow.compat.v1 as tf", "", "", "def build(inputs):", "    outputs = {}"]
    indent = "    "
    if cfg["outer_scope"]:
        lines.append(f"    with tf.variable_scope({cfg['outer_scope']!r}):")
        indent = "        "
    for call in cfg["calls"]:
        kwargs = dict(cfg["kwargs"], **call["kwargs"])
        args = "".join(f", {k}=tf.nn.{v}" if k == "activation_fn" else f", {k}={v!r}" for k, v in kwargs.items())
        lines.append(f"{indent}outputs[{call['out']!r}] = tf.contrib.layers.layer_norm(inputs[{call['in']!r}]{args})")
    lines.append("    return outputs")
    return "\n".join(lines) + "\n"


def _migrate(source: str, target: str):
    output, findings = _driver.migrate_source(source.encode(), "case.py", _driver.Options(target=target))
    return output.decode(), findings


def _run(golden, source):
    """{out:/grad: key: value} of the migrated program, TF1's beta/gamma loaded by scope order."""
    cfg = golden.config
    namespace = {}
    graph = tf.Graph()
    with graph.as_default():
        exec(compile(source, "migrated.py", "exec"), namespace)
        inputs = {c["in"]: tf.compat.v1.placeholder(cfg["dtype"], cfg["shape"]) for c in cfg["calls"]}
        outputs = namespace["build"](inputs)
        loss = tf.add_n([tf.reduce_sum(outputs[c["out"]] * golden["in:" + c["loss_weights"]]) for c in cfg["calls"]])
        variables = _tf1_names(golden, tf.compat.v1.global_variables())
        grads = tf.gradients(loss, list(inputs.values()) + list(variables.values()))
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for name, variable in variables.items():
                variable.load(golden["var:" + name], sess)
            result = sess.run({"out": outputs, "grads": grads}, {x: golden["in:" + k] for k, x in inputs.items()})
    found = {f"out:{k}": v for k, v in result["out"].items()}
    keys = [f"grad:{k}" for k in inputs] + [f"grad:{n}" for n in variables]
    found.update(zip(keys, result["grads"]))
    return found


def _tf1_names(golden, variables):
    """{TF1 name: variable}: TF1's own names (compat target), or the Keras layers' variables
    (`<layer>/beta`, `<layer>/gamma`) matched to TF1's scopes in the order the layers were made."""
    expected = sorted(golden.with_prefix("var:"))
    by_name = {v.op.name: v for v in variables}
    if sorted(by_name) == expected:
        return {n: by_name[n] for n in expected}
    layers = list(dict.fromkeys(n.rsplit("/", 1)[0] for n in by_name))
    scopes = list(dict.fromkeys(c["scope"] for c in golden.config["calls"]
                                if any(n.startswith(c["scope"] + "/") for n in expected)))
    assert len(layers) == len(scopes), (layers, scopes)
    names = {}
    for layer, scope in zip(layers, scopes):
        for leaf in ("beta", "gamma"):
            if f"{layer}/{leaf}" in by_name:
                names[f"{scope}/{leaf}"] = by_name[f"{layer}/{leaf}"]
    assert sorted(names) == expected and len(names) == len(by_name)
    return names


def _assert_matches(golden, found, what):
    assert set(found) == {k for k in golden.arrays if k.startswith(("out:", "grad:"))}
    for key, value in found.items():
        expected = golden[key]
        tol = 1e-3 if expected.dtype == np.float16 else 1e-6
        np.testing.assert_allclose(np.asarray(value, np.float32), expected.astype(np.float32), rtol=tol, atol=tol,
                                   err_msg=f"{what} {key}")


@pytest.mark.parametrize("name", PROGRAMS)
def test_compat_target_runs_the_tf1_program_with_tf1_variables(name):
    golden = GOLDEN[name]
    source, findings = _migrate(_tf1_source(golden), "compat")
    assert findings == [] and "tf.contrib" not in source and "layer_norm(inputs[" in source
    _assert_matches(golden, _run(golden, source), f"{name} compat")


@pytest.mark.parametrize("name", PROGRAMS)
def test_keras_target_computes_tf1s_numbers(name):
    golden = GOLDEN[name]
    cfg = golden.config
    source, findings = _migrate(_tf1_source(golden), "keras")
    if name == "layernorm_reuse":
        # The reuse=True call shares the unscoped first call's default scope: reported, left as it was.
        assert [(f.code, f.line) for f in findings] == [("TF2N402", 9)]
        assert "tf.contrib.layers.layer_norm(inputs['reused'], reuse=True, scope='LayerNorm')" in source
        return
    assert findings == [] and "tf.contrib" not in source
    (call,) = cfg["calls"]
    kwargs = call["kwargs"] | cfg["kwargs"]
    keras_fits = kwargs.get("begin_norm_axis", 1) == kwargs.get("begin_params_axis", -1) < 0
    assert ("keras.layers.LayerNormalization(" in source) == keras_fits
    assert ("LayerNorm(" in source.replace("LayerNormalization(", "")) == (not keras_fits)
    if cfg["dtype"] == "float16":
        # A Keras layer casts its inputs to its dtype policy (float32 by default); TF1 computed in
        # the input's float16, which the layer does under a float16 policy.
        source = source.replace("LayerNorm()", "LayerNorm(dtype='float16')")
    _assert_matches(golden, _run(golden, source), f"{name} keras")
