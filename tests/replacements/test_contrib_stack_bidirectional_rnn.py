"""contrib.rnn's stack_bidirectional_(dynamic_)rnn as tf2norm's functions: TF 1.15's checks, scopes and results.

Their numbers against TF 1.15 are the goldens `tf1cell_stack_bidir*` (tests/replacements/test_tf1_rnn_cells_golden.py);
here the rest of TF 1.15's behaviour: its error messages, `scope=`, initial states, `time_major`, eager calls.
"""

import numpy as np
import pytest
import tensorflow as tf

from tf2norm.replacements import (
    GRUCell,
    LSTMBlockCell,
    LSTMStateTuple,
    stack_bidirectional_dynamic_rnn,
    stack_bidirectional_rnn,
)


@pytest.mark.parametrize(("fw", "bw", "states_fw", "message"), [
    ([], [1], None, "Must specify at least one fw cell for BidirectionalRNN."),
    ([1], [], None, "Must specify at least one bw cell for BidirectionalRNN."),
    ((1,), [1], None, "cells_fw must be a list of RNNCells (one per layer)."),
    ([1], (1,), None, "cells_bw must be a list of RNNCells (one per layer)."),
    ([1, 2], [1], None, "Forward and Backward cells must have the same depth."),
    ([1], [1], [1, 2], "initial_states_fw must be a list of state tensors (one per layer)."),
])
def test_tf1s_argument_checks_and_messages(fw, bw, states_fw, message):
    for function in (stack_bidirectional_dynamic_rnn, stack_bidirectional_rnn):
        with pytest.raises(ValueError) as raised:
            function(fw, bw, None, initial_states_fw=states_fw)
        assert str(raised.value) == message


def test_scope_initial_states_and_time_major_in_a_graph():
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [6, 2, 3])  # time-major
        init_fw = [LSTMStateTuple(tf.ones([2, 4]), tf.ones([2, 4]))]
        outputs, states_fw, states_bw = stack_bidirectional_dynamic_rnn(
            [LSTMBlockCell(4)], [GRUCell(5)], x, initial_states_fw=init_fw, dtype=tf.float32, time_major=True,
            scope="encoder")
        names = [v.op.name for v in tf.compat.v1.global_variables()]
        assert names == ["encoder/cell_0/bidirectional_rnn/fw/lstm_cell/kernel",
                         "encoder/cell_0/bidirectional_rnn/fw/lstm_cell/bias",
                         "encoder/cell_0/bidirectional_rnn/bw/gru_cell/gates/kernel",
                         "encoder/cell_0/bidirectional_rnn/bw/gru_cell/gates/bias",
                         "encoder/cell_0/bidirectional_rnn/bw/gru_cell/candidate/kernel",
                         "encoder/cell_0/bidirectional_rnn/bw/gru_cell/candidate/bias"]
        assert outputs.shape.as_list() == [6, 2, 9]
        assert isinstance(states_fw, tuple) and isinstance(states_fw[0], LSTMStateTuple)
        assert states_bw[0].shape.as_list() == [2, 5]
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            zero_input = sess.run(outputs, {x: np.zeros([6, 2, 3], np.float32)})
    # The forward cell started from the given state (c = h = 1), not from zeros: its first output is not 0.
    assert np.abs(zero_input[0, :, :4]).min() > 0


def test_eager_calls_run_with_the_cells_keras_weights():
    x = tf.random.stateless_normal([2, 5, 3], seed=[1, 2])
    outputs, states_fw, states_bw = stack_bidirectional_dynamic_rnn(
        [GRUCell(4), GRUCell(3)], [GRUCell(4), GRUCell(2)], x, dtype=tf.float32, sequence_length=[5, 2])
    assert outputs.shape == (2, 5, 5)
    assert np.all(outputs.numpy()[1, 2:] == 0)  # past the second sequence's length
    assert [s.shape for s in states_fw + states_bw] == [(2, 4), (2, 3), (2, 4), (2, 2)]
