"""Shared by the end-to-end tests: the fixtures of fixtures/e2e/, the commands, the comparisons."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
E2E = ROOT / "fixtures" / "e2e"
PROGRAMS = ("seq_tagger", "bn_convnet", "shared_towers")
CONTINUE_STEPS = 3  # fixtures/e2e/drive.py CONTINUE_STEPS

# These bounds are not derived from a float64 twin as the golden tests' are (tests/tolerance.py):
# the programs are whole TF1 training programs (convolutions, dense layers, softmax cross-entropy,
# SGD) and have none -- TF 1.15 has no float64 FusedBatchNorm kernel on the CPU, and a NumPy copy of
# each program and its gradients would be a second implementation of it. Every API inside them is
# held to its derived bound by the golden tests; here the bounds are relative to each array's
# largest magnitude (rounding follows the magnitude of the terms summed, not of one result: a
# moving mean near 0 is a difference of terms of the array's size), and sit well above what real
# TF 1.15 itself does on another machine: rerun on an AMD EPYC with AVX-512 (the goldens were made
# on one with AVX2) it differs from them by up to 9.5e-7 (seq_tagger's training logits, of
# magnitude 1.2), 1.8e-7 in eval outputs, 6e-8 in moving statistics, 1.2e-7 in variables.
EVAL_ATOL = 2e-6
# Continuation steps: forward, backward and SGD updates through matmuls whose rounding differs
# between machines; outputs of magnitude ~2 also get a relative term.
STEP_ATOL, STEP_RTOL = 2e-6, 1e-6
STAT_RTOL = 1e-6
VAR_ATOL = 1e-6


def checkpoint(name: str) -> str:
    return str(E2E / name / "ckpt" / "model.ckpt")


def golden(name: str) -> dict:
    with np.load(E2E / name / "golden.npz") as data:
        return {k: data[k] for k in data.files}


def fields(arrays: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)}


def tool(name: str) -> str:
    """A console script of this environment (tf2norm, tf_upgrade_v2), beside sys.executable."""
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed beside {sys.executable}")
    return found


@dataclass
class Run:
    args: list
    returncode: int
    stdout: str
    stderr: str

    def __str__(self):
        return (f"$ {' '.join(map(str, self.args))}\n(exit {self.returncode})\n"
                f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}")


def run(*args, cwd=None, timeout=300) -> Run:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_USE_LEGACY_KERAS", None)  # Keras 3, as a user of TF 2.21 gets it
    proc = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    return Run(list(args), proc.returncode, proc.stdout, proc.stderr)


def max_error(actual, expected) -> float:
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != TF1's {expected.shape}"
    return float(np.max(np.abs(actual - expected))) if actual.size else 0.0


def check_close(actual: dict, expected: dict, atol: float, rtol: float = 0.0, what: str = "") -> dict:
    """Every key of `expected` is in `actual` and within atol + rtol * max|expected| (the array's
    largest magnitude); returns the errors."""
    assert expected, f"nothing recorded to compare {what}"
    missing = sorted(set(expected) - set(actual))
    assert not missing, f"{what}: not computed: {missing}"
    errors, bad = {}, []
    for key, want in expected.items():
        got = np.asarray(actual[key], np.float64)
        want = np.asarray(want, np.float64)
        errors[key] = max_error(got, want)
        limit = atol + rtol * (float(np.max(np.abs(want))) if want.size else 0.0)
        if errors[key] > limit:
            bad.append(f"{key}: max |error| {errors[key]:.3g} > {limit:.3g}")
    assert not bad, f"{what} differ from TF 1.15: " + "; ".join(bad)
    return errors
