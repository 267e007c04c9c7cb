"""contrib_slim: tf2norm's batch_norm and layer_norm are tf_slim arg_scope functions.

TF1's arg_scope reached `batch_norm` however it was called; after migration `arg_scope` is tf_slim's
and its list names tf2norm's functions, so the defaults must reach them directly, as a layer's
normalizer_fn, through slim.repeat and through tf_slim's own nets, and stop at the block's end.
"""

import pytest
import tensorflow as tf

tf_slim = pytest.importorskip("tf_slim")

from tf_slim.nets import alexnet, inception_v1  # noqa: E402

from tf2norm.replacements import batch_norm, layer_norm  # noqa: E402


@pytest.fixture
def graph():
    with tf.Graph().as_default() as g:
        yield g


def _updates(g):
    return g.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)


def test_both_are_arg_scope_functions_under_tf_slims_own_key():
    # One function for arg_scope, as contrib's and slim's batch_norm were in TF1: a list naming
    # either gives its defaults to both.
    for function, namesake in ((batch_norm, tf_slim.batch_norm), (layer_norm, tf_slim.layer_norm)):
        assert tf_slim.has_arg_scope(function)
        assert tf_slim.arg_scope_func_key(function) == tf_slim.arg_scope_func_key(namesake)
        assert function.__name__ == namesake.__name__
        assert function.__doc__.startswith("TF 1.15 `tf.contrib.layers.")


def test_an_arg_scope_over_tf_slims_function_reaches_it_and_nesting_order_holds(graph):
    x = tf.compat.v1.placeholder(tf.float32, [4, 3])
    with tf_slim.arg_scope([tf_slim.batch_norm], is_training=False):
        batch_norm(x, scope="slims")
        with tf_slim.arg_scope([batch_norm], is_training=True):
            batch_norm(x, scope="inner_ours")
    with tf_slim.arg_scope([batch_norm], is_training=True):
        with tf_slim.arg_scope([tf_slim.batch_norm], is_training=False):
            batch_norm(x, scope="inner_slims")
    # The innermost arg_scope wins whichever function it lists: only inner_ours trains.
    assert sorted({op.name.split("/")[0] for op in _updates(graph)}) == ["inner_ours"]


def test_direct_call_takes_the_defaults_and_its_own_arguments_win(graph):
    x = tf.compat.v1.placeholder(tf.float32, [4, 3])
    with tf_slim.arg_scope([batch_norm], is_training=False, scale=True, decay=0.9):
        batch_norm(x, scope="a")
        batch_norm(x, scope="b", scale=False)
    batch_norm(x, scope="c")  # outside the block: TF1's defaults again
    names = sorted(v.op.name for v in tf.compat.v1.global_variables())
    assert names == ["a/beta", "a/gamma", "a/moving_mean", "a/moving_variance",
                     "b/beta", "b/moving_mean", "b/moving_variance",
                     "c/beta", "c/moving_mean", "c/moving_variance"]
    # is_training=False: no update ops for a and b; c trains (TF1's default) and updates.
    assert sorted({op.name.split("/")[0] for op in _updates(graph)}) == ["c"]


def test_normalizer_fn_repeat_and_a_tf_slim_net_take_the_defaults(graph):
    images = tf.compat.v1.placeholder(tf.float32, [2, 32, 32, 3])
    with tf_slim.arg_scope([tf_slim.conv2d, tf_slim.fully_connected], normalizer_fn=batch_norm):
        with tf_slim.arg_scope([batch_norm], is_training=False, scale=True):
            tf_slim.conv2d(images, 4, [3, 3], scope="conv")
            tf_slim.repeat(images, 2, tf_slim.conv2d, 4, [3, 3], scope="rep")
            alexnet.alexnet_v2(tf.compat.v1.placeholder(tf.float32, [1, 224, 224, 3]),
                               num_classes=10, is_training=False)
    gammas = [v.op.name for v in tf.compat.v1.global_variables() if v.op.name.endswith("/gamma")]
    # Every batch norm was made with scale=True, and none trains at is_training=False.
    assert len(gammas) == 1 + 2 + 7  # conv, rep/rep_1..2, alexnet's 5 convs and 2 fcs (fc8 has none)
    assert _updates(graph) == []


@pytest.mark.parametrize("is_training", [False, True])
def test_a_tf_slim_net_that_opens_its_own_arg_scope_over_batch_norm_reaches_tf2norms(graph, is_training):
    # inception_v1 opens arg_scope([tf_slim.batch_norm, dropout], is_training=...) around its layers;
    # with normalizer_fn=tf2norm's batch_norm that must reach it, as it reached contrib's in TF1.
    images = tf.compat.v1.placeholder(tf.float32, [1, 224, 224, 3])
    with tf_slim.arg_scope([tf_slim.conv2d], normalizer_fn=batch_norm):
        inception_v1.inception_v1(images, num_classes=10, is_training=is_training)
    batch_norms = {v.op.name.rsplit("/", 2)[0] for v in tf.compat.v1.global_variables() if "BatchNorm" in v.op.name}
    assert len(batch_norms) == 57  # every convolution but the logits
    # Two moving-average updates per batch norm when training, none at inference.
    assert len(_updates(graph)) == (2 * 57 if is_training else 0)


def test_layer_norm_takes_the_defaults(graph):
    x = tf.compat.v1.placeholder(tf.float32, [2, 3, 4])
    with tf_slim.arg_scope([layer_norm], begin_norm_axis=-1, center=False):
        layer_norm(x, scope="ln")
    assert [v.op.name for v in tf.compat.v1.global_variables()] == ["ln/gamma"]


def test_a_saved_scope_entered_again_reaches_the_function(graph):
    x = tf.compat.v1.placeholder(tf.float32, [4, 3])
    with tf_slim.arg_scope([batch_norm], is_training=False) as saved:
        pass
    with tf_slim.arg_scope(saved):
        batch_norm(x, scope="inside")
    batch_norm(x, scope="outside")
    # is_training=False reached the call made under the saved scope: only the other one updates.
    assert sorted({op.name.split("/")[0] for op in _updates(graph)}) == ["outside"]


# contrib.layers' regularizers become tf_slim's (rewriter contrib_slim). What TF 1.15's computed and raised,
# recorded with its oracle venv (.tf1/bin/python, tf.contrib.layers, TF 1.15.0) on W = arange(-6, 6).reshape(3, 4)
# / 7 and V = linspace(-1, 2, 5), both float32: the penalty's value and its op's name.
_W = (tf.range(-6.0, 6.0) / 7.0).numpy().reshape(3, 4)
_V = tf.linspace(-1.0, 2.0, 5).numpy()
TF1_PENALTIES = {
    "l1": (1.54285728931427, "l1_regularizer"),
    "l2": (0.44693878293037415, "l2_regularizer"),
    "l1_l2": (1.8408164978027344, "l1_l2_regularizer"),
    "sum": (1.8408164978027344, "sum_regularizer"),
    "apply": (2.4636478424072266, "get_regularization_penalty"),
}
# A float32 sum of n terms is within n * eps * sum|terms| of the exact value whatever the reduction order
# (TF 2.21's reduce_sum may add in another order than TF 1.15's): here n <= 17 terms (apply: 12 + 5),
# sum|terms| < 3, so 17 * 1.2e-7 * 3 = 6.1e-6 bounds both; the values themselves are about 1.
PENALTY_ATOL = 17 * 2.0 ** -23 * 3


def test_tf_slims_regularizers_compute_tf1s_penalties_under_tf1s_op_names(graph):
    w = tf.constant(_W)
    penalties = {
        "l1": tf_slim.l1_regularizer(0.3)(w), "l2": tf_slim.l2_regularizer(0.3)(w),
        "l1_l2": tf_slim.l1_l2_regularizer(0.3, 0.2)(w),
        "sum": tf_slim.sum_regularizer([tf_slim.l1_regularizer(0.3), tf_slim.l2_regularizer(0.2)])(w),
    }
    a = tf.compat.v1.get_variable("a", initializer=_W)
    b = tf.compat.v1.get_variable("b", initializer=_V)
    penalties["apply"] = tf_slim.apply_regularization(tf_slim.l2_regularizer(0.5), [a, b])
    assert {k: t.op.name for k, t in penalties.items()} == {k: name for k, (_, name) in TF1_PENALTIES.items()}
    with tf.compat.v1.Session(graph=graph) as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        values = sess.run(penalties)
    for key, (expected, _) in TF1_PENALTIES.items():
        assert abs(float(values[key]) - expected) <= PENALTY_ATOL, (key, float(values[key]), expected)


def test_tf_slims_regularizers_check_scale_as_tf1_did():
    # TF 1.15: these raised exactly so; a scale of 0 gave a regularizer returning None; 1.5 and a string passed.
    with pytest.raises(ValueError) as negative:
        tf_slim.l1_regularizer(-0.1)
    assert str(negative.value) == "Setting a scale less than 0 on a regularizer: -0.1"
    with pytest.raises(ValueError) as integer:
        tf_slim.l2_regularizer(True)
    assert str(integer.value) == "scale cannot be an integer: True"
    with pytest.raises(ValueError) as empty:
        tf_slim.apply_regularization(tf_slim.l2_regularizer(0.1), [])
    assert str(empty.value) == "No weights to regularize."
    assert tf_slim.l1_regularizer(0.0)(tf.constant(_W)) is None
    assert tf_slim.l1_l2_regularizer(0.0, 0.0)(tf.constant(_W)) is None
    assert tf_slim.sum_regularizer([]) is None
    assert callable(tf_slim.l2_regularizer(1.5)) and callable(tf_slim.l1_regularizer("a"))
