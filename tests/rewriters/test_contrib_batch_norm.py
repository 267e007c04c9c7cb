"""contrib_batch_norm: tf.contrib.layers.batch_norm / slim.batch_norm -> BatchNormalization or batch_norm."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import contrib_batch_norm

ONLY = ("contrib_batch_norm",)


# -- how it is reached: every spelling resolves to the same rewrite ------------------------------

SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.layers.batch_norm"),
    ("import tensorflow as tf\n", "tf.contrib.slim.batch_norm"),
    ("import tensorflow\n", "tensorflow.contrib.layers.batch_norm"),
    ("import tensorflow.contrib.slim as slim\n", "slim.batch_norm"),
    ("from tensorflow.contrib import slim\n", "slim.batch_norm"),
    ("from tensorflow.contrib import layers\n", "layers.batch_norm"),
    ("from tensorflow.contrib.layers import batch_norm\n", "batch_norm"),
    ("from tensorflow.contrib.layers import batch_norm as bn\n", "bn"),
    ("from tensorflow.contrib.slim import batch_norm as bn\n", "bn"),
    ("from tensorflow.contrib.layers.python.layers import layers as layers_lib\n", "layers_lib.batch_norm"),
    ("from tensorflow.contrib.layers.python.layers.layers import batch_norm\n", "batch_norm"),
    ("import tensorflow.contrib.layers.python.layers.layers as layers_lib\n", "layers_lib.batch_norm"),
    ("import tensorflow.compat.v1 as tf\n", "tf.contrib.layers.batch_norm"),
    ("import tensorflow as tf\nslim = tf.contrib.slim\n", "slim.batch_norm"),
    ("import tensorflow as tf\ncontrib_layers = tf.contrib.layers\n", "contrib_layers.batch_norm"),
]


@pytest.mark.parametrize("imports, spelling", SPELLINGS)
def test_every_spelling_is_found(imports, spelling):
    for target, emitted in (("keras", "BatchNormalization(momentum=0.999, scale=False)(x, training=training)"),
                            ("compat", "batch_norm(x, is_training=training)")):
        output, findings = migrate(f"{imports}y = {spelling}(x, is_training=training)\n", target, ONLY)
        assert f"y = {emitted}\n" in output
        assert "contrib" not in output
        assert findings == []


def test_module_alias_inside_a_function():
    check(
        """\
        import tensorflow as tf


        def block(x):
            slim = tf.contrib.slim
            return slim.batch_norm(x)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization


        def block(x):
            return BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


def test_slim_imports_still_used_become_tf_slim():
    check(
        """\
        import tensorflow.contrib.slim as slim

        net = slim.conv2d(x, 8, [3, 3])
        net = slim.batch_norm(net)
        """,
        """\
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization

        net = slim.conv2d(x, 8, [3, 3])
        net = BatchNormalization(momentum=0.999, scale=False)(net, training=True)
        """,
    )


# -- keras target: argument mapping ---------------------------------------------------------------

KERAS_CASES = {
    "defaults written where Keras differs": (
        "bn(x)",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=True)",
    ),
    "decay epsilon is_training": (
        "bn(x, decay=0.9, epsilon=1e-5, is_training=is_training)",
        "BatchNormalization(momentum=0.9, epsilon=1e-5, scale=False)(x, training=is_training)",
    ),
    "positional arguments follow the TF1 signature": (
        "bn(x, 0.9, False, True, 1e-4)",
        "BatchNormalization(momentum=0.9, epsilon=1e-4, center=False, scale=True)(x, training=True)",
    ),
    "inputs by keyword": (
        "bn(inputs=x, is_training=False)",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=False)",
    ),
    "NCHW is axis 1": (
        "bn(x, data_format='NCHW')",
        "BatchNormalization(axis=1, momentum=0.999, scale=False)(x, training=True)",
    ),
    "NHWC is Keras' default axis": (
        "bn(x, data_format='NHWC')",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=True)",
    ),
    "scope is the layer name": (
        "bn(x, scope='bn1')",
        "BatchNormalization(momentum=0.999, scale=False, name='bn1')(x, training=True)",
    ),
    "activation applied after": (
        "bn(x, activation_fn=tf.nn.relu)",
        "tf.nn.relu(BatchNormalization(momentum=0.999, scale=False)(x, training=True))",
    ),
    "activation None is no activation": (
        "bn(x, activation_fn=None)",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=True)",
    ),
    "activation lambda": (
        "bn(x, activation_fn=lambda t: tf.maximum(t, 0.1 * t))",
        "(lambda t: tf.maximum(t, 0.1 * t))(BatchNormalization(momentum=0.999, scale=False)(x, training=True))",
    ),
    "param_initializers literal": (
        "bn(x, scale=True, param_initializers={'beta': b_init, 'gamma': g_init, 'moving_mean': m_init, "
        "'moving_variance': v_init})",
        "BatchNormalization(momentum=0.999, scale=True, beta_initializer=b_init, gamma_initializer=g_init, "
        "moving_mean_initializer=m_init, moving_variance_initializer=v_init)(x, training=True)",
    ),
    "param_regularizers literal": (
        "bn(x, param_regularizers={'gamma': reg})",
        "BatchNormalization(momentum=0.999, scale=False, gamma_regularizer=reg)(x, training=True)",
    ),
    "renorm": (
        "bn(x, renorm=True, renorm_clipping={'rmax': 3.0}, renorm_decay=0.9)",
        "BatchNormalization(momentum=0.999, scale=False, renorm=True, renorm_clipping={'rmax': 3.0}, "
        "renorm_momentum=0.9)(x, training=True)",
    ),
    "fused, zero_debias, trainable kept": (
        "bn(x, fused=True, zero_debias_moving_mean=True, trainable=False)",
        "BatchNormalization(momentum=0.999, scale=False, fused=True, zero_debias_moving_mean=True, "
        "trainable=False)(x, training=True)",
    ),
    "UPDATE_OPS and None collections dropped": (
        "bn(x, updates_collections=tf.GraphKeys.UPDATE_OPS, variables_collections=None, "
        "outputs_collections=None, batch_weights=None, adjustment=None, reuse=None)",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=True)",
    ),
    "compat.v1 UPDATE_OPS dropped": (
        "bn(x, updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS)",
        "BatchNormalization(momentum=0.999, scale=False)(x, training=True)",
    ),
    "reuse=False is TF1's inherit, no sharing": (
        "bn(x, reuse=False, scope='bn')",
        "BatchNormalization(momentum=0.999, scale=False, name='bn')(x, training=True)",
    ),
    "parenthesised call keeps its parentheses": (
        "(bn(x))",
        "(BatchNormalization(momentum=0.999, scale=False)(x, training=True))",
    ),
    "nested calls": (
        "bn(bn(x, scope='a'), scope='b')",
        "BatchNormalization(momentum=0.999, scale=False, name='b')("
        "BatchNormalization(momentum=0.999, scale=False, name='a')(x, training=True), training=True)",
    ),
}


@pytest.mark.parametrize("before, after", KERAS_CASES.values(), ids=KERAS_CASES.keys())
def test_keras_mapping(before, after):
    check(
        f"import tensorflow as tf\nfrom tensorflow.contrib.layers import batch_norm as bn\n\ny = {before}\n",
        f"import tensorflow as tf\nfrom tf2norm.replacements import BatchNormalization\n\ny = {after}\n",
        only=ONLY,
    )


def test_param_initializers_from_a_local_literal_dict():
    check(
        """\
        import tensorflow as tf

        inits = {'gamma': tf.constant_initializer(0.1)}
        y = tf.contrib.layers.batch_norm(x, scale=True, param_initializers=inits)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        inits = {'gamma': tf.constant_initializer(0.1)}
        y = BatchNormalization(momentum=0.999, scale=True, gamma_initializer=inits["gamma"])(x, training=True)
        """,
    )


def test_multiline_call_keeps_its_layout_and_comments():
    check(
        """\
        import tensorflow as tf

        net = tf.contrib.layers.batch_norm(
            net,
            decay=0.997,  # as in the paper
            epsilon=1e-5,
            is_training=is_training,  # fed at run time
            scope='bn',
        )
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        # fed at run time
        net = BatchNormalization(
            momentum=0.997,  # as in the paper
            epsilon=1e-5,
            scale=False,
            name='bn',
        )(net, training=is_training)
        """,
    )


def test_comments_of_dropped_arguments_survive():
    check(
        """\
        import tensorflow as tf

        net = tf.contrib.layers.batch_norm(net, updates_collections=tf.GraphKeys.UPDATE_OPS,  # the default
                                           scope='bn')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        # the default
        net = BatchNormalization(momentum=0.999, scale=False, name='bn')(net, training=True)
        """,
    )


# -- keras target: variable sharing ---------------------------------------------------------------

def test_reuse_with_scope_becomes_scoped_layer():
    check(
        """\
        import tensorflow as tf

        def head(x, reuse):
            return tf.contrib.layers.batch_norm(x, is_training=False, reuse=reuse, scope='head_bn')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        def head(x, reuse):
            return scoped_layer('head_bn', lambda: BatchNormalization(momentum=0.999, scale=False, name='head_bn'), reuse=reuse)(x, training=False)
        """,
    )


def test_explicit_reuse_true_and_auto_reuse_are_kept_as_written():
    check(
        """\
        import tensorflow as tf

        a = tf.contrib.layers.batch_norm(x, reuse=True, scope='a')
        b = tf.contrib.layers.batch_norm(x, reuse=tf.AUTO_REUSE, scope='b')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        a = scoped_layer('a', lambda: BatchNormalization(momentum=0.999, scale=False, name='a'), reuse=True)(x, training=True)
        b = scoped_layer('b', lambda: BatchNormalization(momentum=0.999, scale=False, name='b'), reuse=tf.AUTO_REUSE)(x, training=True)
        """,
    )


def test_scoped_calls_in_a_file_that_reuses_scopes_inherit_the_enclosing_reuse():
    check(
        """\
        import tensorflow as tf

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = tf.contrib.layers.batch_norm(x, scope='bn1')
                return tf.contrib.layers.batch_norm(x, reuse=reuse, scope='bn2')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = scoped_layer('bn1', lambda: BatchNormalization(momentum=0.999, scale=False, name='bn1'), reuse=tf.compat.v1.get_variable_scope().reuse)(x, training=True)
                return scoped_layer('bn2', lambda: BatchNormalization(momentum=0.999, scale=False, name='bn2'), reuse=reuse or tf.compat.v1.get_variable_scope().reuse)(x, training=True)
        """,
    )


def test_enclosing_reuse_spelled_with_the_files_compat_v1_import():
    check(
        """\
        import tensorflow.compat.v1 as tf

        def tower(x):
            tf.get_variable_scope().reuse_variables()
            return tf.contrib.layers.batch_norm(x, scope='bn')
        """,
        """\
        import tensorflow.compat.v1 as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        def tower(x):
            tf.get_variable_scope().reuse_variables()
            return scoped_layer('bn', lambda: BatchNormalization(momentum=0.999, scale=False, name='bn'), reuse=tf.get_variable_scope().reuse)(x, training=True)
        """,
    )


# -- TF1's whole signature (issue 13 item 6) ------------------------------------------------------

def test_batch_weights_go_to_the_layer_call_and_adjustment_to_the_layer():
    check(
        """        import tensorflow as tf

        def model(x, w, is_training):
            a = tf.contrib.layers.batch_norm(x, is_training=is_training, batch_weights=w)
            b = tf.contrib.layers.batch_norm(a, 0.9, adjustment=lambda shape: (2.0, 1.0), scope='adj')
            return tf.contrib.layers.batch_norm(b, batch_weights=None, adjustment=None)
        """,
        """        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        def model(x, w, is_training):
            a = BatchNormalization(momentum=0.999, scale=False)(x, training=is_training, batch_weights=w)
            b = BatchNormalization(momentum=0.9, scale=False, adjustment=lambda shape: (2.0, 1.0), name='adj')(a, training=True)
            return BatchNormalization(momentum=0.999, scale=False)(b, training=True)
        """,
    )


def test_updates_collections_none_becomes_forced_updates():
    # issue 13 item 5: the GAN idiom; BatchNormalization(forced_updates=True) runs the updates with the
    # output in a graph, as TF1's control dependencies did (tests/replacements/..._golden.py).
    check(
        """\
        import tensorflow as tf
        from tensorflow.contrib.layers import batch_norm

        def discriminator(x, train):
            h = batch_norm(x, decay=0.9, updates_collections=None, epsilon=1e-5, scale=True, is_training=train)
            return batch_norm(h, updates_collections=tf.GraphKeys.UPDATE_OPS, is_training=train)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        def discriminator(x, train):
            h = BatchNormalization(momentum=0.9, epsilon=1e-5, scale=True, forced_updates=True)(x, training=train)
            return BatchNormalization(momentum=0.999, scale=False)(h, training=train)
        """,
    )


def test_a_scope_path_stays_the_layer_name():
    # Keras 3 rejects "/" in a name; BatchNormalization takes the TF1 path (Keras name block1_bn, TF1's
    # variable names in a graph): tests/replacements/test_batch_normalization.py.
    check(
        """\
        import tensorflow as tf
        y = tf.contrib.layers.batch_norm(x, scope='block1/bn', is_training=t)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.999, scale=False, name='block1/bn')(x, training=t)
        """,
    )


def test_adjustment_is_kept_where_tf1_ignored_it_the_layer_ignores_it_too():
    # TF 1.15's legacy path (zero-debias, batch_weights) dropped adjustment; BatchNormalization does the
    # same for these arguments, so the call maps one for one (tests/replacements/..._golden.py).
    check(
        """\
        import tensorflow as tf
        y = tf.contrib.layers.batch_norm(x, zero_debias_moving_mean=True, adjustment=adj, batch_weights=w)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.999, scale=False, zero_debias_moving_mean=True, adjustment=adj)(x, training=True, batch_weights=w)
        """,
    )


# -- compat target: TF1 arguments untouched -------------------------------------------------------

def test_compat_keeps_every_argument():
    check(
        """\
        import tensorflow as tf
        import tensorflow.contrib.slim as slim

        a = tf.contrib.layers.batch_norm(x, 0.9, True, True, reuse=reuse, scope='bn', updates_collections=None)
        b = slim.batch_norm(x, batch_weights=w, data_format=fmt, **extra)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import batch_norm

        a = batch_norm(x, 0.9, True, True, reuse=reuse, scope='bn', updates_collections=None)
        b = batch_norm(x, batch_weights=w, data_format=fmt, **extra)
        """,
        target="compat",
    )


def test_compat_qualifies_the_name_when_the_file_defines_its_own_batch_norm():
    check(
        """\
        import tensorflow as tf


        def batch_norm(x, is_training):
            return tf.contrib.layers.batch_norm(x, decay=0.9, is_training=is_training)
        """,
        """\
        import tensorflow as tf
        import tf2norm.replacements


        def batch_norm(x, is_training):
            return tf2norm.replacements.batch_norm(x, decay=0.9, is_training=is_training)
        """,
        target="compat",
    )


# -- references: normalizer_fn, functools.partial -------------------------------------------------

def test_normalizer_fn_becomes_the_compat_function_in_both_targets():
    before = """\
        import tensorflow as tf
        slim = tf.contrib.slim

        net = slim.conv2d(x, 8, [3, 3], normalizer_fn=slim.batch_norm,
                          normalizer_params={'decay': 0.9, 'is_training': training})
        """
    after = """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        net = slim.conv2d(x, 8, [3, 3], normalizer_fn=batch_norm,
                          normalizer_params={'decay': 0.9, 'is_training': training})
        """
    check(before, after, target="compat")
    # Not reported: tf_slim's conv2d is the migrated caller, and it passes TF1 arguments for good.
    check(before, after)


def test_normalizer_fn_of_the_programs_own_function_is_reported_in_the_keras_target():
    # The program's own conv() may later be moved to Keras, and batch_norm with it: say so.
    found = check(
        """\
        import tensorflow.contrib.slim as slim
        from ops import conv

        net = conv(x, 8, normalizer_fn=slim.batch_norm)
        with slim.arg_scope([slim.conv2d, conv], normalizer_fn=slim.batch_norm):
            net = conv(net, 8)
        """,
        """\
        import tf_slim as slim
        from ops import conv
        from tf2norm.replacements import batch_norm

        net = conv(x, 8, normalizer_fn=batch_norm)
        with slim.arg_scope([slim.conv2d, conv], normalizer_fn=batch_norm):
            net = conv(net, 8)
        """,
        findings=[("TF2N108", 4, 32), ("TF2N108", 5, 56)],
    )
    assert found[0].message == (
        "batch_norm passed as a value (normalizer_fn=): its caller passes TF1 arguments, so it became "
        "tf2norm.replacements.batch_norm (TF1 semantics, tf.compat.v1 graph mode), not the Keras layer")


def test_normalizer_fn_in_a_slim_arg_scope_is_not_reported():
    # facenet's squeezenet.py: slim's conv2d and fully_connected take the default.
    check(
        """\
        import tensorflow as tf
        import tensorflow.contrib.slim as slim

        with slim.arg_scope([slim.conv2d, tf.contrib.layers.fully_connected],
                            normalizer_fn=slim.batch_norm, normalizer_params={'decay': 0.995}):
            net = slim.conv2d(x, 8, [3, 3])
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        with slim.arg_scope([slim.conv2d, tf.contrib.layers.fully_connected],
                            normalizer_fn=batch_norm, normalizer_params={'decay': 0.995}):
            net = slim.conv2d(x, 8, [3, 3])
        """,
    )


def test_functools_partial():
    check(
        """\
        import functools
        from tensorflow.contrib import layers

        bn = functools.partial(layers.batch_norm, decay=0.9)
        """,
        """\
        import functools
        from tf2norm.replacements import batch_norm

        bn = functools.partial(batch_norm, decay=0.9)
        """,
        target="compat",
    )


# -- arg_scope ------------------------------------------------------------------------------------

def test_arg_scope_lists_the_replacement_and_stays():
    # tf2norm's batch_norm is a tf_slim arg_scope function: the list names it, so the defaults keep
    # reaching it as a layer's normalizer_fn; the direct call gets them written in as well.
    check(
        """\
        import tensorflow as tf
        slim = tf.contrib.slim

        def net(x, is_training, params):
            with slim.arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm, normalizer_params=params):
                with slim.arg_scope([slim.batch_norm], is_training=is_training, decay=0.9):
                    x = slim.conv2d(x, 8, [3, 3])
                    x = slim.conv2d(x, 8, [3, 3], normalizer_fn=slim.batch_norm, normalizer_params={'scale': True})
                    x = slim.batch_norm(x, decay=0.99)
            return x
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        def net(x, is_training, params):
            with slim.arg_scope([slim.conv2d], normalizer_fn=batch_norm, normalizer_params=params):
                with slim.arg_scope([batch_norm], is_training=is_training, decay=0.9):
                    x = slim.conv2d(x, 8, [3, 3])
                    x = slim.conv2d(x, 8, [3, 3], normalizer_fn=batch_norm, normalizer_params={'scale': True})
                    x = batch_norm(x, decay=0.99, is_training=is_training)
            return x
        """,
        target="compat",
    )


def test_arg_scope_keras_target_maps_inherited_defaults():
    check(
        """\
        import tensorflow as tf
        slim = tf.contrib.slim

        with slim.arg_scope([slim.batch_norm, slim.dropout], is_training=is_training, decay=0.9):
            x = slim.batch_norm(x, scope='bn')
            x = slim.dropout(x)
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization, batch_norm

        with slim.arg_scope([batch_norm, slim.dropout], is_training=is_training, decay=0.9):
            x = BatchNormalization(momentum=0.9, scale=False, name='bn')(x, training=is_training)
            x = slim.dropout(x)
        """,
    )


def test_one_line_arg_scope_keeps_its_list_and_slim():
    # The bug this replaces: the list became `[]` and the `slim` alias went, a NameError at run time.
    before = """\
        import tensorflow as tf
        slim = tf.contrib.slim
        with slim.arg_scope([slim.batch_norm], is_training=t): y = slim.batch_norm(x)
        """
    check(before, """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        with slim.arg_scope([batch_norm], is_training=t): y = batch_norm(x, is_training=t)
        """, target="compat")
    check(before, """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization, batch_norm

        with slim.arg_scope([batch_norm], is_training=t): y = BatchNormalization(momentum=0.999, scale=False)(x, training=t)
        """)


ARG_SCOPE_SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.framework.arg_scope", "import tensorflow as tf\nimport tf_slim\n",
     "tf_slim.arg_scope"),
    ("from tensorflow.contrib.framework import arg_scope\n", "arg_scope", "from tf_slim import arg_scope\n",
     "arg_scope"),
    ("import tensorflow as tf\ncontrib_framework = tf.contrib.framework\narg_scope = contrib_framework.arg_scope\n",
     "arg_scope", "import tensorflow as tf\nimport tf_slim\n{R}\narg_scope = tf_slim.arg_scope\n", "arg_scope"),
    ("from tensorflow.contrib.framework.python.ops.arg_scope import arg_scope\n", "arg_scope",
     "from tf_slim.ops.arg_scope import arg_scope\n", "arg_scope"),
    # the project's own ops module that re-exports contrib's arg_scope (migrated on its own)
    ("from ops import arg_scope\n", "arg_scope", "from ops import arg_scope\n", "arg_scope"),
    ("import ops\n", "ops.arg_scope", "import ops\n", "ops.arg_scope"),
]


@pytest.mark.parametrize("imports, spelling, migrated_imports, migrated", ARG_SCOPE_SPELLINGS)
def test_arg_scope_is_recognised_however_reached(imports, spelling, migrated_imports, migrated):
    source = (f"{imports}from tensorflow.contrib.layers import batch_norm as bn\n\n"
              f"with {spelling}([bn], is_training=t):\n    y = bn(x)\n")
    output, findings = migrate(source, "keras")
    replacements = "from tf2norm.replacements import BatchNormalization, batch_norm\n"
    if "{R}" not in migrated_imports:
        migrated_imports += "{R}"
    assert output == (migrated_imports.replace("{R}", replacements) + f"\nwith {migrated}([batch_norm], is_training=t):\n"
                      f"    y = BatchNormalization(momentum=0.999, scale=False)(x, training=t)\n")
    assert findings == []


def test_arg_scope_reaching_a_helper_elsewhere_is_reported_in_the_keras_target_only():
    source = """\
        import tensorflow as tf
        slim = tf.contrib.slim
        from model_lib import build_body

        def scope(is_training):
            with slim.arg_scope([slim.batch_norm], is_training=is_training) as sc:
                return sc

        def model(x, is_training):
            with slim.arg_scope([slim.batch_norm], is_training=is_training):
                return build_body(x)
        """
    after = """\
        import tensorflow as tf
        import tf_slim as slim
        from model_lib import build_body
        from tf2norm.replacements import batch_norm

        def scope(is_training):
            with slim.arg_scope([batch_norm], is_training=is_training) as sc:
                return sc

        def model(x, is_training):
            with slim.arg_scope([batch_norm], is_training=is_training):
                return build_body(x)
        """
    check(source, after, target="compat")
    found = check(source, after, findings=[("TF2N109", 6, 26), ("TF2N109", 10, 26)])
    assert [f.message for f in found] == [
        "arg_scope over batch_norm: its scope is kept with `as` and may be entered elsewhere; where the keras "
        "target made that a Keras layer, no arg_scope reaches it (the list now names tf2norm's batch_norm, "
        "which it does reach)",
        "arg_scope over batch_norm: it calls build_body(), which may call batch_norm; where the keras target "
        "made that a Keras layer, no arg_scope reaches it (the list now names tf2norm's batch_norm, which it "
        "does reach)",
    ]
    assert found[0].hint == "pass these defaults to that call, or migrate the code it reaches with --target compat"


def test_arg_scope_over_a_function_of_the_file_is_reported_only_if_it_calls_batch_norm():
    check(
        """\
        import tensorflow.contrib.slim as slim

        def conv(x):
            return slim.conv2d(x, 8, [3, 3], normalizer_fn=slim.batch_norm)

        def norm(x):
            return slim.batch_norm(x)

        def block(x, is_training):
            with slim.arg_scope([slim.batch_norm], is_training=is_training):
                x = conv(x)
                return norm(x)
        """,
        """\
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization, batch_norm

        def conv(x):
            return slim.conv2d(x, 8, [3, 3], normalizer_fn=batch_norm)

        def norm(x):
            return BatchNormalization(momentum=0.999, scale=False)(x, training=True)

        def block(x, is_training):
            with slim.arg_scope([batch_norm], is_training=is_training):
                x = conv(x)
                return norm(x)
        """,
        findings=[("TF2N109", 10, 26)],
    )


def test_arg_scope_over_a_call_of_a_function_value_is_reported_in_the_keras_target():
    source = """\
        import tensorflow.contrib.slim as slim

        def block(x, is_training):
            norm = lambda t: slim.batch_norm(t)
            with slim.arg_scope([slim.batch_norm], is_training=is_training):
                return norm(x)
        """
    check(source, """\
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        def block(x, is_training):
            norm = lambda t: batch_norm(t)
            with slim.arg_scope([batch_norm], is_training=is_training):
                return norm(x)
        """, target="compat")
    check(source, """\
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization, batch_norm

        def block(x, is_training):
            norm = lambda t: BatchNormalization(momentum=0.999, scale=False)(t, training=True)
            with slim.arg_scope([batch_norm], is_training=is_training):
                return norm(x)
        """, findings=[("TF2N109", 5, 26)])


def test_arg_scope_over_slim_layers_repeat_and_nets_needs_no_finding():
    # They reach batch_norm only through normalizer_fn, which becomes tf2norm's arg_scope function.
    check(
        """\
        import tensorflow.contrib.slim as slim
        from tensorflow.contrib.slim.nets import vgg

        with slim.arg_scope([slim.batch_norm], is_training=False):
            net = slim.conv2d(x, 8, [3, 3])
            net = slim.repeat(net, 2, slim.conv2d, 8, [3, 3])
            net, _ = vgg.vgg_16(net)
        """,
        """\
        import tf_slim as slim
        from tf_slim.nets import vgg
        from tf2norm.replacements import batch_norm

        with slim.arg_scope([batch_norm], is_training=False):
            net = slim.conv2d(x, 8, [3, 3])
            net = slim.repeat(net, 2, slim.conv2d, 8, [3, 3])
            net, _ = vgg.vgg_16(net)
        """,
    )


def test_a_local_arg_scope_function_is_not_slims():
    # The file's own arg_scope: its list entry is a plain value (TF2N108), no arg_scope defaults are
    # written into the call.
    check(
        """\
        import tensorflow.contrib.slim as slim

        def arg_scope(functions, **defaults):
            return open(defaults['path'])

        with arg_scope([slim.batch_norm], path='p'):
            y = slim.batch_norm(x)
        """,
        """\
        from tf2norm.replacements import BatchNormalization, batch_norm

        def arg_scope(functions, **defaults):
            return open(defaults['path'])

        with arg_scope([batch_norm], path='p'):
            y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
        findings=[("TF2N108", 6, 17)],
    )
    check_noop("def arg_scope(ops, **kw):\n    return ops\n\nwith arg_scope([norm], is_training=t):\n    y = norm(x)\n")


# -- what is reported instead of converted (keras target) -----------------------------------------

REPORTED = {
    "TF2N010": ("bn(x, **kwargs)", "batch_norm: *args/**kwargs hide which arguments are passed; left unchanged"),
    "TF2N011": ("bn(x, is_traning=t)",
                "batch_norm: arguments do not match the TF1 signature (unknown argument 'is_traning'); "
                "left unchanged"),
    "TF2N101": ("bn(x, variables_collections=['v'])",
                "batch_norm(variables_collections=...): the Keras layer has no variables_collections; left unchanged"),
    "TF2N103": ("bn(x, updates_collections=['gan_updates'])",
                "batch_norm(updates_collections=['gan_updates']): the Keras layer puts its updates in UPDATE_OPS in "
                "graph mode (or runs them with the output: forced_updates=True, for updates_collections=None) and "
                "applies them in place in eager/tf.function; left unchanged"),
    "TF2N104": ("bn(x, reuse=True)",
                "batch_norm: reuse= without scope=; Keras layers share weights by object, not by variable scope; "
                "left unchanged"),
    "TF2N105": ("bn(x, data_format=fmt)",
                "batch_norm(data_format=...): only a literal 'NHWC' or 'NCHW' can be mapped; left unchanged"),
    "TF2N106": ("bn(x, decay=tf.placeholder_with_default(0.9, []))",
                "batch_norm(decay=...): a tensor where the Keras layer needs a Python value; left unchanged"),
    "TF2N107": ("bn(x, activation_fn=act)",
                "batch_norm(activation_fn=act): may be None when it runs, so it cannot be applied around the "
                "layer; left unchanged"),
}


@pytest.mark.parametrize("code", REPORTED)
def test_reported_and_left_unchanged(code):
    call, message = REPORTED[code]
    source = f"import tensorflow as tf\nfrom tensorflow.contrib.layers import batch_norm as bn\n\n\ndef f(x, act, fmt, w, t, kwargs):\n    return {call}\n"
    found = check(source, None, findings=[(code, 6, 12)])
    assert found[0].message == message
    assert found[0].rewriter == "contrib_batch_norm"


def test_non_literal_param_initializers_reported():
    found = check("import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x, param_initializers=make())\n",
                  None, findings=[("TF2N105", 2, 5)])
    assert found[0].message == ("batch_norm(param_initializers=...): only a literal dict with keys beta, gamma, "
                                "moving_mean, moving_variance can be mapped; left unchanged")


def test_a_name_bound_more_than_once_is_reported_not_guessed():
    found = check(
        """\
        try:
            import tensorflow.contrib.slim as slim
        except ImportError:
            import tf_slim as slim

        y = slim.batch_norm(x)
        """,
        """\
        try:
            import tf_slim as slim
        except ImportError:
            import tf_slim as slim

        y = slim.batch_norm(x)
        """,
        findings=[("TF2N012", 6, 5)],
    )
    assert found[0].message == ("slim.batch_norm may be tensorflow.contrib.slim.batch_norm or something else (the "
                                "name is bound more than once); left unchanged")
    assert found[0].rewriter == "contrib_batch_norm"
    check("import tensorflow as tf\nslim = tf.contrib.slim\nslim = other\ny = slim.batch_norm(x)\n",
          "import tensorflow as tf\nimport tf_slim as slim\nslim = other\ny = slim.batch_norm(x)\n",
          findings=[("TF2N012", 4, 5)])


def test_reuse_in_a_file_that_reuses_scopes_needs_scope():
    check(
        """\
        import tensorflow as tf

        with tf.variable_scope('m', reuse=True):
            y = tf.contrib.layers.batch_norm(x)
        """,
        None,
        findings=[("TF2N104", 4, 9)],
    )


def test_a_finding_can_be_silenced_on_its_line():
    call = "import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x, outputs_collections='o')"
    check(f"{call}  # tf2norm: ignore[TF2N101]\n", None)
    check(f"{call}  # tf2norm: ignore\n", None)
    check(f"{call}  # tf2norm: ignore[TF2N103]\n", None, findings=[("TF2N101", 2, 5)])


# -- look-alikes that must stay as they are -------------------------------------------------------

NOOPS = {
    "shadowed tf parameter": "import tensorflow as tf\n\ndef f(tf, x):\n    return tf.contrib.layers.batch_norm(x)\n",
    "local tf object": "import tensorflow as tf\n\ndef f(x):\n    tf = load()\n    return tf.contrib.layers.batch_norm(x)\n",
    "another library's batch_norm": "from mylib.layers import batch_norm\ny = batch_norm(x, decay=0.9)\n",
    "own batch_norm function": "def batch_norm(x, decay=0.9):\n    return x\n\ny = batch_norm(x)\n",
    "Keras layers already": "import tensorflow as tf\ny = tf.keras.layers.BatchNormalization()(x)\n",
    "already migrated": "from tf2norm.replacements import BatchNormalization, batch_norm\n"
                        "y = BatchNormalization(momentum=0.9, scale=False)(x, training=True)\nz = batch_norm(x)\n",
    "tf_slim is another package": "import tf_slim as slim\ny = slim.batch_norm(x)\n",
    "text mentioning contrib": "# tf.contrib.layers.batch_norm(x)\ns = 'tf.contrib.layers.batch_norm'\n",
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_noop(source):
    check_noop(source)


def test_module_docstring_names_legacy_symbol_and_target():
    first_lines = contrib_batch_norm.__doc__.splitlines()[:2]
    assert "tf.contrib.layers.batch_norm" in first_lines[0]
    assert "BatchNormalization" in first_lines[1]


def test_arg_scope_over_recursive_functions_of_the_file_terminates_and_looks_into_them():
    check(
        """\
        import tensorflow.contrib.slim as slim

        def even(x, n):
            return x if n == 0 else odd(slim.flatten(x), n - 1)

        def odd(x, n):
            return even(x, n - 1)

        with slim.arg_scope([slim.batch_norm], is_training=False):
            y = even(x, 4)
        """,
        """\
        import tf_slim as slim
        from tf2norm.replacements import batch_norm

        def even(x, n):
            return x if n == 0 else odd(slim.flatten(x), n - 1)

        def odd(x, n):
            return even(x, n - 1)

        with slim.arg_scope([batch_norm], is_training=False):
            y = even(x, 4)
        """,
    )
