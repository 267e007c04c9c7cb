"""Run tf_upgrade_v2's per-file conversion over a tree, carrying on past files it cannot parse.

`tf_upgrade_v2 --intree` stops the whole run at the first file its parser (pasta) rejects,
which on today's Python code happens within seconds, so its own wall time says nothing about
its speed. This driver builds the same upgrader the CLI builds (default mode, import rename on)
and calls the same `process_file` the CLI's `process_tree` calls, file by file, in the same
os.walk order, recording failures instead of stopping. Prints one JSON line.

    python -m benchmarks._tf_upgrade_driver IN_TREE OUT_TREE
"""

from __future__ import annotations

import json
import os
import sys
import time


def main(in_tree: str, out_tree: str) -> None:
    start = time.perf_counter()
    from tensorflow.tools.compatibility import ast_edits, tf_upgrade_v2

    spec = tf_upgrade_v2.TFAPIChangeSpec(import_rename=False, upgrade_compat_v1_import=True)
    upgrader = ast_edits.ASTCodeUpgrader(spec)
    imported = time.perf_counter() - start
    files = failed = 0
    for root, _, names in os.walk(in_tree):
        for name in sorted(names):
            if not name.endswith(".py"):
                continue
            src = os.path.join(root, name)
            dst = os.path.join(out_tree, os.path.relpath(src, in_tree))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            files += 1
            try:
                upgrader.process_file(src, dst)
            except Exception:  # what --intree dies of; here it only counts
                failed += 1
    print(json.dumps(dict(files=files, failed=failed, seconds=time.perf_counter() - start, import_seconds=imported)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
