"""rnn_cell_wrappers: MultiRNNCell / DropoutWrapper / LSTMStateTuple / dynamic_rnn around migrated cells."""

import pytest
from rewriter_cases import check, check_noop, migrate

from tf2norm.rewriters import rnn_cell_wrappers


def test_stack_built_with_a_helper_a_list_and_append():
    check(
        """\
        import tensorflow as tf


        def make_cell(units, keep_prob):
            cell = tf.contrib.rnn.LayerNormBasicLSTMCell(units)
            return tf.contrib.rnn.DropoutWrapper(cell, output_keep_prob=keep_prob)


        def encoder(inputs, keep_prob):
            cells = []
            for _ in range(2):
                cells.append(make_cell(32, keep_prob))
            stacked = tf.nn.rnn_cell.MultiRNNCell(cells)
            return tf.nn.dynamic_rnn(stacked, inputs, dtype=tf.float32)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import DropoutWrapper, LayerNormBasicLSTMCell, MultiRNNCell


        def make_cell(units, keep_prob):
            cell = LayerNormBasicLSTMCell(units)
            return DropoutWrapper(cell, output_keep_prob=keep_prob)


        def encoder(inputs, keep_prob):
            cells = []
            for _ in range(2):
                cells.append(make_cell(32, keep_prob))
            stacked = MultiRNNCell(cells)
            return tf.compat.v1.nn.dynamic_rnn(stacked, inputs, dtype=tf.float32)
        """,
    )


def test_list_comprehension_and_compat_v1_spellings():
    check(
        """\
        import tensorflow as tf
        from tensorflow.contrib import rnn

        cells = [tf.compat.v1.nn.rnn_cell.DropoutWrapper(rnn.LayerNormBasicLSTMCell(8), 0.9) for _ in range(3)]
        stacked = tf.compat.v1.nn.rnn_cell.MultiRNNCell(cells, state_is_tuple=True)
        state = tuple(rnn.LSTMStateTuple(c, h) for c, h in zip(cs, hs))
        outputs, _ = tf.compat.v1.nn.dynamic_rnn(stacked, x, initial_state=state)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import DropoutWrapper, LSTMStateTuple, LayerNormBasicLSTMCell, MultiRNNCell

        cells = [DropoutWrapper(LayerNormBasicLSTMCell(8), 0.9) for _ in range(3)]
        stacked = MultiRNNCell(cells, state_is_tuple=True)
        state = tuple(LSTMStateTuple(c, h) for c, h in zip(cs, hs))
        outputs, _ = tf.compat.v1.nn.dynamic_rnn(stacked, x, initial_state=state)
        """,
    )


def test_bidirectional_with_cells_from_self_attributes():
    check(
        """\
        import tensorflow as tf


        class Tagger(object):
            def __init__(self, units):
                self.cell_fw = tf.contrib.rnn.LayerNormBasicLSTMCell(units)
                self.cell_bw = tf.contrib.rnn.LayerNormBasicLSTMCell(units)

            def __call__(self, x):
                return tf.nn.bidirectional_dynamic_rnn(self.cell_fw, self.cell_bw, x, dtype=tf.float32)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell


        class Tagger(object):
            def __init__(self, units):
                self.cell_fw = LayerNormBasicLSTMCell(units)
                self.cell_bw = LayerNormBasicLSTMCell(units)

            def __call__(self, x):
                return tf.compat.v1.nn.bidirectional_dynamic_rnn(self.cell_fw, self.cell_bw, x, dtype=tf.float32)
        """,
    )


def test_dropout_wrapper_defaults_it_lacks_are_dropped_and_later_positionals_named():
    check(
        """\
        import tensorflow as tf

        cell = tf.contrib.rnn.DropoutWrapper(tf.contrib.rnn.LayerNormBasicLSTMCell(8), 1.0, 0.5, 1.0, False, None, None, 7)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import DropoutWrapper, LayerNormBasicLSTMCell

        cell = DropoutWrapper(LayerNormBasicLSTMCell(8), 1.0, 0.5, 1.0, seed=7)
        """,
    )


def test_lstm_state_tuple_always_migrates():
    check(
        """\
        import tensorflow as tf

        state = tf.nn.rnn_cell.LSTMStateTuple(c, h)
        is_lstm = isinstance(state, tf.contrib.rnn.LSTMStateTuple)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LSTMStateTuple

        state = LSTMStateTuple(c, h)
        is_lstm = isinstance(state, LSTMStateTuple)
        """,
    )


def test_wrappers_are_not_touched_when_the_cell_rewriter_is_skipped():
    source = ("import tensorflow as tf\n"
              "cell = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)])\n")
    output, findings = migrate(source, "keras", only=("rnn_cell_wrappers",))
    assert output == source
    assert [(f.code, f.line, f.col) for f in findings] == [("TF2N301", 2, 8)]


REPORTED = {
    "MultiRNNCell over GRU cells": (
        "cell = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.GRUCell(8) for _ in range(2)])\n",
        ("TF2N301", 2, 8),
        "tf.contrib.rnn.MultiRNNCell wraps [tf.contrib.rnn.GRUCell(8) for _ in range(2)], which tf2norm does not "
        "migrate; it raises on Keras 3 and was left unchanged",
    ),
    "DropoutWrapper over a cell from a parameter": (
        "def wrap(cell):\n    return tf.nn.rnn_cell.DropoutWrapper(cell, 0.5)\n",
        ("TF2N301", 3, 12),
        "tf.nn.rnn_cell.DropoutWrapper wraps cell, which tf2norm does not migrate; it raises on Keras 3 and was "
        "left unchanged",
    ),
    "variational dropout": (
        "cell = tf.contrib.rnn.DropoutWrapper(tf.contrib.rnn.LayerNormBasicLSTMCell(8), variational_recurrent=True)\n",
        ("TF2N302", 2, 8),
        "DropoutWrapper(variational_recurrent=...): tf2norm.replacements.DropoutWrapper has no "
        "variational_recurrent; left unchanged",
    ),
    "concatenated state": (
        "cell = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)], state_is_tuple=False)\n",
        ("TF2N304", 2, 8),
        "MultiRNNCell(state_is_tuple=...): tf2norm.replacements.MultiRNNCell keeps states as tuples only (TF1 "
        "deprecated concatenated states); left unchanged",
    ),
}


@pytest.mark.parametrize("source, finding, message", REPORTED.values(), ids=REPORTED.keys())
def test_reported(source, finding, message):
    output, findings = migrate("import tensorflow as tf\n" + source, "keras")
    assert [(f.code, f.line, f.col) for f in findings] == [finding]
    assert findings[0].message == message
    assert findings[0].rewriter == "rnn_cell_wrappers"
    assert ("tf.contrib.rnn.DropoutWrapper(" in output) == ("DropoutWrapper(tf.contrib" in source)


def test_dynamic_rnn_spelled_without_tensorflow_is_reported():
    found = check(
        """\
        from tensorflow import nn
        from tensorflow.contrib import rnn

        out = nn.dynamic_rnn(rnn.LayerNormBasicLSTMCell(8), x)
        """,
        """\
        from tensorflow import nn
        from tf2norm.replacements import LayerNormBasicLSTMCell

        out = nn.dynamic_rnn(LayerNormBasicLSTMCell(8), x)
        """,
        findings=[("TF2N303", 4, 7)],
    )
    assert found[0].message == "nn.dynamic_rnn: spelled without a `tensorflow` module before `.nn`; left unchanged"


NOOPS = {
    "dynamic_rnn over another cell": "import tensorflow as tf\nout = tf.nn.dynamic_rnn(tf.keras.layers.LSTMCell(8), x)\n",
    "already migrated": "import tensorflow as tf\nfrom tf2norm.replacements import MultiRNNCell, LayerNormBasicLSTMCell\n"
                        "cell = MultiRNNCell([LayerNormBasicLSTMCell(8)])\n"
                        "out = tf.compat.v1.nn.dynamic_rnn(cell, x)\n",
    "keras StackedRNNCells": "import tensorflow as tf\ncell = tf.keras.layers.StackedRNNCells([c1, c2])\n",
    "shadowed tf": "def f(tf, cells):\n    return tf.contrib.rnn.MultiRNNCell(cells)\n",
}


@pytest.mark.parametrize("source", NOOPS.values(), ids=NOOPS.keys())
def test_noop(source):
    check_noop(source)


def test_module_docstring_names_legacy_symbols_and_targets():
    first_lines = rnn_cell_wrappers.__doc__.splitlines()[:2]
    assert "MultiRNNCell" in first_lines[0] and "dynamic_rnn" in first_lines[0]
    assert "tf.compat.v1.nn.dynamic_rnn" in first_lines[1]
