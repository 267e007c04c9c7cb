"""tf1_layers: tf.layers' dense / conv / dropout / pooling / flatten, their classes and `Layer` -> tf2norm's, both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm import unsupported
from tf2norm.rewriters import tf1_layers

TARGETS = ("keras", "compat")


def _spellings(name):
    """(imports, spelling, what stays of the imports)."""
    tf = "import tensorflow as tf\n"
    return [
        (tf, f"tf.layers.{name}", tf),
        (tf, f"tf.compat.v1.layers.{name}", tf),
        ("import tensorflow.compat.v1 as tf\n", f"tf.layers.{name}", "import tensorflow.compat.v1 as tf\n"),
        (f"from tensorflow.compat.v1.layers import {name} as L\n", "L", ""),
        (f"from tensorflow.layers import {name}\n", name, ""),
        ("from tensorflow.compat.v1 import layers\n", f"layers.{name}", "from tensorflow.compat.v1 import layers\n"),
        ("from tensorflow.python.layers import core, convolutional, pooling\n",
         f"{'core' if name.lower() in ('dense', 'dropout', 'flatten') else 'pooling' if 'pool' in name.lower() else 'convolutional'}.{name}",
         "from tensorflow.python.layers import core, convolutional, pooling\n"),
    ]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("name", tf1_layers.FUNCTIONS + tf1_layers.CLASSES)
def test_every_spelling_of_every_name_is_found(name, target):
    spellings = _spellings(name)
    if name[0].isupper():
        # tf.layers' classes share Keras' names, so a file is read for them only through `compat` (what
        # tf_upgrade_v2 writes) or a tf.layers function (tf2norm.apis).
        spellings = [s for s in spellings if "compat" in s[0] + s[1]]
    for imports, spelling, kept in spellings:
        output, findings = migrate(f"{imports}y = {spelling}(x, 4)\n", target, ("tf1_layers",))
        assert output == f"{kept}from tf2norm.replacements import {name}\n\ny = {name}(x, 4)\n", spelling
        assert findings == []


@pytest.mark.parametrize("target", TARGETS)
def test_a_tf_layers_program_after_tf_upgrade_v2(target):
    # Every tf.layers batch-norm program also calls tf.layers' conv2d/dense/dropout/pooling: all of
    # them raised on Keras 3 before (TF2N727 only reported them).
    bn = ('BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(h, training=training)'
          if target == "keras" else "batch_normalization(h, training=training)")
    check(
        """\
        import tensorflow as tf


        def net(x, training):
            h = tf.compat.v1.layers.conv2d(x, 32, 3, padding="same", activation=tf.nn.relu, name="conv1")
            h = tf.compat.v1.layers.batch_normalization(h, training=training)
            h = tf.compat.v1.layers.max_pooling2d(h, 2, 2)
            h = tf.compat.v1.layers.dropout(h, rate=0.3, training=training)
            h = tf.compat.v1.layers.flatten(h)
            return tf.compat.v1.layers.dense(h, 10, kernel_regularizer=tf.keras.regularizers.l2(0.5 * (1e-4)))
        """,
        f"""\
        import tensorflow as tf
        from tf2norm.replacements import {"BatchNormalization" if target == "keras" else "batch_normalization"}, conv2d, dense, dropout, flatten, max_pooling2d


        def net(x, training):
            h = conv2d(x, 32, 3, padding="same", activation=tf.nn.relu, name="conv1")
            h = {bn}
            h = max_pooling2d(h, 2, 2)
            h = dropout(h, rate=0.3, training=training)
            h = flatten(h)
            return dense(h, 10, kernel_regularizer=tf.keras.regularizers.l2(0.5 * (1e-4)))
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_the_base_class_of_a_user_layer_is_tf1s_base_without_finding(target):
    # ludwig's recurrent_modules.py:57 (BLOCKERS L3): the first error of the migrated program.
    check(
        """\
        import tensorflow as tf


        class Projection(tf.layers.Layer):
            def __init__(self, weights, name=None, **kwargs):
                super(Projection, self).__init__(name=name, **kwargs)
                self.w = weights

            def call(self, inputs, **kwargs):
                return tf.layers.dropout(tf.matmul(inputs, self.w), rate=0.1, training=True)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import Layer, dropout


        class Projection(Layer):
            def __init__(self, weights, name=None, **kwargs):
                super(Projection, self).__init__(name=name, **kwargs)
                self.w = weights

            def call(self, inputs, **kwargs):
                return dropout(tf.matmul(inputs, self.w), rate=0.1, training=True)
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_a_subclass_of_a_concrete_layer_is_converted_and_reported(target):
    check(
        """\
        import tensorflow as tf


        class Tied(tf.compat.v1.layers.Dense):
            pass
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import Dense


        class Tied(Dense):
            pass
        """,
        target=target, findings=[("TF2N760", 4, 12)],
    )


@pytest.mark.parametrize("target", TARGETS)
def test_names_without_replacement_are_reported_and_left(target):
    source = """\
        import tensorflow as tf

        y = tf.compat.v1.layers.conv3d_transpose(x, 3, 3)
        z = tf.layers.separable_conv1d(x, 3, 3)
        Layer = tf.layers.SeparableConv1D
        """
    found = check(source, None, target=target,
                  findings=[("TF2N761", 3, 5), ("TF2N761", 4, 5), ("TF2N761", 5, 9)])
    assert found[0].message == (
        "tf.compat.v1.layers.conv3d_transpose: tf.layers' conv3d_transpose has no replacement in tf2norm; it raises "
        "on TF 2.16+ and was left unchanged")


@pytest.mark.parametrize("target", TARGETS)
def test_values_aliases_and_a_shadowed_name(target):
    check(
        """\
        import functools

        import tensorflow as tf

        pool = functools.partial(tf.layers.max_pooling1d, pool_size=2, strides=2)
        layer = tf.compat.v1.layers.MaxPool2D(2, 2)


        def head(x, dense):
            return dense(x), tf.compat.v1.layers.dense(x, 3)
        """,
        """\
        import functools

        import tensorflow as tf
        import tf2norm.replacements
        from tf2norm.replacements import MaxPooling2D, max_pooling1d

        pool = functools.partial(max_pooling1d, pool_size=2, strides=2)
        layer = MaxPooling2D(2, 2)


        def head(x, dense):
            return dense(x), tf2norm.replacements.dense(x, 3)
        """,
        target=target,
    )


def test_look_alikes_stay():
    check_noop(
        """\
        import keras
        import tensorflow as tf
        from myproject import layers

        a = keras.layers.Dense(3)(x)
        b = tf.keras.layers.Conv2D(3, 3)(x)
        c = layers.dense(x, 3)
        d = tf.nn.dropout(x, rate=0.5)
        e = tf.compat.v1.keras.layers.Flatten()(x)
        f = tf.nest.flatten(x)


        class L(tf.keras.layers.Layer):
            pass


        def dense(x, units):
            return x


        g = dense(x, 4)
        """
    )


def test_what_is_migrated_leaves_the_unsupported_table_and_the_rest_is_still_reported():
    migrated = set(tf1_layers.FUNCTIONS + tf1_layers.CLASSES + (tf1_layers.BASE,))
    output, findings = migrate("import tensorflow as tf\ny = tf.compat.v1.layers.conv2d(x, 3, 3)\n"
                               "z = tf.compat.v1.layers.conv3d_transpose(x, 3, 3)\n",
                               "compat", ("tf1_layers", "unsupported_apis"))
    assert [(f.code, f.line) for f in findings] == [("TF2N761", 3)]
    # Skipping this rewriter leaves every tf.layers name reported by the table, as before.
    output, findings = migrate("import tensorflow as tf\ny = tf.compat.v1.layers.conv2d(x, 3, 3)\n",
                               "compat", ("unsupported_apis",))
    assert [(f.code, f.line) for f in findings] == [("TF2N727", 2)]
    assert migrated | set(tf1_layers.UNMAPPED) | {"batch_normalization", "BatchNormalization"} >= {
        name for name in unsupported.TF_LAYERS}
