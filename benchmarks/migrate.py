"""Item 3: `tf2norm migrate --check` over a large tree of real Python vs tf_upgrade_v2, and the
cold start of `tf2norm --help`.

The tree: the installed `keras` and `tensorflow` packages' .py files (a deterministic sample,
every k-th file in sorted order, unless `--full-tree`) with the legacy fixtures
(fixtures/legacy/*.py) mixed in, copied to a temporary directory. Both tools are timed as whole
processes (interpreter start and imports included, as a user runs them), one process each.

`tf_upgrade_v2 --intree` is run once as shipped and reported as is; it aborts at the first file
its parser (pasta) rejects, so its throughput comes from `benchmarks._tf_upgrade_driver`, which
calls the same per-file conversion over the same tree and carries on past such files.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks._harness import format_table, log, verdict

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = 10.0
TARGET_HELP_S = 0.5
SAMPLE_FILES = 400
# The as-shipped tf_upgrade_v2 run is informative only.
CLI_TIMEOUT_S = 60


def _bin(name: str) -> str | None:
    here = Path(sys.executable).parent / name
    return str(here) if here.exists() else shutil.which(name)


def available() -> str | None:
    """None if `tf2norm migrate` runs here, else why not."""
    exe = _bin("tf2norm")
    if exe is None:
        return "no tf2norm console script"
    proc = subprocess.run([exe, "migrate", "--help"], capture_output=True, text=True)
    if proc.returncode != 0:
        return "`tf2norm migrate --help` failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1]
    return None


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def build_tree(dest: Path, full: bool, sample: int = SAMPLE_FILES) -> dict:
    sources = [(name, _package_dir(name)) for name in ("keras", "tensorflow")]
    files = []
    for name, root in sources:
        if root is not None:
            files += [(name, root, p) for p in sorted(root.rglob("*.py"))]
    total = len(files)
    step = 1 if full else max(1, total // sample)
    chosen = files[::step]
    size = 0
    for name, root, path in chosen:
        target = dest / name / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        size += target.stat().st_size
    legacy = sorted((REPO / "fixtures" / "legacy").glob("*.py"))
    for path in legacy:
        target = dest / "legacy" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        size += target.stat().st_size
    return dict(files=len(chosen) + len(legacy), legacy=len(legacy), bytes=size, sampled_from=total, step=step)


def _exception_line(stderr: str) -> str:
    """The exception a traceback ended with, e.g. 'StopIteration' or 'SyntaxError: ...'."""
    for line in reversed(stderr.strip().splitlines()):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Iteration|Exit)\b", line):
            return line[:70]
    return "see its stderr"


def _timed(cmd, **kwargs):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - start, proc


def cold_start(runs: int = 5) -> list[float]:
    exe = _bin("tf2norm")
    times = []
    for _ in range(runs):
        seconds, proc = _timed([exe, "--help"])
        if proc.returncode != 0:
            raise RuntimeError("tf2norm --help failed: " + proc.stderr)
        times.append(seconds)
    return times


def run(quick: bool = False, full_tree: bool = False) -> tuple[str, list]:
    lines, findings = [], []
    help_times = cold_start(3 if quick else 7)
    help_median = statistics.median(help_times)
    why = available()
    if why is not None:
        text = (
            "3. tf2norm migrate --check vs tf_upgrade_v2: not available (" + why + ")\n"
            f"   cold start `tf2norm --help`: median {help_median:.3f} s over {len(help_times)} runs "
            f"(max {max(help_times):.3f}) {verdict(help_median, TARGET_HELP_S, at_most=True)} "
            f"(target < {TARGET_HELP_S} s)"
        )
        findings.append(("tf2norm --help cold start (s)", help_median, f"< {TARGET_HELP_S}"))
        findings.append(("migrate --check vs tf_upgrade_v2", None, "not available"))
        return text, findings
    with tempfile.TemporaryDirectory(prefix="tf2norm-bench-") as tmp:
        tree = Path(tmp) / "tree"
        info = build_tree(tree, full=full_tree and not quick, sample=100 if quick else SAMPLE_FILES)
        log(f"  migrate: tree of {info['files']} files ({info['bytes'] / 1e6:.1f} MB)")
        log("  migrate: tf2norm migrate --check")
        ours_s, ours = _timed([_bin("tf2norm"), "migrate", "--check", str(tree)])
        ours_ok = ours.returncode in (0, 1)  # 1: something would change (the legacy fixtures)
        summary = (ours.stderr.strip().splitlines() or [""])[-1]
        log("  migrate: tf_upgrade_v2 --intree (as shipped)")
        cli = _bin("tf_upgrade_v2")
        if cli:
            try:
                cli_s, cli_proc = _timed(
                    [cli, "--intree", str(tree), "--outtree", str(Path(tmp) / "out_cli"),
                     "--reportfile", str(Path(tmp) / "report.txt")],
                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                    timeout=CLI_TIMEOUT_S,
                )
                cli_note = f"exit {cli_proc.returncode} after {cli_s:.1f} s"
                if cli_proc.returncode != 0:
                    cli_note += f", aborted: {_exception_line(cli_proc.stderr)}"
            except subprocess.TimeoutExpired:
                cli_note = f"still running after {CLI_TIMEOUT_S} s, stopped"
        else:
            cli_note = "not installed"
        log("  migrate: tf_upgrade_v2 per-file driver")
        theirs_s, theirs = _timed(
            [sys.executable, "-m", "benchmarks._tf_upgrade_driver", str(tree), str(Path(tmp) / "out")],
            cwd=str(REPO),
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        driver = json.loads(theirs.stdout.strip().splitlines()[-1]) if theirs.returncode == 0 else None
    ours_fps = info["files"] / ours_s
    rows = [["tf2norm migrate --check", f"{ours_s:.1f}", f"{ours_fps:.1f}", f"exit {ours.returncode}: {summary[:70]}"]]
    if driver:
        theirs_fps = driver["files"] / theirs_s
        rows.append(
            [
                "tf_upgrade_v2 (per-file driver)",
                f"{theirs_s:.1f}",
                f"{theirs_fps:.1f}",
                f"{driver['failed']} of {driver['files']} files unparsable; TF import {driver['import_seconds']:.1f} s",
            ]
        )
    rows.append(["tf_upgrade_v2 --intree (as shipped)", "", "", cli_note])
    lines.append(
        f"3. migrate --check over {info['files']} files ({info['bytes'] / 1e6:.1f} MB): every {info['step']}th of "
        f"{info['sampled_from']} .py files of the installed keras + tensorflow, plus {info['legacy']} legacy fixtures"
    )
    lines.append(format_table(["tool", "wall s", "files/s", "note"], rows))
    if driver and ours_ok:
        speedup = ours_fps / theirs_fps
        lines.append(
            f"   speed-up {speedup:.2f}x {verdict(speedup, TARGET_SPEEDUP, at_most=False)} "
            f"(target >= {TARGET_SPEEDUP:g}x)"
        )
        findings.append(("migrate --check speed-up over tf_upgrade_v2", speedup, f">= {TARGET_SPEEDUP:g}"))
    else:
        lines.append(f"   speed-up: not measured (tf2norm exit {ours.returncode}, "
                     f"driver {'ok' if driver else 'failed'})")
        findings.append(("migrate --check speed-up over tf_upgrade_v2", None, "failed to run"))
    lines.append(
        f"   cold start `tf2norm --help`: median {help_median:.3f} s over {len(help_times)} runs "
        f"(max {max(help_times):.3f}) "
        f"{verdict(help_median, TARGET_HELP_S, at_most=True)} (target < {TARGET_HELP_S} s)"
    )
    findings.append(("tf2norm --help cold start (s)", help_median, f"< {TARGET_HELP_S}"))
    return "\n".join(lines), findings
