"""`tf2norm migrate`: LibCST rewriters, one module per legacy TF1 API; never imports TensorFlow.

A rewriter is a public module of this package (the module name is its id for `--only`/`--skip`)
defining:

* `LEGACY`: the canonical qualified names it rewrites (`tensorflow.compat.v1.` spellings are
  folded onto `tensorflow.`),
* `FINDINGS`: `{code: (message, hint)}` for what it reports instead of converting,
* `AFTER`: ids of rewriters whose plans it reads (run first),
* `plan(ctx)`: records edits and findings on a `_context.FileContext`.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

_NOT_REWRITERS = {"command"}


def available() -> dict[str, ModuleType]:
    """Every rewriter, by id, in the order they run (each after the ids in its `AFTER`)."""
    modules = {
        info.name: importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_") and info.name not in _NOT_REWRITERS
    }
    ordered: dict[str, ModuleType] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise RuntimeError(f"rewriters depend on each other in a cycle: {' -> '.join(path + (name,))}")
        for before in getattr(modules[name], "AFTER", ()):
            visit(before, path + (name,))
        ordered[name] = modules[name]

    for name in sorted(modules):
        visit(name, ())
    return ordered
