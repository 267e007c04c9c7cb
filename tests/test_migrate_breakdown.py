"""benchmarks.migrate_breakdown: the per-kind file counts behind README's sparse-tree paragraph."""

from __future__ import annotations

import re

from benchmarks.migrate_breakdown import breakdown


def test_each_file_is_counted_once_by_what_it_needed(tmp_path):
    (tmp_path / "legacy.py").write_text(
        "import tensorflow as tf\n\ny = tf.contrib.layers.batch_norm(tf.ones([2, 3]), is_training=True)\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    (tmp_path / "python2.py").write_text('print "old"\n')  # reported by the run, not a crash here
    text = breakdown(tmp_path)
    assert text.startswith(f"{tmp_path}: 3 files; project scan ")
    assert re.search(r"LibCST +1 files \(1 changed\)", text), text
    assert re.search(r"no legacy word +2 files \(1 not processed, 1 unchanged\)", text), text
    assert "LibCST's parse of the 1 LibCST files" in text and "Python's parse of all 3 files" in text
