"""contrib_stack_bidirectional_rnn: contrib.rnn's stack_bidirectional_(dynamic_)rnn -> tf2norm.replacements', both targets."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm.rewriters import contrib_stack_bidirectional_rnn

TARGETS = ("keras", "compat")
FUNCTIONS = ("stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn")
ONLY = ("contrib_stack_bidirectional_rnn",)


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_spelling_is_found(function, target):
    tf = "import tensorflow as tf\n"
    spellings = [
        (tf, f"tf.contrib.rnn.{function}", tf),
        (tf, f"tf.compat.v1.contrib.rnn.{function}", tf),
        ("import tensorflow.compat.v1 as tf\n", f"tf.contrib.rnn.{function}", "import tensorflow.compat.v1 as tf\n"),
        ("from tensorflow.contrib import rnn\n", f"rnn.{function}", ""),
        ("import tensorflow.contrib.rnn as contrib_rnn\n", f"contrib_rnn.{function}", ""),
        (f"from tensorflow.contrib.rnn import {function}\n", function, ""),
        (f"from tensorflow.contrib.rnn import {function} as stack\n", "stack", ""),
        (f"from tensorflow.contrib.rnn.python.ops.rnn import {function}\n", function, ""),
    ]
    for imports, spelling, kept in spellings:
        output, findings = migrate(f"{imports}out, fw, bw = {spelling}(cells_fw, cells_bw, x, dtype=tf.float32)\n",
                                   target, ONLY)
        assert output == (f"{kept}from tf2norm.replacements import {function}\n\n"
                          f"out, fw, bw = {function}(cells_fw, cells_bw, x, dtype=tf.float32)\n"), spelling
        assert findings == []


@pytest.mark.parametrize("target", TARGETS)
def test_ludwigs_call_with_the_cells_it_builds(target):
    # ludwig 0.1.2 models/modules/recurrent_modules.py (BLOCKERS.md, TF2N725 before): the cells are migrated by
    # tf1_rnn_cells, the function by this rewriter, every argument kept.
    check(
        """\
        import tensorflow as tf

        fw_cells = [tf.contrib.rnn.LSTMBlockCell(8) for _ in range(2)]
        bw_cells = [tf.contrib.rnn.LSTMBlockCell(8) for _ in range(2)]
        rnn_outputs, final_state_fw, final_state_bw = tf.contrib.rnn.stack_bidirectional_dynamic_rnn(
            cells_fw=fw_cells,
            cells_bw=bw_cells,
            dtype=tf.float32,
            sequence_length=sequence_length,
            inputs=input_sequence
        )
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import LSTMBlockCell, stack_bidirectional_dynamic_rnn

        fw_cells = [LSTMBlockCell(8) for _ in range(2)]
        bw_cells = [LSTMBlockCell(8) for _ in range(2)]
        rnn_outputs, final_state_fw, final_state_bw = stack_bidirectional_dynamic_rnn(cells_fw=fw_cells, cells_bw=bw_cells, dtype=tf.float32, sequence_length=sequence_length, inputs=input_sequence)
        """,
        target=target,
    )


def test_the_function_as_a_value_and_every_positional_argument():
    check(
        """\
        import tensorflow as tf
        stack = tf.contrib.rnn.stack_bidirectional_rnn
        out = tf.contrib.rnn.stack_bidirectional_dynamic_rnn(fw, bw, x, None, None, tf.float32, lengths, 16, True, "enc", False)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import stack_bidirectional_dynamic_rnn, stack_bidirectional_rnn

        stack = stack_bidirectional_rnn
        out = stack_bidirectional_dynamic_rnn(fw, bw, x, None, None, tf.float32, lengths, 16, True, "enc", False)
        """,
    )


def test_a_call_that_does_not_bind_is_reported_and_left():
    check(
        """\
        import tensorflow as tf
        out = tf.contrib.rnn.stack_bidirectional_rnn(fw, bw, x, time_major=True)
        """,
        findings=[("TF2N011", 2, 7)],
        only=ONLY,
    )


LOOKALIKES = {
    "TF2's bidirectional_dynamic_rnn": "import tensorflow as tf\nout = tf.compat.v1.nn.bidirectional_dynamic_rnn(fw, bw, x)\n",
    "a project's own function": "def stack_bidirectional_dynamic_rnn(fw, bw, x):\n    return x\n\n\n"
                                "out = stack_bidirectional_dynamic_rnn(fw, bw, x)\n",
    "another library's": "from mylib.rnn import stack_bidirectional_dynamic_rnn\nout = stack_bidirectional_dynamic_rnn(a, b, x)\n",
    "a shadowed tf": "def f(tf):\n    return tf.contrib.rnn.stack_bidirectional_dynamic_rnn(a, b, x)\n",
    "already migrated": "from tf2norm.replacements import stack_bidirectional_dynamic_rnn\n"
                        "out = stack_bidirectional_dynamic_rnn(a, b, x)\n",
}


@pytest.mark.parametrize("source", LOOKALIKES.values(), ids=LOOKALIKES.keys())
def test_lookalikes_are_left_alone(source):
    check_noop(source)


def test_module_metadata():
    first_lines = contrib_stack_bidirectional_rnn.__doc__.splitlines()[:2]
    assert first_lines[0].startswith("Legacy `tf.contrib.rnn.stack_bidirectional_dynamic_rnn`")
    assert "tf2norm.replacements" in first_lines[1]
    assert contrib_stack_bidirectional_rnn.RULES == {}
