"""The contract every rewriter keeps: `tf2norm.rewriters.<api id>.REWRITER` is a `Rewriter`.

A rewriter plans the edits and findings of one file for one legacy API (tf2norm.apis) on a
`_context.FileContext`; the driver applies every rewriter's plan at once. Most rewriters are an
engine configured by a spec (`_layer_calls.LayerCallRewriter` for TF1 layer functions,
`_class_swap.ClassSwapRewriter` for classes replaced by tf2norm's); the others subclass `Rewriter`
or wrap a `plan` function with `PlanRewriter`. tests/rewriters/test_machinery.py loads every
rewriter against this contract.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

import libcst as cst

from tf2norm.rewriters._findings import Rule

if TYPE_CHECKING:
    from tf2norm.rewriters._context import FileContext


class Rewriter(abc.ABC):
    """Plans the migration of one legacy API in one file.

    `legacy`: the canonical qualified names it acts on (`tensorflow.compat.v1.` spellings folded onto
    `tensorflow.`); a name no rewriter resolves for sure is reported (TF2N012) for the rewriter that
    owns it. `rules`: the findings it may report, by code, in its own range of codes.
    """

    legacy: frozenset[str]
    rules: Mapping[str, Rule]

    @abc.abstractmethod
    def plan(self, ctx: FileContext) -> None:
        """Record edits (`ctx.edit`) and findings (`ctx.report`) for this file; change nothing."""

    def review(self, ctx: FileContext, migrated: cst.Module) -> None:
        """After every rewriter's edits are applied (`migrated` is the file's new tree, `ctx.module`
        itself when nothing changed): report, on the original tree, what the migrated file still holds.
        Only reports; most rewriters have nothing to review."""

    def references(self, ctx: FileContext) -> Iterator[tuple[cst.CSTNode, str]]:
        """(expression, canonical legacy name) for every use of `legacy` that no rewriter handled yet."""
        for node, name in list(ctx.names.references(self.legacy.__contains__)):
            if node not in ctx.handled:
                yield node, name


class PlanRewriter(Rewriter):
    """A rewriter written as a module-level `plan(ctx)` function."""

    def __init__(self, legacy: frozenset[str], rules: Mapping[str, Rule], plan: Callable[[FileContext], None]):
        self.legacy = legacy
        self.rules = rules
        self._plan = plan

    def plan(self, ctx: FileContext) -> None:
        self._plan(ctx)
