"""The shared machinery: discovery, name resolution, import cleanup, encodings, findings formats."""

import json
import sys

import pytest

from tests.rewriters.rewriter_cases import check, migrate
from tf2norm import rewriters
from tf2norm.rewriters import _driver, _findings
from tf2norm.rewriters._rewriter import Rewriter


def test_rewriters_are_discovered_in_dependency_order():
    assert list(rewriters.available()) == ["contrib_batch_norm", "contrib_hparams", "contrib_layer_norm", "contrib_opt",
                                          "contrib_slim", "contrib_stack_bidirectional_rnn", "graph_programs", "hand_rolled_bn_lstm", "hand_rolled_layer_norm_gru",
                                          "layer_norm_basic_lstm_cell", "layers_batch_normalization",
                                          "tf1_rnn_cells", "rnn_cell_wrappers", "tf1_layers", "tfa_normalization",
                                          "tfa_rnn_cells", "unsupported_apis"]


def test_finding_codes_are_unique_and_stable_in_form():
    from tf2norm.checkpoints.rules import RULES as CHECKPOINT_RULES

    tables = [_findings.RULES, CHECKPOINT_RULES] + [r.rules for r in rewriters.available().values()]
    codes = [code for table in tables for code in table]
    assert len(codes) == len(set(codes))
    assert all(len(code) == 7 and code.startswith("TF2N") and code[4:].isdigit() for code in codes)


def test_every_rewriter_keeps_the_rewriter_contract():
    for name, rewriter in rewriters.available().items():
        assert isinstance(rewriter, Rewriter), name
        # TensorFlow's names, and those of tensorflow-addons (whose Keras 2 layers are migrated too).
        assert isinstance(rewriter.legacy, frozenset) and rewriter.legacy
        assert all(n.startswith(("tensorflow.", "tensorflow_addons.")) and ".compat." not in n for n in rewriter.legacy)
        assert all(isinstance(rule, _findings.Rule) and rule.code == code and rule.severity == "warning"
                   for code, rule in rewriter.rules.items())
        assert " -> " in rewriters.summary(name), name  # the legacy symbol -> its target


# -- imports --------------------------------------------------------------------------------------

def test_comment_above_a_removed_import_stays():
    check(
        """\
        import tensorflow as tf
        # Layers come from contrib in this file.
        from tensorflow.contrib import layers

        y = layers.batch_norm(x)
        """,
        """\
        import tensorflow as tf
        from tf2norm.replacements import BatchNormalization

        # Layers come from contrib in this file.

        y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


def test_a_block_left_empty_by_a_removed_import_gets_pass():
    check(
        """\
        try:
            from tensorflow.contrib.layers import batch_norm
        except ImportError:
            batch_norm = None
        y = batch_norm(x)
        """,
        None,
        findings=[("TF2N012", 5, 5)],
    )
    check(
        """\
        if True:
            import tensorflow.contrib.slim as slim
        y = slim.batch_norm(x)
        """,
        """\
        from tf2norm.replacements import BatchNormalization

        if True:
            pass
        y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


def test_unused_contrib_imports_are_not_ours_to_remove():
    check(
        """\
        from tensorflow.contrib import rnn  # re-exported
        from tensorflow.contrib.layers import batch_norm, conv2d

        y = batch_norm(x)
        """,
        """\
        from tensorflow.contrib import rnn  # re-exported
        from tensorflow.contrib.layers import conv2d
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


def test_dotted_import_of_contrib_is_removed_when_tensorflow_is_imported_too():
    check(
        """\
        import tensorflow
        import tensorflow.contrib.layers

        y = tensorflow.contrib.layers.batch_norm(tensorflow.nn.relu(x))
        """,
        """\
        import tensorflow
        from tf2norm.replacements import BatchNormalization

        y = BatchNormalization(momentum=0.999, scale=False)(tensorflow.nn.relu(x), training=True)
        """,
    )


def test_star_import_from_a_legacy_module_is_reported():
    found = check("from tensorflow.contrib.layers import *\ny = batch_norm(x)\n", None, findings=[("TF2N013", 1, 1)])
    assert found[0].message == ("from tensorflow.contrib.layers import * hides which legacy names this file uses; "
                                "left unchanged")
    # contrib.framework's arg_scope is contrib_slim's
    check("from tensorflow.contrib.framework import *\n", None, findings=[("TF2N013", 1, 1)])
    # contrib.training's HParams is contrib_hparams'; seq2seq is no rewriter's (unsupported_apis reports it)
    check("from tensorflow.contrib.training import *\n", None, findings=[("TF2N013", 1, 1)])
    check("from tensorflow.contrib.seq2seq import *\n", None)


def test_a_name_the_file_binds_already_is_emitted_qualified():
    check(
        """\
        import tensorflow as tf
        from tensorflow.keras.layers import BatchNormalization

        a = BatchNormalization()(x)
        b = tf.contrib.layers.batch_norm(x)
        """,
        """\
        import tensorflow as tf
        from tensorflow.keras.layers import BatchNormalization
        import tf2norm.replacements

        a = BatchNormalization()(x)
        b = tf2norm.replacements.BatchNormalization(momentum=0.999, scale=False)(x, training=True)
        """,
    )


def test_alias_cycle_does_not_loop():
    check("a = b\nb = a\ny = a.batch_norm(x)\n", None)


# -- bytes: encodings, BOM, line endings -----------------------------------------------------------

def _migrate_bytes(data: bytes) -> bytes:
    output, _ = _driver.migrate_source(data, "case.py", _driver.Options())
    return output


def test_crlf_line_endings_survive():
    source = b"import tensorflow as tf\r\n\r\ny = tf.contrib.layers.batch_norm(x)\r\n"
    assert _migrate_bytes(source) == (
        b"import tensorflow as tf\r\nfrom tf2norm.replacements import BatchNormalization\r\n\r\n"
        b"y = BatchNormalization(momentum=0.999, scale=False)(x, training=True)\r\n")


def test_bom_and_latin1_declaration_survive():
    bom = b"\xef\xbb\xbfimport tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)  # \xc3\xa9\n"
    assert _migrate_bytes(bom).startswith(b"\xef\xbb\xbfimport tensorflow as tf\n")
    assert _migrate_bytes(bom).endswith("# é\n".encode("utf-8"))
    latin1 = b"# -*- coding: latin-1 -*-\nimport tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)  # \xe9\n"
    output = _migrate_bytes(latin1)
    assert output.startswith(b"# -*- coding: latin-1 -*-\n") and output.endswith(b"# \xe9\n")
    assert b"BatchNormalization(momentum=0.999" in output


def test_no_trailing_newline_survives():
    assert _migrate_bytes(b"import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)").endswith(
        b"(x, training=True)")


@pytest.mark.parametrize("data, code, message", [
    (b"print 'x'\n", "TF2N001", "cannot parse: Missing parentheses in call to 'print'. Did you mean print(...)?"),
    (b"# -*- coding: klingon -*-\nx = 1\n", "TF2N002", "cannot decode: unknown encoding: klingon"),
    (b"x = '\xff'\n", "TF2N002",
     "cannot decode: 'utf-8' codec can't decode byte 0xff in position 5: invalid start byte"),
])
def test_unprocessable_source(data, code, message):
    result = _driver.process_data(data, "bad.py", _driver.Options())
    assert result.failed and not result.changed and result.output == data
    assert [(f.code, f.message) for f in result.findings] == [(code, message)]


VERSION = ".".join(map(str, sys.version_info[:2]))


@pytest.mark.parametrize("data, message, hint", [
    (b"print 'x'\n", "Missing parentheses in call to 'print'. Did you mean print(...)?", "python2"),
    (b"x = 0777\n", "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal "
                    "integers", "python2"),
    (b"try:\n    pass\nexcept E, e:\n    pass\n", "multiple exception types must be parenthesized", "python2"),
    (b"a = `x`\n", "invalid syntax", "python2"),
    (b"if a <> b:\n    pass\n", "invalid syntax", "python2"),
    (b"raise E, 'm'\n", "invalid syntax", "python2"),
    (b"x = 1L\n", "invalid decimal literal", "python2"),
    (b"x = (1\n", "'(' was never closed", "fix"),
    (b"y = f(x))\n", "unmatched ')'", "fix"),
    (b"def f(:\n    pass\n", "invalid syntax", "fix"),
])
def test_the_syntax_error_hint_blames_python_2_only_for_python_2_code(data, message, hint):
    [finding] = _driver.process_data(data, "bad.py", _driver.Options()).findings
    assert (finding.code, finding.message) == ("TF2N001", f"cannot parse: {message}")
    assert finding.hint == {
        "python2": "the file is Python 2 code: port it to Python 3 first",
        "fix": f"fix the syntax error; the file must parse as Python {VERSION} (the Python running tf2norm)",
    }[hint]


def test_a_crashing_rewriter_is_an_internal_error_for_that_file_only(monkeypatch):
    module = rewriters.available()["contrib_batch_norm"]

    def crash(ctx):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "plan", crash)
    result = _driver.process_data(b"import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)\n", "f.py",
                                  _driver.Options())
    assert result.internal and result.failed
    assert result.findings[0].code == "TF2N009"
    assert result.findings[0].message.startswith("internal error in rewriter contrib_batch_norm: RuntimeError: boom")


# -- findings formats ------------------------------------------------------------------------------

FINDING = _findings.Finding("a, b.py", 3, 7, "TF2N104", "batch_norm: 50% shared", "pass scope='...'",
                            "contrib_batch_norm")


def test_text_format():
    assert _findings.format_text(FINDING) == (
        "a, b.py:3:7: TF2N104 batch_norm: 50% shared (fix: pass scope='...')")


def test_github_format_escapes_properties_and_data():
    assert _findings.format_github(FINDING) == (
        "::warning file=a%2C b.py,line=3,col=7,title=TF2N104::batch_norm: 50%25 shared (fix: pass scope='...')")


def test_json_schema():
    assert json.loads(json.dumps([FINDING.as_dict()])) == [{
        "path": "a, b.py", "line": 3, "col": 7, "code": "TF2N104", "message": "batch_norm: 50% shared",
        "hint": "pass scope='...'", "rewriter": "contrib_batch_norm"}]


def test_findings_sorted_by_position():
    _, findings = migrate("import tensorflow as tf\n"
                          "b = tf.contrib.layers.batch_norm(x, outputs_collections=c)\n"
                          "a = tf.contrib.layers.batch_norm(x, **k)\n")
    assert [(f.line, f.code) for f in findings] == [(2, "TF2N101"), (3, "TF2N010")]


@pytest.mark.parametrize(
    "source, mentions",
    [
        ("# a comment about tf.contrib\nx = 'contrib'\n", False),
        ("import tensorflow as tf\ny = tf.contrib.layers.batch_norm(x)\n", True),
        ("from tensorflow.contrib import slim\n", True),
        ("import tensorflow.contrib.slim as slim\n", True),
        ("state = tf.nn.rnn_cell.LSTMStateTuple(c, h)\n", True),
        ("def dynamic_rnn(cell):\n    pass\n", False),
        ("out = dynamic_rnn(cell, x)\n", True),
    ],
)
def test_only_files_using_a_legacy_name_reach_libcst(source, mentions):
    import ast

    from tf2norm.rewriters import _driver

    assert _driver._mentions_legacy_names(ast.parse(source)) is mentions
