"""`python -m benchmarks [--only lstm,batch_norm,migrate,checkpoint] [--quick] [--full-tree] [--rounds N]
[--trees sparse,dense,installed]`

Runs the suites in one process (items 3 and 4 time their own child processes), prints the
machine note and each suite's table to stdout (progress goes to stderr), then a summary of every
target. Timings taken on a machine shared with other work are noisy: the load average before and
after is printed with the figures, and every ratio is measured side by side within this run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

SUITES = ("lstm", "batch_norm", "migrate", "checkpoint")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated subset of {','.join(SUITES)}")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds, the small LSTM shape only, smaller trees and checkpoint")
    parser.add_argument("--full-tree", action="store_true",
                        help="migrate: every .py file of keras + tensorflow, not a sample")
    parser.add_argument("--rounds", type=int, default=None,
                        help="migrate: rounds per tree (default 1); the median is kept")
    parser.add_argument("--trees", default="sparse,dense",
                        help="migrate: comma-separated subset of sparse,dense,installed (default: the README's rows)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(only) - set(SUITES))
    if unknown:
        parser.error(f"unknown suite(s) {unknown}; choose from {', '.join(SUITES)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from benchmarks import _harness

    started = time.perf_counter()
    run_cpu = _harness.cpu_snapshot()
    print("tf2norm benchmarks" + (" (quick)" if args.quick else ""))
    for line in _harness.machine_note():
        print(line)
    versions = _harness.versions(with_tensorflow=any(s in only for s in ("lstm", "batch_norm")))
    print(versions)
    print()
    findings = []
    for name in SUITES:
        if name not in only:
            continue
        _harness.log(f"{name} ...")
        suite_start = time.perf_counter()
        suite_cpu = _harness.cpu_snapshot()
        if name == "lstm":
            from benchmarks import lstm as suite

            text, found = suite.run(quick=args.quick)
        elif name == "batch_norm":
            from benchmarks import batch_norm as suite

            text, found = suite.run(quick=args.quick)
        elif name == "migrate":
            from benchmarks import migrate as suite

            text, found = suite.run(quick=args.quick, full_tree=args.full_tree, rounds=args.rounds,
                                      trees=[t.strip() for t in args.trees.split(",") if t.strip()])
        else:
            from benchmarks import checkpoint as suite

            text, found = suite.run(quick=args.quick)
        print(text)
        print(f"   ({time.perf_counter() - suite_start:.0f} s; "
              f"{_harness.others_cpu_use(suite_cpu, _harness.cpu_snapshot())} meanwhile)")
        print(flush=True)
        findings += found
    print("summary (value, target):")
    rows = []
    for label, value, target in findings:
        if value is None:
            rows.append([label, "-", target, "n/a"])
            continue
        at_most = target.startswith("<")
        bound = float(target.lstrip("<>= "))
        ok = value <= bound if at_most else value >= bound
        rows.append([label, f"{value:.3g}", target, "met" if ok else "MISSED"])
    print(_harness.format_table(["measure", "value", "target", ""], rows))
    print(f"load average at end (1/5/15 min): {_harness.load_average()}; total {time.perf_counter() - started:.0f} s; "
          f"{_harness.others_cpu_use(run_cpu, _harness.cpu_snapshot())} during the run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
