"""Emitted code is wrapped to the file's line length, in the file's indentation style (_layout.py).

Every case runs the whole migration on a file at a real path (the line length may come from a
pyproject.toml above it), checks the exact output, that it compiles, and that a second run changes
nothing.
"""

from textwrap import dedent

import pytest
from click.testing import CliRunner

from tf2norm.cli import main
from tf2norm.rewriters import _driver, _layout


def migrated(tmp_path, source: str, name: str = "model.py", **options) -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(source))
    output, _ = _driver.migrate_source(path.read_bytes(), str(path), _driver.Options(**options))
    compile(output, str(path), "exec")
    again, _ = _driver.migrate_source(output, str(path), _driver.Options(**options))
    assert again == output, "a second run changed the output"
    return output.decode("utf-8")


@pytest.fixture(autouse=True)
def project_root(tmp_path):
    # tmp_path is the project root: the search for a black/ruff configuration stops there.
    (tmp_path / ".git").mkdir()
    _layout.configured_line_length.cache_clear()


# -- black's layout (88 columns) --------------------------------------------------------------------

def test_black_layout_splits_the_last_bracket_whose_first_line_fits(tmp_path):
    assert migrated(tmp_path, """\
        import tensorflow as tf


        def tower(net, is_training, reuse):
            with tf.variable_scope("tower", reuse=reuse):
                net = tf.contrib.layers.batch_norm(net, decay=0.9, scale=True, is_training=is_training, scope="bn", reuse=reuse)
                net = tf.contrib.layers.batch_norm(net, activation_fn=tf.nn.relu, is_training=is_training, scope="relu_bn")
                out = tf.contrib.layers.batch_norm(net, decay=0.9, epsilon=1e-5, center=False, is_training=is_training, scope="out")
                short = tf.contrib.layers.batch_norm(net, decay=0.9, is_training=is_training, scope="short")
            return net, out, short
        """, line_length=88) == dedent("""\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, scoped_layer


        def tower(net, is_training, reuse):
            with tf.variable_scope("tower", reuse=reuse):
                net = scoped_layer(
                    "bn",
                    lambda: BatchNormalization(momentum=0.9, scale=True, name="bn"),
                    reuse=reuse or tf.compat.v1.get_variable_scope().reuse,
                )(net, training=is_training)
                net = tf.nn.relu(
                    scoped_layer(
                        "relu_bn",
                        lambda: BatchNormalization(momentum=0.999, scale=False, name="relu_bn"),
                        reuse=tf.compat.v1.get_variable_scope().reuse,
                    )(net, training=is_training)
                )
                out = scoped_layer(
                    "out",
                    lambda: BatchNormalization(
                        momentum=0.9, epsilon=1e-5, center=False, scale=False, name="out"
                    ),
                    reuse=tf.compat.v1.get_variable_scope().reuse,
                )(net, training=is_training)
                short = scoped_layer(
                    "short",
                    lambda: BatchNormalization(momentum=0.9, scale=False, name="short"),
                    reuse=tf.compat.v1.get_variable_scope().reuse,
                )(net, training=is_training)
            return net, out, short
        """)


def test_a_magic_trailing_comma_keeps_one_argument_per_line_and_comments_keep_the_layout(tmp_path):
    assert migrated(tmp_path, """\
        import tensorflow as tf

        cell = tf.contrib.rnn.LayerNormBasicLSTMCell(
            128,
            forget_bias=0.5,
        )
        other = tf.contrib.rnn.LayerNormBasicLSTMCell(
            128, forget_bias=0.5,  # as in the paper
            dropout_keep_prob=0.9)
        joined = tf.contrib.rnn.LayerNormBasicLSTMCell(
            128, forget_bias=0.5)
        """) == dedent("""\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell

        cell = LayerNormBasicLSTMCell(
            128,
            forget_bias=0.5,
        )
        other = LayerNormBasicLSTMCell(
            128, forget_bias=0.5,  # as in the paper
            dropout_keep_prob=0.9)
        joined = LayerNormBasicLSTMCell(128, forget_bias=0.5)
        """)


# -- the file's own style ------------------------------------------------------------------------

def test_a_file_that_aligns_with_the_opening_bracket_gets_aligned_lines(tmp_path):
    assert migrated(tmp_path, """\
        import tensorflow as tf


        def tower(net, is_training):
            net = tf.contrib.layers.batch_norm(net, decay=0.9, epsilon=1e-5, center=False,
                                               is_training=is_training, scope="head")
            cell = tf.contrib.rnn.LayerNormBasicLSTMCell(128, forget_bias=0.5, dropout_keep_prob=0.9,
                                                         layer_norm=True, norm_gain=1.0, norm_shift=0.0)
            return net, cell
        """) == dedent("""\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell


        def tower(net, is_training):
            net = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=False,
                                     name="head")(net, training=is_training)
            cell = LayerNormBasicLSTMCell(128, forget_bias=0.5, dropout_keep_prob=0.9, layer_norm=True,
                                          norm_gain=1.0, norm_shift=0.0)
            return net, cell
        """)


def test_a_file_with_hanging_indents_closed_on_the_last_line_keeps_that(tmp_path):
    assert migrated(tmp_path, """\
        import tensorflow as tf


        def tower(net, is_training):
            cell = tf.contrib.rnn.LayerNormBasicLSTMCell(
                128, forget_bias=0.5, dropout_keep_prob=0.9, layer_norm=True, norm_gain=1.0,
                norm_shift=0.0)
            return tf.contrib.layers.batch_norm(
                net, decay=0.9, epsilon=1e-5, center=False, is_training=is_training, scope="head")
        """) == dedent("""\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell


        def tower(net, is_training):
            cell = LayerNormBasicLSTMCell(
                128, forget_bias=0.5, dropout_keep_prob=0.9, layer_norm=True, norm_gain=1.0,
                norm_shift=0.0)
            return BatchNormalization(
                momentum=0.9, epsilon=1e-5, center=False, scale=False,
                name="head")(net, training=is_training)
        """)


def test_tabs_inside_an_arg_scope(tmp_path):
    source = ("import tensorflow as tf\nslim = tf.contrib.slim\n\n\ndef f(x, t):\n"
              "\twith slim.arg_scope([slim.batch_norm], is_training=t, decay=0.9):\n"
              "\t\treturn slim.batch_norm(x, epsilon=1e-5, center=False, scale=True, scope='a_rather_long_scope')\n")
    assert migrated(tmp_path, source, line_length=88) == (
        "import tensorflow as tf\nimport tf_slim as slim\nfrom tf2norm.replacements import BatchNormalization, "
        "batch_norm\n\n\ndef f(x, t):\n"
        "\twith slim.arg_scope([batch_norm], is_training=t, decay=0.9):\n"
        "\t\treturn BatchNormalization(\n"
        "\t\t\tmomentum=0.9,\n\t\t\tepsilon=1e-5,\n\t\t\tcenter=False,\n\t\t\tscale=True,\n"
        "\t\t\tname='a_rather_long_scope',\n"
        "\t\t)(x, training=t)\n")


# -- the line length -------------------------------------------------------------------------------

# Short lines (the file shows no limit of its own) that become a long one.
LONG_CALL = """\
from tensorflow.contrib.layers import batch_norm as bn

y = bn(x, 0.9, False, True, 1e-5)
"""
AT_60 = """\
from tf2norm.replacements import BatchNormalization

y = BatchNormalization(
    momentum=0.9, epsilon=1e-5, center=False, scale=True
)(x, training=True)
"""
AT_88 = """\
from tf2norm.replacements import BatchNormalization

y = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=True)(
    x, training=True
)
"""
ON_ONE_LINE = """\
from tf2norm.replacements import BatchNormalization

y = BatchNormalization(momentum=0.9, epsilon=1e-5, center=False, scale=True)(x, training=True)
"""


@pytest.mark.parametrize("where, text", [
    ("pyproject.toml", "[tool.black]\nline-length = 60\n"),
    ("pyproject.toml", "[tool.ruff]\nline-length = 60\n"),
    ("ruff.toml", "line-length = 60\n"),
    (".ruff.toml", "line-length = 60\n"),
])
def test_the_configured_line_length_above_the_file(tmp_path, where, text):
    (tmp_path / where).write_text(text)
    (tmp_path / "sub" / "pyproject.toml").parent.mkdir()
    (tmp_path / "sub" / "pyproject.toml").write_text("[project]\nname = 'sub'\n")  # no line-length: look on
    assert migrated(tmp_path, LONG_CALL, "sub/pkg/model.py") == AT_60


def test_the_search_stops_at_the_project_root(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.black]\nline-length = 60\n")
    (tmp_path / "inner" / ".git").mkdir(parents=True)
    assert migrated(tmp_path, LONG_CALL, "inner/model.py") == AT_88


def test_without_configuration_the_files_longest_line_if_79_or_more_else_88(tmp_path):
    assert migrated(tmp_path, LONG_CALL) == AT_88
    long_line = "# " + "x" * 98 + "\n"
    assert migrated(tmp_path, LONG_CALL + long_line, "other.py") == ON_ONE_LINE + long_line


def test_line_length_option(tmp_path):
    (tmp_path / "model.py").write_text(LONG_CALL)
    result = CliRunner().invoke(main, ["migrate", "--line-length", "60", str(tmp_path / "model.py")])
    assert result.exit_code == 1
    assert (tmp_path / "model.py").read_text() == AT_60


def test_a_long_replacements_import_is_wrapped(tmp_path):
    assert migrated(tmp_path, """\
        import tensorflow as tf

        cells = tf.nn.rnn_cell.MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)])
        cells = tf.nn.rnn_cell.DropoutWrapper(cells, output_keep_prob=0.9)
        state = tf.nn.rnn_cell.LSTMStateTuple(c, h)
        y = tf.contrib.layers.batch_norm(x)
        """, line_length=60) == dedent("""\
        import tensorflow as tf
        from tf2norm.replacements import (
            BatchNormalization,
            DropoutWrapper,
            LSTMStateTuple,
            LayerNormBasicLSTMCell,
            MultiRNNCell,
        )

        cells = MultiRNNCell([LayerNormBasicLSTMCell(8)])
        cells = DropoutWrapper(cells, output_keep_prob=0.9)
        state = LSTMStateTuple(c, h)
        y = BatchNormalization(momentum=0.999, scale=False)(
            x, training=True
        )
        """)


def test_untouched_code_is_not_reflowed(tmp_path):
    source = """\
        import tensorflow as tf

        z = some_function_with_a_long_name(argument_one, argument_two, argument_three, argument_four, argument_5)
        y = tf.contrib.layers.batch_norm(x)
        """
    assert migrated(tmp_path, source, line_length=79) == dedent(source).replace(
        "import tensorflow as tf\n", "import tensorflow as tf\nfrom tf2norm.replacements import BatchNormalization\n"
    ).replace("tf.contrib.layers.batch_norm(x)", "BatchNormalization(momentum=0.999, scale=False)(x, training=True)")


def test_this_repository_configures_no_line_length_for_its_fixtures():
    # ruff's E501 limit is `lint.pycodestyle.max-line-length`, not `line-length`: migrate would read
    # that, and README's runs over fixtures/ (laid out by each file's own lines) would change.
    from pathlib import Path

    from tf2norm.rewriters import _layout

    root = Path(__file__).resolve().parents[2]
    for directory in (root, root / "fixtures" / "legacy", root / "fixtures" / "e2e" / "shared_towers"):
        assert _layout.configured_line_length(str(directory)) is None, directory


def test_the_bracket_habits_are_read_only_when_asked(monkeypatch):
    # Reading them tokenizes the whole file, and most migrated files never ask: emitted code fits.
    read = []
    monkeypatch.setattr(_layout, "_bracket_habits", lambda source: read.append(source) or (True, False))
    style = _layout.style("x.py", "f(a,\n  b)\n", "\t", 100)
    assert (style.line_length, style.indent, read) == (100, "\t", [])
    assert (style.visual, style.closing_alone) == (True, False)
    assert read == ["f(a,\n  b)\n"]  # once, for both


@pytest.mark.parametrize("source, habits", [
    ("f(a,\n  b)\n", (True, True)),  # aligned with the bracket
    ("f(\n    a,\n    b,\n)\n", (False, True)),  # hanging, closed alone
    ("f(\n    a,\n    b)\n", (False, False)),  # hanging, closed on the last line
    ("f(a, b)\n", (False, True)),  # nothing spans lines: the defaults
    ("f(a,\n", (False, True)),  # tokenize fails: what was counted before
])
def test_the_bracket_habits_of_a_file(source, habits):
    style = _layout.style("x.py", source, "    ", 88)
    assert (style.visual, style.closing_alone) == habits
