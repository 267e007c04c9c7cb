"""group_norm checkpoint groups: tfa GroupNormalization / InstanceNormalization weights that Keras 2's
`model.save_weights` wrote (TF format), onto keras.layers.GroupNormalization.

The fixture fixtures/checkpoints/tfa_norm_convnet/ was written by real tfa 0.23 on TF 2.15
(fixtures/tfa/tfa_normalization.py): `ckpt` (TF format), `weights.h5`, and golden.npz with each
normalisation layer's input and output inside the model. The whole model's outputs are
fixtures/golden/tfa_norm_model_convnet.npz. Every expected number was computed by tfa.
"""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.checkpoints.checkpoint_helpers import (
    NORMALISATION_ATOL,
    SEQUENCE_ATOL,
    cli,
    fixture,
    golden,
)
from tests.golden import cases, max_abs_error
from tf2norm.checkpoints import (
    CheckpointError,
    inspect,
    load_tf1_weights,
    naming,
    recognise,
    restore,
    restore_into,
)
from tf2norm.replacements import GroupNormalization

CKPT = fixture("tfa_norm_convnet")
GOLDEN = fixture("tfa_norm_convnet", "golden.npz")
MODEL = next(g for g in cases("tfa_norm_model_"))
GN, IN = "layer_with_weights-1", "layer_with_weights-3"
DECLARE = ["--config", f"{GN}:groups=4", "--config", f"{IN}:groups=-1"]
VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
F = "float32"


# -- recognition ---------------------------------------------------------------------------------

def test_candidates_in_a_keras2_object_based_checkpoint():
    inv = inspect(CKPT)
    assert [(g.scope, g.kind, g.weights, g.config, g.channels, g.unresolved) for g in inv.groups] == [
        (GN, "group_norm", {"gamma": f"{GN}/gamma{VALUE}", "beta": f"{GN}/beta{VALUE}"},
         {"groups": None, "axis": -1, "epsilon": 0.001, "center": True, "scale": True}, 8, ["groups"]),
        (IN, "group_norm", {"gamma": f"{IN}/gamma{VALUE}"},
         {"groups": None, "axis": -1, "epsilon": 0.001, "center": False, "scale": True}, 6, ["groups"]),
    ]
    assert [v.name for v in inv.unrecognised] == [
        "_CHECKPOINTABLE_OBJECT_GRAPH"] + [f"layer_with_weights-{i}/{w}{VALUE}" for i in (0, 2, 4)
                                           for w in ("bias", "kernel")]
    assert inv.problems == []


@pytest.mark.parametrize("names, scopes", [
    # beta only (scale=False), optimizer slots beside the values, a nested model's layer.
    ([("m/layer_with_weights-2/beta" + VALUE, (4,), F),
      ("m/layer_with_weights-2/beta/.OPTIMIZER_SLOT/optimizer/m" + VALUE, (4,), F)], ["m/layer_with_weights-2"]),
    # something else under the scope: a dense layer's bias is not a norm layer's.
    ([("layer_with_weights-0/kernel" + VALUE, (4, 4), F), ("layer_with_weights-0/bias" + VALUE, (4,), F)], []),
    ([("l/gamma" + VALUE, (4,), F), ("l/beta" + VALUE, (4,), F), ("l/moving_mean" + VALUE, (4,), F)], []),
    ([("l/gamma" + VALUE, (4,), F), ("l/beta" + VALUE, (5,), F)], []),
    ([("l/gamma" + VALUE, (4, 4), F)], []),
    ([("l/gamma" + VALUE, (4,), F), ("l/inner/kernel" + VALUE, (4, 4), F)], []),
    # TF1 names (no object path) belong to other kinds.
    ([("LayerNorm/gamma", (4,), F), ("LayerNorm/beta", (4,), F)], []),
])
def test_what_is_a_candidate(names, scopes):
    assert [g.scope for g in recognise(names).groups if g.kind == "group_norm"] == scopes


def test_settle_leaves_unconfirmed_candidates_unconverted():
    inv = recognise([(f"a/gamma{VALUE}", (4,), F), (f"b/gamma{VALUE}", (4,), F), ("step", (), "int64")])
    inv.groups[1].config["groups"] = 2
    dropped = naming.settle(inv)
    assert [g.scope for g in dropped] == ["a"]
    assert [g.scope for g in inv.groups] == ["b"]
    assert [v.name for v in inv.unrecognised] == [f"a/gamma{VALUE}", "step"]


# -- the command line ----------------------------------------------------------------------------

def test_inspect_lists_the_candidates_and_says_what_is_missing():
    run = cli("inspect", CKPT)
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == f"checkpoint {CKPT}/ckpt: 10 variables, 2 groups recognised"
    assert lines[2:6] == [
        "GroupNormalization groups (2):",
        f"  {GN}  [Keras 2 object-based (model.save_weights, TF format)]",
        "    channels=8 center=True scale=True axis=-1 epsilon=0.001 groups=? (not recorded, nor the class: a "
        f"candidate; convert and verify take it with --config {GN}:groups=N, -1 for InstanceNormalization)",
        f"    gamma  [8]  float32  <- {GN}/gamma{VALUE}",
    ]
    assert "Not recognised (7; not converted):" in lines
    as_json = json.loads(cli("inspect", CKPT, "--json").stdout)
    assert [(g["scope"], g["candidate"], g["config"]["groups"]) for g in as_json["groups"]] == [
        (GN, True, None), (IN, True, None)]


def test_convert_refuses_unconfirmed_candidates(tmp_path):
    run = cli("convert", CKPT, "--out", tmp_path / "out")
    assert run.exit_code == 2
    assert run.stderr == (
        f"tf2norm checkpoint convert: error: no group to convert in {CKPT}/ckpt: {GN} may be a GroupNormalization, "
        "but the checkpoint records neither groups nor the class (GroupNormalization, InstanceNormalization and "
        f"LayerNormalization all store just gamma and beta); pass --config {GN}:groups=VALUE "
        "(and 1 more such group)\n")
    assert not (tmp_path / "out").exists()


def test_convert_takes_the_groups_the_user_names(tmp_path):
    out = tmp_path / "out"
    run = cli("convert", CKPT, "--out", out, *DECLARE)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines() == [
        f"converted 2 groups (2 GroupNormalization) from {CKPT}/ckpt into {out}",
        f"  {GN} -> GroupNormalization(groups=4, axis=-1, epsilon=0.001, center=True, scale=True)",
        f"  {IN} -> GroupNormalization(groups=-1, axis=-1, epsilon=0.001, center=False, scale=True)",
        "7 variables not converted (listed in manifest.json)",
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(e["scope"], e["class"], e["config"], e["build_input_shape"], sorted(e["weights"]))
            for e in manifest["groups"]] == [
        (GN, "keras.layers.GroupNormalization",
         {"groups": 4, "axis": -1, "epsilon": 0.001, "center": True, "scale": True}, [None, None, None, 8],
         ["beta", "gamma"]),
        (IN, "keras.layers.GroupNormalization",
         {"groups": -1, "axis": -1, "epsilon": 0.001, "center": False, "scale": True}, [None, None, None, 6],
         ["gamma"]),
    ]


def test_convert_leaves_out_a_candidate_not_named(tmp_path):
    out = tmp_path / "out"
    run = cli("convert", CKPT, "--out", out, "--config", f"{GN}:groups=4")
    assert run.exit_code == 0, run.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["scope"] for e in manifest["groups"]] == [GN]
    assert f"{IN}/gamma{VALUE}" in manifest["not_converted"]
    assert run.stdout.splitlines()[-1] == "8 variables not converted (listed in manifest.json)"


def test_verify_against_the_numpy_reference_and_against_tfa():
    run = cli("verify", CKPT, *DECLARE, "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stderr
    assert [line.split()[:3] + line.split()[-1:] for line in run.stdout.splitlines()[1:3]] == [
        [GN, "group_norm", "NumPy", "pass"], [IN, "group_norm", "NumPy", "pass"]]
    # The golden file records groups, so it confirms the groups itself.
    run = cli("verify", CKPT, "--golden", GOLDEN, "--atol", str(NORMALISATION_ATOL))
    assert run.exit_code == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()[1:3]]
    assert [row[:4] + row[-1:] for row in rows] == [
        [GN, "group_norm", "TF1", "golden", "pass"], [IN, "group_norm", "TF1", "golden", "pass"]]
    assert run.stdout.splitlines()[3] == f"2 groups: 2 pass, 0 fail (atol {NORMALISATION_ATOL:g}, rtol 0)"
    # tfa's own numbers, to rounding: bit for bit on the AMD EPYC the golden was made on, 1.3 ulps of
    # the largest output on an Intel Xeon, oneDNN on or off (TF 2.21's float32 kernels round otherwise
    # on that CPU). A wrong group count or epsilon is off by 1e-2 or more.
    assert all(float(row[5]) <= 4 * np.finfo(np.float32).eps for row in rows), run.stdout


def test_verify_a_converted_directory(tmp_path):
    out = tmp_path / "out"
    assert cli("convert", CKPT, "--out", out, *DECLARE).exit_code == 0
    run = cli("verify", CKPT, "--converted", out, "--golden", GOLDEN, "--atol", str(NORMALISATION_ATOL))
    assert run.exit_code == 0, run.stderr
    assert run.stdout.splitlines()[-1] == f"2 groups: 2 pass, 0 fail (atol {NORMALISATION_ATOL:g}, rtol 0)"


def test_verify_fails_when_the_groups_given_are_wrong():
    # (Against the NumPy reference both sides would take groups=2; tfa's recorded outputs do not.)
    run = cli("verify", CKPT, "--golden", GOLDEN, "--config", f"{GN}:groups=2", "--atol", "1e-5")
    assert run.exit_code == 1
    assert run.stdout.splitlines()[1].split()[-2:] == ["FAIL", "(outputs)"]
    run = cli("verify", CKPT, "--config", f"{GN}:groups=3")
    assert run.exit_code == 2
    assert "must be a multiple of the number of channels (8)" in run.stderr


# -- loading into Keras 3 models -----------------------------------------------------------------

def _migrated_convnet(norm=keras.layers.GroupNormalization):
    """tfa's conv net as `tf2norm migrate` writes it for Keras 3."""
    inputs = keras.Input((6, 6, 3))
    net = keras.layers.Conv2D(8, 3, padding="same", name="conv2d")(inputs)
    net = norm(groups=4, name="group_normalization")(net)
    net = keras.layers.ReLU()(net)
    net = keras.layers.Conv2D(6, 3, name="conv2d_1")(net)
    net = norm(groups=-1, center=False, name="instance_normalization")(net)
    net = keras.layers.GlobalAveragePooling2D()(net)
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(net))


def _set_other_layers(model):
    """The conv and dense weights (not tf2norm's business) from the model golden."""
    for name in ("conv2d", "conv2d_1", "dense"):
        layer = model.get_layer(name)
        layer.set_weights([MODEL[f"var:{name}/kernel"], MODEL[f"var:{name}/bias"]])


@pytest.mark.parametrize("norm", [keras.layers.GroupNormalization, GroupNormalization])
def test_restore_into_the_migrated_model_reproduces_tfa(tmp_path, norm):
    out = tmp_path / "out"
    assert cli("convert", CKPT, "--out", out, *DECLARE).exit_code == 0
    model = _migrated_convnet(norm)
    _set_other_layers(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # groups=-1 built into the channel count is the same setting
        restored = restore_into(model, out, {GN: "group_normalization", IN: "instance_normalization"})
    assert sorted(restored) == [GN, IN]
    assert max_abs_error(model(MODEL["in:inputs"]), MODEL["out:outputs"]) <= 1e-6


def test_restore_fresh_layers_and_the_tf2_checkpoints(tmp_path):
    out = tmp_path / "out"
    assert cli("convert", CKPT, "--out", out, *DECLARE).exit_code == 0
    fields = golden("tfa_norm_convnet")
    layers = restore(out)
    for scope, layer in layers.items():
        assert type(layer) is keras.layers.GroupNormalization
        assert max_abs_error(layer(fields[scope]["inputs"]), fields[scope]["outputs"]) <= 1e-6
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["groups"]:
        layer = keras.layers.GroupNormalization(**entry["config"])
        layer.build(entry["build_input_shape"])
        tf.train.Checkpoint(layer=layer).read(str(out / entry["tf2_checkpoint"])).assert_consumed()
        scope = entry["scope"]
        assert max_abs_error(layer(fields[scope]["inputs"]), fields[scope]["outputs"]) <= 1e-6


def test_load_straight_from_the_tfa_checkpoint():
    fields = golden("tfa_norm_convnet")
    layer = keras.layers.GroupNormalization(groups=-1, center=False)
    layer.build((None, None, None, 6))
    load_tf1_weights(layer, CKPT, IN)
    assert max_abs_error(layer(fields[IN]["inputs"]), fields[IN]["outputs"]) <= 1e-6
    with_beta = keras.layers.GroupNormalization(groups=-1)
    with_beta.build((None, None, None, 6))
    with pytest.raises(CheckpointError, match="the layer has beta which TF1 group layer_with_weights-3 lacks"):
        load_tf1_weights(with_beta, CKPT, IN)


def test_keras3_loads_tfas_h5_weights_itself():
    """No conversion for .h5: Keras 3 reads the Keras 2 file into the migrated model, in layer order."""
    model = _migrated_convnet()
    model.load_weights(fixture("tfa_norm_convnet", "weights.h5"))
    assert max_abs_error(model(MODEL["in:inputs"]), MODEL["out:outputs"]) <= 1e-6



def test_restore_into_warns_about_a_layer_configured_differently(tmp_path):
    out = tmp_path / "out"
    assert cli("convert", CKPT, "--out", out, "--config", f"{GN}:groups=2").exit_code == 0
    model = _migrated_convnet()  # groups=4: the weights fit, the numbers would not be tfa's
    with pytest.warns(UserWarning, match=r"^group_normalization loaded from layer_with_weights-1 but configured "
                                         r"differently: groups=4 \(TF1 group: 2\)$"):
        restore_into(model, out, {GN: "group_normalization"})
