"""`tf2norm checkpoint` under hostile input (issue 14): one line and exit 2, nothing lost, nothing read
or written outside the given paths. Each test names the item of the issue it holds to."""

import json
import os
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import (
    cli,
    copy_fixture,
    fixture,
    read_all,
    write_checkpoint,
)
from tests.reliability import crafted
from tf2norm import exit_codes

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CELL = "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell"


def listing(path):
    return sorted(os.listdir(path))


def error(command, message):
    return f"tf2norm checkpoint {command}: error: {message}\n"


# -- 1. --out must not hold the checkpoint; --force replaces only tf2norm's own output ------------


@pytest.mark.parametrize("where", ["itself", "ancestor", "dot"])
def test_convert_refuses_an_out_that_holds_the_checkpoint(tmp_path, monkeypatch, where):
    ckpt = copy_fixture("ln_lstm", tmp_path / "models" / "ln")
    before = listing(ckpt)
    out = {"itself": ckpt, "ancestor": str(tmp_path / "models"), "dot": "."}[where]
    monkeypatch.chdir(ckpt if where == "dot" else tmp_path)
    run = cli("convert", ckpt, "--out", out, "--force")
    index = os.path.join(ckpt, "model.ckpt.data-00000-of-00001")
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "convert", f"--out {os.path.abspath(out)} holds the checkpoint being converted ({index}); choose a new "
                   "directory"))
    assert listing(ckpt) == before
    assert listing(tmp_path / "models") == ["ln"]


# -- 9. a crafted index must not abort the process ------------------------------------------------


CRAFTED = {
    "negative dimension": ([(b"w", crafted.entry([-1], size=4))], "variable 'w' has a negative dimension (-1)"),
    "overflowing shape": ([(b"w", crafted.entry([1 << 40, 1 << 40], size=4))],
                          "variable 'w' has a shape [1099511627776, 1099511627776] too large for any tensor"),
    "size": ([(b"w", crafted.entry([3], size=4))], "variable 'w' has shape [3] (12 bytes), the index says 4 bytes"),
    "shard": ([(b"w", crafted.entry([1], shard=7))], "variable 'w' is in shard 7, the index has 1"),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
@pytest.mark.parametrize("command", [["inspect", "--index-only"], ["inspect"], ["verify"], ["convert", "--out"]])
def test_a_crafted_index_is_one_line_and_exit_2(tmp_path, case, command):
    items, reason = CRAFTED[case]
    crafted.checkpoint(tmp_path / "model.ckpt", items)
    args = command + ([tmp_path / "out"] if command[-1] == "--out" else [])
    run = cli(args[0], tmp_path / "model.ckpt", *args[1:])
    assert (run.exit_code, run.stdout, run.stderr) == (exit_codes.BAD_INPUT, "", error(
        args[0], f"checkpoint index {tmp_path / 'model.ckpt.index'} is damaged: {reason}"))
    assert not os.path.exists(tmp_path / "out")


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_the_crafted_index_really_aborts_tensorflow_and_not_tf2norm(tmp_path):
    crafted.checkpoint(tmp_path / "model.ckpt", CRAFTED["negative dimension"][0])
    env = dict(os.environ, PYTHONPATH=ROOT)
    aborted = subprocess.run([sys.executable, "-c", "import tensorflow as tf, sys; "
                              "tf.train.load_checkpoint(sys.argv[1])", str(tmp_path / "model.ckpt")],
                             capture_output=True, env=env, timeout=120)
    assert aborted.returncode < 0  # SIGABRT: why tf2norm reads the index first
    ours = subprocess.run([sys.executable, "-m", "tf2norm", "checkpoint", "inspect", "--index-only",
                           str(tmp_path / "model.ckpt")], capture_output=True, text=True, env=env, timeout=120)
    # 17: one line, no TensorFlow start-up lines
    assert (ours.returncode, ours.stderr) == (exit_codes.BAD_INPUT, error(
        "inspect", f"checkpoint index {tmp_path / 'model.ckpt.index'} is damaged: "
                   "variable 'w' has a negative dimension (-1)"))


def test_every_fixture_index_passes_the_check():
    import glob

    from tf2norm.checkpoints import index

    paths = sorted(glob.glob(os.path.join(ROOT, "fixtures", "**", "*.index"), recursive=True))
    assert len(paths) >= 16
    for path in paths:
        index.check(path)


# -- 11. a golden zip bomb ------------------------------------------------------------------------


def test_a_golden_zip_bomb_is_refused_before_decompressing(tmp_path, monkeypatch):
    from tf2norm.checkpoints import golden

    bomb = tmp_path / "bomb.npz"
    np.savez_compressed(bomb, **{"__format__": np.array(golden.FORMAT), "x:inputs": np.zeros(1 << 21, np.float32)})
    assert os.path.getsize(bomb) < 20_000
    monkeypatch.setattr(golden, "MAX_BYTES", 1 << 20)
    run = cli("verify", fixture("ln_lstm"), "--golden", bomb)
    declared = sum(m.file_size for m in zipfile.ZipFile(bomb).infolist())
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "verify", f"golden file {bomb} would decompress to {declared} bytes, more than the 1048576-byte limit"))


def test_an_array_header_that_claims_more_than_its_member_holds_is_refused(tmp_path):
    from numpy.lib import format as npy

    liar = tmp_path / "liar.npz"
    with zipfile.ZipFile(liar, "w") as archive:
        with archive.open("x:inputs.npy", "w") as f:
            npy.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
            f.write(b"\0" * 16)
    run = cli("verify", fixture("ln_lstm"), "--golden", liar)
    member = zipfile.ZipFile(liar).getinfo("x:inputs.npy").file_size
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "verify", f"golden file {liar}: x:inputs.npy declares [1099511627776] float32, more than the {member} "
                  "bytes it holds"))


# -- 12. damaged converted directories, state files, a full disk -----------------------------------


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("converted") / "ln_lstm"
    assert cli("convert", fixture("ln_lstm"), "--out", out).exit_code == 0
    return out


def damaged_copy(converted, tmp_path, edit):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(converted, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest, copy)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


MANIFESTS = {
    "groups not a list": (lambda m, d: m.update(groups={"a": 1}), "groups should be a list"),
    "group not an object": (lambda m, d: m["groups"].__setitem__(0, "x"), "groups[0] should be an object"),
    "unknown kind": (lambda m, d: m["groups"][0].update(kind="dense"),
                     "groups[0].kind should be one of batch_norm, bn_lstm_cell, group_norm, layer_norm, "
                     "layer_norm_gru_cell, lstm_cell, tfa_lstm_cell, tfa_simple_rnn_cell"),
    "weights": (lambda m, d: m["groups"][0]["weights"].update(kernel=[13, 32]),
                'groups[0].weights.kernel should be {"tf1_name": str, "shape": [int], "dtype": str}'),
    "negative shape": (lambda m, d: m["groups"][0].update(build_input_shape=[None, -5]),
                       "groups[0].build_input_shape should be a list of sizes or nulls"),
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
def test_a_manifest_with_a_wrong_structure_is_exit_2(converted, tmp_path, case):
    edit, reason = MANIFESTS[case]
    copy = damaged_copy(converted, tmp_path, edit)
    run = cli("verify", fixture("ln_lstm"), "--converted", copy)
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "verify", f"{copy / 'manifest.json'} is damaged: {reason}"))


def test_an_hdf5_soft_link_loop_is_exit_2(converted, tmp_path):
    import h5py

    copy = damaged_copy(converted, tmp_path, lambda m, d: None)
    with h5py.File(copy / "weights.h5", "a") as f:
        del f["group_0/kernel"]
        f["group_0/kernel"] = h5py.SoftLink("/group_0/loop")
        f["group_0/loop"] = h5py.SoftLink("/group_0/kernel")
    run = cli("verify", fixture("ln_lstm"), "--converted", copy)
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "verify", "weights file: kernel is a SoftLink; tf2norm reads only objects stored in the file itself"))


def test_a_binary_checkpoint_state_file_does_not_stop_inspect(tmp_path):
    ckpt = copy_fixture("ln_lstm", tmp_path / "ckpt")
    with open(os.path.join(ckpt, "checkpoint"), "wb") as f:
        f.write(bytes(range(256)))
    run = cli("inspect", "--index-only", ckpt)
    assert run.exit_code == exit_codes.OK and run.stderr == ""
    assert run.stdout.startswith(f"checkpoint {ckpt}/model.ckpt")
    copy_fixture("ln_lstm", tmp_path / "ckpt" / "other")
    os.rename(tmp_path / "ckpt" / "other" / "model.ckpt.index", tmp_path / "ckpt" / "second.index")
    two = cli("inspect", "--index-only", ckpt)
    assert two.exit_code == exit_codes.BAD_INPUT
    assert two.stderr.startswith(error("inspect", f"cannot read the checkpoint state file {ckpt}/checkpoint: ")[:-1])
    assert two.stderr.endswith("; name the checkpoint prefix instead\n") and two.stderr.count("\n") == 1


def test_a_full_disk_during_convert_is_exit_2_and_leaves_nothing(tmp_path, monkeypatch):
    import tensorflow as tf

    from tf2norm.checkpoints import tf2_export

    def full(self, key, tensor):
        raise tf.errors.ResourceExhaustedError(None, None, "{{function_node __wrapped__SaveV2}} "
                                               f"{self._scratch}/part_0.data; No space left on device [Op:SaveV2]")

    monkeypatch.setattr(tf2_export.Tf2LayerCheckpointWriter, "_save", full)
    run = cli("convert", fixture("ln_lstm"), "--out", tmp_path / "out")
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "convert", f"cannot write {tmp_path / 'out'}: No space left on device"))
    assert listing(tmp_path) == []


# -- 13. non-finite weights; a comparison of nothing -----------------------------------------------


def test_nan_weights_are_warned_about(tmp_path):
    tensors = read_all(fixture("ln_lstm", "model.ckpt"))
    tensors[f"{CELL}/kernel"][0, :3] = [np.nan, np.inf, -np.inf]
    ckpt = write_checkpoint(tmp_path / "ckpt" / "model.ckpt", tensors)
    warning = (f"warning: {CELL}/kernel holds 3 NaN or infinite values of {tensors[f'{CELL}/kernel'].size}; "
               "the layer will compute NaN\n")
    run = cli("convert", ckpt, "--out", tmp_path / "out")
    assert run.exit_code == exit_codes.OK
    assert run.stderr.endswith(warning)
    checked = cli("verify", ckpt)
    assert checked.stderr == warning


def test_a_group_with_nothing_to_compare_fails(tmp_path):
    empty = np.zeros(0, np.float32)
    ckpt = write_checkpoint(tmp_path / "ckpt" / "model.ckpt", {
        "bn/BatchNorm/beta": empty, "bn/BatchNorm/moving_mean": empty, "bn/BatchNorm/moving_variance": empty})
    run = cli("verify", ckpt)
    assert run.exit_code == exit_codes.CHANGED
    assert run.stdout.splitlines()[1].endswith("FAIL (nothing to compare: the group has no values)")
    assert run.stdout.splitlines()[-1] == "1 group: 0 pass, 1 fail (atol 1e-05, rtol 0)"


# -- 14. a converted directory must not make tf2norm read other files ------------------------------


def test_a_weights_file_outside_the_directory_is_refused(converted, tmp_path):
    for weights_file, reason in (("/etc/passwd", "must be a relative path inside the directory, not '/etc/passwd'"),
                                 ("../ln_lstm/weights.h5", "'../ln_lstm/weights.h5' leads outside")):
        copy = damaged_copy(converted, tmp_path / weights_file.replace("/", "_"),
                            lambda m, d: m.update(weights_file=weights_file))
        run = cli("verify", fixture("ln_lstm"), "--converted", copy)
        expected = (f"{copy / 'manifest.json'}: weights_file {reason}" if reason.startswith("must")
                    else f"{copy / 'manifest.json'}: weights_file {reason} {copy}")
        assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error("verify", expected))


def test_a_weights_file_symlinked_outside_is_refused(converted, tmp_path):
    copy = damaged_copy(converted, tmp_path, lambda m, d: None)
    os.rename(copy / "weights.h5", tmp_path / "elsewhere.h5")
    os.symlink(tmp_path / "elsewhere.h5", copy / "weights.h5")
    run = cli("verify", fixture("ln_lstm"), "--converted", copy)
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error(
        "verify", f"{copy / 'manifest.json'}: weights_file 'weights.h5' leads outside {copy}"))


@pytest.mark.parametrize("how", ["external link", "external storage", "virtual dataset"])
def test_hdf5_objects_stored_elsewhere_are_refused(converted, tmp_path, how):
    import h5py

    from tf2norm.checkpoints import restore
    from tf2norm.checkpoints.errors import CheckpointError

    copy = damaged_copy(converted, tmp_path, lambda m, d: None)
    secret = tmp_path / "secret.bin"
    with h5py.File(copy / "weights.h5", "a") as f:
        kernel = f["group_0/kernel"][()]
        del f["group_0/kernel"]
        if how == "external link":
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["kernel"] = kernel
            f["group_0/kernel"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/kernel")
        elif how == "external storage":
            kernel.tofile(secret)
            f["group_0"].create_dataset("kernel", shape=kernel.shape, dtype=kernel.dtype,
                                        external=[(str(secret), 0, kernel.nbytes)])
        else:
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["kernel"] = kernel
            layout = h5py.VirtualLayout(shape=kernel.shape, dtype=kernel.dtype)
            layout[...] = h5py.VirtualSource(str(tmp_path / "other.h5"), "kernel", shape=kernel.shape)
            f["group_0"].create_virtual_dataset("kernel", layout)
    reason = {"external link": "kernel is a ExternalLink; tf2norm reads only objects stored in the file itself",
              "external storage": "kernel keeps its data outside the file (external storage); refused",
              "virtual dataset": "kernel keeps its data outside the file (virtual dataset); refused"}[how]
    run = cli("verify", fixture("ln_lstm"), "--converted", copy)
    assert (run.exit_code, run.stderr) == (exit_codes.BAD_INPUT, error("verify", f"weights file: {reason}"))
    with pytest.raises(CheckpointError, match="weights file: kernel"):
        restore(copy)


# -- 15. what a killed convert leaves behind --------------------------------------------------------


def test_stale_convert_directories_are_removed_and_live_ones_kept(tmp_path):
    import fcntl

    stale, live = tmp_path / ".out.tmp-stale", tmp_path / ".out.tmp-live"
    for d in (stale, live):
        d.mkdir()
        (d / "weights.h5").write_bytes(b"\0" * 1000)
        (d / ".tf2norm.lock").write_bytes(b"")
    old = tmp_path / ".out.old-killed"
    old.mkdir()
    (old / "x").mkdir()
    (old / "x" / "manifest.json").write_text("{}")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    with open(live / ".tf2norm.lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a convert still running
        assert cli("convert", fixture("ln_lstm"), "--out", tmp_path / "out").exit_code == exit_codes.OK
    assert listing(tmp_path) == [".out.tmp-live", "out"]
    assert listing(tmp_path / "out") == ["manifest.json", "tf2", "weights.h5"]


def test_a_convert_killed_between_its_renames_gets_its_previous_output_back(tmp_path):
    from tf2norm.checkpoints.convert import remove_stale

    old = tmp_path / ".out.old-killed"
    (old / "x").mkdir(parents=True)
    (old / "x" / "manifest.json").write_text("previous")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    remove_stale(str(tmp_path), "out", str(tmp_path / "out"))
    assert listing(tmp_path) == ["out"]
    assert (tmp_path / "out" / "manifest.json").read_text() == "previous"


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_sigterm_during_convert_leaves_nothing(tmp_path):
    script = ("import os, signal, sys\n"
              "import importlib\n"
              "convert = importlib.import_module('tf2norm.checkpoints.convert')\n"
              "real = convert.write_weights\n"
              "def killed(*args, **kwargs):\n"
              "    real(*args, **kwargs)\n"
              "    os.kill(os.getpid(), signal.SIGTERM)\n"
              "convert.write_weights = killed\n"
              "from tf2norm.cli import main\n"
              "main(['checkpoint', 'convert', sys.argv[1], '--out', sys.argv[2]])\n")
    done = subprocess.run([sys.executable, "-c", script, fixture("ln_lstm"), str(tmp_path / "out")],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT), timeout=120)
    assert done.returncode == 143, done.stderr
    assert listing(tmp_path) == []


# -- 17 (and issue 16, item 5): no TensorFlow log lines -----------------------------------------------


@pytest.mark.slow  # several seconds: whole processes, XLA or a distribution strategy; CI runs it
def test_checkpoint_commands_print_no_tensorflow_log_lines(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run([sys.executable, "-m", "tf2norm", "checkpoint", "verify", fixture("ln_lstm")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert (done.returncode, done.stderr) == (exit_codes.OK, "")
    assert done.stdout.splitlines()[-1] == "2 groups: 2 pass, 0 fail (atol 1e-05, rtol 0)"
