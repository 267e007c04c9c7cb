"""Kinds of checkpoint group: one module per legacy layer whose variables tf2norm converts.

The generic checkpoint code (``naming``, ``manifest``, ``report``, ``restore``, ``verify``,
``golden``) knows nothing about any one layer: everything about a kind lives in its module here,
discovered automatically, as the rewriters are. A kind module defines:

``ID``
    the manifest's ``kind`` (``"lstm_cell"``); also the module's name.
``TITLE``
    how ``inspect`` and ``convert`` name its groups (``"LayerNormBasicLSTMCell"``).
``REPLACEMENT``
    the dotted path of the replacement class (``"tf2norm.replacements.LayerNormBasicLSTMCell"``);
    a group's config is that class's keyword arguments.
``PRIORITY``
    recognition order, lowest first: a kind whose groups contain names another kind would also
    claim (a cell's ``input/gamma``) goes first.
``SETTABLE``
    the constructor arguments ``--config`` may set (what a checkpoint cannot record).
``CELL``
    True for RNN cells: ``restore_into`` looks through ``keras.layers.RNN(cell)`` to the cell and
    builds an unbuilt cell from the group's ``build_input_shape``.
``DATA_FORMAT``
    True when ``--data-format`` applies (the group's layout is not in the checkpoint).
``GOLDEN_FIELDS``
    the ``<scope>:<field>`` names a ``verify --golden`` file may hold for a group of this kind.
``SOURCE``
    what ``--source FILE`` reads (see ``checkpoints/source.py``): entries ``(call names, positional
    parameters, {argument: config key or "data_format"}, arguments naming the scope, settings the
    call implies)``, one per family of calls that make this kind's groups, legacy and migrated.

and the functions

``recognise(table, claimed) -> list[Group]``
    the groups among ``table`` (``{name: Variable}``), never taking a name in ``claimed``; a group
    with inconsistent members is still returned, its ``problems`` saying why. A group whose
    variables are this kind only given a setting the checkpoint cannot record (a group norm's
    ``groups``) names it in ``Group.required``: a candidate, which ``inspect`` lists and
    ``convert``/``verify`` take only once ``--config SCOPE:KEY=...`` (or a golden file) gives it.
``describe(group) -> str``
    the one-line configuration ``inspect`` prints under the group's scope.
``details(group) -> dict``
    extra JSON fields of the group for ``inspect --json`` and the manifest entry.
``build_input_shape(group) -> list``
    what the replacement's ``build()`` is called with.
``check_golden(scope, fields, path)`` / ``config_from_golden(fields) -> (config, data_format)``
    validate a golden group; the constructor settings (and layout) it records.
``same_setting(layer, key, value) -> bool`` (optional)
    whether a built layer matches the group's setting ``key=value`` (default: its attribute ``key``
    equals ``value``), for ``restore_into``'s warning about layers configured differently.
``layer_weights(layer) -> dict`` (optional)
    ``{weight key: variable}`` of a built replacement, for layers whose weights are not uniquely
    named (a sublayer's ``gamma``); without it the keys are the weights' names.
``verify(factory, values, config, compare, fields, rng, group)``
    run the replacement (``factory(input_shape)`` returns it built and loaded) on the golden
    ``fields`` or, when ``fields`` is None, on seeded random inputs from ``rng`` compared with the
    NumPy reference fed ``values`` (``{weight: array}``), calling ``compare(what, got, want)``.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from types import ModuleType


@lru_cache(maxsize=None)
def _modules() -> tuple[ModuleType, ...]:
    found = [importlib.import_module(f"{__name__}.{info.name}")
             for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]
    for module in found:
        if module.ID != module.__name__.rsplit(".", 1)[-1]:
            raise RuntimeError(f"checkpoint kind module {module.__name__} has ID {module.ID!r}")
    return tuple(sorted(found, key=lambda m: (m.PRIORITY, m.ID)))


def all_kinds() -> tuple[ModuleType, ...]:
    """Every kind module, in recognition order."""
    return _modules()


def get(kind_id: str) -> ModuleType:
    for module in _modules():
        if module.ID == kind_id:
            return module
    raise KeyError(f"unknown checkpoint group kind {kind_id!r} "
                   f"(known: {', '.join(m.ID for m in _modules())})")


def replacement_class(kind_id: str):
    """The replacement class of a kind (imports TensorFlow)."""
    module_name, _, class_name = get(kind_id).REPLACEMENT.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def short_class_name(kind_id: str) -> str:
    return get(kind_id).REPLACEMENT.rsplit(".", 1)[-1]
