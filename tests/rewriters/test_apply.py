"""FileContext.apply's fast path: statements nothing changes are not visited, and AddImportsVisitor
sees only the top imports and a stand-in for the statement after them. Each case is a before/after
pair, and the migrated file (both targets, wrapped and not) is the one the full visit makes."""

import glob
import os
from textwrap import dedent

import pytest

from tests.rewriters.rewriter_cases import UNWRAPPED, check
from tf2norm.rewriters import _context, _driver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def migrated_both_ways(source: bytes, path: str = "case.py"):
    """Asserts the fast path and the full visit migrate `source` alike, for both targets and widths."""
    for target in ("keras", "compat"):
        for line_length in (UNWRAPPED, 79):
            options = _driver.Options(target=target, line_length=line_length)
            fast = _driver.migrate_source(source, path, options)
            _context.FAST_APPLY = False
            try:
                full = _driver.migrate_source(source, path, options)
            finally:
                _context.FAST_APPLY = True
            assert fast == full, (target, line_length)


def check_both_ways(before: str, after: str) -> None:
    check(before, after)
    migrated_both_ways(dedent(before).encode("utf-8"))


def test_an_edit_in_a_with_header_lays_out_the_next_statement_and_untouched_ones_stay():
    check_both_ways(
        '''\
        """A model."""
        import tensorflow as tf
        # the layers
        import numpy as np
        # a comment above the first statement
        FLAGS = None


        def clean(x):
            return np.square(x)


        def net(x, training):
            with tf.variable_scope("a", custom_getter=tf.contrib.layers.batch_norm(x, is_training=training, decay=0.9)):
                y = x + 1
                z = tf.contrib.layers.batch_norm(y, is_training=training, scale=True, center=False, decay=0.9, epsilon=1e-3)
            return z


        class Model(object):
            def shadowed(self, tf):
                return tf.contrib.layers.batch_norm(self)

            def build(self, x):
                slim = tf.contrib.slim
                # kept with its statement
                return slim.batch_norm(x, is_training=False)  # trailing
        ''',
        '''\
        """A model."""
        import tensorflow as tf
        # the layers
        import numpy as np
        from tf2norm.replacements import BatchNormalization

        # a comment above the first statement
        FLAGS = None


        def clean(x):
            return np.square(x)


        def net(x, training):
            with tf.variable_scope("a", custom_getter=BatchNormalization(momentum=0.9, scale=False)(x, training=training)):
                y = x + 1
                z = BatchNormalization(momentum=0.9, epsilon=1e-3, center=False, scale=True)(y, training=training)
            return z


        class Model(object):
            def shadowed(self, tf):
                return tf.contrib.layers.batch_norm(self)

            def build(self, x):
                # kept with its statement
                return BatchNormalization(momentum=0.999, scale=False)(x, training=False)  # trailing
        ''',
    )


def test_imports_go_after_a_strict_flag_and_a_later_replacements_import_is_still_laid_out():
    before = '''\
        __strict__ = True
        from tensorflow.contrib import slim
        x = 1
        from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell, LayerNorm, GroupNormalization


        @slim.add_arg_scope
        def block(inputs):
            return slim.batch_norm(inputs, is_training=True, scale=True, center=True, decay=0.99, epsilon=1e-5, fused=None)
        '''
    check_both_ways(before, '''\
        __strict__ = True
        import tf_slim as slim
        from tf2norm.replacements import BatchNormalization

        x = 1
        from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell, LayerNorm, GroupNormalization


        @slim.add_arg_scope
        def block(inputs):
            return BatchNormalization(momentum=0.99, epsilon=1e-5, center=True, scale=True)(inputs, training=True)
        ''')
    output, _ = _driver.migrate_source(dedent(before).encode(), "case.py", _driver.Options(line_length=79))
    assert b"x = 1\nfrom tf2norm.replacements import (\n    BatchNormalization, LayerNormBasicLSTMCell" in output


def test_a_file_without_imports_at_the_top_and_a_parameter_named_tf():
    check_both_ways(
        '''\
        # no imports first
        def lookalike(tf):
            return tf.contrib.layers.batch_norm(tf)


        import tensorflow as tf
        y = [tf.contrib.layers.layer_norm(v) for v in range(3)]
        del tf
        ''',
        '''\
        # no imports first
        from tf2norm.replacements import LayerNorm

        def lookalike(tf):
            return tf.contrib.layers.batch_norm(tf)


        import tensorflow as tf
        y = [LayerNorm()(v) for v in range(3)]
        del tf
        ''',
    )


def test_a_file_of_imports_and_one_call():
    check_both_ways(
        """\
        from tensorflow.contrib.layers import batch_norm
        y = batch_norm(x)
        """,
        """\
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "fixtures", "legacy", "*.py"))),
                         ids=os.path.basename)
def test_every_legacy_fixture_migrates_as_with_the_full_visit(path):
    with open(path, "rb") as handle:
        source = handle.read()
    try:
        migrated_both_ways(source, path)
    except _driver._Unprocessable as problem:  # py2_legacy.py: both ways alike
        assert problem.finding.code == "TF2N001"
