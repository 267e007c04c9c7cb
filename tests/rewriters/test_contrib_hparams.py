"""contrib_hparams: tf.contrib.training.HParams -> tf2norm.replacements.HParams, both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate

TARGETS = ("keras", "compat")

SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.training.HParams"),
    ("import tensorflow.compat.v1 as tf\n", "tf.contrib.training.HParams"),
    ("import tensorflow as tf\n", "tf.compat.v1.contrib.training.HParams"),
    ("import tensorflow as tf\ntraining = tf.contrib.training\n", "training.HParams"),
    ("import tensorflow as tf\ncontrib_training = tf.contrib.training\nalias = contrib_training\n", "alias.HParams"),
    ("from tensorflow.contrib.training import HParams\n", "HParams"),
    ("from tensorflow.contrib.training import HParams as HP\n", "HP"),
    ("from tensorflow.contrib import training\n", "training.HParams"),
    ("import tensorflow.contrib.training as contrib_training\n", "contrib_training.HParams"),
    ("from tensorflow.contrib.training.python.training.hparam import HParams\n", "HParams"),
    ("from tensorflow.contrib.training.python.training import hparam\n", "hparam.HParams"),
]


@pytest.mark.parametrize("target", TARGETS)
def test_every_spelling_is_found(target):
    # The contrib import and the aliases of tf.contrib.training go with their last use; `tf` stays.
    for imports, spelling in SPELLINGS:
        output, findings = migrate(f"{imports}hps = {spelling}(batch_size=100, dec_model='lstm')\n", target)
        first = imports.splitlines()[0]
        kept = first + "\n" if first in ("import tensorflow as tf", "import tensorflow.compat.v1 as tf") else ""
        assert output == (f"{kept}from tf2norm.replacements import HParams\n\n"
                          "hps = HParams(batch_size=100, dec_model='lstm')\n"), spelling
        assert findings == [], spelling


@pytest.mark.parametrize("target", TARGETS)
def test_sketch_rnn_hparams_module(target):
    # magenta 1.1.7 sketch_rnn/model.py, as tf_upgrade_v2 leaves it (its ERROR: contrib.training)
    check(
        """\
        import tensorflow as tf


        def copy_hparams(hparams):
          \"\"\"Return a copy of an HParams instance.\"\"\"
          return tf.contrib.training.HParams(**hparams.values())


        def get_default_hparams():
          \"\"\"Return default HParams for sketch-rnn.\"\"\"
          hparams = tf.contrib.training.HParams(
              data_set=['aaron_sheep.npz'],  # Our dataset.
              num_steps=10000000,  # Total number of steps of training. Keep large.
              dec_model='lstm')
          return hparams


        def check(hps):
          return isinstance(hps, tf.contrib.training.HParams)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import HParams


        def copy_hparams(hparams):
          \"\"\"Return a copy of an HParams instance.\"\"\"
          return HParams(**hparams.values())


        def get_default_hparams():
          \"\"\"Return default HParams for sketch-rnn.\"\"\"
          hparams = HParams(
              data_set=['aaron_sheep.npz'],  # Our dataset.
              num_steps=10000000,  # Total number of steps of training. Keep large.
              dec_model='lstm')
          return hparams


        def check(hps):
          return isinstance(hps, HParams)
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_from_import_goes_with_its_last_use(target):
    check(
        """\
        from tensorflow.contrib.training import HParams


        class ModelHParams(HParams):
          pass


        DEFAULTS = HParams(hparam_def=None, lr=0.1)
        """,
        """\
        from tf2norm.replacements import HParams


        class ModelHParams(HParams):
          pass


        DEFAULTS = HParams(hparam_def=None, lr=0.1)
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_an_hparam_def_is_reported_and_left(target):
    found = check(
        """\
        import tensorflow as tf

        a = tf.contrib.training.HParams(hparam_def=proto)
        b = tf.contrib.training.HParams(proto)
        c = tf.contrib.training.HParams(None, lr=0.1)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import HParams

        a = tf.contrib.training.HParams(hparam_def=proto)
        b = tf.contrib.training.HParams(proto)
        c = HParams(None, lr=0.1)
        """,
        target=target,
        findings=[("TF2N750", 3, 5), ("TF2N750", 4, 5)],
    )
    assert found[0].message == ("HParams(hparam_def=...): tf2norm's HParams does not read an HParamDef protocol "
                                "buffer; left unchanged")


def test_the_left_call_is_not_reported_twice_by_unsupported_apis():
    output, findings = migrate("import tensorflow as tf\na = tf.contrib.training.HParams(hparam_def=proto)\n",
                               only=("contrib_hparams", "unsupported_apis"))
    assert [(f.code, f.line, f.col) for f in findings] == [("TF2N750", 2, 5)]


def test_migrated_hparams_are_no_longer_reported_but_the_rest_of_contrib_training_is():
    source = ("import tensorflow as tf\n"
              "hps = tf.contrib.training.HParams(lr=0.1)\n"
              "batches = tf.contrib.training.bucket_by_sequence_length(n, x, 8, [4], [2, 2])\n")
    output, findings = migrate(source, only=("contrib_hparams", "unsupported_apis"))
    assert output == ("import tensorflow as tf\nfrom tf2norm.replacements import HParams\n\n"
                      "hps = HParams(lr=0.1)\n"
                      "batches = tf.contrib.training.bucket_by_sequence_length(n, x, 8, [4], [2, 2])\n")
    assert [(f.code, f.line, f.col) for f in findings] == [("TF2N720", 3, 11)]
    # unsupported_apis alone still reports HParams (the table's own entry)
    _, alone = migrate(source, only=("unsupported_apis",))
    assert [(f.code, f.line, f.col) for f in alone] == [("TF2N721", 2, 7), ("TF2N720", 3, 11)]


@pytest.mark.parametrize("source", [
    # a project's own HParams class
    "class HParams:\n    def __init__(self, **kw):\n        self.__dict__.update(kw)\n\n\nhps = HParams(lr=0.1)\n",
    # another library's HParams
    "from tensor2tensor.utils.hparam import HParams\n\nhps = HParams(lr=0.1)\n",
    "import tensorboard.plugins.hparams.api as hp\n\nh = hp.HParam('lr', hp.RealInterval(0.0, 1.0))\n",
    # a local name shadowing the contrib import
    "import tensorflow as tf\n\n\ndef f(tf):\n    return tf.contrib.training.HParams(lr=0.1)\n",
    # other tf.contrib.training names are not this API
    "import tensorflow as tf\n\nq = tf.contrib.training.bucket_by_sequence_length(n, x, 8, [4], [2, 2])\n",
])
def test_look_alikes_are_left_alone(source):
    check_noop(source)


@pytest.mark.parametrize("target", TARGETS)
def test_from_proto_is_reported_and_left(target):
    # TF1's HParamDef went with tf.contrib: tf2norm's HParams has no from_proto, so the call stays (and says so)
    found = check(
        """\
        import tensorflow as tf

        hps = tf.contrib.training.HParams.from_proto(proto)
        defaults = tf.contrib.training.HParams(lr=0.1)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import HParams

        hps = tf.contrib.training.HParams.from_proto(proto)
        defaults = HParams(lr=0.1)
        """,
        target=target,
        findings=[("TF2N751", 3, 7)],
    )
    assert found[0].message == ("HParams.from_proto: tf2norm's HParams has no HParamDef protocol buffer (it went "
                                "with tf.contrib); left unchanged")


def test_from_proto_is_not_reported_twice_by_unsupported_apis():
    _, findings = migrate("import tensorflow as tf\nhps = tf.contrib.training.HParams.from_proto(proto)\n",
                          only=("contrib_hparams", "unsupported_apis"))
    assert [(f.code, f.line, f.col) for f in findings] == [("TF2N751", 2, 7)]
