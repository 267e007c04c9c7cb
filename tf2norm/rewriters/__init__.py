"""`tf2norm migrate`: LibCST rewriters, one module per legacy TF1 API; never imports TensorFlow.

A rewriter is a public module of this package named by the id of its legacy API in tf2norm.apis
(also its id for `--only`/`--skip`; the manifest orders the rewriters). Its docstring opens with the
legacy symbol and its target (`--list-rewriters` prints that paragraph), and it defines `REWRITER`,
a `_rewriter.Rewriter`: the canonical legacy names it acts on (`legacy`), its findings (`rules`, each
a `_findings.Rule`) and `plan(ctx)`, which records edits and findings on a `_context.FileContext`.
"""

from __future__ import annotations

import importlib

from tf2norm import apis
from tf2norm.rewriters._rewriter import Rewriter


def available() -> dict[str, Rewriter]:
    """Every rewriter, by id, in the order they run (tf2norm.apis.rewriter_order)."""
    return {name: importlib.import_module(f"{__name__}.{name}").REWRITER for name in apis.rewriter_order()}


def summary(name: str) -> str:
    """The first paragraph of rewriter `name`'s module docstring, on one line."""
    doc = importlib.import_module(f"{__name__}.{name}").__doc__ or ""
    return " ".join(doc.split("\n\n")[0].split())
