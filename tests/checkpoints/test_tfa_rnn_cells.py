"""tfa_lstm_cell / tfa_simple_rnn_cell checkpoint groups: tfa.rnn cells saved by Keras 2, onto tf2norm's cells.

The fixture fixtures/checkpoints/tfa_cells/ was written by real tfa 0.23 on TF 2.15
(fixtures/tfa/tfa_rnn_cells.py): a Keras 2 tagger (RNN(LayerNormLSTMCell), Bidirectional(RNN(
LayerNormSimpleRNNCell)), RNN(LayerNormSimpleRNNCell(3, use_bias=False, layernorm_epsilon=1e-3,
activation="relu")), Dense) trained one Adam step, saved with `model.save_weights` as `ckpt` (TF format,
object-based) and `weights.h5`; `golden.npz` holds each cell's inputs and tfa's outputs inside the model,
`model.npz` the model's inputs, outputs and every weight. Every expected number was computed by tfa.
"""

from __future__ import annotations

import json

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checkpoints import checkpoint_helpers
from tests.checkpoints.checkpoint_helpers import (
    SEQUENCE_ATOL,
    cli,
    fixture,
    write_checkpoint,
)
from tests.golden import cases, max_abs_error
from tf2norm.checkpoints import (
    CheckpointError,
    inspect,
    load_tf1_weights,
    recognise,
    restore,
    restore_into,
)
from tf2norm.replacements import LayerNormLSTMCell, LayerNormSimpleRNNCell

CKPT = fixture("tfa_cells")
GOLDEN = fixture("tfa_cells", "golden.npz")
VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
LSTM, BW, FW, SUMMARY = ("layer_with_weights-0/cell", "layer_with_weights-1/backward_layer/cell",
                         "layer_with_weights-1/forward_layer/cell", "layer_with_weights-2/cell")
# What the checkpoint cannot record: the summary cell's epsilon and activation.
DECLARE = ["--config", f"{SUMMARY}:layernorm_epsilon=0.001", "--config", f"{SUMMARY}:activation=relu"]
LSTM_MEMBERS = ["kernel", "recurrent_kernel", "bias", "kernel_norm/gamma", "kernel_norm/beta",
                "recurrent_norm/gamma", "recurrent_norm/beta", "state_norm/gamma", "state_norm/beta"]
F = "float32"


def _load(name):
    with np.load(fixture("tfa_cells", name)) as data:
        return {k: data[k] for k in data.files}


def _golden_fields(scope):
    return checkpoint_helpers.golden("tfa_cells")[scope]


def _run(cell, fields):
    results = keras.layers.RNN(cell, return_sequences=True, return_state=True)(fields["inputs"])
    return [r.numpy() for r in results]


def _assert_reproduces_tfa(scope, cell, atol=SEQUENCE_ATOL):
    fields = _golden_fields(scope)
    got = _run(cell, fields)
    names = ["outputs", "final_h", "final_c"] if isinstance(cell, LayerNormLSTMCell) else ["outputs", "final_state"]
    for name, value in zip(names, got):
        err = max_abs_error(value, fields[name])
        assert err <= atol, f"{scope} {name}: {err:.3g}"


# -- recognition ---------------------------------------------------------------------------------


def test_the_cells_of_a_keras2_object_based_checkpoint():
    inv = inspect(CKPT)
    assert [(g.scope, g.kind, g.config, g.input_depth, g.naming) for g in inv.groups] == [
        (LSTM, "tfa_lstm_cell", {"units": 4, "use_bias": True, "norm_epsilon": 0.001}, 5,
         "Keras 2 object-based (model.save_weights, TF format)"),
        (BW, "tfa_simple_rnn_cell", {"units": 4, "use_bias": True, "layernorm_epsilon": 1e-05}, 4,
         "Keras 2 object-based (model.save_weights, TF format)"),
        (FW, "tfa_simple_rnn_cell", {"units": 4, "use_bias": True, "layernorm_epsilon": 1e-05}, 4,
         "Keras 2 object-based (model.save_weights, TF format)"),
        (SUMMARY, "tfa_simple_rnn_cell", {"units": 3, "use_bias": False, "layernorm_epsilon": 1e-05}, 8,
         "Keras 2 object-based (model.save_weights, TF format)"),
    ]
    assert inv.groups[0].weights == {m: f"{LSTM}/{m}{VALUE}" for m in LSTM_MEMBERS}
    assert inv.groups[3].weights == {m: f"{SUMMARY}/{m}{VALUE}" for m in ("kernel", "recurrent_kernel",
                                                                           "layernorm/gamma")}
    # The Dense layer, the optimizer's state and the object graph stay.
    rest = [v.name for v in inv.unrecognised]
    assert rest[:3] == ["_CHECKPOINTABLE_OBJECT_GRAPH", f"layer_with_weights-3/bias{VALUE}",
                        f"layer_with_weights-3/kernel{VALUE}"]
    assert all(n.startswith("optimizer/") for n in rest[3:]) and len(rest) == 49
    assert inv.problems == []


def test_keras2_variable_names_from_a_name_based_saver():
    # The tfa goldens record the Keras 2 variable names (`rnn/layer_norm_simple_rnn_cell/gamma`).
    names = []
    for golden in cases("tfa_cell_"):
        if golden.name in ("tfa_cell_lstm_no_bias", "tfa_cell_srnn_bidirectional"):
            names += [(n, golden["var:" + n].shape, F) for n in golden.config["weights"]]
    inv = recognise(names)
    assert [(g.scope, g.kind, g.config["use_bias"], g.naming) for g in inv.groups] == [
        ("bidirectional/backward_rnn/layer_norm_simple_rnn_cell_2", "tfa_simple_rnn_cell", True,
         "Keras 2 variable names (name-based Saver)"),
        ("bidirectional/forward_rnn/layer_norm_simple_rnn_cell_1", "tfa_simple_rnn_cell", True,
         "Keras 2 variable names (name-based Saver)"),
        ("rnn/layer_norm_lstm_cell", "tfa_lstm_cell", False, "Keras 2 variable names (name-based Saver)"),
    ]
    assert inv.groups[0].weights["layernorm/gamma"] == "bidirectional/backward_rnn/layer_norm_simple_rnn_cell_2/gamma"
    assert inv.unrecognised == [] and inv.problems == []


def _object(scope, shapes):
    return [(f"{scope}/{member}{VALUE}", shape, F) for member, shape in shapes.items()]


LSTM_SHAPES = {"kernel": (3, 8), "recurrent_kernel": (2, 8), "bias": (8,), "kernel_norm/gamma": (8,),
               "kernel_norm/beta": (8,), "recurrent_norm/gamma": (8,), "recurrent_norm/beta": (8,),
               "state_norm/gamma": (2,), "state_norm/beta": (2,)}


@pytest.mark.parametrize("names, kinds", [
    # Keras' own LSTMCell and SimpleRNNCell: no norms, not tfa's cells.
    (_object("l/cell", {"kernel": (3, 8), "recurrent_kernel": (2, 8), "bias": (8,)}), []),
    (_object("l/cell", {"kernel": (3, 2), "recurrent_kernel": (2, 2), "bias": (2,)}), []),
    # A Dense layer next to a norm layer (which other kinds may take).
    (_object("d", {"kernel": (3, 2), "bias": (2,)}) + _object("n", {"gamma": (2,), "beta": (2,)}), []),
    # tfa's cells, optimizer slots beside them (TF 2.x's object-based slots) left alone.
    (_object("m/layer_with_weights-0/cell", LSTM_SHAPES)
     + [(f"m/layer_with_weights-0/cell/kernel/.OPTIMIZER_SLOT/optimizer/m{VALUE}", (3, 8), F)],
     [("m/layer_with_weights-0/cell", "tfa_lstm_cell")]),
    (_object("c", {"kernel": (3, 2), "recurrent_kernel": (2, 2), "layernorm/gamma": (2,)}),
     [("c", "tfa_simple_rnn_cell")]),
])
def test_what_is_a_tfa_cell(names, kinds):
    inv = recognise(names)
    assert [(g.scope, g.kind) for g in inv.groups if g.kind.startswith("tfa_")] == kinds
    assert inv.problems == []


@pytest.mark.parametrize("names, problem", [
    (_object("c", {k: v for k, v in LSTM_SHAPES.items() if k != "state_norm/beta"}),
     "inconsistent tfa LayerNormLSTMCell group c: layer norm variables missing: state_norm/beta"),
    (_object("c", {**LSTM_SHAPES, "state_norm/gamma": (8,)}),
     f"inconsistent tfa LayerNormLSTMCell group c: c/state_norm/gamma{VALUE} has shape [8], expected [2]"),
    (_object("c", {**LSTM_SHAPES, "recurrent_kernel": (2, 6)}),
     "inconsistent tfa LayerNormLSTMCell group c: recurrent_kernel has shape [2, 6], kernel [3, 8]; "
     "expected [units, 4 * units] and [input_depth, 4 * units]"),
    (_object("c", {"kernel": (3, 2), "recurrent_kernel": (2, 2), "layernorm/gamma": (3,)}),
     f"inconsistent tfa LayerNormSimpleRNNCell group c: c/layernorm/gamma{VALUE} has shape [3], expected [2]"),
    (_object("c", {"kernel": (3, 4), "recurrent_kernel": (2, 2), "layernorm/gamma": (2,)}),
     f"inconsistent tfa LayerNormSimpleRNNCell group c: c/kernel{VALUE} has shape [3, 4], expected [3, 2]"),
])
def test_inconsistent_cells_are_reported(names, problem):
    assert recognise(names).problems == [problem]


# -- the command line ----------------------------------------------------------------------------


def test_inspect():
    run = cli("inspect", CKPT)
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"checkpoint {CKPT}/ckpt: 69 variables, 4 groups recognised"
    assert lines[2:6] == [
        "tfa LayerNormLSTMCell groups (1):",
        f"  {LSTM}  [Keras 2 object-based (model.save_weights, TF format)]",
        "    units=4 input_depth=5 use_bias=True norm_epsilon=0.001",
        f"    kernel                [5, 16]  float32  <- {LSTM}/kernel{VALUE}",
    ]
    assert "tfa LayerNormSimpleRNNCell groups (3):" in lines
    assert "Not recognised (49; not converted):" in lines
    as_json = json.loads(cli("inspect", CKPT, "--json").stdout)
    assert [(g["scope"], g["kind"], g["input_depth"]) for g in as_json["groups"]] == [
        (LSTM, "tfa_lstm_cell", 5), (BW, "tfa_simple_rnn_cell", 4), (FW, "tfa_simple_rnn_cell", 4),
        (SUMMARY, "tfa_simple_rnn_cell", 8)]


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("tfa_cells") / "out"
    run = cli("convert", CKPT, "--out", out, *DECLARE)
    assert run.exit_code == 0, run.stderr
    return out, run


def test_convert(converted):
    out, run = converted
    assert run.stdout.splitlines() == [
        f"converted 4 groups (1 tfa LayerNormLSTMCell, 3 tfa LayerNormSimpleRNNCell) from {CKPT}/ckpt into {out}",
        f"  {LSTM} -> LayerNormLSTMCell(units=4, use_bias=True, norm_epsilon=0.001)",
        f"  {BW} -> LayerNormSimpleRNNCell(units=4, use_bias=True, layernorm_epsilon=1e-05)",
        f"  {FW} -> LayerNormSimpleRNNCell(units=4, use_bias=True, layernorm_epsilon=1e-05)",
        f"  {SUMMARY} -> LayerNormSimpleRNNCell(units=3, use_bias=False, layernorm_epsilon=0.001, activation='relu')",
        "49 variables not converted (listed in manifest.json)",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(e["scope"], e["class"], e["build_input_shape"], list(e["weights"])) for e in manifest["groups"]] == [
        (LSTM, "tf2norm.replacements.LayerNormLSTMCell", [None, 5], LSTM_MEMBERS),
        (BW, "tf2norm.replacements.LayerNormSimpleRNNCell", [None, 4],
         ["kernel", "recurrent_kernel", "bias", "layernorm/gamma"]),
        (FW, "tf2norm.replacements.LayerNormSimpleRNNCell", [None, 4],
         ["kernel", "recurrent_kernel", "bias", "layernorm/gamma"]),
        (SUMMARY, "tf2norm.replacements.LayerNormSimpleRNNCell", [None, 8],
         ["kernel", "recurrent_kernel", "layernorm/gamma"]),
    ]
    values = _load("model.npz")
    with h5py.File(out / "weights.h5", "r") as h5:
        np.testing.assert_array_equal(h5["group_0/kernel_norm/gamma"][()],
                                      values["var:encoder/layer_norm_lstm_cell/kernel_norm/gamma"])
        assert h5["group_3/layernorm/gamma"].attrs["tf1_name"] == f"{SUMMARY}/layernorm/gamma{VALUE}"


def test_convert_rejects_a_setting_the_cell_does_not_take(tmp_path):
    run = cli("convert", CKPT, "--out", tmp_path / "out", "--config", f"{LSTM}:forget_bias=1.0")
    assert run.exit_code == 2
    assert "forget_bias cannot be set on a tfa_lstm_cell group (settable: norm_epsilon, activation" in run.stderr
    assert not (tmp_path / "out").exists()


def test_verify_against_the_numpy_reference_and_against_tfa():
    run = cli("verify", CKPT, *DECLARE, "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stderr
    assert [line.split()[:3] + line.split()[-1:] for line in run.stdout.splitlines()[1:5]] == [
        [scope, kind, "NumPy", "pass"] for scope, kind in ((LSTM, "tfa_lstm_cell"), (BW, "tfa_simple_rnn_cell"),
                                                           (FW, "tfa_simple_rnn_cell"),
                                                           (SUMMARY, "tfa_simple_rnn_cell"))]
    # The golden records each epsilon; the activation is the user's to give.
    run = cli("verify", CKPT, "--golden", GOLDEN, "--config", f"{SUMMARY}:activation=relu",
              "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"4 groups: 4 pass, 0 fail (atol {SEQUENCE_ATOL:g}, rtol 0)"


def test_verify_a_converted_directory(converted):
    out, _ = converted
    run = cli("verify", CKPT, "--converted", out, "--golden", GOLDEN, "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"4 groups: 4 pass, 0 fail (atol {SEQUENCE_ATOL:g}, rtol 0)"


def test_verify_fails_on_a_wrong_setting(tmp_path):
    # tfa's summary cell ran relu with epsilon 1e-3: tanh, or tfa's default epsilon, is not it.
    run = cli("verify", CKPT, "--golden", GOLDEN, "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 1
    assert run.stdout.splitlines()[4].split()[0] == SUMMARY
    assert run.stdout.splitlines()[4].split()[-2:] == ["FAIL", "(outputs)"]
    golden = _load("golden.npz")
    del golden[f"{SUMMARY}:layernorm_epsilon"]
    np.savez(tmp_path / "golden.npz", **golden)
    run = cli("verify", CKPT, "--config", f"{SUMMARY}:activation=relu", "--atol", str(SEQUENCE_ATOL),
              "--golden", tmp_path / "golden.npz")
    assert run.exit_code == 1
    assert run.stdout.splitlines()[4].split()[-2:] == ["FAIL", "(outputs)"]


# -- loading into Keras 3 --------------------------------------------------------------------------


def _migrated_tagger():
    """The tagger as `tf2norm migrate` writes it for Keras 3 (tfa's cells -> tf2norm's)."""
    inputs = keras.Input((10, 5))
    net = keras.layers.RNN(LayerNormLSTMCell(4, norm_epsilon=1e-3), return_sequences=True, name="encoder")(inputs)
    net = keras.layers.Bidirectional(keras.layers.RNN(LayerNormSimpleRNNCell(4), return_sequences=True),
                                     name="context")(net)
    net = keras.layers.RNN(LayerNormSimpleRNNCell(3, use_bias=False, layernorm_epsilon=1e-3, activation="relu"),
                           return_sequences=True, name="summary")(net)
    return keras.Model(inputs, keras.layers.Dense(2, name="tagger")(net))


def test_restore_into_the_migrated_model_reproduces_tfa(converted):
    out, _ = converted
    model = _migrated_tagger()
    values = _load("model.npz")
    model.get_layer("tagger").set_weights([values["var:tagger/kernel"], values["var:tagger/bias"]])
    context = model.get_layer("context")
    restored = restore_into(model, out, {LSTM: "encoder", FW: context.forward_layer.cell,
                                         BW: context.backward_layer.cell, SUMMARY: "summary"})
    assert restored[LSTM] is model.get_layer("encoder").cell
    assert max_abs_error(model(values["inputs"]), values["outputs"]) <= 2e-6


def test_restore_fresh_cells_and_the_tf2_checkpoints(converted):
    out, _ = converted
    for scope, cell in restore(out).items():
        _assert_reproduces_tfa(scope, cell)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["groups"]:
        cls = LayerNormLSTMCell if entry["kind"] == "tfa_lstm_cell" else LayerNormSimpleRNNCell
        cell = cls(**entry["config"])
        cell.build(entry["build_input_shape"])
        tf.train.Checkpoint(layer=cell).read(str(out / entry["tf2_checkpoint"])).assert_consumed()
        _assert_reproduces_tfa(entry["scope"], cell)


def test_load_straight_from_the_tfa_checkpoint():
    cell = load_tf1_weights(LayerNormLSTMCell(4), CKPT, LSTM)  # built here from the kernel's shape
    _assert_reproduces_tfa(LSTM, cell)
    summary = load_tf1_weights(LayerNormSimpleRNNCell(3, use_bias=False, layernorm_epsilon=1e-3, activation="relu"),
                               CKPT, SUMMARY)
    _assert_reproduces_tfa(SUMMARY, summary)
    with pytest.raises(CheckpointError, match=f"the layer has bias which TF1 group {SUMMARY} lacks"):
        load_tf1_weights(LayerNormSimpleRNNCell(3), CKPT, SUMMARY)
    with pytest.raises(CheckpointError, match="kernel has shape"):
        load_tf1_weights(LayerNormLSTMCell(5), CKPT, LSTM)
    with pytest.raises(CheckpointError, match="is a tfa_simple_rnn_cell group"):
        load_tf1_weights(LayerNormLSTMCell(4), CKPT, FW)
    with pytest.raises(CheckpointError, match="not a tf2norm replacement"):
        load_tf1_weights(keras.layers.LSTMCell(4), CKPT, LSTM)


def test_restore_into_warns_about_a_cell_configured_differently(converted):
    out, _ = converted
    cell = LayerNormSimpleRNNCell(3, use_bias=False, activation="relu")  # tfa's default epsilon, not 1e-3
    with pytest.warns(UserWarning, match=r"layernorm_epsilon=1e-05 \(TF1 group: 0.001\)"):
        restore_into(keras.layers.RNN(cell), out, {SUMMARY: cell})


def test_keras3_loads_tfas_h5_weights_itself():
    """No conversion for .h5: Keras 3 reads the Keras 2 file into the migrated model, in layer order."""
    model = _migrated_tagger()
    model.load_weights(fixture("tfa_cells", "weights.h5"))
    values = _load("model.npz")
    assert max_abs_error(model(values["inputs"]), values["outputs"]) <= 2e-6


def test_name_based_checkpoint_restores(tmp_path):
    golden = next(g for g in cases("tfa_cell_lstm_default"))
    prefix = write_checkpoint(tmp_path / "ckpt" / "model.ckpt",
                              {n: golden["var:" + n] for n in golden.config["weights"]})
    cell = load_tf1_weights(LayerNormLSTMCell(4), prefix, "rnn/layer_norm_lstm_cell")
    out = keras.layers.RNN(cell, return_sequences=True, return_state=True)(golden["in:inputs"])
    assert max_abs_error(out[0], golden["out:outputs"]) <= 2e-6
