"""tfa_rnn_cells: tfa.rnn.LayerNormLSTMCell / LayerNormSimpleRNNCell -> tf2norm.replacements' cells, both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import tfa_rnn_cells

ONLY = ("tfa_rnn_cells",)
TARGETS = ("keras", "compat")
CELLS = ("LayerNormLSTMCell", "LayerNormSimpleRNNCell")
MODULE = {"LayerNormLSTMCell": "layer_norm_lstm_cell", "LayerNormSimpleRNNCell": "layer_norm_simple_rnn_cell"}


# -- how it is reached: every spelling resolves to the same rewrite ------------------------------


def _spellings(cls):
    module = MODULE[cls]
    return [
        ("import tensorflow_addons as tfa\n", f"tfa.rnn.{cls}"),
        ("import tensorflow_addons\n", f"tensorflow_addons.rnn.{cls}"),
        ("import tensorflow_addons.rnn\n", f"tensorflow_addons.rnn.{cls}"),
        ("import tensorflow_addons.rnn as tfa_rnn\n", f"tfa_rnn.{cls}"),
        ("from tensorflow_addons import rnn\n", f"rnn.{cls}"),
        ("from tensorflow_addons import rnn as addons_rnn\n", f"addons_rnn.{cls}"),
        (f"from tensorflow_addons.rnn import {cls}\n", cls),
        (f"from tensorflow_addons.rnn import {cls} as Cell\n", "Cell"),
        (f"from tensorflow_addons.rnn.{module} import {cls}\n", cls),
        (f"import tensorflow_addons.rnn.{module} as m\n", f"m.{cls}"),
        (f"import tensorflow_addons.rnn.{module}\n", f"tensorflow_addons.rnn.{module}.{cls}"),
        # tfa 0.8-0.9 kept both cells in tensorflow_addons/rnn/cell.py
        (f"from tensorflow_addons.rnn.cell import {cls}\n", cls),
        ("import tensorflow_addons as tfa\naddons = tfa\n", f"addons.rnn.{cls}"),
        ("import tensorflow_addons as tfa\ntfa_rnn = tfa.rnn\n", f"tfa_rnn.{cls}"),
        ("import tensorflow_addons as tfa\nrnn_module = tfa.rnn\nmodule_alias = rnn_module\n", f"module_alias.{cls}"),
    ]


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("cls", CELLS)
def test_every_spelling_is_found(cls, target):
    for imports, spelling in _spellings(cls):
        output, findings = migrate(f"{imports}cell = {spelling}(32, dropout=0.1)\n", target, ONLY)
        assert output == f"from tf2norm.replacements import {cls}\n\ncell = {cls}(32, dropout=0.1)\n", spelling
        assert findings == []


@pytest.mark.parametrize("target", TARGETS)
def test_keras_model_file(target):
    check(
        """\
        import tensorflow as tf
        import tensorflow_addons as tfa


        def encoder(units, depth):
            cell = tfa.rnn.LayerNormLSTMCell(units, dropout=0.1, recurrent_dropout=0.1, norm_epsilon=1e-3)
            inputs = tf.keras.Input((None, depth))
            outputs = tf.keras.layers.RNN(cell, return_sequences=True)(inputs)
            outputs = tf.keras.layers.Bidirectional(tf.keras.layers.RNN(
                tfa.rnn.LayerNormSimpleRNNCell(units, 'relu', False, 1e-3),  # positional, as tfa's order
                return_sequences=True))(outputs)
            return tf.keras.Model(inputs, outputs)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell


        def encoder(units, depth):
            cell = LayerNormLSTMCell(units, dropout=0.1, recurrent_dropout=0.1, norm_epsilon=1e-3)
            inputs = tf.keras.Input((None, depth))
            outputs = tf.keras.layers.RNN(cell, return_sequences=True)(inputs)
            outputs = tf.keras.layers.Bidirectional(tf.keras.layers.RNN(
                LayerNormSimpleRNNCell(units, 'relu', False, 1e-3),  # positional, as tfa's order
                return_sequences=True))(outputs)
            return tf.keras.Model(inputs, outputs)
        """,
        target=target,
        only=ONLY,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_other_tfa_uses_keep_the_import(target):
    check(
        """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormLSTMCell(8)
        optimizer = tfa.optimizers.AdamW(1e-4)
        """,
        """\
        import tensorflow_addons as tfa
        from tf2norm.replacements import LayerNormLSTMCell

        cell = LayerNormLSTMCell(8)
        optimizer = tfa.optimizers.AdamW(1e-4)
        """,
        target=target,
        only=ONLY,
    )


def test_class_used_as_a_value_is_the_replacement_class():
    check(
        """\
        import functools
        import tensorflow as tf
        from tensorflow_addons.rnn import LayerNormLSTMCell, LayerNormSimpleRNNCell

        CELLS = {"lstm": LayerNormLSTMCell, "rnn": LayerNormSimpleRNNCell}
        make = functools.partial(LayerNormLSTMCell, norm_epsilon=1e-5)
        model = tf.keras.models.load_model("m.h5", custom_objects={"Addons>LayerNormLSTMCell": LayerNormLSTMCell})
        same = LayerNormLSTMCell.from_config(make(4).get_config())
        assert isinstance(same, (LayerNormLSTMCell, tf.keras.layers.LSTMCell))
        """,
        """\
        import functools
        import tensorflow as tf
        from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell

        CELLS = {"lstm": LayerNormLSTMCell, "rnn": LayerNormSimpleRNNCell}
        make = functools.partial(LayerNormLSTMCell, norm_epsilon=1e-5)
        model = tf.keras.models.load_model("m.h5", custom_objects={"Addons>LayerNormLSTMCell": LayerNormLSTMCell})
        same = LayerNormLSTMCell.from_config(make(4).get_config())
        assert isinstance(same, (LayerNormLSTMCell, tf.keras.layers.LSTMCell))
        """,
        only=ONLY,
    )


def test_member_of_the_class_through_the_module():
    check(
        """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormSimpleRNNCell.from_config(config)
        """,
        """\
        from tf2norm.replacements import LayerNormSimpleRNNCell

        cell = LayerNormSimpleRNNCell.from_config(config)
        """,
        only=ONLY,
    )


def test_name_bound_by_the_file_is_qualified():
    check(
        """\
        import tensorflow_addons as tfa
        from my_project.cells import LayerNormLSTMCell

        a = tfa.rnn.LayerNormLSTMCell(4)
        b = LayerNormLSTMCell(4)
        """,
        """\
        from my_project.cells import LayerNormLSTMCell
        import tf2norm.replacements

        a = tf2norm.replacements.LayerNormLSTMCell(4)
        b = LayerNormLSTMCell(4)
        """,
        only=ONLY,
    )


def test_already_imported_replacement_is_reused():
    check(
        """\
        import tensorflow_addons as tfa
        from tf2norm.replacements import LayerNormLSTMCell

        a = tfa.rnn.LayerNormLSTMCell(4)
        b = LayerNormLSTMCell(4)
        """,
        """\
        from tf2norm.replacements import LayerNormLSTMCell

        a = LayerNormLSTMCell(4)
        b = LayerNormLSTMCell(4)
        """,
        only=ONLY,
    )


# -- what is reported -------------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_subclass_is_migrated_and_reported(target):
    found = check(
        """\
        import tensorflow_addons as tfa


        class PeepholeLN(tfa.rnn.LayerNormLSTMCell):
            def call(self, inputs, states, training=None):
                return super().call(inputs, states, training)
        """,
        """\
        from tf2norm.replacements import LayerNormLSTMCell


        class PeepholeLN(LayerNormLSTMCell):
            def call(self, inputs, states, training=None):
                return super().call(inputs, states, training)
        """,
        target=target,
        findings=[("TF2N601", 4, 18)],
        only=ONLY,
    )
    assert "class PeepholeLN subclasses tfa's LayerNormLSTMCell" in found[0].message
    assert "keras.layers.LSTMCell" in found[0].message


def test_keras2_only_keywords_at_their_default_are_dropped():
    check(
        """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormLSTMCell(
            16,
            dynamic=False,  # Keras 2 only
            weights=None,
            name="encoder_cell",
        )
        other = tfa.rnn.LayerNormSimpleRNNCell(8, batch_size=None, implementation=1)
        """,
        """\
        from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell

        # Keras 2 only
        cell = LayerNormLSTMCell(
            16,
            name="encoder_cell",
        )
        other = LayerNormSimpleRNNCell(8, implementation=1)
        """,
        only=ONLY,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_keras2_only_keyword_with_a_value_is_reported(target):
    source = """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormSimpleRNNCell(8, weights=trained)
        first = tfa.rnn.LayerNormLSTMCell(8, batch_input_shape=(32, 10, 4))
        """
    found = check(source, target=target, findings=[("TF2N602", 3, 8), ("TF2N602", 4, 9)], only=ONLY)
    assert found[0].message == ("LayerNormSimpleRNNCell(weights=...): Keras 3 layers take no weights; "
                                "left unchanged")
    assert found[0].hint == "call cell.set_weights(...) once the cell is built"


def test_star_kwargs_are_migrated_and_reported():
    found = check(
        """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormLSTMCell(**config)
        cells = [tfa.rnn.LayerNormSimpleRNNCell(*args) for args in specs]
        """,
        """\
        from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell

        cell = LayerNormLSTMCell(**config)
        cells = [LayerNormSimpleRNNCell(*args) for args in specs]
        """,
        findings=[("TF2N603", 3, 8), ("TF2N603", 4, 10)],
        only=ONLY,
    )
    assert found[0].rewriter == "tfa_rnn_cells"


def test_calls_tfa_rejected_are_reported_and_left_unchanged():
    source = """\
        import tensorflow_addons as tfa

        a = tfa.rnn.LayerNormLSTMCell(8, forget_bias=1.0)
        b = tfa.rnn.LayerNormSimpleRNNCell(8, "tanh", True, 1e-5, "glorot_uniform", "orthogonal", "zeros", "ones",
                                           None, None, None, None, None, None, None, None, 0.0, 0.0, "extra")
        c = tfa.rnn.LayerNormLSTMCell()
        """
    found = check(source, findings=[("TF2N011", 3, 5), ("TF2N011", 4, 5), ("TF2N011", 6, 5)], only=ONLY)
    assert [f.message for f in found] == [
        "LayerNormLSTMCell: arguments do not match the TF1 signature (unknown argument 'forget_bias'); "
        "left unchanged",
        "LayerNormSimpleRNNCell: arguments do not match the TF1 signature (19 positional arguments, at most 18); "
        "left unchanged",
        "LayerNormLSTMCell: arguments do not match the TF1 signature (missing 'units'); left unchanged",
    ]


def test_other_names_of_the_same_import_stay():
    check(
        """\
        from tensorflow_addons.rnn import LayerNormLSTMCell, NASCell

        cells = [LayerNormLSTMCell(8), NASCell(8)]
        """,
        """\
        from tensorflow_addons.rnn import NASCell
        from tf2norm.replacements import LayerNormLSTMCell

        cells = [LayerNormLSTMCell(8), NASCell(8)]
        """,
        only=ONLY,
    )


def test_names_tf2norm_cannot_resolve_are_reported():
    source = """\
        try:
            from tensorflow_addons.rnn import LayerNormLSTMCell
        except ImportError:
            from my_project.cells import LayerNormLSTMCell

        cell = LayerNormLSTMCell(8)
        """
    found = check(source, findings=[("TF2N012", 6, 8)], only=ONLY)
    assert found[0].message == ("LayerNormLSTMCell may be tensorflow_addons.rnn.LayerNormLSTMCell or something "
                                "else (the name is bound more than once); left unchanged")
    check("from tensorflow_addons.rnn import *\n\ncell = LayerNormSimpleRNNCell(8)\n",
          findings=[("TF2N013", 1, 1)], only=ONLY)


def test_suppression_comment():
    check(
        """\
        import tensorflow_addons as tfa

        cell = tfa.rnn.LayerNormLSTMCell(8, weights=w)  # tf2norm: ignore[TF2N602]
        """,
        only=ONLY,
    )


# -- look-alikes: left alone ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", [
    # contrib's LayerNormBasicLSTMCell is another cell (its own rewriter)
    "import tensorflow as tf\ncell = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\n",
    # Keras' own cells and layers
    "import tensorflow as tf\ncell = tf.keras.layers.LSTMCell(8)\nnorm = tf.keras.layers.LayerNormalization()\n",
    "import keras\ncell = keras.layers.SimpleRNNCell(8)\n",
    # another library's classes of the same names
    "from my_project.rnn import LayerNormLSTMCell\ncell = LayerNormLSTMCell(8)\n",
    "import my_addons as tfa\ncell = tfa.rnn.LayerNormLSTMCell(8)\n",
    "import tensorflow_addons as tfa\n\n\ndef build(tfa):\n    return tfa.rnn.LayerNormLSTMCell(8)\n",
    "import tensorflow_addons as tfa\n\n\ndef build():\n    tfa = load_plugin()\n    return tfa.rnn.LayerNormSimpleRNNCell(8)\n",
    # other tfa cells and layers
    "import tensorflow_addons as tfa\ncell = tfa.rnn.NASCell(8)\npeep = tfa.rnn.PeepholeLSTMCell(8)\n",
    "import tensorflow_addons as tfa\nesn = tfa.rnn.ESNCell(8)\n",
    # already migrated
    "from tf2norm.replacements import LayerNormLSTMCell\ncell = LayerNormLSTMCell(8)\n",
    "import tf2norm.replacements as r\ncell = r.LayerNormSimpleRNNCell(8)\n",
    # only text
    "name = 'tfa.rnn.LayerNormLSTMCell'  # tfa.rnn.LayerNormLSTMCell\n",
])
def test_lookalikes_are_left_alone(source):
    check_noop(source, only=ONLY)


def test_lookalikes_with_every_rewriter():
    # The full run (every rewriter) leaves tf.contrib's cell to its own rewriter and tfa's to this one.
    output, findings = migrate(
        "import tensorflow as tf\nimport tensorflow_addons as tfa\n"
        "a = tf.contrib.rnn.LayerNormBasicLSTMCell(8)\nb = tfa.rnn.LayerNormLSTMCell(8)\n")
    assert output == ("import tensorflow as tf\nfrom tf2norm.replacements import LayerNormBasicLSTMCell, "
                      "LayerNormLSTMCell\n\na = LayerNormBasicLSTMCell(8)\nb = LayerNormLSTMCell(8)\n")
    assert findings == []


def test_module_metadata():
    assert tfa_rnn_cells.__doc__.splitlines()[0].startswith("Legacy `tfa.rnn.LayerNormLSTMCell`")
    assert all("TF2N601" <= code <= "TF2N649" for code in tfa_rnn_cells.RULES)
    assert "tensorflow_addons.rnn.LayerNormLSTMCell" in tfa_rnn_cells.LEGACY
    assert "tensorflow.contrib.rnn.LayerNormBasicLSTMCell" not in tfa_rnn_cells.LEGACY
