"""TF1 graph programs: graph mode at the entry, ref variables, TF1 summaries, TF1 dimensions."""

import pytest

from tests.rewriters.rewriter_cases import check, check_noop, migrate
from tf2norm import rewriters

ONLY = ("graph_programs",)
EVERY = tuple(rewriters.available())


# -- graph mode ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["keras", "compat"])
def test_a_main_module_that_builds_a_graph_gets_graph_mode_after_its_imports(target):
    check(
        '''\
        """Trains."""
        import numpy as np
        import tensorflow as tf

        STEPS = 3


        def main():
            x = tf.compat.v1.placeholder(tf.float32, [None, 3])
            with tf.compat.v1.Session() as sess:
                print(sess.run(x, {x: np.zeros([1, 3])}))


        if __name__ == "__main__":
            main()
        ''',
        '''\
        """Trains."""
        import numpy as np
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()

        STEPS = 3


        def main():
            x = tf.compat.v1.placeholder(tf.float32, [None, 3])
            with tf.compat.v1.Session() as sess:
                print(sess.run(x, {x: np.zeros([1, 3])}))


        if __name__ == "__main__":
            main()
        ''',
        target=target, only=ONLY,
    )


def test_an_app_run_entry_with_a_tf_compat_v1_import_and_a_guarded_import():
    # tf_upgrade_v2's spelling of `tf.app.run(main)`; the try: of imports is part of the imports.
    check(
        """\
        import tensorflow.compat.v1 as tf
        try:
            import cPickle as pickle
        except ImportError:
            import pickle
        def main(_):
            sess = tf.InteractiveSession()
        tf.app.run(main)
        """,
        """\
        import tensorflow.compat.v1 as tf
        try:
            import cPickle as pickle
        except ImportError:
            import pickle

        tf.disable_eager_execution()
        def main(_):
            sess = tf.InteractiveSession()
        tf.app.run(main)
        """,
        only=ONLY,
    )


def test_a_library_module_that_builds_a_graph_at_import_is_reported_not_changed():
    found = check(
        """\
        import tensorflow as tf


        def build():
            return tf.compat.v1.Session()


        INPUTS = tf.compat.v1.placeholder(tf.float32, [None, 3])
        """,
        None,
        findings=[("TF2N701", 8, 10)],
        only=ONLY,
    )
    assert found[0].message == (
        'tf.compat.v1.placeholder: this module builds a TF1 graph, which TF 2 runs eagerly ("not compatible with '
        'eager execution"), and it is no program entry tf2norm can be sure of; left unchanged')
    assert found[0].hint == (
        "call tf.compat.v1.disable_eager_execution() once at the start of the program that uses it (after this "
        "module's imports if it is the program), or build the graph inside `with tf.Graph().as_default():`")


def test_a_saver_built_in_a_graph_but_restored_outside_it_needs_graph_mode_too():
    # ludwig's Model: the graph and its Saver in `with graph.as_default():`, the restore outside.
    found = check(
        """\
        import tensorflow as tf


        class Model:
            def __init__(self):
                graph = tf.Graph()
                with graph.as_default():
                    self.x = tf.compat.v1.placeholder(tf.float32, [None, 3])
                    self.saver = tf.compat.v1.train.Saver()
                    self.session = tf.compat.v1.Session(graph=graph)

            def restore(self, session, path):
                self.saver.restore(session, path)
        """,
        None,
        findings=[("TF2N701", 13, 9)],
        only=ONLY,
    )
    assert found[0].message.startswith("self.saver.restore: this module builds a TF1 graph")


@pytest.mark.parametrize("source", [
    # already chooses its mode (also: a second run of the rewrite)
    """\
    import tensorflow as tf
    tf.compat.v1.disable_eager_execution()
    x = tf.compat.v1.placeholder(tf.float32)
    if __name__ == "__main__":
        pass
    """,
    """\
    import tensorflow.compat.v1 as tf
    tf.disable_v2_behavior()
    x = tf.placeholder(tf.float32)
    if __name__ == "__main__":
        pass
    """,
    """\
    import tensorflow as tf
    tf.compat.v1.enable_eager_execution()
    sess = tf.compat.v1.Session()
    """,
    # builds its graph in a graph of its own: runs in eager TF2 as it is
    """\
    import tensorflow as tf
    def main():
        with tf.Graph().as_default():
            x = tf.compat.v1.placeholder(tf.float32)
            with tf.compat.v1.Session() as sess:
                pass
    if __name__ == "__main__":
        main()
    """,
    """\
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32)
    sess = tf.compat.v1.Session(graph=graph)
    """,
    # an eager TF2 program
    """\
    import tensorflow as tf
    def main():
        v = tf.Variable(1.0, trainable=False)
        print(v.numpy())
    if __name__ == "__main__":
        main()
    """,
    # a library whose functions build a graph: they run in what their caller set up
    """\
    import tensorflow as tf


    class Model:
        def __init__(self):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, 3])
            self.saver = tf.compat.v1.train.Saver()

        def save(self, sess, path):
            self.saver.save(sess, path)
    """,
    # another library's placeholder and Session
    """\
    import mylib as tf
    x = tf.compat.v1.placeholder(3)
    if __name__ == "__main__":
        tf.Session()
    """,
])
def test_look_alikes_of_graph_programs_stay_unchanged(source):
    check_noop(source, only=ONLY)


# -- ref variables (T5, T6) ---------------------------------------------------------------------

def test_variables_fed_fetched_or_frozen_in_graph_code_become_tf1_ref_variables():
    check(
        """\
        import tensorflow as tf

        def build(hps):
            global_step = tf.Variable(0, trainable=False)
            lr = tf.Variable(hps.lr, False, name="lr")
            counter = tf.compat.v1.Variable(0)
            w = tf.Variable(tf.zeros([3]))
            x = tf.compat.v1.placeholder(tf.float32)
            return global_step, lr, counter, w, x

        def train(sess, model, train_op, counter):
            sess.run([train_op, counter], feed_dict={model.lr: 0.5})
        """,
        """\
        import tensorflow as tf

        def build(hps):
            global_step = tf.compat.v1.Variable(0, trainable=False, use_resource=False)
            lr = tf.compat.v1.Variable(hps.lr, False, name="lr", use_resource=False)
            counter = tf.compat.v1.Variable(0, use_resource=False)
            w = tf.Variable(tf.zeros([3]))
            x = tf.compat.v1.placeholder(tf.float32)
            return global_step, lr, counter, w, x

        def train(sess, model, train_op, counter):
            sess.run([train_op, counter], feed_dict={model.lr: 0.5})
        """,
        only=ONLY,
    )


def test_a_fed_variable_that_cannot_be_rewritten_faithfully_is_reported():
    found = check(
        """\
        import tensorflow as tf
        with tf.Graph().as_default():
            a = tf.Variable(1.0, True, True)
            b = tf.Variable(1.0, experimental_enable_variable_lifting=False, trainable=False)
            feed = {a: 1.0, b: 2.0}
            sess = tf.compat.v1.Session()
        """,
        None,
        findings=[("TF2N702", 3, 9), ("TF2N702", 4, 9)],
        only=ONLY,
    )
    assert found[0].message == (
        "tf.Variable(3 positional arguments): fed or fetched in TF1 graph code, where TF 2's resource variable "
        "ignores feeds and returns the value before an update fetched with it; left unchanged")
    assert found[1].message.startswith("tf.Variable(experimental_enable_variable_lifting=): ")


@pytest.mark.parametrize("source", [
    # not graph code: an eager TF2 program's variables stay resource variables
    """\
    import tensorflow as tf
    step = tf.Variable(0, trainable=False)
    print({step: 1})
    """,
    # chose its variables (resource) itself
    """\
    import tensorflow as tf
    tf.compat.v1.enable_resource_variables()
    with tf.Graph().as_default():
        step = tf.Variable(0, trainable=False)
        sess = tf.compat.v1.Session()
    """,
    # already TF1's ref variable, or already chosen
    """\
    import tensorflow as tf
    with tf.Graph().as_default():
        step = tf.compat.v1.Variable(0, trainable=False, use_resource=False)
        lr = tf.compat.v1.Variable(0.1, trainable=False, use_resource=True)
        sess = tf.compat.v1.Session()
    """,
    # neither fed, fetched nor frozen
    """\
    import tensorflow as tf
    with tf.Graph().as_default():
        w = tf.Variable(tf.zeros([3]))
        sess = tf.compat.v1.Session()
        sess.run(w)
    """,
])
def test_look_alikes_of_fed_variables_stay_unchanged(source):
    check_noop(source, only=ONLY)


# -- summaries (T3, L6) -------------------------------------------------------------------------

def test_tf1_summaries_in_graph_code_become_tf_compat_v1_summaries():
    check(
        """\
        import tensorflow as tf

        def losses(loss, var, images):
            tf.summary.scalar("loss", loss)
            tf.summary.histogram(var.op.name, var, collections=["train"])
            tf.summary.image("in", images, 3)
            return tf.compat.v1.get_collection("losses")

        def writer(path, sess):
            merged = tf.summary.merge_all()
            return merged, tf.summary.FileWriter(path, sess.graph), tf.summary.Summary.Value(tag="t")
        """,
        """\
        import tensorflow as tf

        def losses(loss, var, images):
            tf.compat.v1.summary.scalar("loss", loss)
            tf.compat.v1.summary.histogram(var.op.name, var, collections=["train"])
            tf.compat.v1.summary.image("in", images, 3)
            return tf.compat.v1.get_collection("losses")

        def writer(path, sess):
            merged = tf.compat.v1.summary.merge_all()
            return merged, tf.compat.v1.summary.FileWriter(path, sess.graph), tf.compat.v1.summary.Summary.Value(tag="t")
        """,
        only=ONLY,
    )


def test_summaries_that_may_be_tf2_code_in_graph_code_are_reported():
    found = check(
        """\
        import tensorflow as tf
        tf.summary.scalar("loss", 1.0, step=3)
        tf.compat.v1.get_variable("w", [3])
        """,
        None,
        findings=[("TF2N703", 2, 1)],
        only=ONLY,
    )
    assert found[0].message == (
        "tf.summary.scalar in TF1 graph code: TF 2's function needs a default writer and never joins merge_all(); "
        "left unchanged (arguments TF1's function did not take)")
    assert found[0].hint == (
        "tf.compat.v1.summary.scalar(...) if the summary is merged or written with a "
        "tf.compat.v1.summary.FileWriter")
    check(
        """\
        import tensorflow as tf
        writer = tf.summary.create_file_writer("logs")
        tf.summary.scalar("loss", 1.0)
        tf.compat.v1.get_variable("w", [3])
        """,
        None,
        findings=[("TF2N703", 3, 1)],
        only=ONLY,
    )


@pytest.mark.parametrize("source", [
    # TF2 code: its summaries are TF2's
    """\
    import tensorflow as tf
    writer = tf.summary.create_file_writer("logs")
    with writer.as_default():
        tf.summary.scalar("loss", 1.0, step=1)
    """,
    """\
    import tensorflow as tf
    tf.summary.scalar("loss", 1.0)
    """,
    # already TF1's
    """\
    import tensorflow as tf
    tf.compat.v1.summary.scalar("loss", tf.compat.v1.placeholder(tf.float32))
    tf.compat.v1.disable_eager_execution()
    """,
])
def test_look_alikes_of_tf1_summaries_stay_unchanged(source):
    check_noop(source, only=ONLY)


# -- dimensions (L5) ----------------------------------------------------------------------------

def test_tf1_dimension_values_become_dimension_value():
    check(
        """\
        import tensorflow as tf

        def flatten(hidden, start=1):
            size = 1
            for x in hidden.shape[start:]:
                if x.value is not None:
                    size *= x.value
            return size, hidden.shape[2].value, hidden.get_shape()[-1].value, tf.compat.v1.shape(hidden.shape.dims[0].value)
        """,
        """\
        import tensorflow as tf

        def flatten(hidden, start=1):
            size = 1
            for x in hidden.shape[start:]:
                if tf.compat.v1.dimension_value(x) is not None:
                    size *= tf.compat.v1.dimension_value(x)
            return size, tf.compat.v1.dimension_value(hidden.shape[2]), tf.compat.v1.dimension_value(hidden.get_shape()[-1]), tf.compat.v1.shape(tf.compat.v1.dimension_value(hidden.shape.dims[0]))
        """,
        only=ONLY,
    )


@pytest.mark.parametrize("source", [
    # protocol buffers, h5py datasets, dicts: `.value` of something that is no dimension
    """\
    import tensorflow as tf
    summary = tf.compat.v1.summary.Summary()
    summary.value.add(tag="t", simple_value=1.0)
    data = h5[field].value
    shape = x.shape[1:].value
    for d in x.dims_list:
        print(d.value)
    """,
    """\
    import tensorflow as tf
    n = tf.compat.v1.dimension_value(x.shape[1])
    """,
])
def test_look_alikes_of_dimension_values_stay_unchanged(source):
    check_noop(source, only=ONLY)


def test_all_of_it_in_one_program_and_the_rewrite_is_idempotent():
    source = """\
        import tensorflow as tf

        def main():
            step = tf.Variable(0, trainable=False)
            x = tf.compat.v1.placeholder(tf.float32, [None, 3])
            tf.summary.scalar("n", tf.cast(x.shape[1].value, tf.float32))
            with tf.compat.v1.Session() as sess:
                sess.run([tf.summary.merge_all(), step])

        if __name__ == "__main__":
            main()
        """
    output, findings = migrate(source.replace("\n        ", "\n").lstrip(), "compat", EVERY)
    assert findings == []
    assert output == """\
import tensorflow as tf

tf.compat.v1.disable_eager_execution()

def main():
    step = tf.compat.v1.Variable(0, trainable=False, use_resource=False)
    x = tf.compat.v1.placeholder(tf.float32, [None, 3])
    tf.compat.v1.summary.scalar("n", tf.cast(tf.compat.v1.dimension_value(x.shape[1]), tf.float32))
    with tf.compat.v1.Session() as sess:
        sess.run([tf.compat.v1.summary.merge_all(), step])

if __name__ == "__main__":
    main()
"""
    assert migrate(output, "compat", EVERY) == (output, [])


def test_the_manifest_reads_the_files_this_rewriter_needs():
    from tf2norm import apis
    from tf2norm.rewriters import graph_programs

    assert apis.BY_ID["graph_programs"].identifiers == graph_programs.IDENTIFIERS
