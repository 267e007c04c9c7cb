"""contrib_layer_norm: tf.contrib.layers.layer_norm / slim.layer_norm -> LayerNormalization, LayerNorm or layer_norm."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import contrib_layer_norm

ONLY = ("contrib_layer_norm",)


# -- how it is reached: every spelling resolves to the same rewrite ------------------------------

SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.layers.layer_norm"),
    ("import tensorflow as tf\n", "tf.contrib.slim.layer_norm"),
    ("import tensorflow\n", "tensorflow.contrib.layers.layer_norm"),
    ("import tensorflow.contrib.slim as slim\n", "slim.layer_norm"),
    ("from tensorflow.contrib import slim\n", "slim.layer_norm"),
    ("from tensorflow.contrib import layers\n", "layers.layer_norm"),
    ("from tensorflow.contrib.layers import layer_norm\n", "layer_norm"),
    ("from tensorflow.contrib.layers import layer_norm as ln\n", "ln"),
    ("from tensorflow.contrib.slim import layer_norm as ln\n", "ln"),
    ("from tensorflow.contrib.layers.python.layers import layers as layers_lib\n", "layers_lib.layer_norm"),
    ("from tensorflow.contrib.layers.python.layers.layers import layer_norm\n", "layer_norm"),
    ("import tensorflow.contrib.layers.python.layers.layers as layers_lib\n", "layers_lib.layer_norm"),
    ("from tensorflow.contrib.layers.python.layers import layer_norm\n", "layer_norm"),
    ("import tensorflow.compat.v1 as tf\n", "tf.contrib.layers.layer_norm"),
    ("from tensorflow import compat\n", "compat.v1.contrib.layers.layer_norm"),
    ("import tensorflow as tf\nslim = tf.contrib.slim\n", "slim.layer_norm"),
    ("import tensorflow as tf\ncontrib_layers = tf.contrib.layers\n", "contrib_layers.layer_norm"),
    ("import tensorflow as tf\nslim = tf.contrib.slim\nsl = slim\n", "sl.layer_norm"),  # alias of an alias
]


@pytest.mark.parametrize("imports, spelling", SPELLINGS)
def test_every_spelling_is_found(imports, spelling):
    for target, emitted in (("keras", "LayerNorm(begin_params_axis=-2)(x)"),
                            ("compat", "layer_norm(x, begin_params_axis=-2)")):
        output, findings = migrate(f"{imports}y = {spelling}(x, begin_params_axis=-2)\n", target, ONLY)
        assert f"y = {emitted}\n" in output
        assert "from tf2norm.replacements import " + emitted.split("(")[0] + "\n" in output
        assert "contrib" not in output
        assert findings == []


def test_module_alias_inside_a_function():
    check(
        """\
        import tensorflow as tf


        def block(x):
            slim = tf.contrib.slim
            return slim.layer_norm(x)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm


        def block(x):
            return LayerNorm()(x)
        """,
    )


def test_slim_imports_still_used_become_tf_slim():
    check(
        """\
        import tensorflow.contrib.slim as slim

        net = slim.fully_connected(x, 8)
        net = slim.layer_norm(net)
        """,
        """\
        import tf_slim as slim
        from tf2norm.replacements import LayerNorm

        net = slim.fully_connected(x, 8)
        net = LayerNorm()(net)
        """,
    )


# -- keras target: which layer, which arguments ------------------------------------------------------

KERAS_CASES = {
    # TF1's default axes: moments over every axis but the batch, params over the last: not Keras'.
    "defaults are LayerNorm's": ("ln(x)", "LayerNorm()(x)"),
    "inputs by keyword": ("ln(inputs=x)", "LayerNorm()(x)"),
    "begin_norm_axis=-1 is Keras' axis=-1 with TF1's epsilon": (
        "ln(x, begin_norm_axis=-1)",
        "keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)",
    ),
    "both axes -1 given": (
        "ln(x, begin_norm_axis=-1, begin_params_axis=-1)",
        "keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)",
    ),
    "both -2 is axis [-2, -1]": (
        "ln(x, begin_norm_axis=-2, begin_params_axis=-2)",
        "keras.layers.LayerNormalization(axis=[-2, -1], epsilon=1e-12)(x)",
    ),
    "both -3 is axis [-3, -2, -1]": (
        "ln(x, begin_params_axis=-3, begin_norm_axis=-3)",
        "keras.layers.LayerNormalization(axis=[-3, -2, -1], epsilon=1e-12)(x)",
    ),
    "the same positive axes need the rank: LayerNorm": (
        "ln(x, begin_norm_axis=1, begin_params_axis=1)",
        "LayerNorm(begin_norm_axis=1, begin_params_axis=1)(x)",
    ),
    "norm over the last axis, params over two: LayerNorm": (
        "ln(x, begin_norm_axis=-1, begin_params_axis=-2)",
        "LayerNorm(begin_norm_axis=-1, begin_params_axis=-2)(x)",
    ),
    "params before the norm axes: LayerNorm": (
        "ln(x, begin_norm_axis=2, begin_params_axis=1)",
        "LayerNorm(begin_norm_axis=2, begin_params_axis=1)(x)",
    ),
    "non-literal axes go to LayerNorm unchanged": (
        "ln(x, begin_norm_axis=axis)",
        "LayerNorm(begin_norm_axis=axis)(x)",
    ),
    "positional arguments follow the TF1 signature": (
        "ln(x, False, True, None, None, None, None, False, -1)",
        "keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, center=False, scale=True, trainable=False)(x)",
    ),
    "center, scale, trainable kept": (
        "ln(x, center=False, scale=False, trainable=False)",
        "LayerNorm(center=False, scale=False, trainable=False)(x)",
    ),
    "scope is the layer name": (
        "ln(x, begin_norm_axis=-1, scope='ln1')",
        "keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, name='ln1')(x)",
    ),
    # issue 13 item 5: LayerNorm takes the path (Keras name block_ln, graph variables block/ln/...).
    "a scope path stays the name": ("ln(x, scope='block/ln')", "LayerNorm(name='block/ln')(x)"),
    "a scope path picks LayerNorm": ("ln(x, begin_norm_axis=-1, scope='block/ln')",
                                     "LayerNorm(begin_norm_axis=-1, name='block/ln')(x)"),
    "activation applied after": (
        "ln(x, activation_fn=tf.nn.relu)",
        "tf.nn.relu(LayerNorm()(x))",
    ),
    "activation applied after the Keras layer": (
        "ln(x, begin_norm_axis=-1, activation_fn=tf.nn.relu)",
        "tf.nn.relu(keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x))",
    ),
    "activation that may be None is LayerNorm's activation": (
        "ln(x, begin_norm_axis=-1, activation_fn=act)",
        "LayerNorm(begin_norm_axis=-1, activation=act)(x)",
    ),
    "activation lambda": (
        "ln(x, activation_fn=lambda t: tf.maximum(t, 0.1 * t))",
        "(lambda t: tf.maximum(t, 0.1 * t))(LayerNorm()(x))",
    ),
    "None collections, reuse and activation dropped": (
        "ln(x, variables_collections=None, outputs_collections=None, reuse=None, activation_fn=None, scope=None)",
        "LayerNorm()(x)",
    ),
    "reuse=False is TF1's inherit, no sharing": (
        "ln(x, reuse=False, scope='ln')",
        "LayerNorm(name='ln')(x)",
    ),
    "parenthesised call keeps its parentheses": ("(ln(x))", "(LayerNorm()(x))"),
    "nested calls": (
        "ln(ln(x, scope='a'), begin_norm_axis=-1, scope='b')",
        "keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, name='b')(LayerNorm(name='a')(x))",
    ),
}


@pytest.mark.parametrize("before, after", KERAS_CASES.values(), ids=KERAS_CASES.keys())
def test_keras_mapping(before, after):
    imports = ["import tensorflow as tf"]
    if "keras." in after:
        imports.append("import keras")
    if "LayerNorm(" in after:
        imports.append("from tf2norm.replacements import LayerNorm")
    check(
        f"import tensorflow as tf\nfrom tensorflow.contrib.layers import layer_norm as ln\n\ny = {before}\n",
        "\n".join(imports) + f"\n\ny = {after}\n",
        only=ONLY,
    )


def test_axes_from_a_module_constant_are_read():
    check(
        """\
        import tensorflow as tf

        AXIS = -1
        y = tf.contrib.layers.layer_norm(x, begin_norm_axis=AXIS)
        """,
        """\
        import tensorflow as tf
        import keras

        AXIS = -1
        y = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)
        """,
    )


def test_an_existing_keras_import_is_used():
    check(
        """\
        import keras
        import tensorflow as tf

        y = tf.contrib.layers.layer_norm(x, begin_norm_axis=-1)
        z = keras.layers.Dense(3)(y)
        """,
        """\
        import keras
        import tensorflow as tf

        y = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)
        z = keras.layers.Dense(3)(y)
        """,
    )


def test_a_file_whose_keras_is_something_else_gets_layer_norm():
    # `keras` here may be tf.keras of TF 1.x: not provably Keras 3, so tf2norm's own layer is used.
    check(
        """\
        import tensorflow as tf
        from tensorflow import keras

        y = tf.contrib.layers.layer_norm(x, begin_norm_axis=-1)
        """,
        """\
        import tensorflow as tf
        from tensorflow import keras
        from tf2norm.replacements import LayerNorm

        y = LayerNorm(begin_norm_axis=-1)(x)
        """,
    )


def test_multiline_call_keeps_its_layout_and_comments():
    check(
        """\
        import tensorflow as tf

        net = tf.contrib.layers.layer_norm(
            net,
            center=False,  # beta comes from the next layer
            reuse=None,  # unused here
            begin_norm_axis=2,
            scope='ln',
        )
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm

        # unused here
        net = LayerNorm(
            begin_norm_axis=2,
            center=False,  # beta comes from the next layer
            name='ln',
        )(net)
        """,
    )


def test_the_same_file_with_batch_norm_gets_one_import_line():
    check(
        """\
        import tensorflow as tf

        y = tf.contrib.layers.layer_norm(tf.contrib.layers.batch_norm(x, is_training=t))
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, LayerNorm

        y = LayerNorm()(BatchNormalization(momentum=0.999, scale=False)(x, training=t))
        """,
    )


# -- keras target: variable sharing ---------------------------------------------------------------

def test_reuse_with_scope_becomes_scoped_layer():
    check(
        """\
        import tensorflow as tf

        def head(x, reuse):
            return tf.contrib.layers.layer_norm(x, begin_norm_axis=-1, reuse=reuse, scope='head_ln')
        """,
        """\
        import tensorflow as tf
        import keras
        from tf2norm.replacements import scoped_layer

        def head(x, reuse):
            return scoped_layer('head_ln', lambda: keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, name='head_ln'), reuse=reuse)(x)
        """,
    )


def test_explicit_reuse_true_and_auto_reuse_are_kept_as_written():
    check(
        """\
        import tensorflow as tf

        a = tf.contrib.layers.layer_norm(x, reuse=True, scope='a')
        b = tf.contrib.layers.layer_norm(x, reuse=tf.AUTO_REUSE, scope='b/c')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm, scoped_layer

        a = scoped_layer('a', lambda: LayerNorm(name='a'), reuse=True)(x)
        b = scoped_layer('b/c', lambda: LayerNorm(name='b/c'), reuse=tf.AUTO_REUSE)(x)
        """,
    )


def test_scoped_calls_in_a_file_that_reuses_scopes_inherit_the_enclosing_reuse():
    check(
        """\
        import tensorflow as tf

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = tf.contrib.layers.layer_norm(x, scope='ln1')
                return tf.contrib.layers.layer_norm(x, reuse=reuse, scope='ln2', activation_fn=tf.nn.relu)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm, scoped_layer

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = scoped_layer('ln1', lambda: LayerNorm(name='ln1'), reuse=tf.compat.v1.get_variable_scope().reuse)(x)
                return tf.nn.relu(scoped_layer('ln2', lambda: LayerNorm(name='ln2'), reuse=reuse or tf.compat.v1.get_variable_scope().reuse)(x))
        """,
    )


# -- compat target: TF1 arguments untouched -------------------------------------------------------

def test_compat_keeps_every_argument():
    check(
        """\
        import tensorflow as tf
        import tensorflow.contrib.slim as slim

        a = tf.contrib.layers.layer_norm(x, True, False, tf.nn.relu, reuse=reuse, scope='ln', variables_collections=['v'])
        b = slim.layer_norm(x, begin_norm_axis=axis, outputs_collections=c, **extra)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import layer_norm

        a = layer_norm(x, True, False, tf.nn.relu, reuse=reuse, scope='ln', variables_collections=['v'])
        b = layer_norm(x, begin_norm_axis=axis, outputs_collections=c, **extra)
        """,
        target="compat",
    )


def test_compat_qualifies_the_name_when_the_file_defines_its_own_layer_norm():
    check(
        """\
        import tensorflow as tf


        def layer_norm(x):
            return tf.contrib.layers.layer_norm(x, begin_norm_axis=-1)
        """,
        """\
        import tensorflow as tf
        import tf2norm.replacements


        def layer_norm(x):
            return tf2norm.replacements.layer_norm(x, begin_norm_axis=-1)
        """,
        target="compat",
    )


def test_keras_target_qualifies_layer_norm_when_the_file_binds_it():
    check(
        """\
        import tensorflow as tf
        from mylib import LayerNorm

        y = tf.contrib.layers.layer_norm(LayerNorm()(x))
        """,
        """\
        import tensorflow as tf
        from mylib import LayerNorm
        import tf2norm.replacements

        y = tf2norm.replacements.LayerNorm()(LayerNorm()(x))
        """,
    )


# -- references: normalizer_fn, functools.partial, aliases of the function ------------------------

def test_normalizer_fn_becomes_the_compat_function_in_both_targets():
    before = """\
        import tensorflow as tf
        slim = tf.contrib.slim

        net = slim.fully_connected(x, 8, normalizer_fn=slim.layer_norm,
                                   normalizer_params={'begin_norm_axis': -1})
        """
    after = """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import layer_norm

        net = slim.fully_connected(x, 8, normalizer_fn=layer_norm,
                                   normalizer_params={'begin_norm_axis': -1})
        """
    check(before, after, target="compat")
    check(before, after)  # tf_slim's fully_connected passes TF1 arguments for good: nothing to report
    found = check("from tensorflow.contrib import layers\n\nnet = dense(x, 8, normalizer_fn=layers.layer_norm)\n",
                  "from tf2norm.replacements import layer_norm\n\nnet = dense(x, 8, normalizer_fn=layer_norm)\n",
                  findings=[("TF2N403", 3, 33)])
    assert found[0].message == (
        "layer_norm passed as a value (normalizer_fn=): its caller passes TF1 arguments, so it became "
        "tf2norm.replacements.layer_norm (TF1 semantics, tf.compat.v1 graph mode), not a Keras layer")
    assert found[0].rewriter == "contrib_layer_norm"


def test_functools_partial_and_an_alias_of_the_function():
    check(
        """\
        import functools
        from tensorflow.contrib import layers

        ln = functools.partial(layers.layer_norm, begin_norm_axis=-1)
        norm = layers.layer_norm
        """,
        """\
        import functools
        from tf2norm.replacements import layer_norm

        ln = functools.partial(layer_norm, begin_norm_axis=-1)
        norm = layer_norm
        """,
        findings=[("TF2N403", 4, 24), ("TF2N403", 5, 8)],
    )


# -- arg_scope ------------------------------------------------------------------------------------

def test_arg_scope_lists_the_replacement_and_stays():
    check(
        """\
        import tensorflow as tf
        slim = tf.contrib.slim

        def net(x, params):
            with slim.arg_scope([slim.fully_connected], normalizer_fn=slim.layer_norm, normalizer_params=params):
                with slim.arg_scope([slim.layer_norm], begin_norm_axis=-1, center=False):
                    x = slim.fully_connected(x, 8)
                    x = slim.layer_norm(x, center=True)
            return x
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import layer_norm

        def net(x, params):
            with slim.arg_scope([slim.fully_connected], normalizer_fn=layer_norm, normalizer_params=params):
                with slim.arg_scope([layer_norm], begin_norm_axis=-1, center=False):
                    x = slim.fully_connected(x, 8)
                    x = layer_norm(x, center=True, begin_norm_axis=-1)
            return x
        """,
        target="compat",
    )


def test_arg_scope_keras_target_maps_inherited_defaults():
    check(
        """\
        import tensorflow as tf
        slim = tf.contrib.slim

        with slim.arg_scope([slim.layer_norm, slim.dropout], begin_norm_axis=-1):
            x = slim.layer_norm(x, scope='ln')
            x = slim.dropout(x)
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        import keras
        from tf2norm.replacements import layer_norm

        with slim.arg_scope([layer_norm, slim.dropout], begin_norm_axis=-1):
            x = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12, name='ln')(x)
            x = slim.dropout(x)
        """,
    )


def test_one_arg_scope_over_batch_norm_and_layer_norm_lists_both_replacements():
    check(
        """\
        import tensorflow as tf
        slim = tf.contrib.slim

        with slim.arg_scope([slim.batch_norm, slim.dropout, slim.layer_norm], scale=True):
            x = slim.batch_norm(x, is_training=t)
            x = slim.layer_norm(x)
        with slim.arg_scope([slim.layer_norm, slim.batch_norm], center=False):
            x = slim.layer_norm(slim.batch_norm(x, is_training=t))
        """,
        """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import batch_norm, layer_norm

        with slim.arg_scope([batch_norm, slim.dropout, layer_norm], scale=True):
            x = batch_norm(x, is_training=t, scale=True)
            x = layer_norm(x, scale=True)
        with slim.arg_scope([layer_norm, batch_norm], center=False):
            x = layer_norm(batch_norm(x, is_training=t, center=False), center=False)
        """,
        target="compat",
    )


def test_arg_scope_that_reaches_unseen_code_is_reported_in_the_keras_target():
    source = """\
        import tensorflow as tf
        slim = tf.contrib.slim

        def model(x):
            with slim.arg_scope([slim.layer_norm], begin_norm_axis=-1):
                return build_body(x)
        """
    after = """\
        import tensorflow as tf
        import tf_slim as slim
        from tf2norm.replacements import layer_norm

        def model(x):
            with slim.arg_scope([layer_norm], begin_norm_axis=-1):
                return build_body(x)
        """
    check(source, after, target="compat")
    found = check(source, after, findings=[("TF2N404", 5, 26)])
    assert found[0].message == (
        "arg_scope over layer_norm: it calls build_body(), which may call layer_norm; where the keras target made "
        "that a Keras layer, no arg_scope reaches it (the list now names tf2norm's layer_norm, which it does reach)")


# -- what is reported instead of converted (keras target) -----------------------------------------

REPORTED = {
    "TF2N010": ("ln(x, **kwargs)", "layer_norm: *args/**kwargs hide which arguments are passed; left unchanged"),
    "TF2N011": ("ln(x, begin_norm_axes=1)",
                "layer_norm: arguments do not match the TF1 signature (unknown argument 'begin_norm_axes'); "
                "left unchanged"),
    "TF2N401": ("ln(x, variables_collections=['v'])",
                "layer_norm(variables_collections=...): Keras layers have no variables_collections; left unchanged"),
    "TF2N402": ("ln(x, reuse=True)",
                "layer_norm: reuse= without scope= (TF1 raised for it too); Keras layers share weights by object, "
                "not by variable scope; left unchanged"),
}


@pytest.mark.parametrize("code", REPORTED)
def test_reported_and_left_unchanged(code):
    call, message = REPORTED[code]
    source = f"import tensorflow as tf\nfrom tensorflow.contrib.layers import layer_norm as ln\n\n\ndef f(x, kwargs):\n    return {call}\n"
    found = check(source, None, findings=[(code, 6, 12)])
    assert found[0].message == message
    assert found[0].rewriter == "contrib_layer_norm"


def test_outputs_collections_reported():
    found = check("import tensorflow as tf\ny = tf.contrib.layers.layer_norm(x, outputs_collections='outs')\n",
                  None, findings=[("TF2N401", 2, 5)])
    assert found[0].message == ("layer_norm(outputs_collections=...): Keras layers have no outputs_collections; "
                                "left unchanged")


def test_no_scope_in_a_file_that_reuses_scopes_is_reported():
    found = check(
        """\
        import tensorflow as tf

        with tf.variable_scope('m', reuse=True):
            y = tf.contrib.layers.layer_norm(x)
        """,
        None,
        findings=[("TF2N402", 4, 9)],
    )
    assert found[0].message == ("layer_norm: no scope= in a file that reuses variable scopes; Keras layers share "
                                "weights by object, not by variable scope; left unchanged")


def test_sharing_tf1s_default_scope_of_an_unscoped_call_is_reported():
    found = check(
        """\
        import tensorflow as tf

        def f(x, y):
            with tf.variable_scope('model'):
                a = tf.contrib.layers.layer_norm(x)
                b = tf.contrib.layers.layer_norm(y, reuse=True, scope='LayerNorm')
            return a, b
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm

        def f(x, y):
            with tf.variable_scope('model'):
                a = LayerNorm()(x)
                b = tf.contrib.layers.layer_norm(y, reuse=True, scope='LayerNorm')
            return a, b
        """,
        findings=[("TF2N402", 6, 13)],
    )
    assert found[0].message == (
        "layer_norm: scope='LayerNorm' is TF1's default scope, which calls without scope= may have made; "
        "Keras layers share weights by object, not by variable scope; left unchanged")
    check("import tensorflow as tf\ny = tf.contrib.layers.layer_norm(x, reuse=reuse, scope='block/LayerNorm_1')\n",
          None, findings=[("TF2N402", 2, 5)])


def test_a_name_bound_more_than_once_is_reported_not_guessed():
    found = check(
        """\
        try:
            from tensorflow.contrib.layers import layer_norm
        except ImportError:
            from mylib import layer_norm

        y = layer_norm(x)
        """,
        None,
        findings=[("TF2N012", 6, 5)],
    )
    assert found[0].message == ("layer_norm may be tensorflow.contrib.layers.layer_norm or something else (the "
                                "name is bound more than once); left unchanged")
    assert found[0].rewriter == "contrib_layer_norm"


def test_a_finding_can_be_silenced_on_its_line():
    check("import tensorflow as tf\ny = tf.contrib.layers.layer_norm(x, outputs_collections=c)  # tf2norm: ignore\n",
          None)


# -- look-alikes that must stay as they are -------------------------------------------------------

NOOPS = {
    "shadowed tf parameter": "import tensorflow as tf\n\ndef f(tf, x):\n    return tf.contrib.layers.layer_norm(x)\n",
    "local tf object": "import tensorflow as tf\n\ndef f(x):\n    tf = load()\n    return tf.contrib.layers.layer_norm(x)\n",
    "shadowed slim": "import tensorflow.contrib.slim as slim\n\ndef f(slim, x):\n    return slim.layer_norm(x)\n",
    "another library's layer_norm": "from mylib.layers import layer_norm\ny = layer_norm(x, begin_norm_axis=1)\n",
    "own layer_norm function": "def layer_norm(x, begin_norm_axis=1):\n    return x\n\ny = layer_norm(x)\n",
    "Keras layers already": "import keras\ny = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)\n",
    "tf.keras layer": "import tensorflow as tf\ny = tf.keras.layers.LayerNormalization()(x)\n",
    "tf.nn.batch_normalization is not contrib": "import tensorflow as tf\ny = tf.nn.batch_normalization(x, m, v, b, g, 1e-12)\n",
    "other contrib layers are not layer_norm": "import tensorflow as tf\ny = tf.contrib.layers.instance_norm(x)\n",
    "already migrated": "import keras\nfrom tf2norm.replacements import LayerNorm, layer_norm\n"
                        "y = LayerNorm(begin_norm_axis=-1)(x)\nz = layer_norm(x)\n"
                        "w = keras.layers.LayerNormalization(axis=-1, epsilon=1e-12)(x)\n",
    "tf_slim is another package": "import tf_slim as slim\ny = slim.layer_norm(x)\n",
    "tensorflow_addons": "import tensorflow_addons as tfa\ny = tfa.layers.GroupNormalization()(x)\n",
    "text mentioning contrib": "# tf.contrib.layers.layer_norm(x)\ns = 'tf.contrib.layers.layer_norm'\n",
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_noop(source):
    check_noop(source, only=ONLY)


def test_module_docstring_names_legacy_symbol_and_target():
    first_lines = contrib_layer_norm.__doc__.splitlines()[:2]
    assert "tf.contrib.layers.layer_norm" in first_lines[0]
    assert "LayerNormalization" in first_lines[1] and "LayerNorm(" in first_lines[1]


# -- get_variable('gamma'/'beta') taken over by layer_norm(reuse=True) (issue 13 item 5) ------------

GET_VARIABLE_THEN_REUSE = """\
import tensorflow as tf


def normalise(x, scope):
    with tf.compat.v1.variable_scope(scope):
        tf.compat.v1.get_variable('gamma', [8], initializer=tf.ones_initializer())
        tf.compat.v1.get_variable(name='beta', shape=[8], initializer=tf.zeros_initializer())
    return tf.contrib.layers.layer_norm(x, reuse=True, scope=scope)
"""


def test_layer_norm_reusing_get_variable_variables_is_reported():
    # It became scoped_layer(scope, ..., reuse=True), which raised "no layer yet" at run time.
    found = check(GET_VARIABLE_THEN_REUSE, None, findings=[("TF2N410", 8, 12)])
    assert found[0].message == (
        "layer_norm(reuse=...): this file creates 'beta' and 'gamma' with get_variable(), which TF1's layer_norm "
        "reused by scope and a Keras layer cannot take over; left unchanged")
    assert found[0].hint == "use --target compat (tf2norm.replacements.layer_norm reuses get_variable's variables)"
    # The compat target's layer_norm takes them over, as TF1 did.
    check(GET_VARIABLE_THEN_REUSE, GET_VARIABLE_THEN_REUSE.replace(
        "import tensorflow as tf\n", "import tensorflow as tf\nfrom tf2norm.replacements import layer_norm\n").replace(
        "tf.contrib.layers.layer_norm(", "layer_norm("), target="compat")


def test_get_variable_lookalikes_are_not_reported():
    # Other variables, or a layer_norm that does not reuse in a file that does not: converted as before.
    check(
        """\
        import tensorflow as tf
        w = tf.compat.v1.get_variable('kernel', [8, 8])
        g = tf.compat.v1.get_variable('gamma', [8])
        a = tf.contrib.layers.layer_norm(x, scope='ln')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNorm

        w = tf.compat.v1.get_variable('kernel', [8, 8])
        g = tf.compat.v1.get_variable('gamma', [8])
        a = LayerNorm(name='ln')(x)
        """,
    )
