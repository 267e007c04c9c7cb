"""Measured: convert's peak memory stays under twice the largest tensor (it streams)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.checkpoints.checkpoint_helpers import write_checkpoint

MB = 1 << 20


@pytest.mark.slow
def test_convert_peak_rss_is_below_twice_the_largest_tensor(tmp_path):
    h = 512  # kernel [2h, 4h] float32 = 16 MiB; four of them = 64 MiB
    tensors = {}
    for k in range(4):
        scope = f"rnn/multi_rnn_cell/cell_{k}/layer_norm_basic_lstm_cell"
        tensors[f"{scope}/kernel"] = np.full((2 * h, 4 * h), k, np.float32)
        tensors[f"{scope}/bias"] = np.zeros(4 * h, np.float32)
    largest = max(t.nbytes for t in tensors.values())
    total = sum(t.nbytes for t in tensors.values())
    prefix = write_checkpoint(tmp_path / "ckpt" / "model.ckpt", tensors)
    del tensors
    # A fresh process, so the high-water mark belongs to the conversion alone.
    code = textwrap.dedent(f"""
        import os, resource
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
        import h5py, tensorflow
        from tf2norm.checkpoints.convert import convert
        from tf2norm.checkpoints.reader import Tf1Checkpoint
        Tf1Checkpoint({prefix!r}).inventory()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        convert({prefix!r}, {str(tmp_path / 'out')!r})
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024)
    """)
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    growth = int(run.stdout.split()[-1])
    assert growth < 2 * largest, (growth / MB, largest / MB, total / MB)
