"""Every checkpoint kind keeps the CheckpointKind contract (tf2norm/checkpoints/kinds/_kind.py)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from tf2norm.checkpoints import kinds
from tf2norm.checkpoints.kinds import CheckpointKind
from tf2norm.checkpoints.kinds._cell import CellKind
from tf2norm.checkpoints.model import SourceCalls

KINDS = kinds.all_kinds()
IDS = [k.ID for k in KINDS]


def test_every_kind_module_defines_its_kind():
    modules = {i.name for i in pkgutil.iter_modules(kinds.__path__) if not i.name.startswith("_")}
    assert set(IDS) == modules
    assert len(IDS) == len(set(IDS))
    assert [k.PRIORITY for k in KINDS] == sorted(k.PRIORITY for k in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_kind_keeps_the_contract(kind):
    assert isinstance(kind, CheckpointKind)
    assert not inspect.isabstract(type(kind))
    assert isinstance(kind.TITLE, str) and kind.TITLE
    assert isinstance(kind.PRIORITY, int)
    assert all(isinstance(t, tuple) and all(isinstance(x, str) for x in t)
               for t in (kind.SETTABLE, kind.GOLDEN_FIELDS))
    assert isinstance(kind.CELL, bool) and kind.CELL == isinstance(kind, CellKind)
    if isinstance(kind, CellKind):
        assert set(kind.REQUIRED_GOLDEN) <= set(kind.GOLDEN_FIELDS)
    assert kinds.get(kind.ID) is kind


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_the_settable_keys_are_the_replacements_arguments(kind):
    cls = kind.replacement_class()
    assert cls.__name__ == kind.REPLACEMENT.rsplit(".", 1)[-1]
    parameters = inspect.signature(cls.__init__).parameters
    assert set(kind.SETTABLE) <= set(parameters) - {"self"}, kind.ID


@pytest.mark.parametrize("kind", KINDS, ids=IDS)
def test_source_reads_calls_of_the_kinds_own_settings(kind):
    assert kind.SOURCE, "--source must know the calls that make this kind's groups"
    for calls in kind.SOURCE:
        assert isinstance(calls, SourceCalls)
        assert set(calls.settings.values()) <= set(kind.SETTABLE) | {"data_format"}
        for spelled in calls.legacy_from:
            rewriter, attribute = spelled.split(".")
            names = getattr(importlib.import_module(f"tf2norm.rewriters.{rewriter}"), attribute)
            assert isinstance(names, frozenset) and names
