"""`tf2norm checkpoint inspect|convert|verify` on the real TF 1.15 fixture checkpoints and bad input."""

from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import (
    CONVERT_OPTIONS,
    NAMES,
    SEQUENCE_ATOL,
    cli,
    convert_fixture,
    copy_fixture,
    fixture,
    listing,
    read_all,
    write_checkpoint,
)

LN = "layer_norm_basic_lstm_cell"
CELL0 = f"rnn/multi_rnn_cell/cell_0/{LN}"
CELL1 = f"rnn/multi_rnn_cell/cell_1/{LN}"

# fixture -> ({scope: (kind, config essentials)}, number of variables not recognised)
EXPECTED_GROUPS = {
    "ln_lstm": ({CELL0: ("lstm_cell", 8, 5, True), CELL1: ("lstm_cell", 6, 8, False)}, 35),
    "tf10_naming": ({CELL0: ("lstm_cell", 8, 5, True), CELL1: ("lstm_cell", 6, 8, False)}, 0),
    "tf012_naming": ({"RNN/MultiRNNCell/Cell0/LayerNormBasicLSTMCell": ("lstm_cell", 8, 5, True),
                      "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell": ("lstm_cell", 6, 8, False)}, 0),
    "ln_lstm_bidir": ({f"encoder/bidirectional_rnn/bw/{LN}": ("lstm_cell", 4, 5, True),
                       f"encoder/bidirectional_rnn/fw/{LN}": ("lstm_cell", 4, 5, True)}, 0),
    "bn_convnet": ({"block1/BatchNorm": ("batch_norm", 4, True, True),
                    "block2/BatchNorm": ("batch_norm", 4, True, False),
                    "block3/BatchNorm": ("batch_norm", 4, True, True),
                    "block4/BatchNorm": ("batch_norm", 4, False, False)}, 2),
    "bn_extras": ({"features/BatchNorm": ("batch_norm", 5, True, True),
                   "renorm/BatchNorm": ("batch_norm", 3, True, True)}, 1),
}


def essentials(g):
    c = g["config"]
    if g["kind"] == "lstm_cell":
        return (g["kind"], c["num_units"], g["input_depth"], c["layer_norm"])
    return (g["kind"], g["channels"], c["center"], c["scale"])


@pytest.mark.parametrize("name", NAMES)
def test_inspect_finds_every_group(name):
    run = cli("inspect", fixture(name), "--json")
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    groups, unrecognised = EXPECTED_GROUPS[name]
    assert {g["scope"]: essentials(g) for g in report["groups"]} == groups
    assert len(report["unrecognised"]) == unrecognised
    assert all(g["problems"] == [] and g["findings"] == [] for g in report["groups"])


def test_inspect_text_lists_groups_configs_and_the_rest():
    run = cli("inspect", fixture("ln_lstm"))
    assert run.exit_code == 0
    lines = run.stdout.splitlines()
    assert lines[0] == (f"checkpoint {fixture('ln_lstm', 'model.ckpt')}: 48 variables, "
                        "2 groups recognised")
    i = lines.index(f"  {CELL1}  [MultiRNNCell layer 1; TF 1.2-1.15]")
    assert lines[i + 1:i + 4] == [
        "    num_units=6 input_depth=8 layer_norm=False",
        f"    kernel  [14, 24]  float32  <- {CELL1}/kernel",
        f"    bias    [24]      float32  <- {CELL1}/bias",
    ]
    assert f"    state_beta       [8]       float32  <- {CELL0}/state/beta" in lines
    assert "LayerNormBasicLSTMCell groups (2):" in lines
    assert not any(line.startswith("batch_norm groups") for line in lines)  # kinds without groups
    assert "Not recognised (35; not converted):" in lines
    assert f"  {CELL0}/kernel/Adam  [13, 32] float32  (optimizer slot of {CELL0}/kernel)" in lines
    assert "  dense/kernel  [6, 2] float32" in lines


def test_inspect_batch_norm_extras():
    lines = cli("inspect", fixture("bn_extras")).stdout.splitlines()
    assert ("    channels=5 center=True scale=True zero_debias_moving_mean=True "
            "data_format=NHWC (assumed: not in the checkpoint)") in lines
    assert ("    moving_mean_local_step  []   float32  <- "
            "features/BatchNorm/features/BatchNorm/moving_mean/local_step") in lines
    assert "    channels=3 center=True scale=True renorm=True data_format=NHWC (assumed: not in " \
           "the checkpoint)" in lines
    lines = cli("inspect", fixture("bn_convnet")).stdout.splitlines()
    assert "    channels=4 center=False scale=False data_format=NHWC (assumed: not in the " \
           "checkpoint)" in lines


def test_checkpoint_paths_prefix_index_and_directory():
    outs = [cli("inspect", p, "--json") for p in (fixture("ln_lstm"), fixture("ln_lstm", "model.ckpt"),
                                                  fixture("ln_lstm", "model.ckpt.index"),
                                                  fixture("ln_lstm", "model.ckpt.data-00000-of-00001"))]
    assert [o.exit_code for o in outs] == [0] * 4
    assert len({o.stdout for o in outs}) == 1


def _rows(stdout):
    """verify's table as {group: (against, result)}."""
    lines = stdout.splitlines()
    rows = {}
    for line in lines[1:-1]:
        cols = line.split()
        rows[cols[0]] = (" ".join(cols[2:4]), cols[6])
    return rows


@pytest.mark.parametrize("name", NAMES)
def test_verify_against_reference_and_tf1_passes(name):
    groups = EXPECTED_GROUPS[name][0]
    run = cli("verify", fixture(name))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("NumPy reference", "pass") for s in groups}
    assert run.stdout.splitlines()[-1] == (f"{len(groups)} groups: {len(groups)} pass, 0 fail "
                                           "(atol 1e-05, rtol 0)")
    run = cli("verify", fixture(name), "--golden", fixture(name, "golden.npz"), "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert _rows(run.stdout) == {s: ("TF1 golden", "pass") for s in groups}


@pytest.mark.parametrize("name", NAMES)
def test_convert_then_verify_converted_against_tf1(name, tmp_path):
    out = convert_fixture(name, tmp_path / "conv")
    assert listing(out) == ["manifest.json", "tf2", "weights.h5"]
    assert listing(tmp_path) == ["conv"]  # no temp dir left beside it
    run = cli("verify", fixture(name), "--converted", out, "--golden", fixture(name, "golden.npz"),
              "--atol", str(SEQUENCE_ATOL))
    assert run.exit_code == 0, run.stdout + run.stderr
    assert set(_rows(run.stdout).values()) == {("TF1 golden", "pass")}
    run = cli("verify", fixture(name), "--converted", out)
    assert run.exit_code == 0, run.stdout + run.stderr


def test_convert_output_and_manifest(tmp_path):
    out = tmp_path / "conv"
    run = cli("convert", fixture("bn_convnet"), "--out", out, *CONVERT_OPTIONS["bn_convnet"])
    assert run.stdout.splitlines()[0] == (
        f"converted 4 groups (4 batch_norm) from "
        f"{fixture('bn_convnet', 'model.ckpt')} into {out}")
    assert run.stdout.splitlines()[3] == (
        "  block3/BatchNorm -> BatchNormalization(center=True, scale=True, axis=1, momentum=0.9, "
        "epsilon=0.001, fused=False, renorm_momentum=0.99, renorm=False, "
        "zero_debias_moving_mean=False) data_format=NCHW")
    assert run.stderr == ("note: data format NHWC assumed for 2 batch_norm groups; pass "
                          "--data-format SCOPE=NCHW for channels-first ones\n")
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["format"], manifest["version"], manifest["weights_file"]) == (
        "tf2norm-converted-checkpoint", 1, "weights.h5")
    assert manifest["not_converted"] == ["block1/conv/kernel", "block2/conv/kernel"]
    e = manifest["groups"][3]
    assert {k: e[k] for k in ("scope", "kind", "class", "build_input_shape", "data_format",
                              "data_format_given", "h5_group")} == {
        "scope": "block4/BatchNorm", "kind": "batch_norm",
        "class": "tf2norm.replacements.BatchNormalization", "build_input_shape": [None, 4, None, None],
        "data_format": "NCHW", "data_format_given": True, "h5_group": "group_3"}
    assert e["weights"] == {
        "moving_mean": {"tf1_name": "block4/BatchNorm/moving_mean", "shape": [4], "dtype": "float32"},
        "moving_variance": {"tf1_name": "block4/BatchNorm/moving_variance", "shape": [4],
                            "dtype": "float32"}}
    tf1 = read_all(fixture("bn_convnet", "model.ckpt"))
    with h5py.File(out / "weights.h5") as f:
        assert f["group_3"].attrs["tf1_scope"] == "block4/BatchNorm"
        assert sorted(f["group_0"]) == ["beta", "gamma", "moving_mean", "moving_variance"]
        for e in manifest["groups"]:
            for key, w in e["weights"].items():
                ds = f[e["h5_group"]][key]
                assert ds.attrs["tf1_name"] == w["tf1_name"]
                np.testing.assert_array_equal(ds[()], tf1[w["tf1_name"]])


def test_convert_lstm_manifest_entry(tmp_path):
    out = convert_fixture("tf012_naming", tmp_path / "conv")
    manifest = json.loads((tmp_path / "conv" / "manifest.json").read_text())
    e = manifest["groups"][1]
    assert {k: e[k] for k in ("scope", "kind", "class", "config", "build_input_shape", "naming",
                              "role")} == {
        "scope": "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell", "kind": "lstm_cell",
        "class": "tf2norm.replacements.LayerNormBasicLSTMCell",
        "config": {"num_units": 6, "layer_norm": False, "forget_bias": 1.0},
        "build_input_shape": [None, 8], "naming": "TF 0.12", "role": "MultiRNNCell layer 1"}
    assert {k: w["tf1_name"] for k, w in e["weights"].items()} == {
        "kernel": "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell/linear/weights",
        "bias": "RNN/MultiRNNCell/Cell1/LayerNormBasicLSTMCell/linear/b"}
    assert os.path.isdir(out)


def test_convert_refuses_to_overwrite_unless_forced(tmp_path):
    out = tmp_path / "conv"
    out.mkdir()
    (out / "keep").write_text("mine")
    run = cli("convert", fixture("ln_lstm"), "--out", out)
    assert (run.exit_code, run.stderr) == (
        2, f"tf2norm checkpoint convert: error: {out} already exists (use --force to replace it)\n")
    assert listing(out) == ["keep"]
    # --force replaces only a previous tf2norm output, never a directory of the user's
    forced = cli("convert", fixture("ln_lstm"), "--out", out, "--force")
    assert (forced.exit_code, forced.stderr) == (
        2, f"tf2norm checkpoint convert: error: {out} is not a tf2norm converted directory (no tf2norm "
           "manifest.json); --force replaces only those: remove it yourself or choose another --out\n")
    assert listing(out) == ["keep"]
    (out / "keep").unlink()
    out.rmdir()
    assert cli("convert", fixture("ln_lstm"), "--out", out).exit_code == 0
    (out / "weights.h5").write_bytes(b"stale")
    assert cli("convert", fixture("ln_lstm"), "--out", out, "--force").exit_code == 0
    assert listing(out) == ["manifest.json", "tf2", "weights.h5"]
    assert (out / "weights.h5").read_bytes() != b"stale"
    assert listing(tmp_path) == ["conv"]


# ----------------------------------------------------------------------------------------------
# verify must fail when the numbers differ
# ----------------------------------------------------------------------------------------------


def test_verify_fails_on_an_altered_checkpoint(tmp_path):
    tensors = read_all(fixture("ln_lstm", "model.ckpt"))
    tensors[f"{CELL0}/forget/gamma"] = tensors[f"{CELL0}/forget/gamma"] + np.float32(1e-3)
    altered = write_checkpoint(tmp_path / "altered" / "model.ckpt", tensors)
    run = cli("verify", altered, "--golden", fixture("ln_lstm", "golden.npz"))
    assert run.exit_code == 1, run.stdout
    rows = _rows(run.stdout)
    assert rows[CELL1] == ("TF1 golden", "pass")
    assert rows[CELL0] == ("TF1 golden", "FAIL")
    assert run.stdout.splitlines()[-1] == "2 groups: 1 pass, 1 fail (atol 1e-05, rtol 0)"
    # the same altered values still agree with the NumPy reference: the replacement is not at fault
    assert cli("verify", altered).exit_code == 0


def test_verify_fails_on_an_altered_conversion(tmp_path):
    out = convert_fixture("bn_convnet", tmp_path / "conv")
    with h5py.File(os.path.join(out, "weights.h5"), "r+") as f:
        f["group_2"]["moving_variance"][0] *= 1.01
    run = cli("verify", fixture("bn_convnet"), "--converted", out)
    assert run.exit_code == 1
    rows = _rows(run.stdout)
    assert rows["block3/BatchNorm"] == ("NumPy reference", "FAIL")
    assert [rows[f"block{k}/BatchNorm"][1] for k in (1, 2, 4)] == ["pass"] * 3


def test_verify_fails_when_the_conversion_missed_the_layout(tmp_path):
    # converting an NCHW group as NHWC normalises the wrong axis: TF1's outputs expose it
    out = tmp_path / "conv"
    assert cli("convert", fixture("bn_convnet"), "--out", out, "--config", "momentum=0.9").exit_code == 0
    run = cli("verify", fixture("bn_convnet"), "--converted", out, "--golden",
              fixture("bn_convnet", "golden.npz"))
    assert run.exit_code == 1
    rows = run.stdout.splitlines()
    assert rows[3] == ("block3/BatchNorm  batch_norm  TF1 golden  inf          inf          FAIL "
                       "(infer inputs [4, 4, 6, 6] have 6 channels on axis -1, the group 4: wrong "
                       "data format?)")
    assert _rows(run.stdout)["block1/BatchNorm"] == ("TF1 golden", "pass")


# ----------------------------------------------------------------------------------------------
# bad input: one line on stderr, exit 2, nothing written
# ----------------------------------------------------------------------------------------------


def _truncated(tmp_path):
    d = copy_fixture("ln_lstm", tmp_path / "ckpt")
    data = os.path.join(d, "model.ckpt.data-00000-of-00001")
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    return d


def _corrupt_index(tmp_path):
    d = copy_fixture("ln_lstm", tmp_path / "ckpt")
    index = os.path.join(d, "model.ckpt.index")
    raw = bytearray(open(index, "rb").read())
    raw[len(raw) // 2:len(raw) // 2 + 32] = b"\0" * 32
    open(index, "wb").write(bytes(raw))
    return d


def _flipped_data(tmp_path):
    d = copy_fixture("bn_convnet", tmp_path / "ckpt")
    data = os.path.join(d, "model.ckpt.data-00000-of-00001")
    raw = bytearray(open(data, "rb").read())
    raw[8] ^= 0xFF
    open(data, "wb").write(bytes(raw))
    return d


def _bad_shapes(tmp_path):
    tensors = read_all(fixture("ln_lstm", "model.ckpt"))
    tensors[f"{CELL0}/state/gamma"] = np.ones(9, np.float32)
    return write_checkpoint(tmp_path / "ckpt" / "model.ckpt", tensors)


def _float64(tmp_path):
    tensors = read_all(fixture("ln_lstm", "model.ckpt"))
    tensors[f"{CELL1}/kernel"] = tensors[f"{CELL1}/kernel"].astype(np.float64)
    return write_checkpoint(tmp_path / "ckpt" / "model.ckpt", tensors)


def _int32(tmp_path):
    tensors = read_all(fixture("bn_convnet", "model.ckpt"))
    tensors["block2/BatchNorm/moving_mean"] = np.arange(4, dtype=np.int32)
    return write_checkpoint(tmp_path / "ckpt" / "model.ckpt", tensors)


def _no_groups(tmp_path):
    return write_checkpoint(tmp_path / "ckpt" / "model.ckpt", {"dense/kernel": np.ones((2, 2), np.float32)})


BAD = {
    "missing": (lambda tmp: str(tmp / "nowhere" / "model.ckpt"),
                "no TF1 checkpoint at {tmp}/nowhere/model.ckpt (neither {tmp}/nowhere/model.ckpt.index "
                "nor a directory)"),
    "truncated": (_truncated, "cannot read {var} from checkpoint {tmp}/ckpt/model.ckpt: "
                              "Read less bytes than requested (truncated data file)"),
    # tf2norm reads the index before TensorFlow does (TensorFlow aborts on some damaged ones)
    "corrupt index": (_corrupt_index, "checkpoint index {tmp}/ckpt/model.ckpt.index is damaged: bad block entry"),
    "checksum": (_flipped_data, "cannot read {var} from checkpoint {tmp}/ckpt/model.ckpt: TensorBundle "
                                "at {tmp}/ckpt/model.ckpt shard 0"),
    "inconsistent shapes": (_bad_shapes, f"inconsistent LayerNormBasicLSTMCell group {CELL0}: "
                                         f"{CELL0}/state/gamma has shape [9], expected [8] for "
                                         "num_units=8"),
    "float64": (_float64, f"{CELL1}/kernel: unsupported dtype float64 (tf2norm converts float32 "
                          "checkpoints only)"),
    "int32": (_int32, "block2/BatchNorm/moving_mean: unsupported dtype int32 (tf2norm converts "
                      "float32 checkpoints only)"),
    "no groups": (_no_groups, "no group tf2norm converts was recognised in "
                              "{tmp}/ckpt/model.ckpt (1 variable)"),
}


@pytest.mark.parametrize("command", ["inspect", "convert", "verify"])
@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_one_line_exit_2_nothing_written(case, command, tmp_path):
    make, message = BAD[case]
    ckpt = make(tmp_path)
    before = listing(tmp_path)
    args = {"inspect": [], "convert": ["--out", tmp_path / "out"], "verify": []}[command]
    run = cli(command, ckpt, *args)
    if case == "no groups" and command == "inspect":
        assert run.exit_code == 0  # nothing to list is not an error for inspect
        return
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stderr.count("\n") == 1
    prefix = f"tf2norm checkpoint {command}: error: "
    assert run.stderr.startswith(prefix)
    text = message.format(tmp=tmp_path, var="VAR")
    head, _, tail = text.partition("VAR")
    got = run.stderr[len(prefix):]
    assert got.startswith(head), got
    assert tail.split(":")[0] in got
    assert listing(tmp_path) == before  # no --out, no temp dir


def test_convert_into_a_missing_parent(tmp_path):
    run = cli("convert", fixture("ln_lstm"), "--out", tmp_path / "a" / "b")
    assert run.exit_code == 2
    assert run.stderr == (f"tf2norm checkpoint convert: error: cannot write {tmp_path}/a/b: "
                          f"directory {tmp_path}/a does not exist\n")


@pytest.mark.parametrize("args, message", [
    (["--converted", "{tmp}/none"], "no converted checkpoint at {tmp}/none (not a directory)"),
    (["--golden", "{tmp}/none.npz"], "no golden file at {tmp}/none.npz"),
    (["--golden", "{fixtures}/bn_convnet/golden.npz"],
     "golden file {fixtures}/bn_convnet/golden.npz has values for block1/BatchNorm, which is not a "
     "group of {fixtures}/ln_lstm/model.ckpt"),
    (["--golden", "{fixtures}/ln_lstm/model.ckpt.index"],
     "cannot read golden file {fixtures}/ln_lstm/model.ckpt.index: not an .npz file"),
    (["--converted", "{fixtures}/ln_lstm"],
     "{fixtures}/ln_lstm is not a converted checkpoint (no manifest.json)"),
    (["--data-format", "NCHW", "--converted", "{tmp}"],
     "--data-format, --config and --source configure the groups of a TF1 checkpoint; a converted directory "
     "records its own configuration"),
])
def test_verify_bad_options(args, message, tmp_path):
    from tests.checkpoints.checkpoint_helpers import FIXTURES

    fill = dict(tmp=tmp_path, fixtures=FIXTURES)
    run = cli("verify", fixture("ln_lstm"), *[a.format(**fill) for a in args])
    assert (run.exit_code, run.stderr) == (2, f"tf2norm checkpoint verify: error: "
                                              f"{message.format(**fill)}\n")


def test_help_explains_data_format():
    run = cli("convert", "--help")
    assert run.exit_code == 0
    text = " ".join(run.stdout.split())
    assert "A TF1 checkpoint does not record it" in text and "defaults to NHWC" in text


def test_verify_with_a_partial_golden_file_uses_the_reference_for_the_rest(tmp_path):
    with np.load(fixture("ln_lstm", "golden.npz")) as data:
        kept = {k: data[k] for k in data.files if not k.startswith(CELL1)}
    np.savez(tmp_path / "partial.npz", **kept)
    run = cli("verify", fixture("ln_lstm"), "--golden", tmp_path / "partial.npz")
    assert run.exit_code == 0
    assert _rows(run.stdout) == {CELL0: ("TF1 golden", "pass"), CELL1: ("NumPy reference", "pass")}


def test_inspect_index_only_skips_reading_tensors(tmp_path):
    ckpt = _truncated(tmp_path)
    assert cli("inspect", ckpt, "--index-only").exit_code == 0
    assert cli("inspect", ckpt).exit_code == 2
