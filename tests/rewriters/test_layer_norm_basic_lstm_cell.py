"""layer_norm_basic_lstm_cell: tf.contrib.rnn.LayerNormBasicLSTMCell -> tf2norm.replacements' cell."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import layer_norm_basic_lstm_cell

ONLY = ("layer_norm_basic_lstm_cell",)

SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.rnn.LayerNormBasicLSTMCell"),
    ("from tensorflow.contrib import rnn\n", "rnn.LayerNormBasicLSTMCell"),
    ("import tensorflow.contrib.rnn as contrib_rnn\n", "contrib_rnn.LayerNormBasicLSTMCell"),
    ("from tensorflow.contrib.rnn import LayerNormBasicLSTMCell\n", "LayerNormBasicLSTMCell"),
    ("from tensorflow.contrib.rnn import LayerNormBasicLSTMCell as LNCell\n", "LNCell"),
    ("from tensorflow.contrib.rnn.python.ops.rnn_cell import LayerNormBasicLSTMCell\n", "LayerNormBasicLSTMCell"),
    ("from tensorflow.contrib.rnn.python.ops import rnn_cell\n", "rnn_cell.LayerNormBasicLSTMCell"),
    ("import tensorflow as tf\nrnn = tf.contrib.rnn\n", "rnn.LayerNormBasicLSTMCell"),
]


@pytest.mark.parametrize("imports, spelling", SPELLINGS)
@pytest.mark.parametrize("target", ["keras", "compat"])
def test_every_spelling_same_constructor_both_targets(imports, spelling, target):
    output, findings = migrate(f"{imports}cell = {spelling}(64, dropout_keep_prob=0.9, layer_norm=False)\n",
                               target, ONLY)
    assert "from tf2norm.replacements import LayerNormBasicLSTMCell\n" in output
    assert output.endswith("cell = LayerNormBasicLSTMCell(64, dropout_keep_prob=0.9, layer_norm=False)\n")
    assert "contrib" not in output
    assert findings == []


def test_arguments_layout_and_comments_untouched():
    check(
        """\
        import tensorflow as tf

        cell = tf.contrib.rnn.LayerNormBasicLSTMCell(
            num_units,
            forget_bias=0.0,  # as in the paper
            *extra_args,
            **extra_kwargs)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell

        cell = LayerNormBasicLSTMCell(
            num_units,
            forget_bias=0.0,  # as in the paper
            *extra_args,
            **extra_kwargs)
        """,
        only=ONLY,
    )


def test_class_reference_as_a_factory():
    check(
        """\
        from tensorflow.contrib import rnn

        CELLS = {'ln_lstm': rnn.LayerNormBasicLSTMCell}
        """,
        """\
        from tf2norm.replacements import LayerNormBasicLSTMCell

        CELLS = {'ln_lstm': LayerNormBasicLSTMCell}
        """,
        only=ONLY,
    )


def test_subclass_is_rewritten_and_reported():
    found = check(
        """\
        import tensorflow as tf


        class PeepholeLN(tf.contrib.rnn.LayerNormBasicLSTMCell):
            def call(self, inputs, state):
                return super().call(inputs, state)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell


        class PeepholeLN(LayerNormBasicLSTMCell):
            def call(self, inputs, state):
                return super().call(inputs, state)
        """,
        only=ONLY,
        findings=[("TF2N201", 4, 18)],
    )
    assert found[0].message == ("class PeepholeLN subclasses LayerNormBasicLSTMCell: it now subclasses tf2norm's "
                                "Keras cell, whose internals (build, call, _norm) are not TF1's")
    assert found[0].hint == ("check the methods PeepholeLN overrides against "
                             "tf2norm.replacements.LayerNormBasicLSTMCell")


def test_other_contrib_rnn_names_keep_the_import():
    check(
        """\
        from tensorflow.contrib import rnn

        a = rnn.LayerNormBasicLSTMCell(8)
        b = rnn.GRUBlockCellV2(8)
        """,
        """\
        from tensorflow.contrib import rnn
        from tf2norm.replacements import LayerNormBasicLSTMCell

        a = LayerNormBasicLSTMCell(8)
        b = rnn.GRUBlockCellV2(8)
        """,
        only=ONLY,
    )


def test_partial_import_line_keeps_the_other_names():
    check(
        """\
        from tensorflow.contrib.rnn import GRUBlockCellV2, LayerNormBasicLSTMCell

        a = LayerNormBasicLSTMCell(8)
        """,
        """\
        from tensorflow.contrib.rnn import GRUBlockCellV2
        from tf2norm.replacements import LayerNormBasicLSTMCell

        a = LayerNormBasicLSTMCell(8)
        """,
        only=ONLY,
    )


NOOPS = {
    "already migrated": "from tf2norm.replacements import LayerNormBasicLSTMCell\ncell = LayerNormBasicLSTMCell(8)\n",
    "another library's cell": "from mylib.rnn import LayerNormBasicLSTMCell\ncell = LayerNormBasicLSTMCell(8)\n",
    "keras LSTMCell": "import tensorflow as tf\ncell = tf.keras.layers.LSTMCell(8)\n",
    "shadowed tf": "def f(tf):\n    return tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n",
    "tfa cell is another API": "import tensorflow_addons as tfa\ncell = tfa.rnn.LayerNormLSTMCell(8)\n",
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_noop(source):
    check_noop(source, only=ONLY)


def test_module_docstring_names_legacy_symbol_and_target():
    first_lines = layer_norm_basic_lstm_cell.__doc__.splitlines()[:2]
    assert "tf.contrib.rnn.LayerNormBasicLSTMCell" in first_lines[0]
    assert "tf2norm.replacements.LayerNormBasicLSTMCell" in first_lines[1]
