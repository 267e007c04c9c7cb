"""Shared machinery: the machine note, interleaved timing, and the result table.

Timings are taken side by side: every round times each candidate once, in a fresh random order,
so a load change on a shared machine hits all of them alike; a candidate's figure is the median
over rounds. Ratios are computed from those medians within one run, never across runs.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import sys
import time
from dataclasses import dataclass, field


def load_average() -> str:
    try:
        return "%.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "n/a"


@dataclass
class CpuSnapshot:
    """CPU seconds the whole machine and this process (with its finished children) have used."""

    wall: float
    machine_busy: float | None  # from /proc/stat; None where it cannot be read
    own: float


def cpu_snapshot() -> CpuSnapshot:
    busy = None
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        # user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return CpuSnapshot(time.perf_counter(), busy, t.user + t.system + t.children_user + t.children_system)


def others_cpu_use(start: CpuSnapshot, end: CpuSnapshot) -> str:
    """How many CPUs other processes kept busy between two snapshots, on average.

    A direct measure of how shared the machine was while the figures were taken (the load
    average also counts this process and lags by minutes).
    """
    wall = end.wall - start.wall
    if start.machine_busy is None or end.machine_busy is None or wall <= 0:
        return "other processes' CPU use: n/a"
    others = max(0.0, (end.machine_busy - start.machine_busy) - (end.own - start.own)) / wall
    return f"other processes kept {others:.2f} of {os.cpu_count()} CPUs busy"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_flags() -> set:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def machine_note() -> list[str]:
    flags = cpu_flags()
    simd = ",".join(f for f in ("avx", "avx2", "fma", "avx512f") if f in flags) or "?"
    lines = [
        f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs ({simd}), "
        f"{platform.system()} {platform.release()}",
        f"load average at start (1/5/15 min): {load_average()}",
    ]
    return lines


def versions(with_tensorflow: bool) -> str:
    parts = [f"Python {platform.python_version()}"]
    if with_tensorflow:
        import keras
        import numpy
        import tensorflow as tf

        threads = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        parts += [f"TensorFlow {tf.__version__}", f"Keras {keras.__version__}", f"NumPy {numpy.__version__}"]
        parts.append("TF threads intra/inter %s/%s (0 = all cores)" % threads)
    return "software: " + ", ".join(parts)


@dataclass
class Timing:
    """Seconds per call of one candidate, one entry per round."""

    name: str
    samples: list = field(default_factory=list)
    cpu_samples: list = field(default_factory=list)  # process CPU seconds per call, all threads

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu_samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """Relative half-range of the middle samples: a rough noise figure."""
        s = sorted(self.samples)
        if len(s) < 3:
            return 0.0
        lo, hi = s[len(s) // 4], s[(3 * len(s)) // 4]
        return (hi - lo) / (2 * self.median) if self.median else 0.0


def time_side_by_side(candidates: dict, rounds: int, min_round_s: float = 0.05, seed: int = 0) -> dict:
    """Time zero-argument callables (already warmed up) in interleaved rounds.

    Each round calls every candidate `n` times (n fixed per candidate so that one round lasts about
    `min_round_s`) and records the mean seconds per call.
    """
    calls = {}
    for name, fn in candidates.items():
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        calls[name] = max(1, int(min_round_s / max(once, 1e-9)))
    results = {name: Timing(name) for name in candidates}
    order = list(candidates)
    rng = random.Random(seed)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            fn, n = candidates[name], calls[name]
            cpu = time.process_time()
            start = time.perf_counter()
            for _ in range(n):
                fn()
            results[name].samples.append((time.perf_counter() - start) / n)
            results[name].cpu_samples.append((time.process_time() - cpu) / n)
    return results


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    def line(cells):
        return "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


def verdict(value: float, target: float, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return "met" if ok else "MISSED"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
