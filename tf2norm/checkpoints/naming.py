"""Recognise groups of a TF1 checkpoint (cells, batch norms, ...) from its variable names.

Pure functions over ``(name, shape, dtype)`` triples: no TensorFlow, no file access, so every TF1
naming can be tested from a list of names. Each kind of group (its names, its replacement, how it
is verified) is one module of :mod:`tf2norm.checkpoints.kinds`; this module asks each kind, in order,
for its groups (the types are :mod:`tf2norm.checkpoints.model`'s).

Every variable no kind claims (convolutions, dense layers, optimizer slots such as
``S/kernel/Adam``, ``global_step``) is "not recognised" and left alone.
"""

from __future__ import annotations

from . import kinds
from .model import SUPPORTED_DTYPES, Inventory, Variable, natural_key
from .rules import RULES


def recognise(variables) -> Inventory:
    """Group ``variables`` (``Variable`` or ``(name, shape, dtype)``) by kind (cells, batch norms ...).

    Groups come back in natural scope order (``cell_2`` before ``cell_10``); any inconsistency
    (a shape that contradicts the kernel, half of the renorm variables, a non-float32 dtype) is a
    one-line entry of ``problems``, and the group is still listed.
    """
    table = {}
    for v in variables:
        v = v if isinstance(v, Variable) else Variable(v[0], tuple(int(d) for d in v[1]), str(v[2]))
        table[v.name] = v
    inv = Inventory(variables=table)
    claimed: set[str] = set()
    for kind in kinds.all_kinds():
        inv.groups.extend(kind.recognise(table, claimed))

    inv.groups.sort(key=lambda g: natural_key(g.scope))
    inv.unrecognised = sorted((v for n, v in table.items() if n not in claimed),
                              key=lambda v: natural_key(v.name))
    for g in inv.groups:
        for name in g.weights.values():
            dtype = table[name].dtype
            if dtype not in SUPPORTED_DTYPES:
                g.report(RULES["TF2N902"], name=name, dtype=dtype)
        inv.problems.extend(g.problems)
    return inv


def settle(inv: Inventory) -> list:
    """``inv.settle`` with every kind's title: the candidate groups left out, moved to ``unrecognised``."""
    return inv.settle({kind.ID: kind.TITLE for kind in kinds.all_kinds()})
