"""The checkpoint tools' data model: variables, recognised groups, inventories, layouts.

A leaf module (it imports only tf2norm.findings' types), so the kinds (tf2norm.checkpoints.kinds), the
recognition (``naming``), the manifest, the report, conversion and verification all share these
types without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tf2norm.findings import Rule

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
    #: one-line descriptions of what is inconsistent (shapes, missing members, dtype): the messages of
    #: its error findings
    problems: list = field(default_factory=list)
    #: what is wrong with the group, as coded findings (tf2norm.checkpoints.rules), placed at its scope
    findings: list = field(default_factory=list)
    #: constructor arguments the checkpoint cannot record without which its variables are not
    #: surely this kind ({key: why}); until ``--config SCOPE:KEY=...`` (or a golden file, or the
    #: converted manifest) gives them, the group is a candidate: listed by inspect, not converted.
    required: dict = field(default_factory=dict)

    def report(self, rule: Rule, **fields) -> None:
        """A finding of `rule` on this group; an error's message is also one of its `problems`."""
        finding = rule.finding(self.scope, 0, 0, **fields)
        self.findings.append(finding)
        if finding.severity == "error":
            self.problems.append(finding.message)

    @property
    def unresolved(self) -> list:
        return [key for key in self.required if self.config.get(key) is None]


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

    def settle(self, titles: Mapping[str, str]) -> list:
        """Move the candidate groups still missing a required setting to ``unrecognised``; returns them.

        ``titles``: {kind id: how it names its groups}, for the lines of ``left_out``
        (``naming.settle`` passes every kind's).
        """
        dropped = [g for g in self.groups if g.unresolved]
        self.left_out = [f"{g.scope} (a {titles[g.kind]} candidate) was not converted: "
                         f"{g.required[g.unresolved[0]]}; pass --config {g.scope}:{g.unresolved[0]}=VALUE"
                         for g in dropped]
        if dropped:
            self.groups = [g for g in self.groups if not g.unresolved]
            names = [n for g in dropped for n in g.weights.values()]
            self.unrecognised = sorted(self.unrecognised + [self.variables[n] for n in names],
                                       key=lambda v: natural_key(v.name))
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


def natural_key(name: str):
    """Sorts `cell_2` before `cell_10`."""
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




@dataclass(frozen=True)
class SourceCalls:
    """One family of calls that make a kind's groups, as ``--source FILE`` reads them (``source.py``).

    ``names``: the callees' qualified names, legacy and migrated; ``legacy_from``: more of them, as
    ``"<rewriter id>.<its module constant>"`` (a rewriter's set of legacy names, such as
    ``"contrib_batch_norm.LEGACY"``); ``positional``: the parameters a call may pass by position;
    ``settings``: {argument: the ``--config`` key it sets, or ``"data_format"``}; ``scope_args``: the
    arguments that name the group's scope; ``fixed``: settings the call itself implies.
    """

    names: tuple[str, ...]
    positional: tuple[str, ...]
    settings: Mapping[str, str]
    scope_args: tuple[str, ...] = ()
    fixed: Mapping[str, object] = field(default_factory=dict)
    legacy_from: tuple[str, ...] = ()


def parse_data_format(value: str):
    """``NCHW`` -> (axis 1, rank 4); raises ValueError for an unknown layout."""
    key = value.strip().upper()
    if key not in DATA_FORMATS:
        raise ValueError(f"unknown data format {value!r} (one of {', '.join(DATA_FORMATS)})")
    return DATA_FORMATS[key]
