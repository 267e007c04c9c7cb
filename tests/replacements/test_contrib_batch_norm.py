"""`tf2norm.replacements.batch_norm`: TF 1.15 contrib semantics in tf.compat.v1 graphs.

The numbers are checked against real TF1 in test_contrib_batch_norm_golden.py; this module checks the
graph-building contract: names, sharing, collections, update placement and argument errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tf2norm.replacements import batch_norm

GK = tf.compat.v1.GraphKeys
X = np.random.RandomState(0).normal(1.5, 2.0, (4, 3, 3, 2)).astype(np.float32)


def _names(collection=GK.GLOBAL_VARIABLES):
    return [v.op.name for v in tf.compat.v1.get_collection(collection)]


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def test_default_names_are_uniquified_like_tf1(graph):
    x = tf.compat.v1.placeholder(tf.float32, [None, 3, 3, 2])
    batch_norm(x)
    batch_norm(x, scale=True)
    with tf.compat.v1.variable_scope("block"):
        batch_norm(x, scope="bn")
    assert _names() == [
        "BatchNorm/beta",
        "BatchNorm/moving_mean",
        "BatchNorm/moving_variance",
        "BatchNorm_1/beta",
        "BatchNorm_1/gamma",
        "BatchNorm_1/moving_mean",
        "BatchNorm_1/moving_variance",
        "block/bn/beta",
        "block/bn/moving_mean",
        "block/bn/moving_variance",
    ]
    # contrib's model_variable: every variable is a model variable; only beta/gamma train.
    assert _names(GK.MODEL_VARIABLES) == _names()
    assert _names(GK.TRAINABLE_VARIABLES) == [
        "BatchNorm/beta", "BatchNorm_1/beta", "BatchNorm_1/gamma", "block/bn/beta"]


def test_reuse_true_shares_variables_and_missing_scope_raises(graph):
    x = tf.compat.v1.placeholder(tf.float32, [None, 3, 3, 2])
    batch_norm(x, scope="bn", is_training=True)
    batch_norm(x, scope="bn", reuse=True, is_training=False)
    assert _names() == ["bn/beta", "bn/moving_mean", "bn/moving_variance"]
    with pytest.raises(ValueError, match="already exists"):
        batch_norm(x, scope="bn")
    with pytest.raises(ValueError, match="does not exist"):
        batch_norm(x, scope="other", reuse=True)


def _run_train_steps(output, feed, run_updates, steps=2):
    updates = tf.compat.v1.get_collection(GK.UPDATE_OPS)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        mean = tf.compat.v1.get_collection(GK.GLOBAL_VARIABLES, "BatchNorm/moving_mean")[0]
        for _ in range(steps):
            sess.run([output] + (updates if run_updates else []), feed)
        return sess.run(mean)


def test_update_ops_go_to_update_ops_and_run_only_when_asked(graph):
    x = tf.compat.v1.placeholder(tf.float32, X.shape)
    y = batch_norm(x, decay=0.5)
    assert len(tf.compat.v1.get_collection(GK.UPDATE_OPS)) == 2
    np.testing.assert_array_equal(_run_train_steps(y, {x: X}, run_updates=False), 0.0)
    expected = X.mean((0, 1, 2)) * 0.75  # two steps of decay 0.5 from 0
    np.testing.assert_allclose(_run_train_steps(y, {x: X}, run_updates=True), expected, rtol=1e-6)


def test_updates_collections_none_forces_updates_through_the_output(graph):
    x = tf.compat.v1.placeholder(tf.float32, X.shape)
    y = batch_norm(x, decay=0.5, updates_collections=None)
    assert tf.compat.v1.get_collection(GK.UPDATE_OPS) == []
    expected = X.mean((0, 1, 2)) * 0.75
    np.testing.assert_allclose(_run_train_steps(y, {x: X}, run_updates=False), expected, rtol=1e-6)


def test_custom_updates_collection(graph):
    x = tf.compat.v1.placeholder(tf.float32, X.shape)
    batch_norm(x, updates_collections="my_updates")
    assert len(tf.compat.v1.get_collection("my_updates")) == 2
    assert tf.compat.v1.get_collection(GK.UPDATE_OPS) == []


def test_is_training_false_creates_no_update_ops(graph):
    x = tf.compat.v1.placeholder(tf.float32, X.shape)
    batch_norm(x, is_training=False)
    assert tf.compat.v1.get_collection(GK.UPDATE_OPS) == []


@pytest.mark.parametrize("kind", ["placeholder", "variable"])
def test_is_training_tensor_selects_statistics_and_gates_updates(graph, kind):
    x = tf.compat.v1.placeholder(tf.float32, X.shape)
    if kind == "placeholder":
        flag = tf.compat.v1.placeholder(tf.bool, [])
        feeds = {True: {x: X, flag: True}, False: {x: X, flag: False}}
    else:
        flag = tf.compat.v1.Variable(True, trainable=False)
        feeds = {True: {x: X}, False: {x: X}}
    y = batch_norm(x, is_training=flag, decay=0.5)
    updates = tf.compat.v1.get_collection(GK.UPDATE_OPS)
    mean = tf.compat.v1.get_collection(GK.GLOBAL_VARIABLES, "BatchNorm/moving_mean")[0]
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        train_out, _ = sess.run([y, updates], feeds[True])
        np.testing.assert_allclose(train_out.mean((0, 1, 2)), 0.0, atol=1e-5)
        np.testing.assert_allclose(sess.run(mean), X.mean((0, 1, 2)) * 0.5, rtol=1e-6)
        if kind == "variable":
            flag.load(False, sess)
        infer_out, _ = sess.run([y, updates], feeds[False])
        np.testing.assert_allclose(sess.run(mean), X.mean((0, 1, 2)) * 0.5, rtol=1e-6)  # unchanged
        moving_mean, moving_var = X.mean((0, 1, 2)) * 0.5, 1 + (X.var((0, 1, 2)) * 36 / 35 - 1) * 0.5
        np.testing.assert_allclose(infer_out, (X - moving_mean) / np.sqrt(moving_var + 1e-3), rtol=1e-5, atol=1e-5)


def test_collections_regularizers_activation_and_trainable(graph):
    x = tf.compat.v1.placeholder(tf.float32, [None, 3, 3, 2])
    regularizer = lambda v: tf.reduce_sum(v) * 0.0 + 1.0  # noqa: E731
    y = batch_norm(
        x,
        scale=True,
        param_regularizers={"beta": regularizer, "gamma": regularizer},
        variables_collections={"beta": ["betas"], "moving_mean": ["stats"]},
        outputs_collections="outputs",
        activation_fn=tf.nn.relu,
        trainable=False,
    )
    assert len(tf.compat.v1.get_collection(GK.REGULARIZATION_LOSSES)) == 2
    assert _names("betas") == ["BatchNorm/beta"]
    assert _names("stats") == ["BatchNorm/moving_mean"]
    assert tf.compat.v1.get_collection("outputs") == [y]
    assert y.op.type == "Relu"
    assert _names(GK.TRAINABLE_VARIABLES) == []


def test_variables_collections_as_a_list_applies_to_all(graph):
    x = tf.compat.v1.placeholder(tf.float32, [None, 3, 3, 2])
    batch_norm(x, variables_collections=["everything"])
    assert _names("everything") == ["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]


def test_zero_debias_and_renorm_create_tf1_extras(graph):
    x = tf.compat.v1.placeholder(tf.float32, [None, 3, 3, 2])
    batch_norm(x, zero_debias_moving_mean=True)
    batch_norm(x, renorm=True, renorm_clipping={"rmax": 3.0}, renorm_decay=0.9)
    assert _names() == [
        "BatchNorm/beta",
        "BatchNorm/moving_mean",
        "BatchNorm/moving_variance",
        "BatchNorm/BatchNorm/moving_mean/biased",
        "BatchNorm/BatchNorm/moving_mean/local_step",
        "BatchNorm_1/beta",
        "BatchNorm_1/moving_mean",
        "BatchNorm_1/moving_variance",
        "BatchNorm_1/moving_stddev",
        "BatchNorm_1/renorm_mean",
        "BatchNorm_1/renorm_stddev",
    ]


def test_rejected_arguments_name_themselves(graph):
    x = tf.compat.v1.placeholder(tf.float32, [4, 3, 3, 2])
    # As TF 1.15: one weight per example, and no renorm on the path batch_weights takes.
    with pytest.raises(ValueError, match=r"Shapes \(4,\) and \(3,\) are incompatible"):
        batch_norm(x, batch_weights=tf.ones([3]))
    with pytest.raises(ValueError, match="renorm is not supported with batch_weights"):
        batch_norm(x, renorm=True, batch_weights=tf.ones([4]))
    with pytest.raises(ValueError, match="data_format"):
        batch_norm(x, data_format="NDHWC")
    with pytest.raises(ValueError, match="renorm is not supported"):
        batch_norm(x, renorm=True, updates_collections=None)
    assert _names() == []  # nothing half-built


def test_eager_call_points_to_batch_normalization():
    with pytest.raises(RuntimeError, match="BatchNormalization"):
        batch_norm(tf.constant(X))
