"""layers_batch_normalization: tf.layers / tf.compat.v1.layers batch_normalization and BatchNormalization
-> BatchNormalization(..., tf1_api="layers") (keras) or batch_normalization / LayersBatchNormalization (compat)."""

from textwrap import dedent

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import layers_batch_normalization

ONLY = ("layers_batch_normalization",)
KERAS_DEFAULT = 'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")'


# -- how it is reached: every spelling resolves to the same rewrite ------------------------------

FUNCTION_SPELLINGS = [
    ("import tensorflow as tf\n", "tf.layers.batch_normalization"),
    ("import tensorflow as tf\n", "tf.compat.v1.layers.batch_normalization"),
    ("import tensorflow.compat.v1 as tf\n", "tf.layers.batch_normalization"),
    ("import tensorflow\n", "tensorflow.layers.batch_normalization"),
    ("import tensorflow\n", "tensorflow.compat.v1.layers.batch_normalization"),
    ("import tensorflow as tensorflow_v1\n", "tensorflow_v1.layers.batch_normalization"),
    ("from tensorflow import layers\n", "layers.batch_normalization"),
    ("from tensorflow.compat.v1 import layers\n", "layers.batch_normalization"),
    ("from tensorflow.compat.v1 import layers as tfl\n", "tfl.batch_normalization"),
    ("from tensorflow.layers import batch_normalization\n", "batch_normalization"),
    ("from tensorflow.compat.v1.layers import batch_normalization as bn\n", "bn"),
    ("import tensorflow.compat.v1.layers as L\n", "L.batch_normalization"),
    ("from tensorflow.python.layers import normalization\n", "normalization.batch_normalization"),
    ("from tensorflow.python.layers import normalization\n", "normalization.batch_norm"),
    ("from tensorflow.python.layers.layers import batch_normalization as bn\n", "bn"),
    ("import tensorflow as tf\nlayers = tf.compat.v1.layers\n", "layers.batch_normalization"),
    ("import tensorflow as tf\nv1 = tf.compat.v1\nL = v1.layers\n", "L.batch_normalization"),
]

CLASS_SPELLINGS = [
    ("import tensorflow as tf\n", "tf.layers.BatchNormalization"),
    ("import tensorflow as tf\n", "tf.compat.v1.layers.BatchNormalization"),
    ("import tensorflow.compat.v1 as tf\n", "tf.layers.BatchNormalization"),
    ("import tensorflow\n", "tensorflow.compat.v1.layers.BatchNormalization"),
    ("from tensorflow.compat.v1 import layers\n", "layers.BatchNormalization"),
    ("from tensorflow.compat.v1.layers import BatchNormalization as BN\n", "BN"),
    ("from tensorflow.python.layers.normalization import BatchNorm\n", "BatchNorm"),
    ("import tensorflow as tf\nv1 = tf.compat.v1\nL = v1.layers\n", "L.BatchNormalization"),
]


@pytest.mark.parametrize("imports, spelling", FUNCTION_SPELLINGS)
def test_every_function_spelling_is_found(imports, spelling):
    for target, emitted in (("keras", f"{KERAS_DEFAULT}(x, training=training)"),
                            ("compat", "batch_normalization(x, training=training)")):
        output, findings = migrate(f"{imports}y = {spelling}(x, training=training)\n", target, ONLY)
        assert output.endswith(f"y = {emitted}\n"), output
        name = "BatchNormalization" if target == "keras" else "batch_normalization"
        assert f"from tf2norm.replacements import {name}\n" in output
        assert findings == []


@pytest.mark.parametrize("imports, spelling", CLASS_SPELLINGS)
def test_every_class_spelling_is_found(imports, spelling):
    for target, emitted in (("keras", KERAS_DEFAULT), ("compat", "LayersBatchNormalization()")):
        output, findings = migrate(f"{imports}bn = {spelling}()\n", target, ONLY)
        assert output.endswith(f"bn = {emitted}\n"), output
        name = "BatchNormalization" if target == "keras" else "LayersBatchNormalization"
        assert f"from tf2norm.replacements import {name}\n" in output
        assert findings == []


def test_from_imports_of_the_legacy_names_are_removed():
    check(
        """\
        from tensorflow.compat.v1.layers import BatchNormalization, batch_normalization

        y = batch_normalization(x, training=True)
        z = BatchNormalization(name='bn')(y)
        """,
        """\
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=True)
        z = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='bn')(y)
        """,
        only=ONLY,
    )
    check(
        """\
        from tensorflow.compat.v1.layers import BatchNormalization, batch_normalization

        y = batch_normalization(x, training=True)
        z = BatchNormalization(name='bn')(y)
        """,
        """\
        from tf2norm.replacements import LayersBatchNormalization, batch_normalization

        y = batch_normalization(x, training=True)
        z = LayersBatchNormalization(name='bn')(y)
        """,
        target="compat",
        only=ONLY,
    )


# -- keras target: argument mapping ---------------------------------------------------------------

KERAS_CASES = {
    "defaults written where tf2norm's layer differs; training=False is tf.layers' default": (
        "bn(x)",
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=False)',
    ),
    "momentum epsilon training": (
        "bn(x, momentum=0.9, epsilon=1e-5, training=is_training)",
        'BatchNormalization(momentum=0.9, epsilon=1e-5, scale=True, tf1_api="layers")(x, training=is_training)',
    ),
    "positional arguments follow the TF1 signature": (
        "bn(x, 1, 0.9, 1e-4, False, False)",
        'BatchNormalization(axis=1, momentum=0.9, epsilon=1e-4, center=False, scale=False, tf1_api="layers")'
        "(x, training=False)",
    ),
    "training positionally (the 15th argument)": (
        "bn(x, -1, 0.99, 1e-3, True, True, zi, oi, zi, oi, None, None, None, None, flag)",
        "BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer=zi, "
        "gamma_initializer=oi, moving_mean_initializer=zi, moving_variance_initializer=oi, beta_regularizer=None, "
        'gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, tf1_api="layers")(x, training=flag)',
    ),
    "inputs and training by keyword": (
        "bn(training=True, inputs=x)",
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=True)',
    ),
    "axis 1 and a one-element list": (
        "bn(bn(x, axis=1), axis=[1])",
        'BatchNormalization(axis=1, momentum=0.99, scale=True, tf1_api="layers")('
        'BatchNormalization(axis=1, momentum=0.99, scale=True, tf1_api="layers")(x, training=False), training=False)',
    ),
    "initializers, regularizers and constraints keep their names": (
        "bn(x, gamma_initializer=g, beta_regularizer=r, gamma_constraint=c, moving_variance_initializer=v)",
        "BatchNormalization(momentum=0.99, scale=True, gamma_initializer=g, moving_variance_initializer=v, "
        'beta_regularizer=r, gamma_constraint=c, tf1_api="layers")(x, training=False)',
    ),
    "renorm": (
        "bn(x, renorm=True, renorm_clipping={'rmax': 3.0}, renorm_momentum=0.9, training=t)",
        "BatchNormalization(momentum=0.99, scale=True, renorm=True, renorm_clipping={'rmax': 3.0}, "
        'renorm_momentum=0.9, tf1_api="layers")(x, training=t)',
    ),
    "virtual_batch_size and adjustment": (
        "bn(x, virtual_batch_size=8, training=t)",
        'BatchNormalization(momentum=0.99, scale=True, virtual_batch_size=8, tf1_api="layers")(x, training=t)',
    ),
    "adjustment": (
        "bn(x, adjustment=lambda s: (tf.ones(s[-1:]), tf.zeros(s[-1:])))",
        "BatchNormalization(momentum=0.99, scale=True, adjustment=lambda s: (tf.ones(s[-1:]), tf.zeros(s[-1:])), "
        'tf1_api="layers")(x, training=False)',
    ),
    "fused and trainable kept, fused=None dropped": (
        "bn(bn(x, fused=True, trainable=False), fused=None)",
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")('
        'BatchNormalization(momentum=0.99, scale=True, fused=True, tf1_api="layers", trainable=False)'
        "(x, training=False), training=False)",
    ),
    "name is the layer name": (
        "bn(x, name='bn1', training=t)",
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name=\'bn1\')(x, training=t)',
    ),
    "reuse=False and reuse=None share nothing": (
        "bn(bn(x, reuse=False, name='a'), reuse=None)",
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")('
        'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name=\'a\')(x, training=False), '
        "training=False)",
    ),
    "parenthesised call keeps its parentheses": (
        "(bn(x))",
        '(BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=False))',
    ),
}


@pytest.mark.parametrize("before, after", KERAS_CASES.values(), ids=KERAS_CASES.keys())
def test_keras_mapping(before, after):
    check(
        f"import tensorflow as tf\nfrom tensorflow.compat.v1.layers import batch_normalization as bn\n\ny = {before}\n",
        f"import tensorflow as tf\nfrom tf2norm.replacements import BatchNormalization\n\ny = {after}\n",
        only=ONLY,
    )


CLASS_CASES = {
    "defaults written": ("BN()", 'BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")'),
    "every argument by position": (
        "BN(1, 0.9, 1e-5, False, False, zi, oi, zi, oi, r, r, c, c, True, clip, 0.9, False, False, 4, None, 'bn')",
        "BatchNormalization(axis=1, momentum=0.9, epsilon=1e-5, center=False, scale=False, beta_initializer=zi, "
        "gamma_initializer=oi, moving_mean_initializer=zi, moving_variance_initializer=oi, beta_regularizer=r, "
        "gamma_regularizer=r, beta_constraint=c, gamma_constraint=c, renorm=True, renorm_clipping=clip, "
        'renorm_momentum=0.9, fused=False, virtual_batch_size=4, adjustment=None, tf1_api="layers", '
        "trainable=False, name='bn')",
    ),
    "dtype and name": (
        "BN(name='bn', dtype='float64', momentum=0.9)",
        'BatchNormalization(momentum=0.9, scale=True, tf1_api="layers", name=\'bn\', dtype=\'float64\')',
    ),
}


@pytest.mark.parametrize("before, after", CLASS_CASES.values(), ids=CLASS_CASES.keys())
def test_keras_class_mapping(before, after):
    check(
        f"from tensorflow.compat.v1.layers import BatchNormalization as BN\n\nlayer = {before}\n",
        f"from tf2norm.replacements import BatchNormalization\n\nlayer = {after}\n",
        only=ONLY,
    )


def test_class_apply_becomes_a_call_and_other_apply_calls_stay():
    check(
        """\
        import tensorflow as tf

        bn = tf.compat.v1.layers.BatchNormalization(momentum=0.9)
        y = bn.apply(x, training=is_training)
        z = bn(y, training=False)
        frame = frame.apply(func)
        other = make_layer()
        w = other.apply(z)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        bn = BatchNormalization(momentum=0.9, scale=True, tf1_api="layers")
        y = bn(x, training=is_training)
        z = bn(y, training=False)
        frame = frame.apply(func)
        other = make_layer()
        w = other.apply(z)
        """,
        only=ONLY,
    )


def test_tf1_only_attributes_of_a_converted_layer_are_reported():
    found = check(
        """\
        import tensorflow as tf

        bn = tf.compat.v1.layers.BatchNormalization()
        y = bn(x, training=True)
        ops = bn.updates + bn.get_updates_for(x)
        name = bn.scope_name
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        bn = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")
        y = bn(x, training=True)
        ops = bn.updates + bn.get_updates_for(x)
        name = bn.scope_name
        """,
        findings=[("TF2N508", 5, 7), ("TF2N508", 5, 20), ("TF2N508", 6, 8)],
        only=ONLY,
    )
    assert found[0].message == ("bn.updates: the converted layer is a Keras 3 layer, which has no updates; left "
                                "unchanged")
    # The compat target's LayersBatchNormalization has them, as TF1's layer did.
    check("import tensorflow as tf\nbn = tf.layers.BatchNormalization()\nops = bn.updates\n",
          "import tensorflow as tf\nfrom tf2norm.replacements import LayersBatchNormalization\n\n"
          "bn = LayersBatchNormalization()\nops = bn.updates\n", target="compat", only=ONLY)


def test_apply_of_a_name_bound_twice_is_left_alone():
    check(
        """\
        import tensorflow as tf

        bn = tf.compat.v1.layers.BatchNormalization()
        if deep:
            bn = make_other()
        y = bn.apply(x)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        bn = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")
        if deep:
            bn = make_other()
        y = bn.apply(x)
        """,
        only=ONLY,
    )


def test_multiline_call_keeps_its_layout_and_comments():
    check(
        """\
        import tensorflow as tf

        net = tf.compat.v1.layers.batch_normalization(
            net,
            momentum=0.997,  # as in the paper
            epsilon=1e-5,
            training=is_training,  # fed at run time
            name='bn',
        )
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        # fed at run time
        net = BatchNormalization(
            momentum=0.997,  # as in the paper
            epsilon=1e-5,
            scale=True,
            tf1_api="layers",
            name='bn',
        )(net, training=is_training)
        """,
        only=ONLY,
    )


# -- keras target: variable sharing ---------------------------------------------------------------

def test_name_with_reuse_becomes_scoped_layer():
    check(
        """\
        import tensorflow as tf

        def head(x, reuse):
            a = tf.layers.batch_normalization(x, reuse=reuse, name='head_bn')
            b = tf.layers.batch_normalization(a, reuse=True, name='a', training=True)
            return tf.layers.batch_normalization(b, reuse=tf.AUTO_REUSE, name='b')
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        def head(x, reuse):
            a = scoped_layer('head_bn', lambda: BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='head_bn'), reuse=reuse)(x, training=False)
            b = scoped_layer('a', lambda: BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='a'), reuse=True)(a, training=True)
            return scoped_layer('b', lambda: BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='b'), reuse=tf.AUTO_REUSE)(b, training=False)
        """,
        only=ONLY,
    )


def test_named_calls_in_a_file_that_reuses_scopes_inherit_the_enclosing_reuse():
    check(
        """\
        import tensorflow.compat.v1 as tf

        def tower(x, training, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = tf.layers.batch_normalization(x, training=training, name='bn1')
                return tf.layers.batch_normalization(x, training=training, reuse=reuse, name='bn2')
        """,
        """\
        import tensorflow.compat.v1 as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer

        def tower(x, training, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                x = scoped_layer('bn1', lambda: BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='bn1'), reuse=tf.get_variable_scope().reuse)(x, training=training)
                return scoped_layer('bn2', lambda: BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", name='bn2'), reuse=reuse or tf.get_variable_scope().reuse)(x, training=training)
        """,
        only=ONLY,
    )


def test_sharing_that_keras_cannot_express_is_reported():
    source = """\
        import tensorflow as tf

        a = tf.layers.batch_normalization(x, reuse=True)
        b = tf.compat.v1.layers.batch_normalization(x, reuse=tf.AUTO_REUSE, name=None)
        """
    found = check(source, findings=[("TF2N502", 3, 5), ("TF2N502", 4, 5)], target="keras", only=ONLY)
    assert found[0].message == (
        "tf.layers.batch_normalization: reuse= without name=; Keras layers share weights by object, not by "
        "variable scope; left unchanged")
    assert found[0].hint == "pass name='...' so tf2norm can emit scoped_layer(), or use --target compat"


def test_unnamed_layers_in_a_file_that_reuses_scopes_are_reported():
    source = """\
        import tensorflow as tf

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                bn = tf.layers.BatchNormalization()
                return bn(tf.layers.batch_normalization(x, training=True))
        """
    found = check(source, findings=[("TF2N505", 5, 14), ("TF2N502", 6, 19)], only=ONLY)
    assert found[1].message.endswith("no name= in a file that reuses variable scopes; Keras layers share "
                                     "weights by object, not by variable scope; left unchanged")
    # --target compat keeps the variable scopes: both convert.
    check(
        source,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayersBatchNormalization, batch_normalization

        def tower(x, reuse):
            with tf.variable_scope('tower', reuse=reuse):
                bn = LayersBatchNormalization()
                return bn(batch_normalization(x, training=True))
        """,
        target="compat",
        only=ONLY,
    )


# -- what cannot be mapped ------------------------------------------------------------------------

def test_several_axes_are_reported_in_both_targets():
    source = """\
        import tensorflow as tf

        a = tf.layers.batch_normalization(x, axis=[1, 2])
        b = tf.layers.BatchNormalization(axis=(1, 3))
        """
    for target in ("keras", "compat"):
        found = check(source, findings=[("TF2N501", 3, 5), ("TF2N501", 4, 5)], target=target, only=ONLY)
    assert found[0].message == (
        "tf.layers.batch_normalization(axis=[1, 2]): several axes (multi-axis batch normalization) are not "
        "supported by tf2norm's replacements; left unchanged")


def test_tensors_where_keras_needs_python_values_are_reported():
    found = check(
        """\
        import tensorflow as tf

        m = tf.constant(0.9)
        a = tf.layers.batch_normalization(x, momentum=m)
        b = tf.layers.BatchNormalization(virtual_batch_size=tf.shape(x)[0] // 2)
        c = tf.layers.batch_normalization(x, axis=-tf.rank(x))
        """,
        findings=[("TF2N503", 4, 5), ("TF2N503", 5, 5), ("TF2N503", 6, 5)],
        only=ONLY,
    )
    assert found[1].message == ("tf.layers.BatchNormalization(virtual_batch_size=...): a tensor where the Keras "
                                "layer needs a Python value; left unchanged")


def test_private_scope_arguments_of_the_class_are_reported():
    source = dedent("""\
        import tensorflow as tf

        bn = tf.layers.BatchNormalization(name='bn', _scope='bn', _reuse=True)
        """)
    found = check(source, findings=[("TF2N504", 3, 6)], only=ONLY)
    assert found[0].message == ("tf.layers.BatchNormalization(_scope=...): a private tf.layers argument with no "
                                "Keras equivalent; left unchanged")
    check(source, source.replace("tf.layers.BatchNormalization", "LayersBatchNormalization").replace(
        "import tensorflow as tf\n", "import tensorflow as tf\nfrom tf2norm.replacements import LayersBatchNormalization\n"),
        target="compat", only=ONLY)


def test_calls_that_do_not_match_the_signature_are_reported():
    source = dedent("""\
        import tensorflow as tf

        a = tf.layers.batch_normalization(x, decay=0.9)
        b = tf.layers.batch_normalization(x, **params)
        c = tf.layers.batch_normalization()
        d = tf.layers.BatchNormalization(-1, 0.99, 1e-3, True, True, z, o, z, o, r, r, c, c, False, None, 0.99,
                                         None, True, None, None, 'bn', 'float32')
        e = tf.layers.BatchNormalization(**params)
        """)
    found = check(source, findings=[("TF2N011", 3, 5), ("TF2N010", 4, 5), ("TF2N011", 5, 5), ("TF2N011", 6, 5),
                                    ("TF2N010", 8, 5)], only=ONLY)
    assert found[0].message == ("tf.layers.batch_normalization: arguments do not match the TF1 signature "
                                "(unknown argument 'decay'); left unchanged")
    # The compat replacements take the same arguments: they are passed on as they are (and the renamed
    # calls laid out afresh, here on one line: rewriter_cases.UNWRAPPED).
    compat = source.replace("tf.layers.batch_normalization", "batch_normalization").replace(
        "tf.layers.BatchNormalization", "LayersBatchNormalization").replace(
        "0.99,\n                                 None,", "0.99, None,").replace(
        "import tensorflow as tf\n",
        "import tensorflow as tf\nfrom tf2norm.replacements import LayersBatchNormalization, batch_normalization\n")
    check(source, compat, target="compat", only=ONLY)


# -- references: normalizer_fn, functools.partial, subclasses -------------------------------------

def test_passed_as_a_value_becomes_the_compat_function_in_both_targets():
    before = """\
        import functools
        import tensorflow as tf
        slim = tf.contrib.slim

        net = slim.conv2d(x, 8, [3, 3], normalizer_fn=tf.layers.batch_normalization,
                          normalizer_params={'training': training, 'momentum': 0.9})
        bn = functools.partial(tf.compat.v1.layers.batch_normalization, training=training)
        factory = tf.layers.BatchNormalization
        """
    after = """\
        import functools
        import tensorflow as tf
        from tf2norm.replacements import LayersBatchNormalization, batch_normalization

        slim = tf.contrib.slim

        net = slim.conv2d(x, 8, [3, 3], normalizer_fn=batch_normalization,
                          normalizer_params={'training': training, 'momentum': 0.9})
        bn = functools.partial(batch_normalization, training=training)
        factory = LayersBatchNormalization
        """
    check(before, after, target="compat", only=ONLY)
    found = check(before, after, findings=[("TF2N506", 5, 47), ("TF2N506", 7, 24), ("TF2N506", 8, 11)], only=ONLY)
    assert found[0].message == (
        "tf.layers.batch_normalization passed as a value (normalizer_fn=): its caller passes TF1 arguments, so it "
        "became tf2norm.replacements.batch_normalization (TF1 semantics, tf.compat.v1 graph mode), not the Keras "
        "layer")
    assert found[1].message.startswith("tf.layers.batch_normalization passed as a value (an argument of "
                                       "functools.partial())")
    assert "(assigned to a name)" in found[2].message and "LayersBatchNormalization" in found[2].message


def test_subclass_is_reported_in_both_targets():
    before = """\
        import tensorflow as tf


        class GhostBN(tf.layers.BatchNormalization):
            pass
        """
    after = """\
        import tensorflow as tf
        from tf2norm.replacements import LayersBatchNormalization


        class GhostBN(LayersBatchNormalization):
            pass
        """
    for target in ("keras", "compat"):
        found = check(before, after, target=target, findings=[("TF2N507", 4, 15)], only=ONLY)
    assert found[0].message.startswith("class GhostBN subclasses tf.layers.BatchNormalization: it now subclasses "
                                       "tf2norm.replacements.LayersBatchNormalization")


# -- compat target: TF1 arguments untouched -------------------------------------------------------

def test_compat_keeps_every_argument():
    check(
        """\
        import tensorflow.compat.v1 as tf

        a = tf.layers.batch_normalization(x, 1, 0.9, reuse=reuse, name='bn', training=is_training, fused=False)
        b = tf.layers.batch_normalization(x, virtual_batch_size=vbs, renorm=flag, **extra)
        bn = tf.layers.BatchNormalization(axis=[1], name='cls')
        y = bn.apply(a, training=True)
        """,
        """\
        import tensorflow.compat.v1 as tf
        from tf2norm.replacements import LayersBatchNormalization, batch_normalization

        a = batch_normalization(x, 1, 0.9, reuse=reuse, name='bn', training=is_training, fused=False)
        b = batch_normalization(x, virtual_batch_size=vbs, renorm=flag, **extra)
        bn = LayersBatchNormalization(axis=[1], name='cls')
        y = bn.apply(a, training=True)
        """,
        target="compat",
        only=ONLY,
    )


def test_compat_qualifies_the_name_when_the_file_defines_its_own_batch_normalization():
    check(
        """\
        import tensorflow as tf


        def batch_normalization(x, training):
            return tf.layers.batch_normalization(x, momentum=0.9, training=training)
        """,
        """\
        import tensorflow as tf
        import tf2norm.replacements


        def batch_normalization(x, training):
            return tf2norm.replacements.batch_normalization(x, momentum=0.9, training=training)
        """,
        target="compat",
        only=ONLY,
    )


def test_a_name_bound_twice_is_reported_not_guessed():
    check(
        """\
        try:
            from tensorflow.compat.v1.layers import batch_normalization
        except ImportError:
            from mylib import batch_normalization

        y = batch_normalization(x)
        """,
        findings=[("TF2N012", 6, 5)],
        only=ONLY,
    )


# -- look-alikes: never touched -------------------------------------------------------------------

NOOPS = {
    "Keras' own layer": "import tensorflow as tf\ny = tf.keras.layers.BatchNormalization(momentum=0.9)(x)\n",
    "keras package": "import keras\ny = keras.layers.BatchNormalization()(x)\n",
    "tf.nn.batch_normalization is another function": (
        "import tensorflow as tf\ny = tf.nn.batch_normalization(x, m, v, b, g, 1e-3)\n"
        "z = tf.compat.v1.nn.batch_normalization(x, m, v, b, g, 1e-3)\n"
    ),
    "shadowed tf": (
        "import tensorflow as tf\n\n\ndef f(tf, x):\n    return tf.layers.batch_normalization(x)\n"
    ),
    "another library's layers module": (
        "from tflearn import layers\ny = layers.batch_normalization(x)\nz = layers.BatchNormalization()\n"
    ),
    "a local function of the same name": (
        "def batch_normalization(x, training=False):\n    return x\n\n\ny = batch_normalization(x, training=True)\n"
    ),
    "an attribute of another object": "y = self.layers.batch_normalization(x)\nz = model.BatchNormalization()\n",
    "already migrated (keras target)": (
        "from tf2norm.replacements import BatchNormalization\n\n"
        'y = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(x, training=False)\n'
    ),
    "already migrated (compat target)": (
        "from tf2norm.replacements import LayersBatchNormalization, batch_normalization\n\n"
        "y = batch_normalization(x, training=True)\nbn = LayersBatchNormalization(name='bn')\n"
    ),
    "tf.compat.v2 is not tf.layers": "import tensorflow as tf\ny = tf.compat.v2.keras.layers.BatchNormalization()(x)\n",
    "only a string": "doc = 'tf.layers.batch_normalization(x)'\n",
    "contrib's batch_norm is another rewriter's": (
        "import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)\n"
    ),
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_look_alikes_are_left_alone(source):
    check_noop(source, only=ONLY)


def test_the_contrib_rewriter_leaves_tf_layers_alone():
    check_noop("import tensorflow as tf\ny = tf.layers.batch_normalization(x)\n", only=("contrib_batch_norm",))


def test_findings_table_uses_its_own_range():
    assert set(layers_batch_normalization.RULES) == {f"TF2N50{i}" for i in range(1, 9)}
    for code, rule in layers_batch_normalization.RULES.items():
        assert rule.code == code and rule.message and rule.hint and rule.severity == "warning"


def test_the_whole_migrate_run_with_every_rewriter():
    # tf_upgrade_v2's output: compat.v1 spellings next to a contrib batch_norm the other rewriter owns.
    output, findings = migrate(
        "import tensorflow as tf\n\n"
        "net = tf.compat.v1.layers.batch_normalization(x, training=is_training, name='bn1')\n"
        "net = tf.contrib.layers.batch_norm(net, is_training=is_training, scope='bn2')\n"
        "ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)\n"
    )
    assert output == (
        "import tensorflow as tf\n"
        "from tf2norm.replacements import BatchNormalization\n\n"
        "net = BatchNormalization(momentum=0.99, scale=True, tf1_api=\"layers\", name='bn1')(x, training=is_training)\n"
        "net = BatchNormalization(momentum=0.999, scale=False, name='bn2')(net, training=is_training)\n"
        "ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)\n"
    )
    assert findings == []
