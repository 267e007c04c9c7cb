"""The contract of a checkpoint group kind: `tf2norm.checkpoints.kinds.<id>.KIND` is a `CheckpointKind`.

The generic checkpoint code (``naming``, ``manifest``, ``report``, ``restore``, ``verify``, ``golden``,
``source``) knows nothing about any one layer: it asks the kind of each group. A kind is a subclass
of `CheckpointKind` (of `_cell.CellKind` for RNN cells) that sets the class attributes and defines
the abstract methods; the other methods have defaults. tests/checkpoints/test_checkpoint_kinds.py
loads every kind against this contract.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from ..model import Group, SourceCalls


class CheckpointKind(abc.ABC):
    """One kind of checkpoint group: a legacy layer whose TF1 variables tf2norm converts."""

    #: The manifest's ``kind`` (``"lstm_cell"``), also the module's name: written into converted
    #: manifests and printed by ``verify``, so it never changes.
    ID: ClassVar[str]
    #: How ``inspect`` and ``convert`` name its groups (``"LayerNormBasicLSTMCell"``).
    TITLE: ClassVar[str]
    #: The dotted path of the replacement class; a group's config is that class's keyword arguments.
    REPLACEMENT: ClassVar[str]
    #: Recognition order, lowest first: a kind whose groups contain names another kind would also
    #: claim (a cell's ``input/gamma``) goes first.
    PRIORITY: ClassVar[int]
    #: The constructor arguments ``--config`` may set (what a checkpoint cannot record).
    SETTABLE: ClassVar[tuple[str, ...]] = ()
    #: RNN cells: ``restore_into`` looks through ``keras.layers.RNN(cell)`` to the cell, and builds an
    #: unbuilt cell from the group's ``build_input_shape``.
    CELL: ClassVar[bool] = False
    #: ``--data-format`` applies (the group's layout is not in the checkpoint).
    DATA_FORMAT: ClassVar[bool] = False
    #: The ``<scope>:<field>`` names a ``verify --golden`` file may hold for a group of this kind.
    GOLDEN_FIELDS: ClassVar[tuple[str, ...]] = ()
    #: What ``--source FILE`` reads: the families of calls that make this kind's groups.
    SOURCE: ClassVar[tuple[SourceCalls, ...]] = ()

    # --------------------------------------------------------------------------- recognition
    @abc.abstractmethod
    def recognise(self, table: dict, claimed: set) -> list[Group]:
        """The groups among ``table`` (``{name: Variable}``), never taking a name in ``claimed`` (and
        adding theirs). A group with inconsistent members is still returned, with an error finding
        saying why (``group.report(rules.RULES["TF2N901"], ...)``; ``_cell.problem`` for cells). A
        group whose variables are this kind only given a setting the checkpoint cannot record (a group
        norm's ``groups``) names it in ``Group.required``: a candidate, which ``inspect`` lists and
        ``convert``/``verify`` take only once ``--config SCOPE:KEY=...`` (or a golden file) gives it."""

    @abc.abstractmethod
    def describe(self, group: Group) -> str:
        """The one-line configuration ``inspect`` prints under the group's scope."""

    def details(self, group: Group) -> dict:
        """Extra JSON fields of the group for ``inspect --json`` and the manifest entry."""
        return {}

    @abc.abstractmethod
    def build_input_shape(self, group: Group) -> list:
        """What the replacement's ``build()`` is called with."""

    # --------------------------------------------------------------------------- golden files
    @abc.abstractmethod
    def check_golden(self, scope: str, fields: dict, path: str) -> None:
        """Raise CheckpointError when a golden group of this kind lacks what verification needs."""

    @abc.abstractmethod
    def config_from_golden(self, fields: dict) -> tuple[dict, str | None]:
        """The constructor settings (and the layout, or None) a golden group records."""

    # --------------------------------------------------------------------------- replacement
    def replacement_class(self) -> type:
        """The replacement class (imports TensorFlow)."""
        module_name, _, class_name = self.REPLACEMENT.rpartition(".")
        return getattr(importlib.import_module(module_name), class_name)

    def same_setting(self, layer, key: str, value) -> bool:
        """Whether a built layer matches the group's setting ``key=value`` (for ``restore_into``'s
        warning about layers configured differently): by default its attribute ``key`` is ``value``."""
        return getattr(layer, key, value) == value

    def layer_weights(self, layer) -> dict:
        """``{weight key: variable}`` of a built replacement; by default the weights' names (the
        replacements name each weight after the attribute that holds it)."""
        return {weight.name: weight for weight in layer.weights}

    # --------------------------------------------------------------------------- verification
    @abc.abstractmethod
    def verify(self, factory: Callable[[list], Any], values: dict, config: dict, compare, fields: dict | None,
               rng: np.random.Generator, group: Group) -> None:
        """Run the replacement (``factory(input_shape)`` returns it built and loaded) on the golden
        ``fields`` or, when ``fields`` is None, on seeded random inputs from ``rng`` compared with the
        NumPy reference fed ``values`` (``{weight: array}``), calling ``compare(what, got, want)``
        (``compare.mismatch(reason)`` when the two cannot be compared)."""
