"""Recognise LayerNormBasicLSTMCell and batch_norm groups in a TF1 checkpoint from its variable names.

Pure functions over ``(name, shape, dtype)`` triples: no TensorFlow, no file access, so every TF1
naming can be tested from a list of names. The namings (NUMERICS.md):

LayerNormBasicLSTMCell, relative to the cell scope ``S`` (the replacement weight in brackets):

==============  ==========================  ==================  =====================
TF              kernel ``[D+H, 4H]``        bias ``[4H]``        layer norm ``[H]``
==============  ==========================  ==================  =====================
1.2 - 1.15      ``S/kernel`` (kernel)       ``S/bias`` (bias)    ``S/<gate>/gamma|beta``
1.0 - 1.1       ``S/weights``               ``S/biases``         same
0.12            ``S/linear/weights``        ``S/linear/b``       same
==============  ==========================  ==================  =====================

``<gate>`` is input, transform, forget, output, state; ``S/<gate>/gamma`` becomes the replacement's
``<gate>_gamma``. The bias exists only when layer_norm=False, the ten norm vectors only when True.
A scope is a cell when it has the norm vectors, or when its last component is the cell's default
scope name (``layer_norm_basic_lstm_cell``, ``_N`` suffixed, or 0.12's ``LayerNormBasicLSTMCell``):
without that name a kernel and a bias are just a dense layer (or a plain BasicLSTMCell).
Surrounding scopes (``rnn/``, ``multi_rnn_cell/cell_N/``, ``bidirectional_rnn/fw|bw/``, 0.12's
``RNN/MultiRNNCell/CellN/``, user scopes) are free; they only feed :attr:`Group.role`.

batch_norm (``tf.contrib.layers.batch_norm``, also ``tf.layers.batch_normalization``), scope ``S``:
``S/moving_mean`` and ``S/moving_variance`` (both required), ``S/beta`` if center, ``S/gamma`` if
scale, with renorm ``S/moving_stddev``, ``S/renorm_mean``, ``S/renorm_stddev``, with
zero_debias_moving_mean ``S/S/moving_mean/biased`` and ``S/S/moving_mean/local_step`` (the zero-debias
scope repeats the full scope name), mapped to ``moving_mean_biased`` and ``moving_mean_local_step``.

Every other variable (convolutions, dense layers, optimizer slots such as ``S/kernel/Adam``,
``global_step``) is "not recognised" and left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LN_GATES = ("input", "transform", "forget", "output", "state")

#: Only float32 checkpoints are converted: the replacements reproduce TF1's float32 arithmetic.
SUPPORTED_DTYPES = ("float32",)

LSTM_CELL = "lstm_cell"
BATCH_NORM = "batch_norm"

REPLACEMENT_CLASS = {
    LSTM_CELL: "tf2norm.replacements.LayerNormBasicLSTMCell",
    BATCH_NORM: "tf2norm.replacements.BatchNormalization",
}

# (suffix relative to the cell scope, naming) for the kernel and the bias; longest first.
_KERNEL_SUFFIXES = (("linear/weights", "TF 0.12"), ("kernel", "TF 1.2-1.15"), ("weights", "TF 1.0-1.1"))
_BIAS_SUFFIXES = ("linear/b", "linear/biases", "bias", "biases")
_CELL_SCOPE_NAME = re.compile(r"^(layer_norm_basic_lstm_cell(_\d+)?|LayerNormBasicLSTMCell)$")

# batch_norm: relative name -> replacement weight name (the zero-debias pair is handled apart).
_BN_WEIGHTS = {
    "beta": "beta",
    "gamma": "gamma",
    "moving_mean": "moving_mean",
    "moving_variance": "moving_variance",
    "moving_stddev": "moving_stddev",
    "renorm_mean": "renorm_mean",
    "renorm_stddev": "renorm_stddev",
}
_RENORM = ("moving_stddev", "renorm_mean", "renorm_stddev")
_ZERO_DEBIAS = {"biased": "moving_mean_biased", "local_step": "moving_mean_local_step"}

#: TF1 defaults of what a checkpoint cannot tell (the user overrides them with --config).
LSTM_DEFAULTS = {"forget_bias": 1.0}
BN_DEFAULTS = {"axis": -1, "momentum": 0.999, "epsilon": 0.001, "fused": None, "renorm_momentum": 0.99}

#: Constructor arguments a user may set per group; everything else comes from the checkpoint.
SETTABLE = {
    LSTM_CELL: ("forget_bias", "dropout_keep_prob", "dropout_prob_seed"),
    BATCH_NORM: ("axis", "momentum", "epsilon", "fused", "renorm_momentum", "renorm_clipping"),
}

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
    input_depth: int | None = None
    channels: int | None = None
    role: str = ""
    #: batch_norm only: the layout, which the checkpoint cannot tell ("NHWC" unless the user says).
    data_format: str | None = None
    data_format_given: bool = False
    #: one-line descriptions of what is inconsistent (shapes, missing members, dtype)
    problems: list = field(default_factory=list)

    @property
    def replacement_class(self) -> str:
        return REPLACEMENT_CLASS[self.kind]



@dataclass
class Inventory:
    groups: list = field(default_factory=list)
    unrecognised: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    variables: dict = field(default_factory=dict)

    def group(self, scope: str) -> Group:
        for g in self.groups:
            if g.scope == scope:
                return g
        known = ", ".join(g.scope for g in self.groups) or "none"
        raise KeyError(f"no recognised group at scope {scope!r} (groups: {known})")

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


def _shape(shape) -> str:
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


def _cell_candidates(names):
    """{cell scope: (kernel name, naming)} for every name that looks like a cell kernel."""
    found = {}
    for name in names:
        for suffix, naming in _KERNEL_SUFFIXES:
            if name.endswith("/" + suffix):
                scope = name[: -len(suffix) - 1]
                found.setdefault(scope, (name, naming))
                break
    return found


def recognise(variables) -> Inventory:
    """Group ``variables`` (``Variable`` or ``(name, shape, dtype)``) into cells and batch norms.

    Groups come back in natural scope order (``cell_2`` before ``cell_10``); any inconsistency
    (a shape that contradicts the kernel, half of the renorm variables, a non-float32 dtype) is a
    one-line entry of ``problems``, and the group is still listed.
    """
    table = {}
    for v in variables:
        v = v if isinstance(v, Variable) else Variable(v[0], tuple(int(d) for d in v[1]), str(v[2]))
        table[v.name] = v
    inv = Inventory(variables=table)
    claimed = set()

    for scope, (kernel, naming) in _cell_candidates(table).items():
        gates = {f"{g}_{p}": f"{scope}/{g}/{p}" for g in LN_GATES for p in ("gamma", "beta")}
        present = {k: n for k, n in gates.items() if n in table}
        named_as_cell = bool(_CELL_SCOPE_NAME.match(scope.rsplit("/", 1)[-1]))
        if not present and not named_as_cell:
            continue
        if any(n in claimed for n in present.values()) or kernel in claimed:
            continue
        group = _lstm_group(scope, kernel, naming, present, table)
        claimed.update(group.weights.values())
        inv.groups.append(group)

    for name in table:
        if not name.endswith("/moving_mean"):
            continue
        scope = name[: -len("/moving_mean")]
        if f"{scope}/moving_variance" not in table or name in claimed:
            continue
        group = _bn_group(scope, table)
        claimed.update(group.weights.values())
        inv.groups.append(group)

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


def _lstm_group(scope, kernel, naming, gates, table) -> Group:
    weights = {"kernel": kernel}
    bias = next((f"{scope}/{s}" for s in _BIAS_SUFFIXES if f"{scope}/{s}" in table), None)
    if bias is not None:
        weights["bias"] = bias
    weights.update(gates)
    layer_norm = bool(gates)
    group = Group(scope=scope, kind=LSTM_CELL, weights=weights, naming=naming,
                  config={"num_units": None, "layer_norm": layer_norm, **LSTM_DEFAULTS},
                  role=role_of(scope))

    def bad(message):
        group.problems.append(f"inconsistent LayerNormBasicLSTMCell group {scope}: {message}")

    kshape = table[kernel].shape
    if len(kshape) != 2 or kshape[1] % 4 or kshape[1] == 0:
        bad(f"kernel {kernel} has shape {_shape(kshape)}, expected [input_depth + num_units, "
            "4 * num_units]")
        return group
    units = kshape[1] // 4
    if kshape[0] <= units:
        bad(f"kernel {kernel} has shape {_shape(kshape)}: {kshape[0]} rows leave no input depth "
            f"for num_units={units}")
        return group
    group.config["num_units"] = units
    group.input_depth = kshape[0] - units
    if layer_norm and len(gates) != 2 * len(LN_GATES):
        missing = sorted(set(f"{g}/{p}" for g in LN_GATES for p in ("gamma", "beta"))
                         - {k.replace("_", "/", 1) for k in gates})
        bad(f"layer norm variables missing: {', '.join(missing)}")
    if layer_norm and bias is not None:
        bad(f"has both a bias ({bias}) and layer norm variables; TF1 creates the bias only "
            "when layer_norm=False")
    if not layer_norm and bias is None:
        bad("has neither a bias nor layer norm variables")
    expect = {"bias": (4 * units,)}
    expect.update({k: (units,) for k in gates})
    for key, shape in expect.items():
        if key in weights and table[weights[key]].shape != shape:
            bad(f"{weights[key]} has shape {_shape(table[weights[key]].shape)}, expected "
                f"{_shape(shape)} for num_units={units}")
    return group


def _bn_group(scope, table) -> Group:
    weights = {}
    for rel, target in _BN_WEIGHTS.items():
        if f"{scope}/{rel}" in table:
            weights[target] = f"{scope}/{rel}"
    for rel, target in _ZERO_DEBIAS.items():
        name = f"{scope}/{scope}/moving_mean/{rel}"
        if name in table:
            weights[target] = name
    leaf = scope.rsplit("/", 1)[-1]
    if re.match(r"^BatchNorm(_\d+)?$", leaf):
        naming = "tf.contrib.layers.batch_norm"
    elif re.match(r"^batch_normalization(_\d+)?$", leaf):
        naming = "tf.layers.batch_normalization"
    else:
        naming = "batch norm variables"
    renorm = [k for k in _RENORM if k in weights]
    zero_debias = [k for k in _ZERO_DEBIAS.values() if k in weights]
    config = {
        "center": "beta" in weights,
        "scale": "gamma" in weights,
        **BN_DEFAULTS,
        "renorm": len(renorm) == len(_RENORM),
        "zero_debias_moving_mean": len(zero_debias) == len(_ZERO_DEBIAS),
    }
    channels = table[f"{scope}/moving_mean"].shape
    group = Group(scope=scope, kind=BATCH_NORM, weights=weights, naming=naming, config=config,
                  channels=channels[0] if len(channels) == 1 else None, data_format="NHWC")

    def bad(message):
        group.problems.append(f"inconsistent batch_norm group {scope}: {message}")

    if renorm and len(renorm) != len(_RENORM):
        bad(f"has {', '.join(renorm)} but not all of {', '.join(_RENORM)}")
    if zero_debias and len(zero_debias) != len(_ZERO_DEBIAS):
        bad("has only one of the zero-debias variables moving_mean/biased, moving_mean/local_step")
    if len(channels) != 1:
        bad(f"{scope}/moving_mean has shape {_shape(channels)}, expected [channels]")
        return group
    for key, name in weights.items():
        want = () if key == "moving_mean_local_step" else channels
        if table[name].shape != want:
            bad(f"{name} has shape {_shape(table[name].shape)}, expected {_shape(want)}")
    return group


def parse_data_format(value: str):
    """``NCHW`` -> (axis 1, rank 4); raises ValueError for an unknown layout."""
    key = value.strip().upper()
    if key not in DATA_FORMATS:
        raise ValueError(f"unknown data format {value!r} (one of {', '.join(DATA_FORMATS)})")
    return DATA_FORMATS[key]
