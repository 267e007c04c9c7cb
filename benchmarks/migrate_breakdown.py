"""Where `tf2norm migrate --check` spends its CPU on a real tree, in one process: the figures behind
README's paragraph on the sparse tree's 10x target.

    .venv/bin/python -m benchmarks.migrate_breakdown [sparse|dense|PATH]

For each file, the run's own steps (the project scan first, then `_driver.process_data` with the
CLI's options, garbage collected after each file as the CLI does), split by what the file needed:
LibCST (it names something a rewriter acts on) or only Python's own parser and the name filter.
Then the floor of any LibCST rewriter: LibCST's parse of the files that needed it, and Python's
parse of every file. The trees are the migrate benchmark's (downloaded once, see migrate.py).
"""

from __future__ import annotations

import ast
import gc
import sys
import tempfile
from collections import Counter
from pathlib import Path
from time import process_time as _cpu  # CPU seconds of this process


def breakdown(tree: Path) -> str:
    import libcst as cst

    from tf2norm import rewriters
    from tf2norm.rewriters import _driver, _files, _project, command

    files, _ = _files.discover([str(tree)], _files.Selection())
    start = _cpu()
    reexports = command._scan(files)
    scan = _cpu() - start
    options = _driver.Options(write=False, rewriters=tuple(rewriters.available()), reexports=reexports)
    name_filter = _driver._name_filter()
    sources = [(path, Path(path).read_bytes()) for path in files]
    count: Counter = Counter()
    seconds: Counter = Counter()
    needed = []
    gc.freeze()
    for path, data in sources:
        start = _cpu()
        gc.disable()
        try:  # the driver's own tests, repeated here only to label the file
            parsed = ast.parse(data)
        except (SyntaxError, ValueError, RecursionError):
            parsed = None  # the driver reports it (TF2N001)
        libcst = mentions = False
        if parsed is not None:
            reexported = bool(_project.Project(reexports, path).imported_by(parsed))
            mentions = bool(_driver._MAY_NEED_WORK.search(data.decode("utf-8", "replace"))
                            and _driver._mentions_legacy_names(parsed))
            libcst = (mentions or reexported) and (reexported or name_filter.needs_libcst(parsed))
        label_seconds = _cpu() - start
        result = _driver.process_data(data, path, options)
        gc.enable()
        gc.collect()
        kind = "LibCST" if libcst else ("names only" if mentions else "no legacy word")
        outcome = ("not processed" if result.failed else "changed" if result.changed
                   else "findings only" if result.findings else "unchanged")
        count[kind, outcome] += 1
        seconds[kind] += _cpu() - start - label_seconds
        if libcst:
            needed.append(data)
    gc.unfreeze()
    start = _cpu()
    for data in needed:
        cst.parse_module(data)
    libcst_parse = _cpu() - start
    start = _cpu()
    for _, data in sources:
        try:
            ast.parse(data)
        except (SyntaxError, ValueError, RecursionError):
            pass
    python_parse = _cpu() - start

    lines = [f"{tree}: {len(files)} files; project scan {scan:.2f} s CPU"]
    for kind in ("LibCST", "names only", "no legacy word"):
        n = sum(v for (k, _), v in count.items() if k == kind)
        if n:
            outcomes = ", ".join(f"{v} {o}" for (k, o), v in sorted(count.items()) if k == kind)
            lines.append(f"  {kind:15s} {n:4d} files ({outcomes}): {seconds[kind]:6.2f} s CPU, "
                         f"{1e3 * seconds[kind] / n:5.1f} ms each")
    lines.append(f"  total {sum(seconds.values()) + scan:.2f} s CPU")
    lines.append(f"  floor: LibCST's parse of the {len(needed)} LibCST files {libcst_parse:.2f} s, "
                 f"Python's parse of all {len(files)} files {python_parse:.2f} s")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from benchmarks import migrate

    which = argv[0] if argv else "sparse"
    if which not in ("sparse", "dense"):
        print(breakdown(Path(which)))
        return 0
    wheels = migrate._wheels()
    if isinstance(wheels, str):
        print(f"no {which} tree: {wheels}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="tf2norm-breakdown-") as tmp:
        migrate.build_real_tree(which, Path(tmp) / which, wheels)
        print(breakdown(Path(tmp) / which))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
