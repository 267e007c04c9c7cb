"""`tf2norm migrate`: LibCST rewriters, one module per legacy TF1 API; never imports TensorFlow.

A rewriter is a public module of this package, named by the id of its legacy API in tf2norm.apis
(also its id for `--only`/`--skip`; the manifest orders the rewriters), defining:

* `LEGACY`: the canonical qualified names it rewrites (`tensorflow.compat.v1.` spellings are
  folded onto `tensorflow.`),
* `RULES`: `{code: _findings.Rule}` for what it reports instead of converting,
* `plan(ctx)`: records edits and findings on a `_context.FileContext`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tf2norm import apis


def available() -> dict[str, ModuleType]:
    """Every rewriter, by id, in the order they run (tf2norm.apis.rewriter_order)."""
    return {name: importlib.import_module(f"{__name__}.{name}") for name in apis.rewriter_order()}
