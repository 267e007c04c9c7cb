"""What cannot run on TF 2.16+ / Keras 3 and no rewriter migrates is reported, with its fix, never silent."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop
from tf2norm import rewriters, unsupported

EVERY = tuple(rewriters.available())
ONLY = ("unsupported_apis",)
_CONTRIB = "tf.contrib was removed in TensorFlow 2.0"
_KERAS3 = 'removed from TensorFlow 2.16+ with Keras 3 ("not available with Keras 3")'
_OTHER_CELL = ("no TF 2.16+ equivalent keeps TF1's variables: port it onto tf2norm.replacements.RNNCell, or rebuild "
               "it with the nearest Keras cell in keras.layers.RNN (Keras names: convert the checkpoint), or keep "
               "this program on TF <= 2.15 with tf_keras")


def _reported(source, findings, target="keras", only=EVERY):
    """Nothing changes; exactly `findings` [(code, line, col, message, hint)]."""
    found = check(source, None, target=target, only=only, findings=[f[:3] for f in findings])
    assert [(f.code, f.line, f.col, f.message, f.hint) for f in found] == list(findings)


@pytest.mark.parametrize("target", ["keras", "compat"])
def test_every_kind_of_unmigratable_reference_is_reported_with_its_fix(target):
    _reported(
        """\
        import tensorflow as tf
        from tensorflow.contrib.training import HParams
        from tensorflow.contrib import seq2seq

        REGULARIZERS = {"l2": tf.contrib.layers.l2_regularizer, "sum": tf.contrib.layers.sum_regularizer}
        hps = tf.contrib.training.HParams(lr=0.1)
        h = tf.compat.v1.layers.dense(x, 3)
        h = tf.layers.max_pooling2d(h, 2, 2)
        cell = tf.contrib.rnn.LSTMBlockCell(8)
        tuned = tf.contrib.opt.LazyAdamOptimizer(0.1)


        class Projection(tf.compat.v1.layers.Layer):
            pass


        class Cell(tf.compat.v1.nn.rnn_cell.RNNCell):
            pass


        class Decoder(seq2seq.BasicDecoder):
            pass
        """,
        [
            ("TF2N721", 2, 41, f"tensorflow.contrib.training.HParams: {_CONTRIB}; TF 2 has no HParams",
             "tf2norm.replacements.HParams: TF 1.15's class, same arguments (rewriter contrib_hparams writes it)"),
            ("TF2N724", 3, 32, f"tensorflow.contrib.seq2seq: {_CONTRIB}; TF 2.16+/Keras 3 has no seq2seq "
             "(tensorflow_addons.seq2seq needs TF <= 2.15 with Keras 2)",
             "rewrite the decoder with keras.layers.RNN or tf.while_loop, or delete it if unused; or keep this "
             "program on TF <= 2.15 with tensorflow-addons"),
            ("TF2N722", 5, 23, f"tf.contrib.layers.l2_regularizer: {_CONTRIB}",
             "tf_slim.l2_regularizer (pip install tf-slim): contrib's function, same arguments"),
            ("TF2N722", 5, 64, f"tf.contrib.layers.sum_regularizer: {_CONTRIB}",
             "tf_slim.sum_regularizer (pip install tf-slim): contrib's function, same arguments"),
            ("TF2N721", 6, 7, f"tf.contrib.training.HParams: {_CONTRIB}; TF 2 has no HParams",
             "tf2norm.replacements.HParams: TF 1.15's class, same arguments (rewriter contrib_hparams writes it)"),
            ("TF2N727", 7, 5, f"tf.compat.v1.layers.dense: {_KERAS3}",
             "keras.layers.Dense(...)(x) (Keras names: convert the checkpoint); to keep TF1's variable names in "
             "graph code: tensorflow.python.keras.legacy_tf_layers.core.dense (what tf_slim uses)"),
            ("TF2N727", 8, 5, f"tf.layers.max_pooling2d: {_KERAS3}",
             "keras.layers.MaxPooling2D(...)(x) (Keras names: convert the checkpoint); to keep TF1's variable names "
             "in graph code: tensorflow.python.keras.legacy_tf_layers.pooling.max_pooling2d (what tf_slim uses)"),
            ("TF2N725", 9, 8, f"tf.contrib.rnn.LSTMBlockCell: {_CONTRIB}",
             "tf2norm.replacements.LSTMBlockCell: contrib's LSTMBlockCell, same arguments, variable names and "
             "numbers (rewriter tf1_rnn_cells writes it)"),
            ("TF2N720", 10, 9, f"tf.contrib.opt.LazyAdamOptimizer: {_CONTRIB}",
             "replace it with its successor (tf.compat.v1, tf_slim, or a maintained package), or keep this program "
             "on TF 1.15"),
            ("TF2N727", 13, 18, f"tf.compat.v1.layers.Layer: {_KERAS3}",
             "derive from keras.layers.Layer (Keras names: convert the checkpoint); to keep TF1's variable names in "
             "graph code: tensorflow.python.keras.legacy_tf_layers.base.Layer (what tf_slim uses)"),
            ("TF2N726", 17, 12, f"tf.compat.v1.nn.rnn_cell.RNNCell: {_KERAS3}",
             "derive from tf2norm.replacements.RNNCell: TF1's variable scoping and zero_state, so the cell's "
             "get_variable code runs unchanged (rewriter tf1_rnn_cells writes it)"),
        ],
        target=target,
        # The table alone: with every rewriter the block cell and the RNNCell base become tf2norm's and the
        # regularizers tf_slim's (test_what_a_rewriter_migrated_is_not_reported_what_it_left_is).
        only=ONLY,
    )


def test_a_file_whose_only_tf1_use_is_a_tf_layers_function_is_read_and_reported():
    _reported(
        """\
        import tensorflow as tf
        h = tf.layers.dense(x, 3)
        """,
        [("TF2N727", 2, 5, f"tf.layers.dense: {_KERAS3}",
          "keras.layers.Dense(...)(x) (Keras names: convert the checkpoint); to keep TF1's variable names in "
          "graph code: tensorflow.python.keras.legacy_tf_layers.core.dense (what tf_slim uses)")],
        only=ONLY,  # with every rewriter, tf1_layers migrates it (reported where tf1_layers is skipped)
    )


def test_an_import_is_reported_once_and_the_names_it_binds_are_not():
    _reported(
        """\
        import tensorflow.contrib.slim as slim
        import tensorflow as tf

        contrib_framework = tf.contrib.framework
        net = slim.conv2d(x, 8, [3, 3])
        with contrib_framework.arg_scope([slim.conv2d], padding="SAME"):
            net = slim.fully_connected(net, 3)
        """,
        [
            ("TF2N723", 1, 8, f"tensorflow.contrib.slim: {_CONTRIB}",
             "import tf_slim as slim (pip install tf-slim), contrib.slim's maintained successor"),
            ("TF2N723", 4, 21, f"tf.contrib.framework: {_CONTRIB}",
             "tf_slim (pip install tf-slim) has contrib.framework's arg_scope, add_arg_scope and variable functions"),
        ],
        only=ONLY,  # with every rewriter, contrib_slim makes both tf_slim
    )


def test_what_a_rewriter_migrated_is_not_reported_what_it_left_is():
    # The LN cell, tf.layers' batch normalization and dense layer and the regularizer are migrated; the research
    # cell and the 3-D transposed convolution are not (tf1_layers' TF2N761), nor is the initializer the migrated
    # batch_norm call still holds. The research cell's import fails (TF2N725) and its use is tf1_rnn_cells' TF2N312.
    check(
        """\
        import tensorflow as tf
        from tensorflow.contrib.rnn import LayerNormBasicLSTMCell, NASCell

        a = LayerNormBasicLSTMCell(8)
        b = NASCell(8)
        h = tf.compat.v1.layers.batch_normalization(tf.compat.v1.layers.dense(x, 3), training=t)
        g = tf.compat.v1.layers.conv3d_transpose(h, 3, 3)
        net = tf.contrib.layers.batch_norm(h, param_regularizers={"beta": tf.contrib.layers.l2_regularizer(0.1)},
                                           param_initializers={"gamma": tf.contrib.layers.xavier_initializer()})
        """,
        """\
        import tensorflow as tf
        from tensorflow.contrib.rnn import NASCell
        import tf_slim
        from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell, dense

        a = LayerNormBasicLSTMCell(8)
        b = NASCell(8)
        h = BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(dense(x, 3), training=t)
        g = tf.compat.v1.layers.conv3d_transpose(h, 3, 3)
        net = BatchNormalization(momentum=0.999, scale=False, gamma_initializer=tf.contrib.layers.xavier_initializer(), beta_regularizer=tf_slim.l2_regularizer(0.1))(h, training=True)
        """,
        only=EVERY,
        findings=[("TF2N725", 2, 60), ("TF2N312", 5, 5), ("TF2N761", 7, 5), ("TF2N722", 9, 65)],
    )


def test_a_name_another_rewriter_reported_is_not_reported_again_one_it_left_silently_is():
    # The wrapper is migrated; the research cell it wraps is tf1_rnn_cells' TF2N312, not reported again here.
    check(
        """\
        import tensorflow as tf
        cell = tf.contrib.rnn.DropoutWrapper(tf.contrib.rnn.NASCell(8), output_keep_prob=0.5)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import DropoutWrapper

        cell = DropoutWrapper(tf.contrib.rnn.NASCell(8), output_keep_prob=0.5)
        """,
        only=EVERY,
        findings=[("TF2N312", 2, 38)],
    )
    # The LN-GRU rewriter reports this class by name (TF2N801); its base is not reported again.
    check(
        """\
        import tensorflow as tf
        class LNGRUCell(tf.nn.rnn_cell.RNNCell):
            pass
        """,
        None,
        only=EVERY,
        findings=[("TF2N801", 2, 7)],
    )


@pytest.mark.parametrize("source", [
    # the program's own fallback for a missing contrib
    """\
    try:
        from tensorflow.contrib.training import HParams
    except ImportError:
        HParams = dict
    """,
    # what runs on TF 2.16+: tf_slim, Keras 3 layers, tf.compat.v1 functions that still exist
    """\
    import tensorflow as tf
    import tf_slim as slim
    import keras
    net = slim.conv2d(x, 8, [3, 3], weights_regularizer=slim.l2_regularizer(0.1))
    h = keras.layers.Dense(3)(tf.compat.v1.nn.dynamic_rnn)
    """,
    # another library's contrib and layers
    """\
    import mylib as tf
    from mylib.contrib import training
    hps = tf.contrib.training.HParams(lr=0.1)
    h = tf.compat.v1.layers.dense(x, 3)
    """,
    # a local variable named like TensorFlow
    """\
    def f(tf):
        return tf.contrib.layers.l2_regularizer(0.1)
    """,
])
def test_look_alikes_that_can_run_are_not_reported(source):
    check_noop(source, only=EVERY)


def test_a_fallback_import_of_slim_is_not_reported():
    # Reported by nothing; contrib_slim makes the first branch tf_slim as well, which is harmless.
    source = """\
    try:
        import tensorflow.contrib.slim as slim
    except (ModuleNotFoundError, AttributeError):
        import tf_slim as slim
    """
    check_noop(source, only=ONLY)
    for target in ("keras", "compat"):
        check(source, source.replace("tensorflow.contrib.slim", "tf_slim"), target=target, only=EVERY)


def test_the_table_is_the_rules_and_every_entry_is_reached():
    from tf2norm.rewriters.unsupported_apis import RULES

    assert sorted({entry.code for entry in unsupported.TABLE}) == sorted(RULES) == [
        f"TF2N{n}" for n in range(720, 728)]
    assert unsupported.lookup("tensorflow.contrib.training.HParams").code == "TF2N721"
    assert unsupported.lookup("tensorflow.contrib.training.python.training.hparam.HParams").code == "TF2N720"
    assert unsupported.lookup("tensorflow.layers.batch_normalization") is None  # a rewriter migrates it
    assert unsupported.lookup("tensorflow.nn.dynamic_rnn") is None
    assert unsupported.lookup("tensorflow.nn.rnn_cell.GRUCell").code == "TF2N726"


def test_only_this_rewriter_still_reports():
    _reported(
        """\
        import tensorflow as tf
        hps = tf.contrib.training.HParams(lr=0.1)
        """,
        [("TF2N721", 2, 7, f"tf.contrib.training.HParams: {_CONTRIB}; TF 2 has no HParams",
          "tf2norm.replacements.HParams: TF 1.15's class, same arguments (rewriter contrib_hparams writes it)")],
        only=ONLY,
    )


# -- the review's shortcut: the leftovers of a migrated file counted without analysing it again --


# The bundled examples and the e2e programs here; the vendored programs by others and the generators
# (larger, about 15 s of CPU) with the slow tests.
FIXTURE_GROUPS = [
    pytest.param(("legacy/*.py", "e2e/*/*.py"), 4, id="ours"),
    pytest.param(("e2e/third_party/**/*.py", "tf1/*.py", "tfa/*.py"), 15, id="third-party-and-generators",
                 marks=pytest.mark.slow),
]


@pytest.mark.parametrize("patterns,at_least", FIXTURE_GROUPS)
def test_the_review_finds_the_same_without_analysing_the_migrated_fixtures_again(monkeypatch, patterns, at_least):
    """Every fixture whose review takes the shortcut (changed, leftovers counted without a second
    analysis) migrates to the same bytes and findings with the second analysis (`SHORTCUT = False`)."""
    from pathlib import Path

    from tf2norm.rewriters import _driver, unsupported_apis

    repo = Path(__file__).resolve().parents[2]
    real = unsupported_apis._survivors
    verdicts: list[bool] = []

    def survivors(ctx, migrated, found):
        counted = real(ctx, migrated, found)
        verdicts.append(counted is not None)
        return counted

    monkeypatch.setattr(unsupported_apis, "_survivors", survivors)
    shortcut = []
    for path in sorted({p for pattern in patterns for p in (repo / "fixtures").glob(pattern)}):
        data = path.read_bytes()
        if not any(word in data for word in (b"contrib", b"layers", b"rnn_cell")):
            continue  # no path of tf2norm.unsupported's table
        verdicts.clear()
        options = _driver.Options()
        try:
            result = _driver.migrate_source(data, str(path), options)
        except _driver._Unprocessable:
            continue
        if verdicts != [True]:
            continue  # unchanged, nothing left, or analysed again anyway
        shortcut.append(path.name)
        monkeypatch.setattr(unsupported_apis, "SHORTCUT", False)
        assert _driver.migrate_source(data, str(path), options) == result, path
        monkeypatch.setattr(unsupported_apis, "SHORTCUT", True)
    assert len(shortcut) >= at_least, shortcut  # not vacuous
