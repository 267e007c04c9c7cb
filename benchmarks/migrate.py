"""Item 3: `tf2norm migrate --check` vs tf_upgrade_v2 over real TF1 trees, and the cold start of
`tf2norm --help`.

The trees (issue 15):

* sparse: real TF1 packages as published, magenta 1.3.1 + tensor2tensor 1.15.7 (their wheels'
  .py files; few of them need work). The wheels are fetched once with `pip download --no-deps`
  into a cache outside the checkout (`$TF2NORM_BENCH_CACHE`, default `~/.cache/tf2norm-bench`)
  and read from there afterwards; without them (no network, no cache) these rows say "not
  available".
* dense: tensor2tensor 1.15.7 with one legacy `tf.contrib.layers.batch_norm` call appended to
  every file (`LEGACY_TAIL`), so every file needs work.
* installed (only with `--trees ...,installed`): the installed `keras` and `tensorflow` packages'
  .py files (every k-th file in sorted order, unless `--full-tree`) with the legacy fixtures
  (fixtures/legacy/*.py) mixed in: modern code, not TF1.

On each tree three whole processes (interpreter start and imports included, as a user runs them)
are timed side by side in rounds, a new random order each round, the median kept: `tf2norm
migrate --check` at its default `--jobs` (the CPUs available), the same with `--jobs 1`, and
tf_upgrade_v2. `tf_upgrade_v2 --intree` is also run once as shipped and reported as is; it aborts
at the first file its parser (pasta) rejects, so its throughput comes from
`benchmarks._tf_upgrade_driver`, which calls the same per-file conversion over the same tree and
carries on past such files. The two tf2norm runs must print the same JSON report (findings,
changed files, failures, in order): a difference fails the run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

try:
    import resource
except ImportError:  # not on Windows: CPU seconds are then not printed
    resource = None  # type: ignore[assignment]

from benchmarks._harness import format_table, log, verdict

REPO = Path(__file__).resolve().parent.parent
TARGET_SPEEDUP = {"sparse": 10.0, "dense": 1.0, "installed": 10.0}
TARGET_HELP_S = 0.5
SAMPLE_FILES = 400
#: Rounds per tree unless `--rounds` says otherwise: one keeps `--only migrate` to a few minutes (see
#: benchmarks/README.md); the CPU seconds printed with it are steady from one run to the next.
DEFAULT_ROUNDS = 1
# The as-shipped tf_upgrade_v2 run is informative only.
CLI_TIMEOUT_S = 60
WHEELS = {
    "magenta": ("magenta==1.3.1", "magenta-1.3.1-py3-none-any.whl"),
    "tensor2tensor": ("tensor2tensor==1.15.7", "tensor2tensor-1.15.7-py2.py3-none-any.whl"),
}
# What the dense tree appends to every file: one call of a legacy API tf2norm rewrites, through an
# alias of its own so that it resolves whatever the file binds `tf` to (tensor2tensor imports
# `tensorflow.compat.v1 as tf`).
LEGACY_TAIL = '''

import tensorflow as tf1_bench  # appended by benchmarks/migrate.py: every file needs work


def legacy_batch_norm_bench(x, is_training):
  return tf1_bench.contrib.layers.batch_norm(x, decay=0.9, is_training=is_training)
'''
TREE_LABEL = {
    "sparse": "magenta 1.3.1 + tensor2tensor 1.15.7 as published",
    "dense": "tensor2tensor 1.15.7, a legacy batch_norm call appended to every file",
    "installed": "installed keras + tensorflow sample + legacy fixtures",
}


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


def cache_dir() -> Path:
    if os.environ.get("TF2NORM_BENCH_CACHE"):
        return Path(os.environ["TF2NORM_BENCH_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "tf2norm-bench"


def _wheels() -> dict[str, Path] | str:
    """The wheels of WHEELS, downloaded into the cache the first time; or why they are not there."""
    cache = cache_dir()
    missing = [spec for spec, filename in WHEELS.values() if not (cache / filename).exists()]
    if missing:
        log(f"  migrate: pip download --no-deps {' '.join(missing)} into {cache}")
        cache.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(cache),
                               *missing], capture_output=True, text=True)
        if proc.returncode != 0:
            return "pip download failed: " + (proc.stderr.strip().splitlines() or ["?"])[-1][:80]
    found = {name: cache / filename for name, (_, filename) in WHEELS.items()}
    absent = [str(p) for p in found.values() if not p.exists()]
    return f"not in the cache: {', '.join(absent)}" if absent else found


def _extract(wheel: Path, dest: Path, tail: str = "") -> tuple[int, int]:
    """The wheel's .py files under dest (with `tail` appended to each); (files, bytes)."""
    files = size = 0
    with zipfile.ZipFile(wheel) as archive:
        for name in sorted(archive.namelist()):
            if not name.endswith(".py") or ".dist-info/" in name:
                continue
            data = archive.read(name) + tail.encode()
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files, size = files + 1, size + len(data)
    return files, size


def build_real_tree(kind: str, dest: Path, wheels: dict[str, Path]) -> dict:
    if kind == "sparse":
        parts = [_extract(wheels[name], dest) for name in ("magenta", "tensor2tensor")]
    else:
        parts = [_extract(wheels["tensor2tensor"], dest, LEGACY_TAIL)]
    return dict(files=sum(p[0] for p in parts), bytes=sum(p[1] for p in parts))


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def build_tree(dest: Path, full: bool, sample: int = SAMPLE_FILES) -> dict:
    """The installed-packages tree."""
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


def _children_cpu() -> float | None:
    """User + system CPU seconds of this process's finished (waited-for) children and theirs."""
    if resource is None:
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd, **kwargs):
    """(wall seconds, CPU seconds, the finished process) of one command run to its end.

    The CPU seconds are user + system of the process and every process it waited for (`--jobs`
    workers included): steadier than wall time on a shared machine. Commands run one at a time, so
    the growth of this process's children's usage is that command's.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    wall = time.perf_counter() - start
    cpu_after = _children_cpu()
    cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
    return wall, cpu, proc


def cold_start(runs: int = 5) -> list[float]:
    exe = _bin("tf2norm")
    times = []
    for _ in range(runs):
        seconds, _, proc = _timed([exe, "--help"])
        if proc.returncode != 0:
            raise RuntimeError("tf2norm --help failed: " + proc.stderr)
        times.append(seconds)
    return times


def default_jobs() -> int:
    """What `tf2norm migrate` takes for --jobs when none is given (tf2norm.rewriters.command)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _as_shipped(tree: Path, tmp: Path) -> str:
    cli = _bin("tf_upgrade_v2")
    if not cli:
        return "not installed"
    try:
        seconds, _, proc = _timed(
            [cli, "--intree", str(tree), "--outtree", str(tmp / "out_cli"), "--reportfile", str(tmp / "report.txt")],
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            timeout=CLI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return f"still running after {CLI_TIMEOUT_S} s, stopped"
    finally:
        shutil.rmtree(tmp / "out_cli", ignore_errors=True)
    note = f"exit {proc.returncode} after {seconds:.1f} s"
    if proc.returncode != 0:
        note += f", aborted: {_exception_line(proc.stderr)}"
    return note


def time_tree(tree: Path, tmp: Path, rounds: int, seed: int, files: int) -> dict:
    """Each candidate's wall and CPU seconds per round on `tree`, side by side; the reports checked
    equal. Each measurement is printed (stderr) as it is taken."""
    ours = [_bin("tf2norm"), "migrate", "--check", "--format", "json", str(tree)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    candidates = {
        "jobs": ours,
        "jobs1": ours[:3] + ["--jobs", "1"] + ours[3:],
        "tf_upgrade_v2": [sys.executable, "-m", "benchmarks._tf_upgrade_driver", str(tree), str(tmp / "out")],
    }
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    cpu: dict[str, list[float]] = {name: [] for name in candidates}
    reports, driver = {}, None
    order = list(candidates)
    rng = random.Random(seed)
    for number in range(1, rounds + 1):
        rng.shuffle(order)
        for name in order:
            seconds, used, proc = _timed(candidates[name], cwd=str(REPO), env=env)
            samples[name].append(seconds)
            if used is not None:
                cpu[name].append(used)
            log(f"  migrate: {tree.name}, round {number}/{rounds}: {name}: {seconds:.1f} s wall, "
                f"{files / seconds:.1f} files/s; CPU (user+sys) "
                + ("n/a" if used is None else f"{used:.1f} s, {files / used:.1f} files per CPU second"))
            if name == "tf_upgrade_v2":
                shutil.rmtree(tmp / "out", ignore_errors=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"tf_upgrade_v2 driver failed: {_exception_line(proc.stderr)}")
                driver = json.loads(proc.stdout.strip().splitlines()[-1])
            else:
                if proc.returncode not in (0, 1):  # 1: something would change
                    raise RuntimeError(f"tf2norm migrate {name} exited {proc.returncode}: {proc.stderr[-300:]}")
                report = proc.stdout
                if reports.setdefault("report", report) != report:
                    raise RuntimeError(f"tf2norm migrate --check: {name} reported differently on {tree.name}")
                reports["exit"] = proc.returncode
    summary = json.loads(reports["report"])["summary"]
    return dict(samples=samples, cpu=cpu, driver=driver, summary=summary, exit=reports["exit"])


TREES = ("sparse", "dense", "installed")


def run(quick: bool = False, full_tree: bool = False, rounds: int | None = None,
        trees=("sparse", "dense")) -> tuple[str, list]:
    findings = []
    help_times = cold_start(3 if quick else 7)
    help_median = statistics.median(help_times)
    help_line = (f"   cold start `tf2norm --help`: median {help_median:.3f} s over {len(help_times)} runs "
                 f"(max {max(help_times):.3f}) {verdict(help_median, TARGET_HELP_S, at_most=True)} "
                 f"(target < {TARGET_HELP_S} s)")
    why = available()
    if why is not None:
        findings.append(("tf2norm --help cold start (s)", help_median, f"< {TARGET_HELP_S}"))
        findings.append(("migrate --check vs tf_upgrade_v2", None, "not available"))
        return "3. tf2norm migrate --check vs tf_upgrade_v2: not available (" + why + ")\n" + help_line, findings
    rounds = rounds or DEFAULT_ROUNDS
    jobs = default_jobs()
    wheels = _wheels()
    rows, readme, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="tf2norm-bench-") as tmp:
        for seed, kind in enumerate(TREES):
            if kind not in trees:
                continue
            tree = Path(tmp) / kind
            if kind == "installed":
                info = build_tree(tree, full=full_tree and not quick, sample=100 if quick else SAMPLE_FILES)
            elif isinstance(wheels, str):
                rows.append([kind, "", "", "", "", "", "", "", "not available: " + wheels])
                findings.append((f"migrate --check {kind} vs tf_upgrade_v2", None, "not available"))
                continue
            else:
                info = build_real_tree(kind, tree, wheels)
            log(f"  migrate: {kind} tree of {info['files']} files ({info['bytes'] / 1e6:.1f} MB)")
            measured = time_tree(tree, Path(tmp), rounds, seed, info["files"])
            shipped = _as_shipped(tree, Path(tmp))
            med = {name: statistics.median(s) for name, s in measured["samples"].items()}
            fps = {name: measured["driver"]["files"] / s for name, s in med.items()}
            ratio, ratio1 = fps["jobs"] / fps["tf_upgrade_v2"], fps["jobs1"] / fps["tf_upgrade_v2"]
            target = TARGET_SPEEDUP[kind]
            s = measured["summary"]
            rows.append([kind, str(info["files"]), f"{info['bytes'] / 1e6:.1f}", f"{fps['jobs']:.1f}",
                         f"{fps['jobs1']:.1f}", f"{fps['tf_upgrade_v2']:.1f}", f"{ratio:.2f}x", f"{ratio1:.2f}x",
                         f">= {target:g}x {verdict(ratio, target, at_most=False)}"])
            notes.append(f"   {kind}: tf2norm exit {measured['exit']}: {s['files']} files, "
                         f"{s['changed']} would change, {s['findings']} findings, {s['failed']} failed; "
                         f"tf_upgrade_v2 driver: "
                         f"{measured['driver']['failed']} files unparsable, TF import "
                         f"{measured['driver']['import_seconds']:.1f} s; as shipped (--intree): {shipped}")
            if all(measured["cpu"].values()):
                used = {name: statistics.median(c) for name, c in measured["cpu"].items()}
                notes.append(f"   {kind}: CPU seconds (user+sys, median): tf2norm -j{jobs} {used['jobs']:.1f}, "
                             f"-j1 {used['jobs1']:.1f}, tf_upgrade_v2 {used['tf_upgrade_v2']:.1f} "
                             f"(-j1 uses {used['jobs1'] / used['tf_upgrade_v2']:.2f}x tf_upgrade_v2's CPU)")
            met = "met" if ratio >= target else "missed"
            readme.append(f"| `tf2norm migrate --check`, {TREE_LABEL[kind]}, {info['files']} files | "
                          f"{fps['jobs']:.1f} files/s (`--jobs {jobs}`; `--jobs 1`: {fps['jobs1']:.1f}) | "
                          f"tf_upgrade_v2 {fps['tf_upgrade_v2']:.1f} files/s | {ratio:.2f}x its files/s "
                          f"(`--jobs 1`: {ratio1:.2f}x) | >= {target:g}x: {met} |")
            findings.append((f"migrate --check {kind} vs tf_upgrade_v2", ratio, f">= {target:g}"))
    lines = [f"3. migrate --check vs tf_upgrade_v2, whole processes, files/s (median of {rounds} round(s); "
             f"tf2norm's default --jobs is {jobs} here)"]
    lines.append(format_table(["tree", "files", "MB", f"tf2norm -j{jobs}", "tf2norm -j1", "tf_upgrade_v2",
                               f"ratio -j{jobs}", "ratio -j1", "target"], rows))
    lines += notes
    lines.append("   README rows:")
    lines += ["   " + row for row in readme]
    lines.append(help_line)
    findings.append(("tf2norm --help cold start (s)", help_median, f"< {TARGET_HELP_S}"))
    return "\n".join(lines), findings
