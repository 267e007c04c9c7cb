"""End to end, keras target: each TF1 program's checkpoint, converted by `tf2norm checkpoint convert`,
loaded into a hand-written Keras 3 model built from tf2norm.replacements, reproduces the eval outputs
TF 1.15 computed (and, for the batch-norm models, a training-mode call reproduces TF1's first
continuation step: its training outputs and the moving statistics it left); and
`tf2norm checkpoint verify --converted --golden` passes each group against TF 1.15 running that group
alone from the same checkpoint.

The replacement groups (cells, batch norms) come from the converted directory through
`tf2norm.checkpoints.restore_into`; the plain weights TF1 kept outside any group (conv kernels,
dense layers) are read from the TF1 checkpoint with `tf.train.load_checkpoint`.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from tests.e2e.e2e_support import (
    E2E,
    EVAL_ATOL,
    STAT_RTOL,
    STEP_ATOL,
    STEP_RTOL,
    check_close,
    checkpoint,
    fields,
    golden,
    run,
    tool,
)

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from tf2norm.checkpoints import restore_into  # noqa: E402
from tf2norm.replacements import BatchNormalization, LayerNormBasicLSTMCell  # noqa: E402

LN = "layer_norm_basic_lstm_cell"

# What `tf2norm checkpoint convert` is told that a checkpoint cannot record (the TF1 calls'
# decay, forget_bias and the rank-2 layout of the dense layers' batch norms).
CONVERT_OPTIONS = {
    "seq_tagger": [],
    "bn_convnet": ["--config", "momentum=0.9", "--data-format", "NHWC",
                   "--data-format", "fc1/BatchNorm=NC"],
    "shared_towers": ["--config", "momentum=0.95",
                      "--config", f"classifier/encoder/{LN}:forget_bias=0.5",
                      "--data-format", "classifier/bn=NC"],
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """`tf2norm checkpoint convert` of each program's TF1 checkpoint, once per module."""
    done = {}

    def convert(name):
        if name not in done:
            out = tmp_path_factory.mktemp(name) / "converted"
            result = run(tool("tf2norm"), "checkpoint", "convert", checkpoint(name), "--out", out,
                         *CONVERT_OPTIONS[name])
            assert result.returncode == 0, str(result)
            done[name] = out, json.loads((out / "manifest.json").read_text())
        return done[name]

    return convert


def load_groups(model, converted, mapping):
    with warnings.catch_warnings():
        # restore_into warns when a layer is configured unlike the TF1 group: that is a failure here.
        warnings.simplefilter("error")
        restore_into(model, converted, mapping)


def tf1_value(name, variable):
    return tf.train.load_checkpoint(checkpoint(name)).get_tensor(variable)


# ---------------------------------------------------------------------------------------------
# the three models, by hand, as a Keras 3 user would write them


def seq_tagger_model():
    inputs = keras.Input((None, 6), name="inputs")
    mask = keras.Input((None,), dtype="bool", name="mask")
    # dynamic_rnn(sequence_length=...) outputs zeros past each length and keeps the state there.
    h = keras.layers.RNN(LayerNormBasicLSTMCell(8), return_sequences=True,
                         zero_output_for_mask=True, name="lstm0")(inputs, mask=mask)
    h, c, last_h = keras.layers.RNN(LayerNormBasicLSTMCell(8), return_sequences=True,
                                    return_state=True, zero_output_for_mask=True,
                                    name="lstm1")(h, mask=mask)
    logits = keras.layers.Dense(3, name="logits")(h)
    return keras.Model([inputs, mask], {"logits": logits, "final_c": c, "final_h": last_h})


def bn_convnet_model():
    images = keras.Input((8, 8, 3), name="images")
    net = keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(images)
    net = BatchNormalization(momentum=0.9, scale=True, name="conv1_bn")(net)
    net = keras.layers.ReLU()(net)
    net = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv2")(net)
    net = BatchNormalization(momentum=0.9, name="conv2_bn")(net)
    net = keras.layers.ReLU()(net)
    net = keras.layers.Flatten()(net)
    net = keras.layers.Dense(16, use_bias=False, name="fc1")(net)
    net = BatchNormalization(momentum=0.9, name="fc1_bn")(net)
    net = keras.layers.ReLU()(net)
    logits = keras.layers.Dense(4, name="logits")(net)
    return keras.Model(images, {"logits": logits, "probabilities": keras.layers.Softmax()(logits)})


def shared_towers_model():
    # One Keras model serves both towers: training=True is the training tower, False the eval one.
    inputs = keras.Input((5, 5), name="inputs")
    _, _, h = keras.layers.RNN(LayerNormBasicLSTMCell(6, forget_bias=0.5), return_state=True,
                               name="encoder")(inputs)
    net = keras.layers.Dense(10, use_bias=False, name="hidden")(h)
    net = BatchNormalization(momentum=0.95, scale=True, name="bn")(net)
    net = keras.layers.ReLU()(net)
    logits = keras.layers.Dense(3, name="logits")(net)
    return keras.Model(inputs, {"logits": logits, "probabilities": keras.layers.Softmax()(logits)})


# name -> (model factory, {tf1 scope: layer name}, {layer name: [tf1 variables]},
#          inputs from a golden batch, {tf1 moving-statistic variable: (layer, weight)})
MODELS = {
    "seq_tagger": (
        seq_tagger_model,
        {f"rnn/multi_rnn_cell/cell_0/{LN}": "lstm0", f"rnn/multi_rnn_cell/cell_1/{LN}": "lstm1"},
        {"logits": ["logits/weights", "logits/biases"]},
        lambda b: [b["inputs"], np.arange(b["inputs"].shape[1])[None, :] < b["lengths"][:, None]],
        {},
    ),
    "bn_convnet": (
        bn_convnet_model,
        {"conv1/BatchNorm": "conv1_bn", "conv2/BatchNorm": "conv2_bn", "fc1/BatchNorm": "fc1_bn"},
        {"conv1": ["conv1/weights"], "conv2": ["conv2/weights"], "fc1": ["fc1/weights"],
         "logits": ["logits/weights", "logits/biases"]},
        lambda b: b["images"],
        {f"{s}/BatchNorm/{w}": (f"{s}_bn", w) for s in ("conv1", "conv2", "fc1")
         for w in ("moving_mean", "moving_variance")},
    ),
    "shared_towers": (
        shared_towers_model,
        {f"classifier/encoder/{LN}": "encoder", "classifier/bn": "bn"},
        {"hidden": ["classifier/hidden/weights"],
         "logits": ["classifier/logits/weights", "classifier/logits/biases"]},
        lambda b: b["inputs"],
        {f"classifier/bn/{w}": ("bn", w) for w in ("moving_mean", "moving_variance")},
    ),
}


def restored_model(name, convert):
    factory, groups, plain, _, _ = MODELS[name]
    directory, manifest = convert(name)
    assert sorted(e["scope"] for e in manifest["groups"]) == sorted(groups)
    model = factory()
    load_groups(model, directory, groups)
    for layer_name, variables in plain.items():
        model.get_layer(layer_name).set_weights([tf1_value(name, v) for v in variables])
    # Everything TF1 saved is now in the model: the groups plus the plain weights (global_step
    # is the optimizer's, which the Keras model does not need).
    listed = set(manifest["not_converted"]) - {"global_step"}
    assert listed == {v for vs in plain.values() for v in vs}
    return model


@pytest.mark.parametrize("name", list(MODELS))
def test_keras_model_from_converted_checkpoint_reproduces_tf1_eval(name, converted):
    model = restored_model(name, converted)
    g = golden(name)
    inputs = MODELS[name][3](fields(g, "eval_batch/"))
    outputs = {k: v.numpy() for k, v in model(inputs, training=False).items()}
    errors = check_close(outputs, fields(g, "restored/eval/"), EVAL_ATOL, what=f"{name} eval")
    print(f"{name} keras eval max |error|: {max(errors.values()):.3g}")


@pytest.mark.parametrize("name", ["bn_convnet", "shared_towers"])
def test_keras_training_call_reproduces_tf1_first_continuation_step(name, converted):
    """TF1's step 0 computed its training outputs and moving-statistic updates from the restored
    weights (the SGD update of that step changes only what later steps see)."""
    model = restored_model(name, converted)
    g = golden(name)
    _, _, _, to_inputs, statistics = MODELS[name]
    batch = fields(g, "step0/batch/")
    logits = model(to_inputs(batch), training=True)["logits"]
    # Both programs' loss is the mean sparse softmax cross-entropy.
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(batch["labels"], logits))
    check_close({"logits": logits.numpy(), "loss": loss.numpy()}, fields(g, "step0/train/"),
                STEP_ATOL, STEP_RTOL, what=f"{name} training outputs")
    stats = {v: getattr(model.get_layer(layer), w).numpy()
             for v, (layer, w) in statistics.items()}
    expected = fields(g, "step0/stat/")
    assert sorted(expected) == sorted(stats)
    errors = check_close(stats, expected, 0.0, STAT_RTOL, what=f"{name} moving statistics")
    print(f"{name} keras step-0 statistics max |error|: {max(errors.values()):.3g}")


@pytest.mark.parametrize("name", list(MODELS))
def test_verify_converted_groups_against_tf1_run_alone(name, converted):
    """`tf2norm checkpoint verify --converted --golden`: each converted group, loaded into its
    replacement, reproduces within 2e-6 what TF 1.15 computed with that group alone from the same
    checkpoint (fixtures/e2e/<name>/groups.npz, made by make_e2e.py)."""
    directory, manifest = converted(name)
    groups = sorted(e["scope"] for e in manifest["groups"])
    result = run(tool("tf2norm"), "checkpoint", "verify", checkpoint(name), "--converted",
                 directory, "--golden", E2E / name / "groups.npz", "--atol", EVAL_ATOL)
    assert result.returncode == 0, str(result)
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:-1]}
    assert sorted(rows) == groups, str(result)
    for scope, row in rows.items():
        assert row[2:4] == ["TF1", "golden"] and row[-1] == "pass", str(result)
    assert result.stdout.splitlines()[-1].startswith(
        f"{len(groups)} groups: {len(groups)} pass, 0 fail"), str(result)
