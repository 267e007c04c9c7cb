"""hand_rolled_layer_norm_gru: hand-written TF1 layer-norm GRU classes are reported (TF2N801), never rewritten."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import hand_rolled_layer_norm_gru

ONLY = ("hand_rolled_layer_norm_gru",)
BODY = """\
    def __init__(self, num_units):
        super().__init__()
        self._num_units = num_units
"""

# (imports, base expression) for every way TF1 code reached an RNNCell base class.
SPELLINGS = [
    ("import tensorflow as tf\n", "tf.nn.rnn_cell.RNNCell", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\n", "tf.compat.v1.nn.rnn_cell.RNNCell", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow.compat.v1 as tf\n", "tf.nn.rnn_cell.RNNCell", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow\n", "tensorflow.nn.rnn_cell.RNNCell", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\n", "tf.contrib.rnn.RNNCell", "tensorflow.contrib.rnn.RNNCell"),
    ("from tensorflow.contrib import rnn\n", "rnn.RNNCell", "tensorflow.contrib.rnn.RNNCell"),
    ("from tensorflow.python.ops import rnn_cell_impl\n", "rnn_cell_impl.RNNCell",
     "tensorflow.python.ops.rnn_cell_impl.RNNCell"),
    ("from tensorflow.python.ops.rnn_cell_impl import RNNCell\n", "RNNCell",
     "tensorflow.python.ops.rnn_cell_impl.RNNCell"),
    ("from tensorflow.python.ops import rnn_cell\n", "rnn_cell.RNNCell", "tensorflow.python.ops.rnn_cell.RNNCell"),
    ("from tensorflow.nn.rnn_cell import RNNCell as Base\n", "Base", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\nrnn = tf.nn.rnn_cell\n", "rnn.RNNCell", "tensorflow.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\nlib = tf.contrib.rnn\ncells = lib\n", "cells.RNNCell", "tensorflow.contrib.rnn.RNNCell"),
    ("from tensorflow.contrib.rnn.python.ops import core_rnn_cell\n", "core_rnn_cell.RNNCell",
     "tensorflow.contrib.rnn.python.ops.core_rnn_cell.RNNCell"),
    ("import tensorflow as tf\n", "tf.nn.rnn_cell.GRUCell", "tensorflow.nn.rnn_cell.GRUCell"),
    ("import tensorflow as tf\n", "tf.contrib.rnn.GRUCell", "tensorflow.contrib.rnn.GRUCell"),
    ("from tensorflow.python.ops.rnn_cell_impl import LayerRNNCell\n", "LayerRNNCell",
     "tensorflow.python.ops.rnn_cell_impl.LayerRNNCell"),
]


@pytest.mark.parametrize("imports, base, qualified", SPELLINGS)
@pytest.mark.parametrize("target", ["keras", "compat"])
def test_every_base_spelling_is_reported_and_nothing_changes(imports, base, qualified, target):
    source = f"{imports}\n\nclass LayerNormGRUCell({base}):\n{BODY}\n\ncell = LayerNormGRUCell(64)\n"
    line = imports.count("\n") + 3
    # All rewriters run: no other one touches the file or reports anything.
    found = check(source, None, target=target, findings=[("TF2N801", line, 7)])
    assert found[0].message == (
        f"class LayerNormGRUCell looks like a hand-written layer-norm GRU cell (a {qualified} subclass); tf2norm "
        "cannot verify hand-written math by its name, so it is left unchanged"
    )
    assert found[0].rewriter == "hand_rolled_layer_norm_gru"
    assert "tf2norm.replacements.LayerNormGRUCell" in found[0].hint
    assert "tf2norm checkpoint convert" in found[0].hint and "layer_norm_gru_cell" in found[0].hint


MATCHING = ["LayerNormGRUCell", "LNGRUCell", "LnGruCell", "LNGRU", "LayerNormGRU", "layer_norm_gru_cell",
            "LayerNormalizedGRUCell", "LayerNormalisedGRUCell", "LayerNormalizationGRUCell", "_LNGRUCell",
            "GRUCellLN", "GRUWithLayerNorm", "GRUCellLayerNorm", "LayerNormGRUCellV2", "LN_GRU_Cell"]
NOT_MATCHING = ["GRUCell", "MyGRUCell", "LayerNormLSTMCell", "LayerNormBasicLSTMCell", "LNLSTMCell", "BNGRUCell",
                "LayerNormSimpleRNNCell", "GRUCellWrapper", "ColumnGRUCell", "LayerNormGRUCellFactory", "LNGRUCells"]


@pytest.mark.parametrize("name", MATCHING)
def test_names_that_say_layer_norm_gru(name):
    assert hand_rolled_layer_norm_gru.is_ln_gru_name(name)
    check(f"import tensorflow as tf\n\nclass {name}(tf.nn.rnn_cell.RNNCell):\n    pass\n", None,
          findings=[("TF2N801", 3, 7)], only=ONLY)


@pytest.mark.parametrize("name", NOT_MATCHING)
def test_other_cell_names_are_left_alone(name):
    assert not hand_rolled_layer_norm_gru.is_ln_gru_name(name)
    check_noop(f"import tensorflow as tf\n\nclass {name}(tf.nn.rnn_cell.RNNCell):\n    pass\n", only=ONLY)
    # with every rewriter: a hand-written cell like any other, on tf2norm's RNNCell (tf1_rnn_cells)
    check(f"import tensorflow as tf\n\nclass {name}(tf.nn.rnn_cell.RNNCell):\n    pass\n",
          f"import tensorflow as tf\nfrom tf2norm.replacements import RNNCell\n\nclass {name}(RNNCell):\n    pass\n")


def test_exact_positions_of_several_classes_nested_ones_and_a_base_defined_in_the_file():
    found = check(
        """\
        import tensorflow as tf
        from tensorflow.python.ops import rnn_cell_impl


        class _CellBase(rnn_cell_impl.LayerRNNCell):
            pass


        class LNGRUCell(_CellBase):
            pass


        def build(units):
            class LayerNormGRUCell(tf.compat.v1.nn.rnn_cell.GRUCell):
                def call(self, inputs, state):
                    return super().call(inputs, state)
            return LayerNormGRUCell(units)


        class Model:
            class LnGruCell(LNGRUCell):
                pass
        """,
        None,
        findings=[("TF2N801", 9, 7), ("TF2N801", 14, 11), ("TF2N801", 21, 11)],
    )
    assert "(a tensorflow.python.ops.rnn_cell_impl.LayerRNNCell subclass)" in found[0].message
    assert "(a tensorflow.nn.rnn_cell.GRUCell subclass)" in found[1].message
    assert "(a tensorflow.python.ops.rnn_cell_impl.LayerRNNCell subclass)" in found[2].message


def test_base_among_several_and_a_decorated_class():
    check(
        """\
        import abc
        import tensorflow as tf


        @some_registry.register
        class LNGRUCell(Mixin, tf.nn.rnn_cell.RNNCell, metaclass=abc.ABCMeta):
            pass
        """,
        None,
        findings=[("TF2N801", 6, 7)],
    )


def test_base_imported_in_a_try_block_is_reported_with_both_candidates_and_no_tf2n012():
    found = check(
        """\
        try:
            from tensorflow.contrib.rnn import RNNCell
        except ImportError:
            from tensorflow.compat.v1.nn.rnn_cell import RNNCell


        class LayerNormGRUCell(RNNCell):
            pass


        class PlainCell(RNNCell):
            pass
        """,
        None,
        findings=[("TF2N801", 7, 7)],
    )
    assert "(a tensorflow.contrib.rnn.RNNCell or tensorflow.nn.rnn_cell.RNNCell subclass)" in found[0].message


def test_silenced_by_an_ignore_comment():
    check("import tensorflow as tf\n\nclass LNGRUCell(tf.nn.rnn_cell.RNNCell):  # tf2norm: ignore[TF2N801]\n    pass\n",
          None, findings=[])


@pytest.mark.parametrize(
    "source",
    [
        # A Keras layer or Keras cell of that name: not a TF1 cell.
        "import tensorflow as tf\n\nclass LayerNormGRUCell(tf.keras.layers.Layer):\n    pass\n",
        "import tensorflow as tf\n\nclass LNGRUCell(tf.keras.layers.AbstractRNNCell):\n    pass\n",
        "import keras\n\nclass LayerNormGRUCell(keras.layers.GRUCell):\n    pass\n",
        "from tensorflow.keras.layers import GRUCell\n\nclass LNGRUCell(GRUCell):\n    pass\n",
        # Other libraries' RNNCell, or a base tf2norm cannot resolve.
        "from mylib.rnn import RNNCell\n\nclass LayerNormGRUCell(RNNCell):\n    pass\n",
        "import torch\n\nclass LNGRUCell(torch.nn.Module):\n    pass\n",
        "from .cells import BaseCell\n\nclass LNGRUCell(BaseCell):\n    pass\n",
        "class LNGRUCell(object):\n    pass\n",
        # A builtin base in a file that uses TensorFlow (`object` has no class statement to follow).
        "import tensorflow as tf\n\nclass LNGRUCell(object):\n    pass\n",
        "import tensorflow as tf\n\nclass LNGRUCell(dict):\n    pass\n",
        "class LNGRUCell:\n    pass\n",
        # A shadowed `tf`: the parameter is not TensorFlow.
        "import tensorflow as tf\n\ndef make(tf):\n    class LNGRUCell(tf.nn.rnn_cell.RNNCell):\n        pass\n"
        "    return LNGRUCell\n",
        # Already migrated: tf2norm's own cell, used or subclassed.
        "from tf2norm.replacements import LayerNormGRUCell\n\ncell = LayerNormGRUCell(64)\n",
        "from tf2norm.replacements import LayerNormGRUCell\n\nclass LNGRUCell(LayerNormGRUCell):\n    pass\n",
        # Only used, defined elsewhere: what it computes cannot even be seen.
        "import tensorflow as tf\nfrom model.cells import LNGRUCell\n\ncell = LNGRUCell(64)\n"
        "out, st = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n",
        # A base bound twice, on a class of another name: no TF2N012 either.
        "try:\n    from tensorflow.contrib.rnn import RNNCell\nexcept ImportError:\n"
        "    from tensorflow.nn.rnn_cell import RNNCell\n\nclass MyCell(RNNCell):\n    pass\n",
    ],
)
def test_look_alikes_are_left_alone(source):
    check_noop(source)


@pytest.mark.parametrize("source", [
    "import tensorflow as tf\n\nLNGRUCell = tf.nn.rnn_cell.GRUCell\n",
    "import tensorflow as tf\n\ndef LayerNormGRUCell(units):\n    return tf.nn.rnn_cell.GRUCell(units)\n",
])
def test_a_variable_or_function_of_that_name_is_no_class_to_report(source):
    check_noop(source, only=ONLY)
    # with every rewriter, TF1's GRUCell itself becomes tf2norm's (tf1_rnn_cells), and nothing is reported
    check(source, source.replace("tf.nn.rnn_cell.GRUCell", "GRUCell")
          .replace("import tensorflow as tf\n", "import tensorflow as tf\nfrom tf2norm.replacements import GRUCell\n"))


def test_other_rewriters_keep_their_tf2n012_for_their_own_names():
    _, findings = migrate(
        "try:\n    from tensorflow.contrib.rnn import LayerNormBasicLSTMCell\nexcept ImportError:\n"
        "    LayerNormBasicLSTMCell = None\n\ncell = LayerNormBasicLSTMCell(8)\n"
    )
    assert [(f.code, f.line) for f in findings] == [("TF2N012", 6)]


def test_the_whole_file_is_still_migrated_around_a_reported_class():
    found = check(
        """\
        import tensorflow as tf


        class LNGRUCell(tf.nn.rnn_cell.RNNCell):
            pass


        lstm = tf.contrib.rnn.LayerNormBasicLSTMCell(8)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormBasicLSTMCell


        class LNGRUCell(tf.nn.rnn_cell.RNNCell):
            pass


        lstm = LayerNormBasicLSTMCell(8)
        """,
        findings=[("TF2N801", 4, 7)],
    )
    assert found[0].path == "case.py"


def test_listed_with_its_code():
    assert set(hand_rolled_layer_norm_gru.RULES) == {"TF2N801"}
    assert all(n.startswith("tensorflow.") and ".compat." not in n for n in hand_rolled_layer_norm_gru.LEGACY)
