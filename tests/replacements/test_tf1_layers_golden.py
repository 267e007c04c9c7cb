"""tf.layers' functions against real TF 1.15 (fixtures/golden/tf1layers_*.npz, fixtures/tf1/tf1_layers.py).

Each case is one call `tf2norm.replacements.<function>(inputs, **kwargs)` in a tf.compat.v1 graph:
the layer must create exactly TF1's variables (names and shapes, in TF1's creation order), which
take the golden's values by name, then compute TF1's outputs and the gradients of
`sum(outputs * loss_weights)` w.r.t. the inputs and every variable. Every comparison goes through
`tolerance.check`: the bound tests/tolerance.py derives for each golden array from TF1's own float32
error (measured against the float64 replay of tf2norm.reference's tf1_layers module). Both with
oneDNN's kernels and without (`TF_ENABLE_ONEDNN_OPTS=0` in a subprocess: the option is read once,
when TensorFlow loads).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import cases
from tf2norm import replacements as R

ROOT = Path(__file__).resolve().parents[2]
GOLDENS = cases("tf1layers_")
ACTIVATIONS = {"tanh": tf.nn.tanh}


def _run(golden):
    """(variables [(name, shape)] in creation order, outputs, {grad key: value}) of the case in a graph."""
    cfg = golden.config
    kwargs = dict(cfg["kwargs"])
    if "activation" in kwargs:
        kwargs["activation"] = ACTIVATIONS[kwargs["activation"]]
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, cfg["shape"])
        out = getattr(R, cfg["function"])(x, **kwargs)
        variables = tf.compat.v1.global_variables()
        loss = tf.reduce_sum(out * golden["in:loss_weights"])
        grads = tf.gradients(loss, [x] + variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            for v in variables:
                v.load(golden["var:" + v.op.name], sess)
            outputs, grad_values = sess.run([out, grads], {x: golden["in:inputs"]})
    names = [[v.op.name, v.shape.as_list()] for v in variables]
    keys = ["grad:inputs"] + ["grad:" + v.op.name for v in variables]
    return names, outputs, dict(zip(keys, grad_values))


def compare(golden):
    """The one comparison of this module; returns the largest error over the case's arrays."""
    names, outputs, grads = _run(golden)
    assert names == golden.config["variables"]
    worst = tolerance.check(outputs, golden, "out:outputs")
    for key, value in grads.items():
        worst = max(worst, tolerance.check(value, golden, key))
    return worst


@pytest.mark.parametrize("golden", GOLDENS, ids=[g.name for g in GOLDENS])
def test_matches_tf1(golden):
    compare(golden)


def test_matches_tf1_without_onednn():
    script = ("from tests.replacements.test_tf1_layers_golden import GOLDENS, compare\n"
              "for g in GOLDENS:\n    compare(g)\nprint(len(GOLDENS))\n")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == str(len(GOLDENS))


def test_every_function_has_a_golden():
    functions = {g.config["function"] for g in GOLDENS}
    assert functions == {"dense", "conv1d", "conv2d", "conv3d", "conv2d_transpose", "separable_conv2d",
                         "max_pooling1d", "max_pooling2d", "max_pooling3d", "average_pooling1d",
                         "average_pooling2d", "average_pooling3d", "flatten"}
    assert all(np.asarray(g["out:outputs"]).size for g in GOLDENS)
