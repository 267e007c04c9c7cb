"""rnn_cell_wrappers: MultiRNNCell / DropoutWrapper / LSTMStateTuple / dynamic_rnn around migrated cells."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
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


def test_wrappers_migrate_whatever_they_wrap():
    # TF1's wrappers raise on Keras 3 whatever they wrap, and tf2norm's take any TF1-callable cell: a
    # cell built elsewhere, a parameter, a cell another rewriter skipped (TF2N301 is retired).
    source = ("import tensorflow as tf\n"
              "cell = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)])\n")
    output, findings = migrate(source, "keras", only=("rnn_cell_wrappers",))
    assert output == ("import tensorflow as tf\nfrom tf2norm.replacements import MultiRNNCell\n\n"
                      "cell = MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)])\n")
    assert findings == []
    check(
        """\
        import tensorflow as tf
        from model.cells import make_cell


        def wrap(cell, keep):
            return tf.nn.rnn_cell.DropoutWrapper(cell, 0.5)


        stack = tf.contrib.rnn.MultiRNNCell([wrap(make_cell(), 0.9) for _ in range(2)])
        out, state = tf.nn.dynamic_rnn(stack, x, dtype=tf.float32)
        """,
        """\
        import tensorflow as tf
        from model.cells import make_cell
        from tf2norm.replacements import DropoutWrapper, MultiRNNCell


        def wrap(cell, keep):
            return DropoutWrapper(cell, 0.5)


        stack = MultiRNNCell([wrap(make_cell(), 0.9) for _ in range(2)])
        out, state = tf.compat.v1.nn.dynamic_rnn(stack, x, dtype=tf.float32)
        """,
    )


REPORTED = {
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
    # The compat target keeps dynamic_rnn, so it must spell tf.compat.v1; the keras target replaces the
    # call whatever its spelling (test_dynamic_rnn_layer_spellings).
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
        target="compat",
        findings=[("TF2N303", 4, 7)],
    )
    assert found[0].message == "nn.dynamic_rnn: spelled without a `tensorflow` module before `.nn`; left unchanged"


# ------------------------------------------------------- keras target: dynamic_rnn over one cell
def test_dynamic_rnn_over_one_cell_becomes_the_fast_layer():
    # scope= is kept (issue 13): in a graph the layer runs TF1's dynamic_rnn under it, TF1's names.
    before = """\
        import tensorflow as tf
        from tensorflow.contrib import rnn


        def encoder(x, lengths):
            cell = rnn.LayerNormBasicLSTMCell(32, dropout_keep_prob=0.9)
            zero = cell.zero_state(tf.shape(x)[0], tf.float32)
            outputs, state = tf.nn.dynamic_rnn(cell, x, lengths, zero, tf.float32, 64, True, False, 'enc')
            again, _ = tf.nn.dynamic_rnn(cell, x, initial_state=state, time_major=True, scope='again')
            return outputs, state.h, again, cell.output_size
        """
    check(
        before,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTM, LayerNormBasicLSTMCell


        def encoder(x, lengths):
            cell = LayerNormBasicLSTMCell(32, dropout_keep_prob=0.9)
            zero = cell.zero_state(tf.shape(x)[0], tf.float32)
            outputs, state = LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, sequence_length=lengths, initial_state=zero, scope='enc')
            again, _ = LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, initial_state=state, time_major=True, scope='again')
            return outputs, state.h, again, cell.output_size
        """,
    )
    # The compat target keeps TF1's dynamic_rnn and its variable names.
    check(
        before,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell


        def encoder(x, lengths):
            cell = LayerNormBasicLSTMCell(32, dropout_keep_prob=0.9)
            zero = cell.zero_state(tf.shape(x)[0], tf.float32)
            outputs, state = tf.compat.v1.nn.dynamic_rnn(cell, x, lengths, zero, tf.float32, 64, True, False, 'enc')
            again, _ = tf.compat.v1.nn.dynamic_rnn(cell, x, initial_state=state, time_major=True, scope='again')
            return outputs, state.h, again, cell.output_size
        """,
        target="compat",
    )


def test_dynamic_rnn_layer_keeps_the_layout_and_moves_dropped_comments_up():
    check(
        """\
        import tensorflow as tf

        outputs, state = tf.nn.dynamic_rnn(
            tf.contrib.rnn.LayerNormBasicLSTMCell(8),  # the cell
            inputs,  # batch-major
            sequence_length=lengths,
            swap_memory=True,  # for long sequences
            time_major=False,  # the default
            dtype=tf.float32,
            scope="encoder",  # names the variables
        )
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTM, LayerNormBasicLSTMCell

        # the cell
        # for long sequences
        # the default
        outputs, state = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(
            inputs,  # batch-major
            sequence_length=lengths,
            scope="encoder",  # names the variables
        )
        """,
    )


# (source after `import tensorflow as tf`, what it becomes after the imports)
LAYER_SPELLINGS = {
    "compat.v1 alias, inline cell, 'float32'": (
        "tfv1 = tf.compat.v1\n"
        "out = tfv1.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, dtype='float32')\n",
        "tfv1 = tf.compat.v1\n"
        "out = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(x)\n",
    ),
    "keywords, tf.dtypes.float32": (
        "out = tf.nn.dynamic_rnn(inputs=x, cell=tf.contrib.rnn.LayerNormBasicLSTMCell(8), dtype=tf.dtypes.float32)\n",
        "out = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(inputs=x)\n",
    ),
    "from tensorflow.compat.v1.nn import dynamic_rnn": (
        "from tensorflow.compat.v1.nn import dynamic_rnn\n"
        "out = dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, dtype=tf.float32)\n",
        "out = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(x)\n",  # the import was dead
    ),
    "another dtype is kept for the layer to check": (
        "out = tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, dtype=tf.float64)\n",
        "out = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(x, dtype=tf.float64)\n",
    ),
    "a dtype that is not a literal is kept": (
        "out = tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, None, None, x.dtype)\n",
        "out = LayerNormBasicLSTM.from_cell(LayerNormBasicLSTMCell(8)).dynamic_rnn(x, dtype=x.dtype)\n",
    ),
    "a module-level cell used by two functions": (
        "cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n"
        "def f(x):\n    return tf.nn.dynamic_rnn(cell, x, time_major=flag)\n"
        "def g(x):\n    return tf.nn.dynamic_rnn(cell, x, sequence_length=None, dtype=tf.float32)[0]\n",
        "cell = LayerNormBasicLSTMCell(8)\n"
        "def f(x):\n    return LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, time_major=flag)\n"
        "def g(x):\n    return LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x)[0]\n",
    ),
}


@pytest.mark.parametrize("before, after", LAYER_SPELLINGS.values(), ids=LAYER_SPELLINGS.keys())
def test_dynamic_rnn_layer_spellings(before, after):
    imports = "import tensorflow as tf\nfrom tf2norm.replacements import LayerNormBasicLSTM, LayerNormBasicLSTMCell\n"
    check("import tensorflow as tf\n" + before, imports + "\n" + after)


# Cells the layer must not take over: they stay tf.compat.v1.nn.dynamic_rnn, with no finding.
STAYS_COMPAT = {
    "MultiRNNCell": (
        "cell = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.LayerNormBasicLSTMCell(8)])\n"
        "out = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n"
    ),
    "DropoutWrapper, rebinding the name": (
        "cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\ncell = tf.contrib.rnn.DropoutWrapper(cell, 0.5)\n"
        "out = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n"
    ),
    "the cell is also called TF1-style": (
        "cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\nout = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n"
        "step = cell(x[:, 0], state)\n"
    ),
    "the cell is passed on": (
        "cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\nout = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n"
        "more = decoder(cell, out)\n"
    ),
    "an attribute": (
        "class M:\n    def __init__(self):\n        self.cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n\n"
        "    def __call__(self, x):\n        return tf.nn.dynamic_rnn(self.cell, x, dtype=tf.float32)\n"
    ),
    "a helper returning the cell": (
        "def make():\n    return tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n"
        "out = tf.nn.dynamic_rnn(make(), x, dtype=tf.float32)\n"
    ),
    "a cell built with reuse=": (
        "out = tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8, reuse=tf.AUTO_REUSE), x, dtype=tf.float32)\n"
    ),
    "a file that reuses variable scopes": (
        "def tower(x, reuse):\n    with tf.variable_scope('tower', reuse=reuse):\n"
        "        cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n"
        "        return tf.nn.dynamic_rnn(cell, x, dtype=tf.float32, scope='encoder')\n"
    ),
    "bidirectional": (
        "out = tf.nn.bidirectional_dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), "
        "tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, dtype=tf.float32)\n"
    ),
}


@pytest.mark.parametrize("source", STAYS_COMPAT.values(), ids=STAYS_COMPAT.keys())
@pytest.mark.parametrize("target", ["keras", "compat"])
def test_dynamic_rnn_stays_compat_v1(source, target):
    source = "import tensorflow as tf\n" + source
    output, findings = migrate(source, target)
    assert findings == []
    body = source.partition("\n")[2].replace("tf.nn.", "tf.compat.v1.nn.").replace("tf.contrib.rnn.", "")
    assert output.split("\n\n", 1)[1] == body  # after the imports and the blank line that follows them
    assert migrate(output, target)[0] == output


def test_dynamic_rnn_with_hidden_arguments_keeps_the_compat_rewrite_and_says_so():
    found = check(
        """\
        import tensorflow as tf

        cell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)
        out = tf.nn.dynamic_rnn(cell, x, **options)
        bad = tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, 1, 2, 3, 4, 5, 6, 7, 8)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell

        cell = LayerNormBasicLSTMCell(8)
        out = tf.compat.v1.nn.dynamic_rnn(cell, x, **options)
        bad = tf.compat.v1.nn.dynamic_rnn(LayerNormBasicLSTMCell(8), x, 1, 2, 3, 4, 5, 6, 7, 8)
        """,
        findings=[("TF2N010", 4, 7), ("TF2N011", 5, 7)],
    )
    assert [f.message for f in found] == [
        "dynamic_rnn -> LayerNormBasicLSTM: *args/**kwargs hide which arguments are passed; left unchanged",
        "dynamic_rnn -> LayerNormBasicLSTM: arguments do not match the TF1 signature (10 positional arguments, "
        "at most 9); left unchanged",
    ]
    assert {f.rewriter for f in found} == {"rnn_cell_wrappers"}
    # The compat target does not map dynamic_rnn's arguments: nothing to report.
    source = "import tensorflow as tf\nout = tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x, **kw)\n"
    assert migrate(source, "compat")[1] == []


NOOPS = {
    "dynamic_rnn over another cell": "import tensorflow as tf\nout = tf.nn.dynamic_rnn(tf.keras.layers.LSTMCell(8), x)\n",
    "dynamic_rnn over tf2norm's cell": (
        "import tensorflow as tf\nfrom tf2norm.replacements import LayerNormBasicLSTMCell\n"
        "out = tf.compat.v1.nn.dynamic_rnn(LayerNormBasicLSTMCell(8), x, dtype=tf.float32)\n"
    ),
    "already the layer": (
        "from tf2norm.replacements import LayerNormBasicLSTM, LayerNormBasicLSTMCell\n"
        "cell = LayerNormBasicLSTMCell(8)\n"
        "out, state = LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(x, sequence_length=n)\n"
    ),
    "another library's dynamic_rnn": (
        "import tensorflow as tf\nfrom mylib import nn\nout = nn.dynamic_rnn(tf.keras.layers.GRUCell(8), x)\n"
    ),
    "shadowed tf in dynamic_rnn": (
        "def f(tf, x):\n    return tf.nn.dynamic_rnn(tf.contrib.rnn.LayerNormBasicLSTMCell(8), x)\n"
    ),
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
