"""contrib_opt: tf.contrib.opt.ScipyOptimizerInterface -> tf2norm.replacements.ScipyOptimizerInterface, both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm import rewriters

TARGETS = ("keras", "compat")

SPELLINGS = [
    ("import tensorflow as tf\n", "tf.contrib.opt.ScipyOptimizerInterface"),
    ("import tensorflow.compat.v1 as tf\n", "tf.contrib.opt.ScipyOptimizerInterface"),
    ("import tensorflow as tf\n", "tf.compat.v1.contrib.opt.ScipyOptimizerInterface"),
    ("import tensorflow as tf\nopt = tf.contrib.opt\n", "opt.ScipyOptimizerInterface"),
    ("from tensorflow.contrib.opt import ScipyOptimizerInterface\n", "ScipyOptimizerInterface"),
    ("from tensorflow.contrib.opt import ScipyOptimizerInterface as SOI\n", "SOI"),
    ("from tensorflow.contrib import opt\n", "opt.ScipyOptimizerInterface"),
    ("import tensorflow.contrib.opt as contrib_opt\n", "contrib_opt.ScipyOptimizerInterface"),
    ("from tensorflow.contrib.opt.python.training.external_optimizer import ScipyOptimizerInterface\n",
     "ScipyOptimizerInterface"),
    ("from tensorflow.contrib.opt.python.training import external_optimizer\n",
     "external_optimizer.ScipyOptimizerInterface"),
]


@pytest.mark.parametrize("target", TARGETS)
def test_every_spelling_is_found(target):
    # The contrib import and the aliases of tf.contrib.opt go with their last use; `tf` stays.
    for imports, spelling in SPELLINGS:
        output, findings = migrate(f"{imports}o = {spelling}(loss, method='L-BFGS-B', options={{'maxiter': 5}})\n",
                                   target)
        first = imports.splitlines()[0]
        kept = first + "\n" if first in ("import tensorflow as tf", "import tensorflow.compat.v1 as tf") else ""
        assert output == (f"{kept}from tf2norm.replacements import ScipyOptimizerInterface\n\n"
                          "o = ScipyOptimizerInterface(loss, method='L-BFGS-B', options={'maxiter': 5})\n"), spelling
        assert findings == [], spelling


@pytest.mark.parametrize("target", TARGETS)
def test_deepxde_get_train_op(target):
    # DeepXDE 0.6.1 deepxde/train.py (fixtures/e2e/third_party/deepxde), abridged
    check(
        """\
        import numpy as np
        import tensorflow as tf


        def get_train_op(loss, optimizer, lr=None, decay=None):
            if is_scipy_opts(optimizer):
                return tf.contrib.opt.ScipyOptimizerInterface(
                    loss,
                    method=optimizer,
                    options={
                        "disp": None,
                        "ftol": np.finfo(float).eps,
                        "maxiter": 15000,
                    },
                )
            return tf.train.AdamOptimizer(lr).minimize(loss)
        """,
        """\
        import numpy as np
        import tensorflow as tf
        from tf2norm.replacements import ScipyOptimizerInterface


        def get_train_op(loss, optimizer, lr=None, decay=None):
            if is_scipy_opts(optimizer):
                return ScipyOptimizerInterface(
                    loss,
                    method=optimizer,
                    options={
                        "disp": None,
                        "ftol": np.finfo(float).eps,
                        "maxiter": 15000,
                    },
                )
            return tf.train.AdamOptimizer(lr).minimize(loss)
        """,
        target=target,
    )


@pytest.mark.parametrize("target", TARGETS)
def test_the_rest_of_contrib_opt_is_still_reported(target):
    # LazyAdamOptimizer is not this API: unsupported_apis reports it, and the contrib import stays for it
    # (every rewriter runs, unsupported_apis included)
    output, findings = migrate(
        "from tensorflow.contrib.opt import LazyAdamOptimizer, ScipyOptimizerInterface\n"
        "a = LazyAdamOptimizer(0.1)\nb = ScipyOptimizerInterface(loss)\n", target, only=rewriters.available())
    assert output == ("from tensorflow.contrib.opt import LazyAdamOptimizer\n"
                      "from tf2norm.replacements import ScipyOptimizerInterface\n\n"
                      "a = LazyAdamOptimizer(0.1)\nb = ScipyOptimizerInterface(loss)\n")
    assert [(f.code, f.line, f.col, f.message) for f in findings] == [
        ("TF2N720", 1, 36, "tensorflow.contrib.opt.LazyAdamOptimizer: tf.contrib was removed in TensorFlow 2.0")]
    output, findings = migrate("import tensorflow as tf\na = tf.contrib.opt.LazyAdamOptimizer(0.1)\n"
                               "b = tf.contrib.opt.ScipyOptimizerInterface(loss)\n", target, only=rewriters.available())
    assert output == ("import tensorflow as tf\nfrom tf2norm.replacements import ScipyOptimizerInterface\n\n"
                      "a = tf.contrib.opt.LazyAdamOptimizer(0.1)\nb = ScipyOptimizerInterface(loss)\n")
    assert [(f.code, f.line, f.col, f.message) for f in findings] == [
        ("TF2N720", 2, 5, "tf.contrib.opt.LazyAdamOptimizer: tf.contrib was removed in TensorFlow 2.0")]


def test_look_alikes_are_left_alone():
    check_noop("import scipy.optimize\nclass ScipyOptimizerInterface:\n    pass\no = ScipyOptimizerInterface()\n")
    check_noop("from mylib.opt import ScipyOptimizerInterface\no = ScipyOptimizerInterface(loss)\n")
    check_noop("import tensorflow as tf\no = tf.keras.optimizers.Adam(0.1)\nx = opt.ScipyOptimizerInterface(loss)\n")
