"""Recognise groups of a TF1 checkpoint (cells, batch norms, ...) from its variable names.

Pure functions over ``(name, shape, dtype)`` triples: no TensorFlow, no file access, so every TF1
naming can be tested from a list of names. Each kind of group (its names, its replacement, how it
is verified) is one module of :mod:`tf2norm.checkpoints.kinds`; this module holds what they share
and asks each kind, in order, for its groups.

Every variable no kind claims (convolutions, dense layers, optimizer slots such as
``S/kernel/Adam``, ``global_step``) is "not recognised" and left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Only float32 checkpoints are converted: the replacements reproduce TF1's float32 arithmetic.
SUPPORTED_DTYPES = ("float32",)

#: ``--data-format`` values: the layout names channel axis and rank (NHWC is contrib's default).
DATA_FORMATS = {
    "NC": (-1, 2), "NWC": (-1, 3), "NHWC": (-1, 4), "NDHWC": (-1, 5),
    "NCW": (1, 3), "NCHW": (1, 4), "NCDHW": (1, 5),
}


@dataclass(frozen=True)
class Variable:
    name: str
    shape: tuple
    dtype: str


@dataclass
class Group:
    """One recognised group: ``weights`` maps each replacement weight name to its TF1 variable."""

    scope: str
    kind: str
    weights: dict
    naming: str
    config: dict
    #: cells: the input depth (the kernel's rows less num_units)
    input_depth: int | None = None
    #: normalisation layers: the number of channels normalised
    channels: int | None = None
    #: normalisation layers whose parameters are not one vector [channels] (layer_norm's
    #: ``inputs.shape[begin_params_axis:]``): the parameters' shape
    params_shape: tuple | None = None
    #: where a cell sits (MultiRNNCell layer, bidirectional direction); informative
    role: str = ""
    #: kinds with DATA_FORMAT only: the layout, which the checkpoint cannot tell ("NHWC" unless the
    #: user says).
    data_format: str | None = None
    data_format_given: bool = False
    #: one-line descriptions of what is inconsistent (shapes, missing members, dtype)
    problems: list = field(default_factory=list)
    #: constructor arguments the checkpoint cannot record without which its variables are not
    #: surely this kind ({key: why}); until ``--config SCOPE:KEY=...`` (or a golden file, or the
    #: converted manifest) gives them, the group is a candidate: listed by inspect, not converted.
    required: dict = field(default_factory=dict)

    @property
    def unresolved(self) -> list:
        return [key for key in self.required if self.config.get(key) is None]

    @property
    def replacement_class(self) -> str:
        from . import kinds

        return kinds.get(self.kind).REPLACEMENT


@dataclass
class Inventory:
    groups: list = field(default_factory=list)
    unrecognised: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)
    #: one line per candidate group :meth:`settle` left out, saying which --config would take it
    left_out: list = field(default_factory=list)

    def group(self, scope: str) -> Group:
        for g in self.groups:
            if g.scope == scope:
                return g
        known = ", ".join(g.scope for g in self.groups) or "none"
        raise KeyError(f"no recognised group at scope {scope!r} (groups: {known})")

    def settle(self) -> list:
        """Move the candidate groups still missing a required setting to ``unrecognised``; returns them."""
        from . import kinds

        dropped = [g for g in self.groups if g.unresolved]
        self.left_out = [f"{g.scope} (a {kinds.get(g.kind).TITLE} candidate) was not converted: "
                         f"{g.required[g.unresolved[0]]}; pass --config {g.scope}:{g.unresolved[0]}=VALUE"
                         for g in dropped]
        if dropped:
            self.groups = [g for g in self.groups if not g.unresolved]
            names = [n for g in dropped for n in g.weights.values()]
            self.unrecognised = sorted(self.unrecognised + [self.variables[n] for n in names],
                                       key=lambda v: _natural(v.name))
        return dropped

    def slot_owner(self, name: str) -> str | None:
        """The recognised variable an unrecognised one is an optimizer slot of (``.../kernel/Adam``)."""
        owned = {v for g in self.groups for v in g.weights.values()}
        parent = name
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in owned:
                return parent
        return None


def _natural(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def role_of(scope: str) -> str:
    """Where a cell sits, from the scopes TF wraps around it (informative only)."""
    parts = []
    m = re.search(r"(?:^|/)(?:multi_rnn_cell/cell_|MultiRNNCell/Cell)(\d+)(?:/|$)", scope)
    if m:
        parts.append(f"MultiRNNCell layer {m.group(1)}")
    m = re.search(r"(?:^|/)stack_bidirectional_rnn/cell_(\d+)/", scope)
    if m:
        parts.append(f"stacked bidirectional layer {m.group(1)}")
    m = re.search(r"(?:^|/)(?:bidirectional_rnn/(fw|bw)|BiRNN/(FW|BW))(?:/|$)", scope)
    if m:
        direction = (m.group(1) or m.group(2)).lower()
        parts.append("bidirectional " + ("forward" if direction == "fw" else "backward"))
    return ", ".join(parts)


def recognise(variables) -> Inventory:
    """Group ``variables`` (``Variable`` or ``(name, shape, dtype)``) by kind (cells, batch norms ...).

    Groups come back in natural scope order (``cell_2`` before ``cell_10``); any inconsistency
    (a shape that contradicts the kernel, half of the renorm variables, a non-float32 dtype) is a
    one-line entry of ``problems``, and the group is still listed.
    """
    from . import kinds

    table = {}
    for v in variables:
        v = v if isinstance(v, Variable) else Variable(v[0], tuple(int(d) for d in v[1]), str(v[2]))
        table[v.name] = v
    inv = Inventory(variables=table)
    claimed = set()
    for kind in kinds.all_kinds():
        inv.groups.extend(kind.recognise(table, claimed))

    inv.groups.sort(key=lambda g: _natural(g.scope))
    inv.unrecognised = sorted((v for n, v in table.items() if n not in claimed),
                              key=lambda v: _natural(v.name))
    for g in inv.groups:
        for name in g.weights.values():
            dtype = table[name].dtype
            if dtype not in SUPPORTED_DTYPES:
                g.problems.append(
                    f"{name}: unsupported dtype {dtype} (tf2norm converts float32 checkpoints only)")
        inv.problems.extend(g.problems)
    return inv


def parse_data_format(value: str):
    """``NCHW`` -> (axis 1, rank 4); raises ValueError for an unknown layout."""
    key = value.strip().upper()
    if key not in DATA_FORMATS:
        raise ValueError(f"unknown data format {value!r} (one of {', '.join(DATA_FORMATS)})")
    return DATA_FORMATS[key]
