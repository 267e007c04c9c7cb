"""The name filter (tf2norm.rewriters._prefilter) changes no result: a file it keeps from LibCST is one
that the straightforward path (every file naming a legacy identifier goes to LibCST) leaves unchanged
without a finding. Checked on every fixture and on the look-alikes and far-reaching spellings below;
every rewriter test case checks it too (tests/rewriters/rewriter_cases.py)."""

import ast
from pathlib import Path
from textwrap import dedent

import pytest

from tf2norm.rewriters import _driver

REPO = Path(__file__).resolve().parents[2]
FIXTURES = sorted(str(p.relative_to(REPO)) for p in (REPO / "fixtures").rglob("*.py"))


def _both_paths(data: bytes, path: str, target: str = "keras"):
    options = _driver.Options(target=target)

    def run():
        try:
            return _driver.migrate_source(data, path, options)
        except _driver._Unprocessable as problem:
            return "unprocessable", [problem.finding]

    filtered = run()
    _driver.NAME_FILTER = False
    try:
        straightforward = run()
    finally:
        _driver.NAME_FILTER = True
    return filtered, straightforward


def _tree(data: bytes):
    try:
        return ast.parse(data)
    except SyntaxError:  # reported before any filter, the same on both paths
        return None


def _needs_libcst(source: str) -> bool:
    return _driver._name_filter().needs_libcst(ast.parse(dedent(source)))


def _skipped_by_the_filter_alone(data: bytes) -> bool:
    """Would the identifier test have sent this file to LibCST, and the name filter does not?"""
    tree = _tree(data)
    return tree is not None and _driver._MAY_NEED_WORK.search(data.decode("utf-8")) is not None \
        and _driver._mentions_legacy_names(tree) and not _driver._name_filter().needs_libcst(tree)


# The filter is the only difference between the two paths: a file it passes takes the same path on
# both, so only the files it keeps away need the straightforward path run.
SKIPPED = [path for path in FIXTURES if _skipped_by_the_filter_alone((REPO / path).read_bytes())]


def test_the_filter_keeps_fixtures_that_name_only_tf1_graph_code_or_compat_from_libcst():
    assert len(SKIPPED) >= 10  # not vacuous


@pytest.mark.parametrize("path", SKIPPED)
def test_every_fixture_the_filter_skips_migrates_the_same_without_it(path):
    data = (REPO / path).read_bytes()
    for target in ("keras", "compat"):
        filtered, straightforward = _both_paths(data, path, target)
        assert filtered == straightforward == (data, [])


# (source, does the filter send it to LibCST?)
CASES = [
    # TF1 graph-code names alone, and tf.compat.v1 spellings of what TF2 kept: nothing to do.
    ("import tensorflow.compat.v1 as tf\nw = tf.get_variable('w', [3])\nwith tf.variable_scope('s'):\n    y = tf.matmul(w, w)\n",
     False),
    ("import tensorflow as tf\ny = tf.compat.v1.layers\n", False),  # the module itself is no table entry
    ("import tensorflow as tf\ny = tf.compat.v1.layers.conv2d\n", True),  # its functions are: reported
    ("import tensorflow as tf\nd = tf.layers.dense\n", True),
    ("from tensorflow.compat import v1 as tf\nx = tf.layers.dense(y, 3)\n", True),
    # Aliases, followed to a fixed point (and a cycle that grows a name forever is cut short).
    ("import tensorflow as tf\nL = tf.contrib\nM = L\nM.layers.batch_norm(x)\n", True),
    ("import tensorflow as tf\nnode = tf.compat.v1\nwhile node:\n    node = node.parent\ndense = 1\n", False),
    ("import tensorflow as tf\na = tf.compat\nb = a.v1\nc = b.summary\nc.merge_all()\n", True),
    # A shadowed or foreign `dense` / `placeholder` / `Session`: never TF1's.
    ("from keras.layers import Dense as dense\nfrom sqlalchemy.orm import Session\nplaceholder = dense(3)\n", False),
    # graph_programs: ref variables and TF1 summaries only in TF1 graph code, TF1-only summaries anywhere.
    ("import tensorflow as tf\nv = tf.Variable(0, trainable=False)\nw = tf.get_variable('w', [1])\n", True),
    ("import tensorflow as tf\nv = tf.Variable(0, trainable=False)\ntf.compat.v1.enable_eager_execution()\n", False),
    ("import tensorflow as tf\ntf.summary.scalar('loss', x)\nwith tf.variable_scope('s'):\n    pass\n", True),
    ("import tensorflow as tf\ntf.summary.scalar('loss', x)\n", False),
    ("import tensorflow as tf\nm = tf.summary.merge([a, b])\nimport tensorflow.compat\n", True),
    # TF1 dimensions: graph_programs rewrites them in any file it reads.
    ("import tensorflow as tf\nn = x.shape[1].value\ny = tf.compat.v1\n", True),
    ("import tensorflow as tf\nfor d in x.get_shape()[1:]:\n    print(d.value)\ny = tf.compat.v1\n", True),
    ("import tensorflow as tf\nn = x.shape[1:].value + d.value\ny = tf.compat.v1\n", False),
    # A star import that reaches legacy names (TF2N013), and one from TensorFlow's modules that does not.
    ("from tensorflow.contrib.layers import *\n", True),
    ("from tensorflow.nn import *\ny = dynamic_rnn\n", True),
    ("from tensorflow.math import *\ny = compat\n", False),
    # Imports of what cannot run, however spelled, and tensorflow-addons.
    ("import tensorflow.contrib.slim as slim\n", True),
    ("from tensorflow_addons.layers import GroupNormalization as GN\n", True),
    ("from tensorflow.python.ops import rnn_cell_impl\nc = rnn_cell_impl.LSTMStateTuple\n", True),
    ("import tf_slim as slim\nwith slim.arg_scope([], a=1):\n    compat = 1\n", True),
    # graph_programs' summaries are the names as spelled: tensor2tensor's `import tensorflow.compat.v1 as tf`
    # makes tf.summary.* TF1's already (common_attention.py, common_layers.py), and TF1-only ones too.
    ("import tensorflow.compat.v1 as tf\ntf.summary.scalar('loss', x)\nw = tf.get_variable('w', [1])\n", False),
    ("from tensorflow.compat.v1 import summary\nsummary.image('x', x)\nw = tf.get_variable('w', [1])\n", False),
    ("import tensorflow as tf\ntf.compat.v1.summary.histogram('h', x)\nw = tf.get_variable('w', [1])\n", False),
    ("import tensorflow.compat.v1 as tf\nw = tf.summary.FileWriter(d)\nv = tf.summary.Summary.Value\n", False),
    ("import tensorflow as tf\nw = tf.summary.FileWriter(d)\n", True),
    ("import tensorflow as tf\nv = tf.summary.Summary.Value(tag='t')\n", True),
    ("from tensorflow.summary import FileWriter\nw = FileWriter(d)\n", True),
    # Graph builders: graph mode at an entry, TF2N701 in a library where a graph is built at import,
    # or a Saver built in a graph of its own saves or restores outside it; else nothing.
    ("import tensorflow.compat.v1 as tf\ndef f():\n    return tf.placeholder(tf.float32, [])\n", False),
    ("import tensorflow.compat.v1 as tf\nx = tf.placeholder(tf.float32, [])\n", True),
    ("import tensorflow.compat.v1 as tf\nclass A:\n    x = tf.placeholder(tf.float32, [])\n", True),
    ("import tensorflow.compat.v1 as tf\nf = lambda: tf.Session()\n", False),
    ("import tensorflow.compat.v1 as tf\ndef f():\n    return tf.Session()\nif __name__ == '__main__':\n    f()\n",
     True),
    ("import tensorflow.compat.v1 as tf\ndef f():\n    return tf.Session()\ntf.app.run(f)\n", True),
    ("import tensorflow.compat.v1 as tf\nfrom absl import app\ndef f():\n    return tf.Session()\napp.run(f)\n",
     False),
    ("import tensorflow.compat.v1 as tf\ndef f(g):\n    with g.as_default():\n        x = tf.placeholder(tf.float32)\n"
     "    with tf.Session(graph=g) as s:\n        pass\nif __name__ == '__main__':\n    f()\n", False),
    ("import tensorflow.compat.v1 as tf\ndef f(g):\n    with g.as_default():\n        x = tf.placeholder(tf.float32)\n"
     "    with tf.Session() as s:\n        pass\nif __name__ == '__main__':\n    f()\n", True),
    ("import tensorflow.compat.v1 as tf\ndef f(g):\n    with g.as_default():\n        saver = tf.train.Saver()\n"
     "        saver.save(s, 'p')\n", False),
    ("import tensorflow.compat.v1 as tf\ndef f(g):\n    with g.as_default():\n        saver = tf.train.Saver()\n"
     "    saver.restore(s, 'p')\n", True),
    ("import tensorflow.compat.v1 as tf\nclass M:\n    def f(self, g):\n        with g.as_default():\n"
     "            self.saver = tf.train.Saver()\n    def g(self):\n        self.saver.save(self.s, 'p')\n", True),
]


@pytest.mark.parametrize("source,needs", CASES)
def test_the_filter_on_look_alikes_and_far_reaching_spellings(source, needs):
    assert _needs_libcst(source) is needs
    filtered, straightforward = _both_paths(source.encode(), "case.py")
    assert filtered == straightforward


def test_walk_meets_the_nodes_of_ast_walk_in_its_order():
    from tf2norm.rewriters._prefilter import walk

    sources = [(REPO / path).read_bytes() for path in FIXTURES]
    sources.append(b"@d\nclass A(B, k=1):\n    def f(self, a=1, *b, c, **d) -> x: return [y async for y in z]\n"
                   b"match p:\n    case {'k': [1, *r]} if r: pass\nf'{a!r:>{w}}'\n")
    walked = 0
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:  # the fixtures of files that do not parse
            continue
        assert [id(node) for node in walk(tree)] == [id(node) for node in ast.walk(tree)]
        walked += 1
    assert walked >= 20


def test_nodes_is_walk_kept_per_tree():
    from tf2norm.rewriters._prefilter import nodes, walk

    first, second = ast.parse("import a\nx = a.b(c)\n"), ast.parse("import a\nx = a.b(c)\n")
    kept = nodes(first)
    assert [id(node) for node in kept] == [id(node) for node in walk(first)]
    assert nodes(first) is kept  # asked again: the same tuple, not a second walk
    assert nodes(second) is not kept and [type(n) for n in nodes(second)] == [type(n) for n in kept]
