"""tf1_rnn_cells: TF1's BasicRNNCell / BasicLSTMCell / LSTMCell / GRUCell / RNNCell, contrib's block and
Cudnn-compatible cells -> tf2norm.replacements', both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import tf1_rnn_cells

TARGETS = ("keras", "compat")
CELLS = ("BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell")


def _spellings(cls):
    """(imports, spelling, what stays of the imports): contrib's and a cell class's own imports go, the
    tensorflow module and its submodules stay (other code may use them)."""
    tf = "import tensorflow as tf\n"
    return [
        (tf, f"tf.nn.rnn_cell.{cls}", tf),
        (tf, f"tf.compat.v1.nn.rnn_cell.{cls}", tf),
        (tf, f"tf.contrib.rnn.{cls}", tf),
        ("import tensorflow.compat.v1 as tf\n", f"tf.nn.rnn_cell.{cls}", "import tensorflow.compat.v1 as tf\n"),
        ("from tensorflow.contrib import rnn\n", f"rnn.{cls}", ""),
        (f"from tensorflow.contrib.rnn import {cls} as C\n", "C", ""),
        (f"from tensorflow.nn.rnn_cell import {cls}\n", cls, ""),
        ("from tensorflow.compat.v1.nn import rnn_cell\n", f"rnn_cell.{cls}",
         "from tensorflow.compat.v1.nn import rnn_cell\n"),
        ("from tensorflow.python.ops import rnn_cell_impl\n", f"rnn_cell_impl.{cls}",
         "from tensorflow.python.ops import rnn_cell_impl\n"),
    ]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cls", CELLS)
def test_every_spelling_is_found(cls, target):
    for imports, spelling, kept in _spellings(cls):
        output, findings = migrate(f"{imports}cell = {spelling}(32, name='enc')\n", target, ("tf1_rnn_cells",))
        assert output == f"{kept}from tf2norm.replacements import {cls}\n\ncell = {cls}(32, name='enc')\n", spelling
        assert findings == []
    # through a module alias the file assigns
    output, _ = migrate(f"import tensorflow as tf\nrnn_cell = tf.nn.rnn_cell\ncell = rnn_cell.{cls}(4)\n", target)
    assert output == (f"import tensorflow as tf\nfrom tf2norm.replacements import {cls}\n\n"
                      f"rnn_cell = tf.nn.rnn_cell\ncell = {cls}(4)\n")


@pytest.mark.parametrize("target", TARGETS)
def test_a_stack_of_plain_and_layer_norm_cells_in_a_file_with_no_normalisation_code(target):
    # Before issue 13 these wrappers were left and reported (TF2N301); the file raised on Keras 3.
    check(
        """\
        import tensorflow as tf


        def cells(n, keep):
            layers = [tf.nn.rnn_cell.LSTMCell(n, num_proj=n // 2, use_peepholes=True, cell_clip=3.0),
                      tf.contrib.rnn.GRUCell(n)]
            layers.append(tf.contrib.rnn.ResidualWrapper(tf.nn.rnn_cell.BasicLSTMCell(n, forget_bias=0.0)))
            stack = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.DropoutWrapper(c, output_keep_prob=keep) for c in layers])
            return tf.nn.rnn_cell.DeviceWrapper(stack, "/cpu:0")


        outputs, state = tf.nn.dynamic_rnn(cells(8, 0.9), x, dtype=tf.float32, scope="encoder")
        assert isinstance(state[0], tf.nn.rnn_cell.LSTMStateTuple)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BasicLSTMCell, DeviceWrapper, DropoutWrapper, GRUCell, LSTMCell, LSTMStateTuple, MultiRNNCell, ResidualWrapper


        def cells(n, keep):
            layers = [LSTMCell(n, num_proj=n // 2, use_peepholes=True, cell_clip=3.0),
                      GRUCell(n)]
            layers.append(ResidualWrapper(BasicLSTMCell(n, forget_bias=0.0)))
            stack = MultiRNNCell([DropoutWrapper(c, output_keep_prob=keep) for c in layers])
            return DeviceWrapper(stack, "/cpu:0")


        outputs, state = tf.compat.v1.nn.dynamic_rnn(cells(8, 0.9), x, dtype=tf.float32, scope="encoder")
        assert isinstance(state[0], LSTMStateTuple)
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_hand_written_cells_get_tf1s_base_and_their_wrappers_migrate(target):
    # sketch-rnn's cells (fixtures/e2e/third_party/sketch_rnn, T7 and T10): TF1 code with get_variable.
    check(
        """\
        import tensorflow as tf


        class LayerNormLSTMCell(tf.contrib.rnn.RNNCell):
            def __call__(self, x, state, timestep=0, scope=None):
                with tf.variable_scope(scope or type(self).__name__):
                    w = tf.get_variable("W_xh", [x.shape[1], 4 * self.num_units])


        class Built(tf.compat.v1.nn.rnn_cell.LayerRNNCell):
            def build(self, shape):
                self.kernel = self.add_variable("kernel", [shape[1], 4])


        def decoder(cell, keep):
            return tf.contrib.rnn.DropoutWrapper(cell, input_keep_prob=keep)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import DropoutWrapper, RNNCell


        class LayerNormLSTMCell(RNNCell):
            def __call__(self, x, state, timestep=0, scope=None):
                with tf.variable_scope(scope or type(self).__name__):
                    w = tf.get_variable("W_xh", [x.shape[1], 4 * self.num_units])


        class Built(RNNCell):
            def build(self, shape):
                self.kernel = self.add_variable("kernel", [shape[1], 4])


        def decoder(cell, keep):
            return DropoutWrapper(cell, input_keep_prob=keep)
        """,
        target=target,
    )


def test_subclass_of_a_concrete_cell_is_migrated_and_reported():
    found = check(
        """\
        import tensorflow as tf


        class Peephole(tf.nn.rnn_cell.LSTMCell):
            pass
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LSTMCell


        class Peephole(LSTMCell):
            pass
        """,
        findings=[("TF2N310", 4, 16)],
    )
    assert found[0].message == (
        "class Peephole subclasses TF1's LSTMCell: it now subclasses tf2norm.replacements.LSTMCell, a Keras 3 cell "
        "whose internals (build, call, _kernel, _num_units) are not TF1's")
    assert found[0].rewriter == "tf1_rnn_cells"


def test_partitioned_lstm_cell_is_reported_and_left():
    source = "import tensorflow as tf\ncell = tf.nn.rnn_cell.LSTMCell(8, num_unit_shards=2, num_proj_shards=None)\n"
    output, found = migrate(source, "keras")
    assert output == source
    assert [(f.code, f.line, f.col, f.message) for f in found] == [
        ("TF2N311", 2, 8, "LSTMCell(num_unit_shards=...): partitioned cell variables are not supported by "
                          "tf2norm.replacements.LSTMCell; left unchanged")]
    check("import tensorflow as tf\ncell = tf.nn.rnn_cell.LSTMCell(8, num_unit_shards=None)\n",
          "import tensorflow as tf\nfrom tf2norm.replacements import LSTMCell\n\ncell = LSTMCell(8, num_unit_shards=None)\n")


UNMAPPED = {
    "contrib's LayerNormLSTMCell, imported": (
        "from tensorflow.contrib.rnn import LayerNormLSTMCell\ncell = LayerNormLSTMCell(64)\n", (3, 8),
        "LayerNormLSTMCell: TF1's LayerNormLSTMCell has no replacement in tf2norm; it raises on TF 2.16+ and was left "
        "unchanged",
        "contrib's LayerNormLSTMCell has no tf2norm equivalent (tfa's LayerNormLSTMCell is another cell): port it onto "
        "tf2norm.replacements.RNNCell (its TF1 code with get_variable runs there) or keep it on TF 1.x",
    ),
    "a research cell as a value": (
        "cell_fn = tf.contrib.rnn.NASCell\n", (2, 11),
        "tf.contrib.rnn.NASCell: TF1's NASCell has no replacement in tf2norm; it raises on TF 2.16+ and was left "
        "unchanged",
        "NASCell has no TF 2.16+ equivalent in tf2norm: port it onto tf2norm.replacements.RNNCell (its TF1 code with "
        "get_variable runs there) or keep it on TF 1.x",
    ),
}


@pytest.mark.parametrize("source, where, message, hint", UNMAPPED.values(), ids=UNMAPPED.keys())
def test_cells_without_a_replacement_are_reported(source, where, message, hint):
    source = "import tensorflow as tf\n" + source
    output, found = migrate(source, "keras")
    assert output == source
    assert [(f.code, f.line, f.col, f.message, f.hint, f.rewriter) for f in found] == [
        ("TF2N312", *where, message, hint, "tf1_rnn_cells")]


def test_a_cell_factory_choosing_among_tf1_cells():
    # ludwig's recurrent_modules.get_cell_fun (BLOCKERS.md L9): each branch migrated or reported where it
    # is, so `return cell_fn` needs no "bound more than once" finding (TF2N012) of its own.
    check(
        """\
        import tensorflow as tf


        def get_cell_fun(cell_type):
            if cell_type == "rnn":
                cell_fn = tf.nn.rnn_cell.BasicRNNCell
            elif cell_type == "lstm_block":
                cell_fn = tf.contrib.rnn.NASCell
            elif cell_type == "lstm_ln":
                cell_fn = tf.contrib.rnn.LayerNormBasicLSTMCell
            else:
                cell_fn = tf.nn.rnn_cell.LSTMCell
            return cell_fn
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BasicRNNCell, LSTMCell, LayerNormBasicLSTMCell


        def get_cell_fun(cell_type):
            if cell_type == "rnn":
                cell_fn = BasicRNNCell
            elif cell_type == "lstm_block":
                cell_fn = tf.contrib.rnn.NASCell
            elif cell_type == "lstm_ln":
                cell_fn = LayerNormBasicLSTMCell
            else:
                cell_fn = LSTMCell
            return cell_fn
        """,
        findings=[("TF2N312", 8, 19)],
    )


def test_ludwigs_cell_factory_is_migrated_whole():
    # ludwig 0.1.2 models/modules/recurrent_modules.py:36-54, verbatim but for the comments (after
    # tf_upgrade_v2): every branch is now one of tf2norm's cells, with nothing to report.
    check(
        """\
        import tensorflow as tf


        def get_cell_fun(cell_type):
            if cell_type == 'rnn':
                cell_fn = tf.compat.v1.nn.rnn_cell.BasicRNNCell
            elif cell_type == 'lstm':
                cell_fn = tf.contrib.rnn.LSTMBlockCell
            elif cell_type == 'lstm_block':
                cell_fn = tf.contrib.rnn.LSTMBlockCell
            elif cell_type == 'ln':
                cell_fn = tf.contrib.rnn.LayerNormBasicLSTMCell
            elif cell_type == 'lstm_cudnn':
                cell_fn = tf.contrib.cudnn_rnn.CudnnCompatibleLSTMCell
            elif cell_type == 'gru':
                cell_fn = tf.contrib.rnn.GRUBlockCell
            elif cell_type == 'gru_block':
                cell_fn = tf.contrib.rnn.GRUBlockCell
            elif cell_type == 'gru_cudnn':
                cell_fn = tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell
            else:
                cell_fn = tf.compat.v1.nn.rnn_cell.BasicRNNCell
            return cell_fn
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BasicRNNCell, CudnnCompatibleGRUCell, CudnnCompatibleLSTMCell, GRUBlockCell, LSTMBlockCell, LayerNormBasicLSTMCell


        def get_cell_fun(cell_type):
            if cell_type == 'rnn':
                cell_fn = BasicRNNCell
            elif cell_type == 'lstm':
                cell_fn = LSTMBlockCell
            elif cell_type == 'lstm_block':
                cell_fn = LSTMBlockCell
            elif cell_type == 'ln':
                cell_fn = LayerNormBasicLSTMCell
            elif cell_type == 'lstm_cudnn':
                cell_fn = CudnnCompatibleLSTMCell
            elif cell_type == 'gru':
                cell_fn = GRUBlockCell
            elif cell_type == 'gru_block':
                cell_fn = GRUBlockCell
            elif cell_type == 'gru_cudnn':
                cell_fn = CudnnCompatibleGRUCell
            else:
                cell_fn = BasicRNNCell
            return cell_fn
        """,
    )


CONTRIB_CELLS = {"LSTMBlockCell": "tensorflow.contrib.rnn", "LSTMBlockFusedCell": "tensorflow.contrib.rnn",
                 "GRUBlockCell": "tensorflow.contrib.rnn",
                 "GRUBlockCellV2": "tensorflow.contrib.rnn", "CudnnCompatibleLSTMCell": "tensorflow.contrib.cudnn_rnn",
                 "CudnnCompatibleGRUCell": "tensorflow.contrib.cudnn_rnn"}
_OPS = {"LSTMBlockCell": "rnn.python.ops.lstm_ops", "LSTMBlockFusedCell": "rnn.python.ops.lstm_ops", "GRUBlockCell": "rnn.python.ops.gru_ops",
        "GRUBlockCellV2": "rnn.python.ops.gru_ops", "CudnnCompatibleLSTMCell": "cudnn_rnn.python.ops.cudnn_rnn_ops",
        "CudnnCompatibleGRUCell": "cudnn_rnn.python.ops.cudnn_rnn_ops"}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cls", CONTRIB_CELLS)
def test_every_spelling_of_contribs_block_and_cudnn_cells_is_found(cls, target):
    module = CONTRIB_CELLS[cls]
    short = module.split(".")[-1]
    tf = "import tensorflow as tf\n"
    spellings = [
        (tf, f"tf.{module[len('tensorflow.'):]}.{cls}", tf),
        (f"import {module}\n", f"{module}.{cls}", ""),
        (f"import {module} as contrib_rnn\n", f"contrib_rnn.{cls}", ""),
        (f"from tensorflow.contrib import {short}\n", f"{short}.{cls}", ""),
        (f"from {module} import {cls}\n", cls, ""),
        (f"from {module} import {cls} as C\n", "C", ""),
        (f"from tensorflow.contrib.{_OPS[cls]} import {cls}\n", cls, ""),
    ]
    for imports, spelling, kept in spellings:
        output, findings = migrate(f"{imports}cell = {spelling}(8, reuse=True)\n", target, ("tf1_rnn_cells",))
        assert output == f"{kept}from tf2norm.replacements import {cls}\n\ncell = {cls}(8, reuse=True)\n", spelling
        assert findings == []
    # the class as a value (a cell factory), then called
    output, findings = migrate(f"{tf}cell_fn = tf.{module[len('tensorflow.'):]}.{cls}\ncell = cell_fn(4)\n", target)
    assert output == f"{tf}from tf2norm.replacements import {cls}\n\ncell_fn = {cls}\ncell = cell_fn(4)\n"
    assert findings == []


@pytest.mark.parametrize("target", TARGETS)
def test_contrib_cells_keep_their_arguments_and_join_the_wrappers(target):
    check(
        """\
        import tensorflow as tf

        cells = [tf.contrib.rnn.LSTMBlockCell(64, 1.0, 3.0, True, name="enc"),
                 tf.contrib.rnn.GRUBlockCell(cell_size=32),
                 tf.contrib.cudnn_rnn.CudnnCompatibleGRUCell(16, kernel_initializer=tf.orthogonal_initializer())]
        stack = tf.contrib.rnn.MultiRNNCell([tf.contrib.rnn.DropoutWrapper(c, output_keep_prob=0.9) for c in cells])
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import CudnnCompatibleGRUCell, DropoutWrapper, GRUBlockCell, LSTMBlockCell, MultiRNNCell

        cells = [LSTMBlockCell(64, 1.0, 3.0, True, name="enc"),
                 GRUBlockCell(cell_size=32),
                 CudnnCompatibleGRUCell(16, kernel_initializer=tf.orthogonal_initializer())]
        stack = MultiRNNCell([DropoutWrapper(c, output_keep_prob=0.9) for c in cells])
        """,
        target=target,
    )


LOOKALIKES = {
    "keras cells": "import tensorflow as tf\ncell = tf.keras.layers.LSTMCell(8)\ngru = tf.keras.layers.GRUCell(8)\n",
    "another library's LSTMCell": "from mylib.rnn import LSTMCell\ncell = LSTMCell(8)\n",
    "shadowed tf": "def f(tf):\n    return tf.nn.rnn_cell.GRUCell(8)\n",
    "already migrated": "from tf2norm.replacements import GRUCell, RNNCell\n\n\nclass C(RNNCell):\n    pass\n\n\n"
                        "cell = GRUCell(8)\n",
    "torch": "import torch\ncell = torch.nn.LSTMCell(4, 8)\n",
    "a class of the file named like a TF1 cell": "class LSTMCell(object):\n    pass\n\n\ncell = LSTMCell()\n",
    "a project's own LSTMBlockCell": "class LSTMBlockCell(object):\n    pass\n\n\ncell = LSTMBlockCell(4)\n",
    "another library's block cell": "from mylib.rnn import GRUBlockCell, CudnnCompatibleLSTMCell\n"
                                    "cell = GRUBlockCell(8)\nother = CudnnCompatibleLSTMCell(8)\n",
    "keras' CuDNN layers": "import tensorflow as tf\nlayer = tf.compat.v1.keras.layers.CuDNNLSTM(8)\n",
}


@pytest.mark.parametrize("source", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalikes_are_left_alone(source):
    check_noop(source)


def test_module_metadata():
    first_lines = tf1_rnn_cells.__doc__.splitlines()[:2]
    assert "BasicLSTMCell" in first_lines[0] and "RNNCell" in first_lines[0]
    assert "tf2norm.replacements" in first_lines[1]
    assert sorted(tf1_rnn_cells.RULES) == ["TF2N310", "TF2N311", "TF2N312"]
