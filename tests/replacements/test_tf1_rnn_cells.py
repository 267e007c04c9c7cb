"""TF1's core cells, RNNCell and the wrappers: what the goldens (test_tf1_rnn_cells_golden.py) do not show.

TF1's scoping (`name=`, `reuse=`, a second call), the RNNCell base for hand-written cells (graph and
eager, `add_variable`), LSTMStateTuple being TensorFlow's own class, the Keras path of the new
wrappers, and what the replacements refuse.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.python.ops import rnn_cell_impl

from tf2norm import replacements as R


def _graph_variables(build):
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 4])
        build(x)
        return [v.op.name for v in tf.compat.v1.global_variables()]


def test_lstm_state_tuple_is_tensorflows_own_class():
    assert R.LSTMStateTuple is rnn_cell_impl.LSTMStateTuple
    state = rnn_cell_impl.LSTMStateTuple(tf.zeros([1, 2]), tf.ones([1, 2]))
    assert isinstance(state, R.LSTMStateTuple)
    assert state.dtype == tf.float32
    _, mine = tf.compat.v1.nn.dynamic_rnn(R.BasicLSTMCell(2), tf.ones([1, 3, 2]), dtype=tf.float32)
    assert isinstance(mine, rnn_cell_impl.LSTMStateTuple)


def test_tf1_scoping_name_reuse_and_uniquified_scopes():
    def build(x):
        tf.compat.v1.nn.dynamic_rnn(R.GRUCell(3), x, dtype=tf.float32, scope="a")
        shared = R.BasicLSTMCell(3, name="shared")
        tf.compat.v1.nn.dynamic_rnn(shared, x, dtype=tf.float32, scope="b")
        tf.compat.v1.nn.dynamic_rnn(shared, x, dtype=tf.float32, scope="c")  # the cell keeps its variables
        stack = R.MultiRNNCell([R.BasicRNNCell(2)])
        tf.compat.v1.nn.dynamic_rnn(stack, x, dtype=tf.float32, scope="e")
        tf.compat.v1.nn.dynamic_rnn(stack, x, dtype=tf.float32, scope="f")  # so does a stack (TF 1.15 checked)
        with tf.compat.v1.variable_scope("d"):
            cell = R.BasicRNNCell(3)
            cell(x[:, 0], tf.zeros([2, 3]))
            cell(x[:, 1], tf.zeros([2, 3]))  # reused
        with tf.compat.v1.variable_scope("d"):
            R.BasicRNNCell(3, reuse=True)(x[:, 0], tf.zeros([2, 3]))  # reuse=True shares d/basic_rnn_cell

    assert _graph_variables(build) == [
        "a/gru_cell/gates/kernel", "a/gru_cell/gates/bias", "a/gru_cell/candidate/kernel", "a/gru_cell/candidate/bias",
        "b/shared/kernel", "b/shared/bias",
        "e/multi_rnn_cell/cell_0/basic_rnn_cell/kernel", "e/multi_rnn_cell/cell_0/basic_rnn_cell/bias",
        "d/basic_rnn_cell/kernel", "d/basic_rnn_cell/bias",
    ]


def test_initial_values_are_tf1s():
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 4])
        tf.compat.v1.nn.dynamic_rnn(R.GRUCell(3), x, dtype=tf.float32, scope="g")
        tf.compat.v1.nn.dynamic_rnn(R.LSTMCell(3, initializer=tf.compat.v1.constant_initializer(0.5), num_proj=2,
                                               use_peepholes=True), x, dtype=tf.float32, scope="l")
        variables = tf.compat.v1.global_variables()
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = dict(zip([v.op.name for v in variables], sess.run(variables)))
    np.testing.assert_array_equal(values["g/gru_cell/gates/bias"], np.ones(6, np.float32))
    np.testing.assert_array_equal(values["g/gru_cell/candidate/bias"], np.zeros(3, np.float32))
    for name in ("kernel", "w_f_diag", "w_i_diag", "w_o_diag", "projection/kernel"):
        assert np.all(values[f"l/lstm_cell/{name}"] == 0.5), name
    np.testing.assert_array_equal(values["l/lstm_cell/bias"], np.zeros(12, np.float32))


class Counter(R.RNNCell):
    """A hand-written TF1 cell: get_variable in call(), add_variable in build(), no super().__init__()."""

    def __init__(self, units):
        self.units = units

    @property
    def state_size(self):
        return self.units

    @property
    def output_size(self):
        return self.units

    def build(self, shape):
        self.scale = self.add_variable("scale", [shape[-1], self.units],
                                       initializer=tf.compat.v1.constant_initializer(0.5))

    def call(self, inputs, state):
        bias = tf.compat.v1.get_variable("bias", [self.units], initializer=tf.compat.v1.constant_initializer(1.0))
        new = state + tf.matmul(inputs, self.scale) + bias
        return new, new


def test_hand_written_cell_in_a_graph_gets_tf1s_scope_and_shares_its_variables():
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3, 4])
        cell = Counter(2)
        out, state = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            result = sess.run(state, {x: np.ones((2, 3, 4), np.float32)})
    assert names == ["rnn/counter/scale", "rnn/counter/bias"]
    np.testing.assert_array_equal(result, np.full((2, 2), 3 * (4 * 0.5 + 1.0), np.float32))


def test_hand_written_cell_eagerly_creates_its_variables_once():
    cell = Counter(2)
    zero = cell.zero_state(2, tf.float32)
    assert zero.shape == (2, 2)
    out, state = tf.compat.v1.nn.dynamic_rnn(cell, tf.ones([2, 3, 4]), initial_state=zero)
    out2, _ = cell(tf.ones([2, 4]), state)
    np.testing.assert_array_equal(state.numpy(), np.full((2, 2), 9.0, np.float32))
    np.testing.assert_array_equal(out2.numpy(), np.full((2, 2), 12.0, np.float32))
    created = cell.__dict__["_rnncell_template"].variables
    assert sorted(v.name for v in created) == ["rnn/counter/bias:0", "rnn/counter/scale:0"]


def test_zero_state_of_nested_state_sizes():
    class Pair(R.RNNCell):
        state_size = (3, R.LSTMStateTuple(2, 4))
        output_size = 1

    with tf.Graph().as_default():
        batch = tf.compat.v1.placeholder(tf.int32, [])
        a, b = Pair().zero_state(batch, tf.float16)
        assert isinstance(b, R.LSTMStateTuple)
        assert (a.shape.as_list(), b.c.shape.as_list(), b.h.dtype) == ([None, 3], [None, 2], tf.float16)


def test_keras_path_of_the_new_wrappers():
    x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
    inner = R.GRUCell(3)
    rnn = keras.layers.RNN(R.DeviceWrapper(R.ResidualWrapper(inner), "/cpu:0"), return_sequences=True)
    out = rnn(x)
    plain = keras.layers.RNN(inner, return_sequences=True)(x)
    np.testing.assert_allclose(out.numpy(), plain.numpy() + x, rtol=0, atol=1e-6)


def test_residual_wrapper_rejects_mismatched_shapes_as_tf1():
    with pytest.raises(ValueError):
        tf.compat.v1.nn.dynamic_rnn(R.ResidualWrapper(R.BasicRNNCell(3)), tf.ones([1, 2, 4]), dtype=tf.float32)


def test_refused_arguments_say_so():
    with pytest.raises(NotImplementedError, match="num_unit_shards"):
        R.LSTMCell(4, num_unit_shards=2)


def test_dropout_wrapper_seeds_are_tf1s_salted_md5():
    from tf2norm.replacements.rnn_cell_wrappers import tf1_wrapper_seed

    # TF 1.15's DropoutWrapper(seed=7)._gen_seed("input", 0) and ("state", 1), computed under TF 1.15
    assert (tf1_wrapper_seed(7, "input", 0), tf1_wrapper_seed(7, "state", 1)) == (1933561695, 839511211)
    assert tf1_wrapper_seed(None, "input", 0) is None


# ------------------------------------------------------------------ contrib's block and Cudnn-compatible cells


def test_contrib_cells_tf1_scopes_and_initial_values():
    with tf.Graph().as_default():
        x = tf.ones([2, 3])
        R.LSTMBlockCell(4, use_peephole=True)(x, R.LSTMBlockCell(4).zero_state(2, tf.float32))
        R.LSTMBlockCell(4)(x, R.LSTMBlockCell(4).zero_state(2, tf.float32))
        R.GRUBlockCell(cell_size=2)(x, tf.zeros([2, 2]))
        R.CudnnCompatibleGRUCell(2)(x, tf.zeros([2, 2]))
        variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
        assert list(variables) == [
            "lstm_cell/kernel", "lstm_cell/bias", "lstm_cell/w_i_diag", "lstm_cell/w_f_diag", "lstm_cell/w_o_diag",
            "lstm_cell_1/kernel", "lstm_cell_1/bias", "gru_cell/w_ru", "gru_cell/b_ru", "gru_cell/w_c", "gru_cell/b_c",
            "cudnn_compatible_gru_cell/gates/kernel", "cudnn_compatible_gru_cell/gates/bias",
            "cudnn_compatible_gru_cell/candidate/input_projection/kernel",
            "cudnn_compatible_gru_cell/candidate/hidden_projection/kernel",
            "cudnn_compatible_gru_cell/candidate/input_projection/bias",
            "cudnn_compatible_gru_cell/candidate/hidden_projection/bias"]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            values = sess.run(variables)
    # TF 1.15: the LSTM bias 0, the GRU gate biases 1, the candidate biases 0.
    assert not values["lstm_cell/bias"].any() and not values["gru_cell/b_c"].any()
    assert (values["gru_cell/b_ru"] == 1).all() and (values["cudnn_compatible_gru_cell/gates/bias"] == 1).all()
    assert not values["cudnn_compatible_gru_cell/candidate/hidden_projection/bias"].any()


def test_gru_block_cell_takes_exactly_one_of_num_units_and_cell_size():
    for kwargs in ({}, {"num_units": 3, "cell_size": 3}):
        with pytest.raises(ValueError) as raised:
            R.GRUBlockCell(**kwargs)
        assert str(raised.value) == "Exactly one of num_units or cell_size must be provided."
    assert R.GRUBlockCellV2(cell_size=3).num_units == 3


def test_lstm_block_cell_clips_only_a_positive_cell_clip():
    x = tf.fill([1, 2], 3.0)
    state = R.LSTMStateTuple(tf.fill([1, 2], 5.0), tf.zeros([1, 2]))
    for clip, limit in ((None, None), (0.0, None), (-1.0, None), (0.5, 0.5)):
        cell = R.LSTMBlockCell(2, cell_clip=clip)
        cell.build((1, 2))
        _, (c, _) = cell(x, state)
        assert (float(tf.reduce_max(c)) > 1.0) if limit is None else float(tf.reduce_max(c)) == limit, clip


def test_lstm_block_fused_cell_time_major_list_inputs_states_and_scopes():
    with tf.Graph().as_default():
        steps = [tf.ones([2, 3]) * t for t in range(4)]
        fused = R.LSTMBlockFusedCell(5)
        outputs, state = fused(steps, dtype=tf.float32, sequence_length=[4, 2])
        assert isinstance(outputs, list) and len(outputs) == 4 and isinstance(state, R.LSTMStateTuple)
        R.LSTMBlockFusedCell(5)(tf.stack(steps), initial_state=(tf.ones([2, 5]), tf.ones([2, 5])))
        assert [v.op.name for v in tf.compat.v1.global_variables()] == [
            "lstm_fused_cell/kernel", "lstm_fused_cell/bias", "lstm_fused_cell_1/kernel", "lstm_fused_cell_1/bias"]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            out, (c, h) = sess.run([outputs, state])
    assert not out[2][1].any() and not out[3][1].any()  # past the second sequence's length
    np.testing.assert_array_equal(h[1], out[1][1])  # its final state is the one after its last step
    with pytest.raises(ValueError) as no_dtype:
        R.LSTMBlockFusedCell(5)(tf.ones([4, 2, 3]))
    assert str(no_dtype.value) == "Either initial_state or dtype needs to be specified"
    with pytest.raises(NotImplementedError):
        R.LSTMBlockFusedCell(5)(tf.ones([4, 2, 3]), dtype=tf.float32, scope="s")
