"""contrib_slim: every spelling of tf.contrib.slim (and contrib.framework's arg_scope) -> tf_slim."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import contrib_slim

ONLY = ("contrib_slim",)

# (before, after): the same in both targets, nothing reported.
SPELLINGS = {
    "import as": ("import tensorflow.contrib.slim as slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
                  "import tf_slim as slim\nnet = slim.conv2d(x, 8, [3, 3])\n"),
    "from contrib import": ("from tensorflow.contrib import slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
                            "import tf_slim as slim\nnet = slim.conv2d(x, 8, [3, 3])\n"),
    "contrib_slim alias": (
        "from tensorflow.contrib import slim as contrib_slim\nslim = contrib_slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
        "import tf_slim as contrib_slim\nslim = contrib_slim\nnet = slim.conv2d(x, 8, [3, 3])\n"),
    "assigned from tf.contrib": ("import tensorflow as tf\nslim = tf.contrib.slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
                                 "import tensorflow as tf\nimport tf_slim as slim\nnet = slim.conv2d(x, 8, [3, 3])\n"),
    "assigned in a function": (
        "import tensorflow as tf\n\ndef f(x):\n    slim = tf.contrib.slim\n    return slim.flatten(x)\n",
        "import tensorflow as tf\n\ndef f(x):\n    import tf_slim as slim\n    return slim.flatten(x)\n"),
    "attribute chain": ("import tensorflow as tf\nnet = tf.contrib.slim.conv2d(x, 8, [3, 3])\n",
                        "import tensorflow as tf\nimport tf_slim\n\nnet = tf_slim.conv2d(x, 8, [3, 3])\n"),
    # tf_upgrade_v2's own spellings: `import tensorflow.compat.v1 as tf`, and tf.compat.v1 chains.
    "tensorflow.compat.v1 as tf": ("import tensorflow.compat.v1 as tf\nnet = tf.contrib.slim.flatten(x)\n",
                                   "import tensorflow.compat.v1 as tf\nimport tf_slim\n\nnet = tf_slim.flatten(x)\n"),
    "tf.compat.v1 chain": ("import tensorflow as tf\nnet = tf.compat.v1.contrib.slim.flatten(x)\n",
                           "import tensorflow as tf\nimport tf_slim\n\nnet = tf_slim.flatten(x)\n"),
    "full path, the import binds tensorflow": (
        "import tensorflow.contrib.slim\nnet = tensorflow.contrib.slim.flatten(tensorflow.zeros([2, 2]))\n",
        "import tensorflow\nimport tf_slim\n\nnet = tf_slim.flatten(tensorflow.zeros([2, 2]))\n"),
    "nets": ("from tensorflow.contrib.slim.nets import vgg\nimport tensorflow.contrib.slim.nets as nets\n",
             "from tf_slim.nets import vgg\nimport tf_slim.nets as nets\n"),
    "contrib's internal path": ("from tensorflow.contrib.slim.python.slim.nets import resnet_v1\n"
                                "from tensorflow.contrib.slim.python.slim import learning\n",
                                "from tf_slim.nets import resnet_v1\nfrom tf_slim import learning\n"),
    "names from slim": ("from tensorflow.contrib.slim import arg_scope, conv2d\n",
                        "from tf_slim import arg_scope, conv2d\n"),
    "contrib.framework's arg_scope": ("from tensorflow.contrib.framework import arg_scope, add_arg_scope\n",
                                      "from tf_slim import arg_scope, add_arg_scope\n"),
    "arg_scope's module": ("from tensorflow.contrib.framework.python.ops.arg_scope import arg_scope\n",
                           "from tf_slim.ops.arg_scope import arg_scope\n"),
    "arg_scope through an alias of contrib.framework": (
        "import tensorflow as tf\ncontrib_framework = tf.contrib.framework\narg_scope = contrib_framework.arg_scope\n"
        "with arg_scope([f], a=1):\n    pass\n",
        "import tensorflow as tf\nimport tf_slim\n\narg_scope = tf_slim.arg_scope\nwith arg_scope([f], a=1):\n"
        "    pass\n"),
    "slim beside other contrib names": (
        "from tensorflow.contrib import slim, layers\nnet = slim.flatten(layers.flatten(x))\n",
        "from tensorflow.contrib import layers\nimport tf_slim as slim\n\nnet = slim.flatten(layers.flatten(x))\n"),
    "a submodule imported without as": (
        "import tensorflow as tf\nimport tensorflow.contrib.slim.nets\nnet, _ = tf.contrib.slim.nets.vgg.vgg_16(x)\n",
        "import tensorflow as tf\nimport tensorflow\nimport tf_slim\nimport tf_slim.nets\n\n"
        "net, _ = tf_slim.nets.vgg.vgg_16(x)\n"),
    "one line of several imports": ("import numpy as np, tensorflow.contrib.slim as slim\ny = slim.flatten(np.x)\n",
                                    "import numpy as np, tf_slim as slim\ny = slim.flatten(np.x)\n"),
    # contrib.layers' regularizers (BLOCKERS.md L2: ludwig's loss_modules.py:321, a module-level registry)
    "regularizers as values in a module-level dict": (
        "import tensorflow as tf\nregularizers_registry = {\n    'l1': tf.contrib.layers.l1_regularizer,\n"
        "    'l2': tf.contrib.layers.l2_regularizer,\n    'sum': tf.contrib.layers.sum_regularizer,\n}\n",
        "import tensorflow as tf\nimport tf_slim\n\nregularizers_registry = {\n    'l1': tf_slim.l1_regularizer,\n"
        "    'l2': tf_slim.l2_regularizer,\n    'sum': tf_slim.sum_regularizer,\n}\n"),
    "regularizers in a list, called, through tf.compat.v1": (
        "import tensorflow as tf\nregs = [tf.compat.v1.contrib.layers.l1_l2_regularizer(0.1, 0.2)]\n"
        "penalty = tf.contrib.layers.apply_regularization(tf.contrib.layers.l2_regularizer(0.1), weights)\n",
        "import tensorflow as tf\nimport tf_slim\n\nregs = [tf_slim.l1_l2_regularizer(0.1, 0.2)]\n"
        "penalty = tf_slim.apply_regularization(tf_slim.l2_regularizer(0.1), weights)\n"),
    "regularizers imported by name": (
        "from tensorflow.contrib.layers import l2_regularizer, sum_regularizer as sr\nr = sr([l2_regularizer(0.1)])\n",
        "from tf_slim import l2_regularizer, sum_regularizer as sr\nr = sr([l2_regularizer(0.1)])\n"),
    "regularizers through contrib.layers imported as a module": (
        "from tensorflow.contrib import layers\nimport tensorflow.contrib.layers as contrib_layers\n"
        "r = layers.l1_regularizer(0.1)\ns = contrib_layers.l2_regularizer(0.1)\n",
        "import tf_slim\n\nr = tf_slim.l1_regularizer(0.1)\ns = tf_slim.l2_regularizer(0.1)\n"),
    "regularizers beside contrib.layers names tf_slim does not take over": (
        "from tensorflow.contrib.layers import l1_regularizer, xavier_initializer\nr = l1_regularizer(0.1)\n"
        "w = xavier_initializer()\n",
        "from tensorflow.contrib.layers import xavier_initializer\nfrom tf_slim import l1_regularizer\n\n"
        "r = l1_regularizer(0.1)\nw = xavier_initializer()\n"),
    "regularizers' own module": (
        "from tensorflow.contrib.layers.python.layers.regularizers import l1_regularizer\nr = l1_regularizer(0.1)\n",
        "from tf_slim import l1_regularizer\nr = l1_regularizer(0.1)\n"),
}


@pytest.mark.parametrize("before, after", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_every_spelling_becomes_tf_slim(before, after):
    for target in ("keras", "compat"):
        check(before, after, target=target, only=ONLY)


def test_with_the_batch_norm_rewriter_the_slim_import_goes_when_nothing_else_uses_it():
    check("import tensorflow.contrib.slim as slim\ny = slim.batch_norm(x)\n",
          "from tf2norm.replacements import batch_norm\n\ny = batch_norm(x)\n", target="compat")
    check("import tensorflow as tf\nslim = tf.contrib.slim\ny = slim.batch_norm(slim.flatten(x))\n",
          "import tensorflow as tf\nimport tf_slim as slim\nfrom tf2norm.replacements import batch_norm\n\n"
          "y = batch_norm(slim.flatten(x))\n", target="compat")


MISSING = {
    "slim.real_valued_column('x')": ("real_valued_column", "use tf.feature_column (or keep this code on TF 1.x)"),
    "slim.zero_initializer(v)": ("zero_initializer", "use tf.compat.v1.assign(ref, tf.zeros_like(ref))"),
    "slim.variables.get_or_create_global_step()": (
        "variables", "call the function on tf_slim itself (tf_slim exports contrib's variables functions at top "
                     "level: slim.get_variables_to_restore(), ...)"),
    "slim.bow_encoder(ids, 10, 4)": ("bow_encoder", "use tf.keras.layers.Embedding / tf.nn.embedding_lookup"),
}


@pytest.mark.parametrize("use", MISSING)
def test_what_tf_slim_lacks_is_reported_with_the_fix(use):
    missing, hint = MISSING[use]
    found = check(f"import tensorflow.contrib.slim as slim\ny = {use}\n",
                  f"import tf_slim as slim\ny = {use}\n", findings=[("TF2N110", 2, 5)], only=ONLY)
    name = use.split("(")[0]
    assert found[0].message == (f"{name}: tf_slim 1.1.0 (the maintained tf.contrib.slim) has no {missing}; "
                                "left unchanged")
    assert found[0].hint == hint
    assert found[0].rewriter == "contrib_slim"


def test_what_tf_slim_lacks_is_reported_in_imports_and_chains():
    check("from tensorflow.contrib.slim import real_valued_column, conv2d\n",
          "from tf_slim import real_valued_column, conv2d\n", findings=[("TF2N110", 1, 37)], only=ONLY)
    found = check("import tensorflow as tf\nc = tf.contrib.slim.embedding_column(x, 4)\n", None,
                  findings=[("TF2N110", 2, 5)], only=ONLY)
    assert found[0].message == ("tf.contrib.slim.embedding_column: tf_slim 1.1.0 (the maintained tf.contrib.slim) "
                                "has no embedding_column; left unchanged")


def test_every_missing_name_is_a_contrib_slim_name_tf_slim_lacks():
    # The table is dir(tensorflow.contrib.slim) on TF 1.15 minus dir(tf_slim) 1.1.0; what tf_slim has
    # must never be reported.
    tf_slim = pytest.importorskip("tf_slim")
    assert [name for name in contrib_slim.MISSING if hasattr(tf_slim, name)] == []


def test_a_file_whose_tf_slim_is_something_else_is_reported():
    found = check("import tensorflow as tf\nfrom mylib import helpers as tf_slim\ny = tf.contrib.slim.flatten(x)\n",
                  None, findings=[("TF2N111", 3, 5)], only=ONLY)
    assert found[0].message == ("tf.contrib.slim.flatten: the file binds tf_slim to something else, so "
                                "tf.contrib.slim cannot become the tf_slim package here; left unchanged")
    assert found[0].hint == "rename the file's own tf_slim, then run tf2norm again"
    check("from mylib import helpers as tf_slim\nfrom tensorflow.contrib import slim\ny = slim.flatten(x)\n", None,
          findings=[("TF2N111", 2, 32)], only=ONLY)


LOOKALIKES = {
    "the project's own slim module": "import slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
    "a package's slim": "from mylib import slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
    "a parameter named slim": "def f(slim, x):\n    return slim.conv2d(x, 8, [3, 3])\n",
    "a shadowed tf": "def f(tf, x):\n    return tf.contrib.slim.conv2d(x, 8, [3, 3])\n",
    "already tf_slim": "import tf_slim as slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
    "a local arg_scope": "def arg_scope(ops, **kw):\n    return ops\n\nwith arg_scope([f], a=1):\n    pass\n",
    "another contrib module": "from tensorflow.contrib import seq2seq\nd = seq2seq.BasicDecoder(cell, helper, state)\n",
    "a relative slim": "from . import slim\nnet = slim.conv2d(x, 8, [3, 3])\n",
    "Keras' regularizers": "import keras\nimport tensorflow as tf\nr = keras.regularizers.l2(0.1)\n"
                           "s = tf.keras.regularizers.l1_l2(0.1, 0.2)\nt = tf.compat.v1.keras.regularizers.l2(0.1)\n",
    "a project's own regularizers": "from mylib.layers import l2_regularizer\nr = l2_regularizer(0.1)\n",
    "a local l2_regularizer": "def l2_regularizer(scale):\n    return scale\n\nr = l2_regularizer(0.1)\n",
    "a shadowed tf's regularizer": "def f(tf):\n    return tf.contrib.layers.l2_regularizer(0.1)\n",
}


@pytest.mark.parametrize("source", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalikes_are_left_alone(source):
    check_noop(source, only=ONLY)
    check_noop(source)


def test_a_second_run_changes_nothing_and_tf_slim_code_is_not_touched():
    output, findings = migrate("import tensorflow.contrib.slim as slim\nwith slim.arg_scope([slim.conv2d]):\n"
                               "    y = slim.conv2d(x, 8, [3, 3])\n", "compat")
    assert output == "import tf_slim as slim\nwith slim.arg_scope([slim.conv2d]):\n    y = slim.conv2d(x, 8, [3, 3])\n"
    assert migrate(output, "compat") == (output, [])


def test_tf_slim_nets_that_build_tf_slims_own_batch_norm_are_reported():
    # tf_slim's batch_norm raises on Keras 3; these nets give it to their layers (arg_scope functions)
    # or call it (resnet_v2). Their own arg_scopes over tf_slim.batch_norm are fine (one key).
    found = check(
        """\
        import tensorflow.contrib.slim as slim
        from tensorflow.contrib.slim.nets import inception, resnet_v2, vgg

        with slim.arg_scope(inception.inception_v3_arg_scope()):
            y = resnet_v2.resnet_v2_50(x)
            z = vgg.vgg_16(x)
        """,
        """\
        import tf_slim as slim
        from tf_slim.nets import inception, resnet_v2, vgg

        with slim.arg_scope(inception.inception_v3_arg_scope()):
            y = resnet_v2.resnet_v2_50(x)
            z = vgg.vgg_16(x)
        """,
        findings=[("TF2N112", 4, 21), ("TF2N112", 5, 9)], only=ONLY)
    assert [f.message for f in found] == [
        "inception.inception_v3_arg_scope: tf_slim's inception.inception_v3_arg_scope (what it becomes) builds "
        "tf_slim's own batch_norm, which raises on Keras 3 (it needs tf_keras)",
        "resnet_v2.resnet_v2_50: tf_slim's resnet_v2.resnet_v2_50 (what it becomes) builds tf_slim's own "
        "batch_norm, which raises on Keras 3 (it needs tf_keras)"]
    assert [f.hint for f in found] == [
        "open your own arg_scope over the same layers with normalizer_fn=tf2norm.replacements.batch_norm (copy "
        "the net's arg_scope function), or run with tf_keras and TF_USE_LEGACY_KERAS=1",
        "copy the net and call tf2norm.replacements.batch_norm where it calls batch_norm, or run with tf_keras "
        "and TF_USE_LEGACY_KERAS=1"]
    check("from tensorflow.contrib.slim.python.slim.nets.resnet_utils import resnet_arg_scope\n",
          "from tf_slim.nets.resnet_utils import resnet_arg_scope\n", findings=[("TF2N112", 1, 67)], only=ONLY)


def test_the_reported_tf_slim_functions_exist_and_build_tf_slims_batch_norm():
    tf_slim = pytest.importorskip("tf_slim")
    import importlib
    import inspect

    for path in contrib_slim.SLIM_BATCH_NORM:
        module, function = path.rsplit(".", 1)
        source = inspect.getsource(getattr(importlib.import_module(f"tf_slim.{module}"), function))
        named = "batch_norm" in source or "resnet_v2(" in source or "bottleneck" in source
        assert named, path
    assert tf_slim.batch_norm.__module__ == "tf_slim.layers.layers"
