"""Shared by the checkpoint tests: the fixtures, the CLI runner, crafted checkpoints."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

from click.testing import CliRunner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "fixtures", "checkpoints")

#: The options each fixture's conversion needs: what TF1 was called with and a checkpoint cannot
#: record (see fixtures/tf1/make_checkpoints.py).
CONVERT_OPTIONS = {
    "ln_lstm": [],
    "ln_lstm_bidir": ["--config", "forget_bias=0.5"],
    "tf10_naming": [],
    "tf012_naming": [],
    "bn_convnet": ["--config", "momentum=0.9",
                   "--data-format", "block3/BatchNorm=NCHW", "--data-format", "block4/BatchNorm=NCHW",
                   "--config", "block3/BatchNorm:fused=false", "--config", "block4/BatchNorm:fused=false",
                   "--config", "block4/BatchNorm:epsilon=1e-4"],
    "bn_extras": ["--config", "momentum=0.9", "--config", "renorm/BatchNorm:renorm_momentum=0.9",
                  "--data-format", "features/BatchNorm=NC"],
}
NAMES = sorted(CONVERT_OPTIONS)

# How close converted or restored layers must come to what TF 1.15 (or tfa) computed with the same
# checkpoint group (fixtures/checkpoints/*/golden.npz and model.npz). Not derived per array as the
# golden tests' bounds are (tests/tolerance.py): these tests check conversion and restoring
# (variable names, layouts, transposes, what --config gives), where a mistake is off by 1e-2 or
# more, and most go through `tf2norm checkpoint verify --atol`, one tolerance for every group. The
# groups are the kinds the golden tests hold to their derived bounds, on inputs of the same size and
# spread; measured worst there (any oneDNN setting, AVX2 or SSE4.1 kernels): 1.5e-6 on 24-step
# recurrent sequences, 4.8e-7 on batch and layer norms, 1.6e-7 on group norms (4.8e-7 on an Intel
# Xeon: a few ulps off the AMD EPYC the goldens were made on, oneDNN on or off).
SEQUENCE_ATOL = 2e-6  # recurrent cells, batch norms, whole models
NORMALISATION_ATOL = 1e-6  # a layer or group norm alone (no matmul)


def fixture(name, *parts):
    return os.path.join(FIXTURES, name, *parts)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str


def cli(*args) -> Run:
    from tf2norm.cli import main

    result = CliRunner().invoke(main, ["checkpoint", *map(str, args)], catch_exceptions=False)
    return Run(result.exit_code, result.stdout, result.stderr)


def convert_fixture(name, out) -> str:
    run = cli("convert", fixture(name), "--out", out, *CONVERT_OPTIONS[name])
    assert run.exit_code == 0, run.stderr
    return str(out)


def read_all(prefix) -> dict:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return {n: reader.get_tensor(n) for n in reader.get_variable_to_shape_map()}


def write_checkpoint(prefix, tensors: dict) -> str:
    """A V2 bundle with exactly these names (as a TF1 Saver writes them), via the SaveV2 op."""
    import tensorflow as tf

    os.makedirs(os.path.dirname(str(prefix)), exist_ok=True)
    names = sorted(tensors)
    tf.raw_ops.SaveV2(prefix=str(prefix), tensor_names=names, shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(tensors[n]) for n in names])
    return str(prefix)


def copy_fixture(name, dest) -> str:
    shutil.copytree(fixture(name), dest)
    return str(dest)


def golden(name, which="golden.npz") -> dict:
    """{scope: {field: array}} of a fixture's golden file, read by verify's own reader."""
    from tf2norm.checkpoints import golden as golden_file

    return golden_file.load(fixture(name, which))


def listing(directory) -> list:
    return sorted(os.listdir(directory))
