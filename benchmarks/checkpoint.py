"""Item 4: peak memory of `tf2norm checkpoint convert` on a synthetic ~1 GB TF1 checkpoint.

The checkpoint (benchmarks/_make_checkpoint.py) is written by a separate process; the convert
command runs as its own process and its peak RSS is read from the kernel (`wait4`'s
ru_maxrss). The same command on the small committed fixture checkpoint gives the fixed cost
(interpreter, TensorFlow, h5py), shown beside it: what the conversion itself adds is the
difference, and a converter that streams tensor by tensor adds about one tensor.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._harness import format_table, log, verdict

REPO = Path(__file__).resolve().parent.parent
SMALL = REPO / "fixtures" / "checkpoints" / "ln_lstm" / "model.ckpt"
TARGET = 2.0  # peak RSS at most this many times the largest tensor


def _tf2norm() -> str | None:
    here = Path(sys.executable).parent / "tf2norm"
    return str(here) if here.exists() else None


def available() -> str | None:
    exe = _tf2norm()
    if exe is None:
        return "no tf2norm console script"
    proc = subprocess.run([exe, "checkpoint", "convert", "--help"], capture_output=True, text=True)
    if proc.returncode != 0:
        return "`tf2norm checkpoint convert --help` failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return None


# Runs the command as its child and reports the child's peak RSS. Linux's ru_maxrss of a process
# counts the memory of the process it was forked from (the high-water mark survives exec), so the
# command must be started by this small interpreter, not by the benchmark process itself, which
# holds TensorFlow and the LSTM suite's tensors.
_PROBE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read().decode(errors="replace")
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps(dict(rc=os.waitstatus_to_exitcode(status), seconds=time.perf_counter() - start,
                      rss=usage.ru_maxrss * 1024, stderr=err[-2000:])))
"""


def _peak_rss(cmd) -> tuple[int, float, int, str]:
    """(exit code, wall seconds, peak RSS bytes, stderr) of one command."""
    probe = subprocess.run([sys.executable, "-c", _PROBE, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    return result["rc"], result["seconds"], result["rss"], result["stderr"]


def run(quick: bool = False) -> tuple[str, list]:
    why = available()
    if why is not None:
        return f"4. checkpoint convert: not available ({why})", [("checkpoint convert peak RSS", None, "not available")]
    with tempfile.TemporaryDirectory(prefix="tf2norm-bench-ckpt-") as tmp:
        prefix = str(Path(tmp) / "big" / "model.ckpt")
        log("  checkpoint: writing the synthetic TF1 checkpoint")
        made = subprocess.run(
            [sys.executable, "-m", "benchmarks._make_checkpoint", prefix] + (["--scale", "4"] if quick else []),
            capture_output=True,
            text=True,
            cwd=str(REPO),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        if made.returncode != 0:
            return "4. checkpoint convert: could not write the synthetic checkpoint:\n" + made.stderr[-2000:], [
                ("checkpoint convert peak RSS", None, "failed")
            ]
        info = json.loads(made.stdout.strip().splitlines()[-1])
        exe = _tf2norm()
        log("  checkpoint: converting the small fixture (fixed cost)")
        base_rc, base_s, base_rss, base_err = _peak_rss(
            [exe, "checkpoint", "convert", str(SMALL), "--out", str(Path(tmp) / "small_out")])
        log("  checkpoint: converting the synthetic checkpoint")
        rc, seconds, rss, err = _peak_rss([exe, "checkpoint", "convert", prefix, "--out", str(Path(tmp) / "big_out")])
    largest = info["largest"]
    rows = [
        ["fixture ln_lstm (fixed cost)", "", "", f"{base_rss / 2**20:.0f}", f"{base_s:.1f}", f"exit {base_rc}"],
        [
            f"synthetic ({info['bytes'] / 2**30:.2f} GiB)",
            f"{largest / 2**20:.0f}",
            f"{rss / largest:.2f}x",
            f"{rss / 2**20:.0f}",
            f"{seconds:.1f}",
            f"exit {rc}" + ("" if rc == 0 else ": " + (err.strip().splitlines() or [""])[-1][:60]),
        ],
    ]
    added = (rss - base_rss) / largest
    text = (
        "4. tf2norm checkpoint convert, peak RSS of the process\n"
        + format_table(["checkpoint", "largest tensor MiB", "peak / largest", "peak RSS MiB", "wall s", "result"], rows)
        + f"\n   peak {rss / largest:.2f}x the largest tensor "
        + (verdict(rss / largest, TARGET, at_most=True) if rc == 0 else "FAILED")
        + f" (target <= {TARGET:g}x); above the fixed cost the conversion adds {added:.2f}x the largest tensor"
    )
    finding = (rss / largest) if rc == 0 else None
    return text, [("checkpoint convert peak RSS / largest tensor", finding, f"<= {TARGET:g}")]
