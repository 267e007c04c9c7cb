"""TF1's core cells and wrappers against real TF 1.15 (fixtures/golden/tf1cell_*.npz, fixtures/tf1/tf1_rnn_cells.py).

* graph: tf.compat.v1 graph code (`dynamic_rnn`, `static_rnn`, MultiRNNCell and the wrappers, contrib's
  `stack_bidirectional_dynamic_rnn` / `stack_bidirectional_rnn` as tf2norm's functions), the
  cells creating exactly TF1's variables under TF1's names, loaded by name; outputs, final states and
  gradients;
* eager: the same TF1-style calls executed eagerly with the cells' Keras weights;
* saver: the TF1 `Saver` checkpoints of `tf1cell_saver_stack` (core cells) and `tf1cell_contrib_saver_stack`
  (contrib's block and Cudnn-compatible cells) restored unchanged.

Every comparison goes through `_assert_close`: the bound tests/tolerance.py derives for each golden
array (from TF1's own float32 error, measured against the float64 replay of tf2norm.reference's
tf1_rnn_cells module in tests/golden_reference.py).

The seeded-dropout case (DropoutWrapper with `seed=` under a graph seed, `parallel_iterations=1` as
its generator explains) has random masks no reference can replay, so it is not a golden of
fixtures/golden/ (fixtures/saver/tf1_rnn_cells/dropout_seeded.npz): it is held to 2e-6 absolute,
which it meets only if every mask is TF1's (one mask off moves an output by more than 0.1). The
cells compute TF1's ops in TF1's order in float32 on values of order 1 over 6 steps; the other
cases' derived bounds on these cells are all below 2e-6 (tanh and sigmoid kernels changed by up to
4e-7 between TF 1.15 and 2.x, NUMERICS.md); its gradients 2e-5 relative to each array's largest
value (at least 1), as the other cell goldens' before tests/tolerance.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import Golden, case_ids, cases, max_abs_error
from tf2norm import replacements as R

ROOT = Path(__file__).resolve().parents[2]
SAVER = str(ROOT / "fixtures" / "saver" / "tf1_rnn_cells" / "model.ckpt")
CONTRIB_SAVER = str(ROOT / "fixtures" / "saver" / "contrib_rnn_cells" / "model.ckpt")
SEEDED = Golden(ROOT / "fixtures" / "saver" / "tf1_rnn_cells" / "dropout_seeded.npz")
SEEDED_ATOL = 2e-6
SEEDED_GRAD_RTOL = 2e-5
GOLDEN = {g.name: g for g in cases("tf1cell_")} | {SEEDED.name: SEEDED}
IDS = case_ids("tf1cell_") + [SEEDED.name]


class SketchCell(R.RNNCell):
    """fixtures/tf1/tf1_rnn_cells.py's SketchCell, on tf2norm's RNNCell (as migrated code has it)."""

    def __init__(self, num_units):
        self.num_units = num_units

    @property
    def state_size(self):
        return 2 * self.num_units

    @property
    def output_size(self):
        return self.num_units

    def __call__(self, x, state, scope=None):
        with tf.compat.v1.variable_scope(scope or type(self).__name__):
            c, h = tf.split(state, 2, 1)
            w = tf.compat.v1.get_variable("W", [x.shape[1] + self.num_units, 2 * self.num_units])
            b = tf.compat.v1.get_variable("b", [2 * self.num_units], initializer=tf.compat.v1.constant_initializer(0.0))
            a, g = tf.split(tf.matmul(tf.concat([x, h], 1), w) + b, 2, 1)
            new_c = c * tf.sigmoid(g) + tf.tanh(a)
            new_h = tf.tanh(new_c)
            return new_h, tf.concat([new_c, new_h], 1)


class CallCell(R.RNNCell):
    """fixtures/tf1/tf1_rnn_cells.py's CallCell, on tf2norm's RNNCell."""

    def __init__(self, num_units):
        super().__init__()
        self._num_units = num_units

    @property
    def state_size(self):
        return self._num_units

    @property
    def output_size(self):
        return self._num_units

    def call(self, inputs, state):
        w = tf.compat.v1.get_variable("kernel", [inputs.shape[1] + self._num_units, self._num_units])
        b = tf.compat.v1.get_variable("bias", [self._num_units], initializer=tf.compat.v1.zeros_initializer())
        new_h = tf.tanh(tf.matmul(tf.concat([inputs, state], 1), w) + b)
        return new_h, new_h


HAND_WRITTEN = {"SketchCell": SketchCell, "CallCell": CallCell}


def _assert_close(golden: Golden, key: str, actual):
    """The one comparison of this module: `actual` against `golden[key]` (see the module docstring)."""
    if golden is not SEEDED:
        tolerance.check(actual, golden, key)
        return
    expected = golden[key]
    err = max_abs_error(actual, expected)
    bound = SEEDED_GRAD_RTOL * max(1.0, float(np.abs(expected).max())) if key.startswith("grad:") else SEEDED_ATOL
    assert err <= bound, f"{golden.name} {key}: max abs error {err:.3g} > {bound:.3g}"


def _make_cell(spec):
    kwargs = dict(spec["kwargs"])
    name = spec["class"]
    cell = HAND_WRITTEN[name](**kwargs) if name in HAND_WRITTEN else getattr(R, name)(**kwargs)
    for wrapper, wrapper_kwargs in spec["wrappers"]:
        cell = getattr(R, wrapper)(cell, **wrapper_kwargs)
    return cell


def _run_stack(cfg, inputs, sequence_length):
    """contrib's stack_bidirectional_(dynamic_)rnn, as tf2norm's: (outputs, forward then backward final states)."""
    cells_fw = [_make_cell(spec) for spec in cfg["cells"]]
    cells_bw = [_make_cell(spec) for spec in cfg["cells_bw"]]
    if cfg["rnn"] == "stack_bidirectional_static":
        outputs, states_fw, states_bw = R.stack_bidirectional_rnn(
            cells_fw, cells_bw, tf.unstack(inputs, axis=1), sequence_length=sequence_length, dtype=tf.float32)
        outputs = tf.stack(outputs, axis=1)
    else:
        outputs, states_fw, states_bw = R.stack_bidirectional_dynamic_rnn(
            cells_fw, cells_bw, inputs, sequence_length=sequence_length, dtype=tf.float32)
    return outputs, tf.nest.flatten((states_fw, states_bw)), cells_fw + cells_bw


def _run(cfg, inputs, sequence_length, cells=None):
    """What the TF1 program did, with tf2norm's classes: (outputs, flat final state, leaf cells)."""
    if cfg["rnn"].startswith("stack_bidirectional"):
        return _run_stack(cfg, inputs, sequence_length)
    cells = cells if cells is not None else [_make_cell(spec) for spec in cfg["cells"]]
    if cfg["rnn"] == "fused":  # LSTMBlockFusedCell: the whole sequence, time-major
        outputs, state = cells[0](tf.transpose(inputs, [1, 0, 2]), dtype=tf.float32, sequence_length=sequence_length)
        return tf.transpose(outputs, [1, 0, 2]), tf.nest.flatten(state), cells
    cell = cells[0] if len(cells) == 1 else R.MultiRNNCell(cells)
    if cfg["rnn"] == "static":
        outputs, state = tf.compat.v1.nn.static_rnn(cell, tf.unstack(inputs, axis=1), sequence_length=sequence_length,
                                                    dtype=tf.float32)
        outputs = tf.stack(outputs, axis=1)
    else:
        outputs, state = tf.compat.v1.nn.dynamic_rnn(cell, inputs, sequence_length=sequence_length, dtype=tf.float32,
                                                     parallel_iterations=cfg["parallel_iterations"])
    return outputs, tf.nest.flatten(state), cells


def _assert_outputs(golden: Golden, outputs, flat_state):
    _assert_close(golden, "out:outputs", outputs)
    assert len(flat_state) == len(golden.with_prefix("out:state_"))
    for i, value in enumerate(flat_state):
        _assert_close(golden, f"out:state_{i}", value)


def _graph(golden: Golden, restore: str | None = None):
    """Runs the case in a tf.compat.v1 graph; returns (variable names in creation order, outputs,
    flat state, gradients by name)."""
    cfg = golden.config
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.set_random_seed(cfg["graph_seed"] if cfg["graph_seed"] is not None else 0)
        inputs = tf.compat.v1.placeholder(tf.float32, golden["in:inputs"].shape)
        feed = {inputs: golden["in:inputs"]}
        sequence_length = None
        if cfg["uses_sequence_length"]:
            sequence_length = tf.compat.v1.placeholder(tf.int32, [cfg["batch"]])
            feed[sequence_length] = golden["in:sequence_length"]
        outputs, flat_state, _ = _run(cfg, inputs, sequence_length)
        variables = tf.compat.v1.global_variables()
        loss = tf.reduce_sum(outputs * golden["in:loss_weights"])
        grads = tf.gradients(loss, [inputs] + variables)
        with tf.compat.v1.Session(graph=graph) as sess:
            if restore is not None:
                tf.compat.v1.train.Saver().restore(sess, restore)
            else:
                sess.run(tf.compat.v1.global_variables_initializer())
                for v in variables:
                    v.load(golden["var:" + v.op.name], sess)
            out, state, grad_values = sess.run([outputs, flat_state, grads], feed)
    names = [v.op.name for v in variables]
    return names, out, state, dict(zip(["inputs"] + names, grad_values))


@pytest.mark.parametrize("name", IDS)
def test_graph_mode_matches_tf1(name):
    golden = GOLDEN[name]
    names, out, state, grads = _graph(golden)
    assert names == golden.config["variables"]  # TF1's names, in TF1's creation order
    _assert_outputs(golden, out, state)
    for target, value in grads.items():
        _assert_close(golden, "grad:" + target, value)


@pytest.mark.parametrize(("case", "checkpoint"), [("tf1cell_saver_stack", SAVER),
                                                  ("tf1cell_contrib_saver_stack", CONTRIB_SAVER)])
def test_tf1_saver_checkpoint_restores_unchanged(case, checkpoint):
    golden = GOLDEN[case]
    names, out, state, _ = _graph(golden, restore=checkpoint)
    reader = tf.train.load_checkpoint(checkpoint)
    assert sorted(reader.get_variable_to_shape_map()) == sorted(names)
    _assert_outputs(golden, out, state)


def _keras_weights(cell):
    """The Keras weights of a replacement cell (inside wrappers) by TF1 name relative to its scope."""
    while not hasattr(cell, "tf1_named_weights"):
        cell = cell.cell
    return cell, cell.tf1_named_weights()


EAGER = [n for n in IDS if not any(s["class"] in HAND_WRITTEN for s in GOLDEN[n].config["cells"])
         and GOLDEN[n].config["graph_seed"] is None and not GOLDEN[n].config["rnn"].startswith("stack_bidirectional")
         and GOLDEN[n].config["rnn"] != "fused"]


@pytest.mark.parametrize("name", EAGER)
def test_eager_tf1_style_calls_match_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    inputs = tf.constant(golden["in:inputs"])
    sequence_length = tf.constant(golden["in:sequence_length"]) if cfg["uses_sequence_length"] else None
    _, _, cells = _run(cfg, inputs, sequence_length)  # builds the Keras weights
    by_scope = {}
    for full in cfg["variables"]:
        scope, _, _ = full.rpartition("/")
        by_scope.setdefault(scope.split("/")[-1 if len(cells) == 1 else -2], []).append(full)
    tracked = []
    for i, cell in enumerate(cells):
        inner, weights = _keras_weights(cell)
        prefix = (f"rnn/multi_rnn_cell/cell_{i}/" if len(cells) > 1 else "rnn/") + inner.tf1_scope_name + "/"
        assert sorted(prefix + n for n in weights) == sorted(k[4:] for k in golden.arrays if k.startswith(
            "var:" + prefix))
        for tf1_name, weight in weights.items():
            weight.assign(golden["var:" + prefix + tf1_name])
            tracked.append((prefix + tf1_name, weight))
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs, flat_state, _ = _run(cfg, inputs, sequence_length, cells=cells)
        loss = tf.reduce_sum(outputs * golden["in:loss_weights"])
    _assert_outputs(golden, outputs.numpy(), [s.numpy() for s in flat_state])
    grads = tape.gradient(loss, [inputs] + [w for _, w in tracked])
    for target, value in zip(["inputs"] + [n for n, _ in tracked], grads):
        _assert_close(golden, "grad:" + target, value.numpy())
