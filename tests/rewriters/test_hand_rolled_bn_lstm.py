"""hand_rolled_bn_lstm: the copied TF1 BNLSTMCell class -> its calls become BatchNormLSTMCell (TF2N851-854)."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate

ONLY = ("hand_rolled_bn_lstm",)

# The widely copied cell, as it sits in users' files (helpers included). {base}, {init} and the
# pieces in braces let the tests derive the variants people also copied.
COPIED = '''\
class BNLSTMCell({base}):
    """Batch normalized LSTM as described in arxiv.org/abs/1603.09025"""

    def __init__(self, {init}):
        self._num_units = num_units
        self._training = is_training_tensor
        self._max_bn_steps = max_bn_steps
        self._initial_scale = initial_scale
        self._activation = activation
        self._decay = decay

    @property
    def state_size(self):
        return (self._num_units, self._num_units, 1)

    @property
    def output_size(self):
        return self._num_units

    def _batch_norm(self, x, name_scope, step, epsilon={epsilon}, no_offset=False, set_forget_gate_bias=False):
        with tf.variable_scope(name_scope):
            size = x.get_shape().as_list()[1]
            scale = tf.get_variable('scale', [size], initializer=tf.constant_initializer(self._initial_scale))
            if no_offset:
                offset = 0
            elif set_forget_gate_bias:
                offset = tf.get_variable('offset', [size], initializer=offset_initializer())
            else:
                offset = tf.get_variable('offset', [size], initializer=tf.zeros_initializer())
            pop_mean_all_steps = tf.get_variable('{pop_mean}', [self._max_bn_steps, size],
                                                 initializer=tf.zeros_initializer(), trainable=False)
            pop_var_all_steps = tf.get_variable('pop_var', [self._max_bn_steps, size],
                                                initializer=tf.ones_initializer(), trainable=False)
            step = tf.minimum(step, self._max_bn_steps - 1)
            pop_mean = pop_mean_all_steps[step]
            pop_var = pop_var_all_steps[step]
            batch_mean, batch_var = tf.nn.moments(x, [0])

            def batch_statistics():
                pop_mean_new = pop_mean * self._decay + batch_mean * (1 - self._decay)
                pop_var_new = pop_var * self._decay + batch_var * (1 - self._decay)
                with tf.control_dependencies([pop_mean.assign(pop_mean_new), pop_var.assign(pop_var_new)]):
                    return tf.nn.batch_normalization(x, batch_mean, batch_var, offset, scale, epsilon)

            def population_statistics():
                return tf.nn.batch_normalization(x, pop_mean, pop_var, offset, scale, epsilon)

            return tf.cond(self._training, batch_statistics, population_statistics)

    def __call__(self, x, state, scope=None):
        with tf.variable_scope(scope or type(self).__name__):
            c, h, step = state
            _step = tf.squeeze(tf.gather(tf.cast(step, tf.int32), 0))
            x_size = x.get_shape().as_list()[1]
            W_xh = tf.get_variable('W_xh', [x_size, 4 * self._num_units], initializer=orthogonal_lstm_initializer())
            W_hh = tf.get_variable('W_hh', [self._num_units, 4 * self._num_units],
                                   initializer=orthogonal_lstm_initializer())
            hh = tf.matmul(h, W_hh)
            xh = tf.matmul(x, W_xh)
            {bn_hh}
            bn_xh = self._batch_norm(xh, 'xh', _step, no_offset=True)
            hidden = bn_xh + bn_hh
            {split} = tf.split(value=hidden, num_or_size_splits=4, axis=1)
            new_c = c * tf.sigmoid(f) + tf.sigmoid(i) * self._activation(j)
            bn_new_c = self._batch_norm(new_c, 'c', _step)
            new_h = self._activation(bn_new_c) * tf.sigmoid(o)
            return new_h, (new_c, new_h, step + 1)
'''
INIT = "num_units, is_training_tensor, max_bn_steps, initial_scale=0.1, activation=tf.tanh, decay=0.95"
PIECES = dict(base="tf.nn.rnn_cell.RNNCell", init=INIT, epsilon="1e-5", pop_mean="pop_mean",
              bn_hh="bn_hh = self._batch_norm(hh, 'hh', _step, set_forget_gate_bias=True)", split="f, i, o, j")
CLASS_LINES = COPIED.count("\n")


def copied(**changes):
    return COPIED.format(**{**PIECES, **changes})


def module(calls="", imports="import tensorflow as tf\n", **changes):
    """A file: imports, the class (line {len(imports lines) + 2}), then `calls` at the end."""
    return f"{imports}\n\n{copied(**changes)}\n\n{calls}"


def class_line(imports="import tensorflow as tf\n"):
    return imports.count("\n") + 3


def calls_line(imports="import tensorflow as tf\n"):
    return class_line(imports) + CLASS_LINES + 2


def after(source, replaced_calls, old_calls):
    """`source` with its calls replaced and the replacement imported after the file's imports."""
    head, _, _ = source.partition("\n\n")
    return source.replace(old_calls, replaced_calls).replace(
        head + "\n", head + "\nfrom tf2norm.replacements import BatchNormLSTMCell\n", 1)


# -- the copied class: its calls are rewritten, the class is reported -----------------------------

CALLS = """\
def encoder(x, is_training):
    cell = BNLSTMCell(128, is_training, 20)
    other = BNLSTMCell(num_units=64, max_bn_steps=10, is_training_tensor=is_training, decay=0.9)
    return tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
"""
MIGRATED = """\
def encoder(x, is_training):
    cell = BatchNormLSTMCell(128, training=is_training, max_bn_steps=20)
    other = BatchNormLSTMCell(num_units=64, max_bn_steps=10, training=is_training, decay=0.9)
    return tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
"""


@pytest.mark.parametrize("target", ["keras", "compat"])
def test_copied_cell_calls_become_batch_norm_lstm_cell(target):
    source = module(CALLS)
    found = check(source, after(source, MIGRATED, CALLS), target=target,
                  findings=[("TF2N851", class_line(), 7)])
    assert found[0].message == (
        "class BNLSTMCell (the widely copied TF1 recurrent batch-norm LSTM cell) is no longer used: its 2 "
        "instantiation(s) in this file became tf2norm.replacements.BatchNormLSTMCell; the class was left in place")
    assert found[0].rewriter == "hand_rolled_bn_lstm"
    assert "bn_lstm_cell" in found[0].hint


# (imports, base expression): every way the copies reached TF1's RNNCell.
BASES = [
    ("import tensorflow as tf\n", "tf.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\n", "tf.contrib.rnn.RNNCell"),
    ("import tensorflow as tf\n", "tf.compat.v1.nn.rnn_cell.RNNCell"),
    ("import tensorflow.compat.v1 as tf\n", "tf.nn.rnn_cell.RNNCell"),
    ("import tensorflow as tf\n\nRNNCell = tf.contrib.rnn.RNNCell\n", "RNNCell"),
    ("import tensorflow as tf\nfrom tensorflow.python.ops.rnn_cell import RNNCell\n", "RNNCell"),
    ("import tensorflow as tf\nfrom tensorflow.contrib.rnn import RNNCell as Base\n", "Base"),
    ("import tensorflow as tf\nfrom tensorflow.python.ops import rnn_cell_impl\n", "rnn_cell_impl.RNNCell"),
    ("import tensorflow as tf\nfrom tensorflow.contrib.rnn.python.ops.core_rnn_cell import RNNCell\n", "RNNCell"),
    ("import tensorflow as tf\n\nrnn = tf.nn.rnn_cell\n", "rnn.RNNCell"),
]


@pytest.mark.parametrize("imports, base", BASES)
def test_every_rnn_cell_base_spelling(imports, base):
    source = module("cell = BNLSTMCell(32, training, 8)\n", imports=imports, base=base)
    check(source, after(source, "cell = BatchNormLSTMCell(32, training=training, max_bn_steps=8)\n",
                        "cell = BNLSTMCell(32, training, 8)\n"),
          findings=[("TF2N851", class_line(imports), 7)], only=ONLY)


def test_base_through_a_class_of_the_file():
    imports = "import tensorflow as tf\n\n\nclass Base(tf.nn.rnn_cell.RNNCell):\n    pass\n"
    source = module("cell = BNLSTMCell(32, training, 8)\n", imports=imports, base="Base")
    check(source, after(source, "cell = BatchNormLSTMCell(32, training=training, max_bn_steps=8)\n",
                        "cell = BNLSTMCell(32, training, 8)\n"),
          findings=[("TF2N851", class_line(imports), 7)], only=ONLY)


# -- defaults of the class that differ from the replacement's are written into the calls ---------

@pytest.mark.parametrize("changes, written", [
    ({"init": INIT.replace("decay=0.95", "decay=0.9")}, ", decay=0.9"),
    ({"init": INIT.replace("initial_scale=0.1", "initial_scale=0.25")}, ", initial_scale=0.25"),
    ({"init": INIT.replace("activation=tf.tanh", "activation=tf.nn.relu")}, ", activation=tf.nn.relu"),
    ({"init": INIT.replace("activation=tf.tanh", "activation=tf.nn.tanh")}, ""),
    ({"init": INIT + ", forget_bias=1.0"}, ", forget_bias=1.0"),
    ({"init": INIT + ", forget_bias=0.0"}, ""),
    ({"epsilon": "1e-7"}, ", epsilon=1e-7"),
    ({"epsilon": "1e-5"}, ""),
])
def test_class_defaults_that_differ_are_written(changes, written):
    call = "cell = BNLSTMCell(32, training, 8)\n"
    source = module(call, **changes)
    check(source, after(source, f"cell = BatchNormLSTMCell(32, training=training, max_bn_steps=8{written})\n", call),
          findings=[("TF2N851", class_line(), 7)], only=ONLY)


def test_every_argument_mapped_and_given_values_win_over_class_defaults():
    call = ("cell = BNLSTMCell(32, flag, 8, 0.2, tf.nn.relu, 0.5, 0.3)\n"
            "other = BNLSTMCell(is_training_tensor=flag, decay=d, num_units=n, max_bn_steps=m, forget_bias=1.0)\n")
    source = module(call, init=INIT.replace("decay=0.95", "decay=0.9") + ", forget_bias=2.0")
    migrated = ("cell = BatchNormLSTMCell(32, training=flag, max_bn_steps=8, initial_scale=0.2, "
                "activation=tf.nn.relu, decay=0.5, forget_bias=0.3)\n"
                "other = BatchNormLSTMCell(training=flag, decay=d, num_units=n, max_bn_steps=m, forget_bias=1.0)\n")
    check(source, after(source, migrated, call), findings=[("TF2N851", class_line(), 7)], only=ONLY)


def test_layout_and_comments_of_a_multi_line_call_survive():
    call = ("cell = BNLSTMCell(\n"
            "    256,  # units\n"
            "    is_training,  # a tf.bool placeholder\n"
            "    max_bn_steps=50,\n"
            ")\n")
    source = module(call)
    migrated = ("cell = BatchNormLSTMCell(\n"
                "    256,  # units\n"
                "    training=is_training,  # a tf.bool placeholder\n"
                "    max_bn_steps=50,\n"
                ")\n")
    check(source, after(source, migrated, call), findings=[("TF2N851", class_line(), 7)], only=ONLY)


def test_calls_in_lists_wrappers_and_methods_and_super_inside_the_class_is_no_use():
    call = ("cells = [BNLSTMCell(n, t, 8) for n in (32, 16)]\n"
            "stack = tf.nn.rnn_cell.MultiRNNCell([BNLSTMCell(8, t, 4), BNLSTMCell(8, t, 4)])\n")
    source = module(call).replace("        self._num_units = num_units\n",
                                  "        super(BNLSTMCell, self).__init__()\n        self._num_units = num_units\n")
    migrated = ("cells = [BatchNormLSTMCell(n, training=t, max_bn_steps=8) for n in (32, 16)]\n"
                "stack = tf.nn.rnn_cell.MultiRNNCell([BatchNormLSTMCell(8, training=t, max_bn_steps=4), "
                "BatchNormLSTMCell(8, training=t, max_bn_steps=4)])\n")
    found = check(source, after(source, migrated, call), findings=[("TF2N851", class_line(), 7)], only=ONLY)
    assert "its 3 instantiation(s)" in found[0].message  # the comprehension is one call


# -- uses that cannot be mapped are reported, and then the class stays in use ---------------------

def test_unmappable_calls_are_reported_and_the_rest_rewritten():
    call = ("a = BNLSTMCell(32, t, 8)\n"
            "b = BNLSTMCell(*args)\n"
            "c = BNLSTMCell(32, t, 8, **options)\n"
            "d = BNLSTMCell(32, t, 8, dtype=tf.float32)\n"
            "e = BNLSTMCell(32, t)\n"
            "f = BNLSTMCell(32, t, 8, forget_bias=1.0)\n")
    source = module(call)
    line = calls_line()
    migrated = call.replace("a = BNLSTMCell(32, t, 8)", "a = BatchNormLSTMCell(32, training=t, max_bn_steps=8)")
    found = check(source, after(source, migrated, call), findings=[
        ("TF2N010", line + 1, 5), ("TF2N010", line + 2, 5), ("TF2N011", line + 3, 5), ("TF2N011", line + 4, 5),
        ("TF2N011", line + 5, 5)], only=ONLY)
    assert [f.message for f in found[2:]] == [
        "BNLSTMCell: arguments do not match the TF1 signature (unknown argument 'dtype'); left unchanged",
        "BNLSTMCell: arguments do not match the TF1 signature (missing 'max_bn_steps'); left unchanged",
        "BNLSTMCell: arguments do not match the TF1 signature (unknown argument 'forget_bias'); left unchanged",
    ]


@pytest.mark.parametrize("use, usage, col", [
    ("factory = functools.partial(BNLSTMCell, num_units=32)\n", "is passed to functools.partial()", 29),
    ("cell_class = BNLSTMCell\n", "is assigned to a name", 14),
    ("class Mine(BNLSTMCell):\n    pass\n", "is subclassed by class Mine", 12),
    ("cells = {'bn': BNLSTMCell}\n", "is used as a value", 16),
])
def test_the_class_used_as_a_value_is_reported(use, usage, col):
    source = module("cell = BNLSTMCell(32, t, 8)\n" + use, imports="import functools\nimport tensorflow as tf\n")
    imports = "import functools\nimport tensorflow as tf\n"
    migrated = "cell = BatchNormLSTMCell(32, training=t, max_bn_steps=8)\n" + use
    found = check(source, after(source, migrated, "cell = BNLSTMCell(32, t, 8)\n" + use),
                  findings=[("TF2N853", calls_line(imports) + 1, col)], only=ONLY)
    assert found[0].message == f"BNLSTMCell {usage}: only calls can be rewritten; left unchanged, so the class stays in use"


def test_a_class_never_instantiated_here_is_reported():
    found = check(module(), None, findings=[("TF2N854", class_line(), 7)], only=ONLY)
    assert "calls in the files that import it are not rewritten" in found[0].message


def test_a_parameter_shadowing_the_class_is_not_a_use():
    found = check(module("def build(BNLSTMCell, t):\n    return BNLSTMCell(32, t, 8)\n"), None,
                  findings=[("TF2N854", class_line(), 7)], only=ONLY)
    assert found[0].code == "TF2N854"


# -- variants people copied too: reported with the reason, nothing changed -----------------------

VARIANTS = [
    ({"bn_hh": "bn_hh = hh"}, "it does not batch-normalise the hidden-to-hidden term (no 'hh')"),
    ({"split": "i, j, f, o"}, "its gates are split as (i, j, f, o), not (f, i, o, j)"),
    ({"pop_mean": "pop_mean_all"}, "its variables are not named as the copied cell's (no 'pop_mean')"),
    ({"init": "num_units, max_bn_steps, forget_bias=1.0, is_training_tensor=False, initial_scale=0.1, "
              "activation=tf.tanh, decay=0.95"},
     "its __init__ takes (num_units, max_bn_steps, forget_bias, is_training_tensor, initial_scale, activation, "
     "decay), not (num_units, is_training_tensor, max_bn_steps, initial_scale=0.1, activation=tf.tanh, "
     "decay=0.95[, forget_bias=...])"),
    ({"init": "num_units, training"},
     "its __init__ takes (num_units, training), not (num_units, is_training_tensor, max_bn_steps, "
     "initial_scale=0.1, activation=tf.tanh, decay=0.95[, forget_bias=...])"),
    ({"init": INIT.replace("decay=0.95", "decay=DECAY")}, "its decay default DECAY is not a number"),
    ({"epsilon": "EPS"}, "its epsilon default EPS is not a number"),
    ({"bn_hh": "bn_hh = self._batch_norm(hh, 'hh', _step, no_offset=True)"},
     "its offsets differ (only 'xh' may pass no_offset=True)"),
]


@pytest.mark.parametrize("changes, reason", VARIANTS)
@pytest.mark.parametrize("target", ["keras", "compat"])
def test_variants_are_reported_not_rewritten(changes, reason, target):
    found = check(module("cell = BNLSTMCell(32, t, 8)\n", **changes), None, target=target,
                  findings=[("TF2N852", class_line(), 7)], only=ONLY)
    assert found[0].message == (f"class BNLSTMCell differs from the widely copied TF1 cell ({reason}); "
                                "it and its uses were left unchanged")


def test_the_variant_that_stops_normalising_after_max_bn_steps_is_reported():
    stops = ("hidden = tf.cond(_step < self._max_bn_steps - 1, lambda: bn_xh + bn_hh, lambda: xh + hh)\n"
             "            bn_xh = bn_xh")
    source = module("cell = BNLSTMCell(32, t, 8)\n").replace("hidden = bn_xh + bn_hh", stops)
    found = check(source, None, findings=[("TF2N852", class_line(), 7)], only=ONLY)
    assert "a tf.cond on max_bn_steps stops normalising" in found[0].message


def test_a_class_without_init_is_reported():
    source = "import tensorflow as tf\n\n\nclass BNLSTMCell(tf.nn.rnn_cell.RNNCell):\n    pass\n\n\nc = BNLSTMCell()\n"
    found = check(source, None, findings=[("TF2N852", 4, 7)], only=ONLY)
    assert "(it has no __init__)" in found[0].message


# -- look-alikes: left alone, no finding ----------------------------------------------------------

@pytest.mark.parametrize("source", [
    # Same class text on a torch module, a Keras layer, a plain class.
    module("cell = BNLSTMCell(32, t, 8)\n", imports="import tensorflow as tf\nfrom torch import nn\n",
           base="nn.Module"),
    module("cell = BNLSTMCell(32, t, 8)\n", base="tf.keras.layers.Layer"),
    module("cell = BNLSTMCell(32, t, 8)\n", base="object"),
    module("cell = BNLSTMCell(32, t, 8)\n").replace("class BNLSTMCell(tf.nn.rnn_cell.RNNCell)", "class BNLSTMCell"),
    # The class lives in another module: its calls are not visible as the copied cell.
    "import tensorflow as tf\nfrom bnlstm import BNLSTMCell\n\ncell = BNLSTMCell(32, is_training, 8)\n",
    # Already migrated.
    "import tensorflow as tf\nfrom tf2norm.replacements import BatchNormLSTMCell\n\n"
    "cell = BatchNormLSTMCell(32, 8, training=is_training)\nout = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)\n",
    # A base named RNNCell that is not TensorFlow's.
    module("cell = BNLSTMCell(32, t, 8)\n", imports="import tensorflow as tf\nfrom mylib import RNNCell\n",
           base="RNNCell"),
    # A shadowed tf: `tf` is a parameter, not TensorFlow.
    "def make(tf):\n    class BNLSTMCell(tf.nn.rnn_cell.RNNCell):\n        pass\n    return BNLSTMCell(1, 2, 3)\n",
])
def test_look_alikes_are_left_alone(source):
    check_noop(source, only=ONLY)
    check_noop(source)  # and no other rewriter reports them


def test_the_same_text_under_another_name_is_a_hand_written_cell_like_any_other():
    source = module("cell = BNGRUCell(32, t, 8)\n").replace("class BNLSTMCell(", "class BNGRUCell(")
    check_noop(source, only=ONLY)
    # every rewriter: tf1_rnn_cells gives it tf2norm's RNNCell, and nothing is reported
    check(source, source.replace("class BNGRUCell(tf.nn.rnn_cell.RNNCell)", "class BNGRUCell(RNNCell)")
          .replace("import tensorflow as tf\n", "import tensorflow as tf\nfrom tf2norm.replacements import RNNCell\n", 1))


def test_only_and_skip_select_the_rewriter():
    source = module("cell = BNLSTMCell(32, t, 8)\n")
    output, findings = migrate(source, only=("contrib_batch_norm",))
    assert output == source and findings == []
    output, findings = migrate(source)
    assert "BatchNormLSTMCell(32, training=t, max_bn_steps=8)" in output
    assert [f.code for f in findings] == ["TF2N851"]


# -- with every rewriter: the TF1 wrappers around the migrated cells migrate with them --------------

def test_wrappers_and_dynamic_rnn_around_the_migrated_cells_migrate_too():
    call = ("stack = tf.nn.rnn_cell.MultiRNNCell(\n"
            "    [tf.nn.rnn_cell.DropoutWrapper(BNLSTMCell(8, t, 4), output_keep_prob=0.9), BNLSTMCell(8, t, 4)])\n"
            "outputs, state = tf.nn.dynamic_rnn(stack, x, dtype=tf.float32)\n")
    source = module(call)
    # The migrated calls are laid out afresh (test_layout.py), here on one line (rewriter_cases.UNWRAPPED).
    migrated = ("stack = MultiRNNCell([DropoutWrapper(BatchNormLSTMCell(8, training=t, max_bn_steps=4), "
                "output_keep_prob=0.9), BatchNormLSTMCell(8, training=t, max_bn_steps=4)])\n"
                "outputs, state = tf.compat.v1.nn.dynamic_rnn(stack, x, dtype=tf.float32)\n")
    head, _, _ = source.partition("\n\n")
    expected = source.replace(call, migrated).replace(
        head + "\n", head + "\nfrom tf2norm.replacements import BatchNormLSTMCell, DropoutWrapper, MultiRNNCell\n", 1)
    for target in ("keras", "compat"):
        check(source, expected, target=target, findings=[("TF2N851", class_line(), 7)])
