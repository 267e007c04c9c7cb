"""BatchNormLSTMCell against the real TF 1.15 copied BNLSTMCell (fixtures/golden/bnlstm_*.npz).

Every case is a dynamic_rnn over 10 time steps with max_bn_steps=6 (the last statistics row is
reused), run several times: training runs (batch statistics, the population statistics of every
step updated) then an inference run (the per-step population statistics). Each mode replays all
runs in order on one set of variables, so the statistics must come out of each run as TF1's did:

* graph: tf.compat.v1 graph, `tf.compat.v1.nn.dynamic_rnn` (MultiRNNCell for stacks), variables
  created by the cell under TF1's names and loaded by name, training as TF1 fed it (a placeholder,
  or train/eval towers sharing variables), gradients with tf.gradients;
* eager: the same TF1-style dynamic_rnn executed eagerly, training a tf.Variable flipped per run;
* keras: `keras.layers.RNN(cell)` eagerly (training a Python bool, gradients with a tape) and in
  `tf.function` (training a bool tensor).

Every sequence, statistic and gradient must match TF1 within the bound tests/tolerance.py
derives for its array (TF 2.21's tanh/sigmoid differ from TF 1.15's, matmul rounding from machine
to machine).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests import tolerance
from tests.golden import Golden, case_ids, cases
from tf2norm.replacements import BatchNormLSTMCell, MultiRNNCell

GOLDEN = {g.name: g for g in cases("bnlstm_")}
IDS = case_ids("bnlstm_")
STATISTICS = ("pop_mean", "pop_var")


def make_cells(cfg, training=None):
    activation = {"tanh": None, "softsign": tf.nn.softsign}[cfg["activation"]]
    return [
        BatchNormLSTMCell(
            units, cfg["max_bn_steps"], initial_scale=cfg["initial_scale"], decay=cfg["decay"],
            epsilon=cfg["epsilon"], activation=activation, forget_bias=cfg["forget_bias"], training=training,
        )
        for units in cfg["units"]
    ]


def relative_names(golden: Golden, prefix: str, scope: str) -> dict:
    """{name relative to the cell scope: value} of the golden's `prefix<scope>/...` arrays."""
    return golden.with_prefix(f"{prefix}{scope}/")


def load_keras_weights(cell, golden: Golden, scope: str, prefix="var:"):
    for name, value in relative_names(golden, prefix, scope).items():
        getattr(cell, name.replace("/", "_")).assign(value)


def before_run(golden: Golden, k: int, name: str):
    """A statistic's value when run k starts (TF1's after run k-1)."""
    return golden[f"var:{name}"] if k == 0 else golden[f"after:{k - 1}:{name}"]


def expected_outputs(golden: Golden, k: int) -> dict:
    return golden.with_prefix(f"out:{k}:")


# ---------------------------------------------------------------------------------- graph mode


def _graph_tower(cfg, inputs, sequence_length, training):
    cells = make_cells(cfg, training)
    cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
    outputs, state = tf.compat.v1.nn.dynamic_rnn(cell, inputs, sequence_length=sequence_length, dtype=tf.float32)
    states = [state] if len(cells) == 1 else list(state)
    outs = {"outputs": outputs}
    for k, (c, h, step) in enumerate(states):
        suffix = "" if len(cells) == 1 else f"_{k}"
        outs.update({f"state_c{suffix}": c, f"state_h{suffix}": h, f"state_step{suffix}": step})
    return outs


def run_graph(golden: Golden, python_bool=False):
    """Replay the case's runs in a tf.compat.v1 graph; returns per run (outputs, statistics, grads)."""
    cfg = golden.config
    graph = tf.Graph()
    results = []
    with graph.as_default():
        inputs = tf.compat.v1.placeholder(tf.float32, [cfg["batch"], cfg["steps"], cfg["input_depth"]])
        lengths = tf.constant(golden["in:sequence_length"]) if cfg["uses_sequence_length"] else None
        placeholder = None
        if cfg["training"] == "placeholder":
            placeholder = tf.compat.v1.placeholder(tf.bool, [])
            tower = _graph_tower(cfg, inputs, lengths, placeholder)
            towers = {True: tower, False: tower}
        else:
            flags = (True, False) if python_bool else (tf.constant(True), tf.constant(False))
            with tf.compat.v1.variable_scope("model"):
                train = _graph_tower(cfg, inputs, lengths, flags[0])
            with tf.compat.v1.variable_scope("model", reuse=True):
                infer = _graph_tower(cfg, inputs, lengths, flags[1])
            towers = {True: train, False: infer}
        variables = tf.compat.v1.global_variables()
        trainable = tf.compat.v1.trainable_variables()
        # The cells created exactly TF1's variables, under exactly TF1's names.
        assert sorted(v.op.name for v in variables) == sorted(golden.with_prefix("var:"))
        statistics = [v for v in variables if v.op.name.rsplit("/", 1)[-1] in STATISTICS]
        assert sorted(v.op.name for v in statistics) == sorted(golden.with_prefix("after:0:"))
        grads = {}
        for mode, tower in towers.items():
            if towers[True] is tower and True in grads:  # one tower for both modes (placeholder)
                grads[mode] = grads[True]
                continue
            loss = tf.reduce_sum(tower["outputs"] * golden["in:loss_weights"])
            grads[mode] = tf.gradients(loss, [inputs] + trainable)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in variables:
                v.load(golden["var:" + v.op.name], sess)
            for k, run in enumerate(cfg["runs"]):
                feed = {inputs: golden[f"in:{k}:inputs"]}
                if placeholder is not None:
                    feed[placeholder] = run["training"]
                outs, grad_values = sess.run([towers[run["training"]], grads[run["training"]]], feed)
                stats = dict(zip([v.op.name for v in statistics], sess.run(statistics)))
                named_grads = dict(zip(["inputs"] + [v.op.name for v in trainable], grad_values))
                results.append((outs, stats, named_grads))
    return results


def check_runs(golden: Golden, results, grads=True):
    for k, (outs, stats, named_grads) in enumerate(results):
        expected = expected_outputs(golden, k)
        assert set(outs) == set(expected)
        for key in expected:
            tolerance.check(outs[key], golden, f"out:{k}:{key}")
        want_stats = golden.with_prefix(f"after:{k}:")
        assert set(stats) == set(want_stats)
        for name in want_stats:
            tolerance.check(stats[name], golden, f"after:{k}:{name}")
        if grads:
            want_grads = golden.with_prefix(f"grad:{k}:")
            assert set(named_grads) == set(want_grads)
            for name in want_grads:
                tolerance.check(named_grads[name], golden, f"grad:{k}:{name}")


@pytest.mark.parametrize("name", IDS)
def test_graph_mode_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    check_runs(golden, run_graph(golden))


def test_graph_mode_python_bool_towers_match_tf1():
    # TF1's copied cell rejected a Python bool (its tf.cond did); the replacement takes one and
    # picks the branch while building: same numbers as TF1's constant-tensor towers.
    golden = GOLDEN["bnlstm_constant_training"]
    assert "Python bool" in golden.config["note"]
    check_runs(golden, run_graph(golden, python_bool=True))


def test_graph_mode_training_updates_are_forced_not_collected():
    # TF1's cell assigned the statistics under a control dependency of its output: nothing in
    # UPDATE_OPS, and running only the outputs moves the statistics.
    golden = GOLDEN["bnlstm_defaults"]
    cfg = golden.config
    with tf.Graph().as_default() as graph:
        inputs = tf.constant(golden["in:0:inputs"])
        outs = _graph_tower(cfg, inputs, None, tf.constant(True))
        assert tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS) == []
        (stat,) = [v for v in tf.compat.v1.global_variables() if v.op.name == "rnn/BNLSTMCell/c/pop_mean"]
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            for v in tf.compat.v1.global_variables():
                v.load(golden["var:" + v.op.name], sess)
            sess.run(outs["outputs"])
            tolerance.check(sess.run(stat), golden, "after:0:rnn/BNLSTMCell/c/pop_mean", "forced update")


# ---------------------------------------------------------------------------------- eager mode


@pytest.mark.parametrize("name", [n for n in IDS if GOLDEN[n].config["training"] == "placeholder"])
def test_eager_dynamic_rnn_matches_tf1(name):
    golden = GOLDEN[name]
    cfg = golden.config
    flag = tf.Variable(True)
    cells = make_cells(cfg, training=flag)
    cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
    lengths = tf.constant(golden["in:sequence_length"]) if cfg["uses_sequence_length"] else None
    for k, run in enumerate(cfg["runs"]):
        if k == 0:  # build on a throw-away call, then load TF1's values
            tf.compat.v1.nn.dynamic_rnn(cell, golden["in:0:inputs"][:, :1], dtype=tf.float32)
            for c, scope in zip(cells, cfg["cell_scopes"]):
                load_keras_weights(c, golden, scope)
        flag.assign(run["training"])
        outputs, state = tf.compat.v1.nn.dynamic_rnn(
            cell, tf.constant(golden[f"in:{k}:inputs"]), sequence_length=lengths, dtype=tf.float32
        )
        tolerance.check(outputs, golden, f"out:{k}:outputs")
        last = state if len(cells) == 1 else state[-1]
        suffix = "" if len(cells) == 1 else f"_{len(cells) - 1}"
        for part, value in zip(("c", "h", "step"), last):
            tolerance.check(value, golden, f"out:{k}:state_{part}{suffix}")
        for c, scope in zip(cells, cfg["cell_scopes"]):
            for stat in relative_names(golden, f"after:{k}:", scope):
                tolerance.check(getattr(c, stat.replace("/", "_")), golden, f"after:{k}:{scope}/{stat}")


# ---------------------------------------------------------------------------------- Keras layer


def keras_layer(cfg):
    cells = make_cells(cfg)
    cell = cells[0] if len(cells) == 1 else MultiRNNCell(cells)
    layer = keras.layers.RNN(cell, return_sequences=True, return_state=True, zero_output_for_mask=True)
    layer.build((cfg["batch"], cfg["steps"], cfg["input_depth"]))
    return layer, cells


def keras_mask(golden):
    cfg = golden.config
    if not cfg["uses_sequence_length"]:
        return None
    return tf.constant(np.arange(cfg["steps"])[None, :] < golden["in:sequence_length"][:, None])


@pytest.mark.parametrize("mode", ["eager", "tf_function"])
@pytest.mark.parametrize("name", IDS)
def test_keras_rnn_matches_tf1(name, mode):
    golden = GOLDEN[name]
    cfg = golden.config
    layer, cells = keras_layer(cfg)
    for c, scope in zip(cells, cfg["cell_scopes"]):
        load_keras_weights(c, golden, scope)
    mask = keras_mask(golden)

    def forward(x, training):
        outputs, *states = layer(x, mask=mask, training=training)
        return outputs, tf.nest.flatten(states)[-3:]  # the last cell's (c, h, step)

    step = tf.function(forward) if mode == "tf_function" else forward
    for k, run in enumerate(cfg["runs"]):
        x = tf.constant(golden[f"in:{k}:inputs"])
        training = tf.constant(run["training"]) if mode == "tf_function" else run["training"]
        with tf.GradientTape() as tape:
            tape.watch(x)
            outputs, (c, h, counter) = step(x, training)
            loss = tf.reduce_sum(outputs * golden["in:loss_weights"])
        suffix = "" if len(cells) == 1 else f"_{len(cells) - 1}"
        tolerance.check(outputs, golden, f"out:{k}:outputs")
        for part, value in zip(("c", "h", "step"), (c, h, counter)):
            tolerance.check(value, golden, f"out:{k}:state_{part}{suffix}")
        for c_, scope in zip(cells, cfg["cell_scopes"]):
            for stat in relative_names(golden, f"after:{k}:", scope):
                tolerance.check(getattr(c_, stat.replace("/", "_")), golden, f"after:{k}:{scope}/{stat}")
        if mode == "eager":
            tolerance.check(tape.gradient(loss, x), golden, f"grad:{k}:inputs")


def test_keras_model_fit_updates_statistics_as_tf1():
    # Model.fit (a compiled training step, possibly XLA): the statistics move exactly as in TF1's
    # first training run; a zero learning rate keeps the weights, so the second run matches too.
    golden = GOLDEN["bnlstm_train_then_infer"]
    cfg = golden.config
    cell = make_cells(cfg)[0]
    model = keras.Sequential([keras.Input((cfg["steps"], cfg["input_depth"])), keras.layers.RNN(cell)])
    load_keras_weights(cell, golden, cfg["cell_scopes"][0])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse")
    for k in range(2):
        x = golden[f"in:{k}:inputs"]
        model.fit(x, np.zeros((cfg["batch"], cfg["units"][0]), np.float32), batch_size=cfg["batch"],
                  epochs=1, shuffle=False, verbose=0)
        for stat in relative_names(golden, f"after:{k}:", cfg["cell_scopes"][0]):
            tolerance.check(getattr(cell, stat.replace("/", "_")), golden, f"after:{k}:{cfg['cell_scopes'][0]}/{stat}",
                            "after fit")
    # Inference (predict) uses the per-step population statistics. Run 3 starts from the
    # statistics after run 2 (another training run, not replayed here): load them.
    for stat, value in relative_names(golden, "after:2:", cfg["cell_scopes"][0]).items():
        getattr(cell, stat.replace("/", "_")).assign(value)
    predicted = model.predict(golden["in:3:inputs"], batch_size=cfg["batch"], verbose=0)
    tolerance.check(predicted, golden, "out:3:outputs", "predict's last step", index=(slice(None), -1))


def test_every_golden_case_is_covered():
    assert {"bnlstm_train_then_infer", "bnlstm_defaults", "bnlstm_constant_training", "bnlstm_multi_rnn",
            "bnlstm_sequence_length", "bnlstm_options"} <= set(IDS)
    for golden in GOLDEN.values():
        cfg = golden.config
        # Longer than the statistics, so the last row is reused, and both kinds of run.
        assert cfg["steps"] > cfg["max_bn_steps"]
        assert {r["training"] for r in cfg["runs"]} == {True, False}
