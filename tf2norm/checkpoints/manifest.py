"""The converted checkpoint: ``manifest.json`` + ``weights.h5``, as written by ``tf2norm checkpoint convert``.

A converted directory holds ``manifest.json``, ``weights.h5`` and ``tf2/``: one object-based TF2
checkpoint per group (``tf.train.Checkpoint(layer=replacement_layer).read(DIR/<tf2_checkpoint>)``
restores a built replacement layer with TensorFlow alone).

``manifest.json`` (UTF-8 JSON)::

    {
      "format": "tf2norm-converted-checkpoint",
      "version": 1,
      "source": {"checkpoint": "<TF1 checkpoint prefix>", "variables": <count>},
      "weights_file": "weights.h5",
      "groups": [                                   # one entry per recognised TF1 group
        {
          "scope": "rnn/multi_rnn_cell/cell_0/layer_norm_basic_lstm_cell",   # the TF1 scope
          "kind": "lstm_cell",                      # a module of tf2norm.checkpoints.kinds
          "class": "tf2norm.replacements.LayerNormBasicLSTMCell",
          "config": {"num_units": 8, "layer_norm": true, "forget_bias": 1.0},
          "build_input_shape": [null, 5],          # what layer.build() is called with
          "naming": "TF 1.2-1.15",                  # which TF1 naming the checkpoint used
          "role": "MultiRNNCell layer 0",           # informative
          "h5_group": "group_0",
          "tf2_checkpoint": "tf2/group_0/ckpt",     # object-based TF2 checkpoint of this layer
          "weights": {                              # replacement weight -> TF1 variable
            "kernel": {"tf1_name": "rnn/.../kernel", "shape": [13, 32], "dtype": "float32"},
            "input_gamma": {"tf1_name": "rnn/.../input/gamma", "shape": [8], "dtype": "float32"}
          }
        },
        {
          "scope": "block3/BatchNorm", "kind": "batch_norm",
          "class": "tf2norm.replacements.BatchNormalization",
          "config": {"center": true, "scale": true, "axis": 1, "momentum": 0.9, "epsilon": 0.001,
                     "fused": false, "renorm_momentum": 0.99, "renorm": false,
                     "zero_debias_moving_mean": false},
          "data_format": "NCHW", "data_format_given": true,
          "build_input_shape": [null, 4, null, null], ...
        }
      ],
      "not_converted": ["block1/conv/kernel", "global_step", ...],
      "left_out": ["<scope> (a <kind> candidate) was not converted: <why>; pass --config ..."]
    }

``config`` is the keyword arguments of the replacement class (``class(**config)``). What a
checkpoint records (sizes, layer_norm, center, scale, renorm, zero debias) is inferred from it; what
it cannot record keeps TF1's default (forget_bias 1.0; batch_norm decay 0.999 as ``momentum``,
epsilon 1e-3, NHWC) unless given at conversion (``--config``, ``--data-format``). For batch_norm,
``data_format_given`` says whether the layout was given or assumed.

``weights.h5`` (HDF5): one HDF5 group per manifest entry, named by its ``h5_group``, with attribute
``tf1_scope``; in it one float32 dataset per replacement weight, named by the replacement's weight
attribute (``kernel``, ``bias``, ``input_gamma`` ... ``state_beta``; ``gamma``, ``beta``,
``moving_mean``, ``moving_variance``, ``moving_stddev``, ``renorm_mean``, ``renorm_stddev``,
``moving_mean_biased``, ``moving_mean_local_step``) with attribute ``tf1_name``. Values are the TF1
values unchanged (both sides use the same layouts: kernel ``[D+H, 4H]`` with gates i, j, f, o).
"""

from __future__ import annotations

import json
import os

from . import kinds
from .errors import CheckpointError
from .model import Inventory, parse_data_format

FORMAT = "tf2norm-converted-checkpoint"
VERSION = 1
MANIFEST_NAME = "manifest.json"
WEIGHTS_NAME = "weights.h5"


def parse_value(text: str):
    """A --config value: JSON (``0.9``, ``true``, ``null``, ``{"rmax": 3}``), else the string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _targets(inv: Inventory, scope, what):
    if scope is None:
        return inv.groups
    for g in inv.groups:
        if g.scope == scope:
            return [g]
    known = ", ".join(g.scope for g in inv.groups) or "none"
    raise CheckpointError(f"{what}: no recognised group at scope {scope} (groups: {known})")


def apply_options(inv: Inventory, data_formats=(), settings=()) -> None:
    """Apply ``--data-format [SCOPE=]FORMAT`` and ``--config [SCOPE:]KEY=VALUE`` to the groups.

    Without a scope an option applies to every group it can apply to.
    """
    for option in data_formats:
        scope, _, fmt = option.rpartition("=")
        try:
            axis, _ = parse_data_format(fmt)
        except ValueError as exc:
            raise CheckpointError(f"--data-format {option}: {exc}") from None
        targets = [g for g in _targets(inv, scope or None, f"--data-format {option}")
                   if kinds.get(g.kind).DATA_FORMAT or scope]
        for g in targets:
            if not kinds.get(g.kind).DATA_FORMAT:
                raise CheckpointError(f"--data-format {option}: {g.scope} is a {g.kind} group, "
                                      "which has no data format")
            g.data_format = fmt.strip().upper()
            g.data_format_given = True
            g.config["axis"] = axis
    for option in settings:
        left, eq, value = option.partition("=")
        if not eq:
            raise CheckpointError(f"--config {option}: expected [SCOPE:]KEY=VALUE")
        scope, _, key = left.rpartition(":")
        key = key.strip()
        targets = _targets(inv, scope or None, f"--config {option}")
        applied = 0
        for g in targets:
            settable = kinds.get(g.kind).SETTABLE
            if key in settable:
                g.config[key] = parse_value(value)
                applied += 1
            elif scope:
                raise CheckpointError(f"--config {option}: {key} cannot be set on a {g.kind} group "
                                      f"(settable: {', '.join(settable)})")
        if not applied:
            allowed = sorted({k for g in targets for k in kinds.get(g.kind).SETTABLE})
            raise CheckpointError(f"--config {option}: no group takes {key} "
                                  f"(settable: {', '.join(allowed)})")


def build_input_shape(group) -> list:
    return kinds.get(group.kind).build_input_shape(group)


def entry(group, index: int, variables) -> dict:
    """The manifest entry of one recognised group."""
    out = {
        "scope": group.scope,
        "kind": group.kind,
        "class": kinds.get(group.kind).REPLACEMENT,
        "config": dict(group.config),
        "build_input_shape": build_input_shape(group),
        "naming": group.naming,
        "role": group.role,
        "h5_group": f"group_{index}",
        "weights": {
            key: {"tf1_name": name, "shape": list(variables[name].shape),
                  "dtype": variables[name].dtype}
            for key, name in group.weights.items()
        },
    }
    if kinds.get(group.kind).DATA_FORMAT:
        out["data_format"] = group.data_format or "NHWC"
        out["data_format_given"] = group.data_format_given
    return out


def build(inv: Inventory, source: str) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "source": {"checkpoint": source, "variables": len(inv.variables)},
        "weights_file": WEIGHTS_NAME,
        "groups": [entry(g, i, inv.variables) for i, g in enumerate(inv.groups)],
        "not_converted": [v.name for v in inv.unrecognised],
        "left_out": list(inv.left_out),
    }


def read(directory) -> dict:
    """Load and check ``<directory>/manifest.json``; raises CheckpointError when unusable."""
    directory = os.fspath(directory)
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isdir(directory):
        raise CheckpointError(f"no converted checkpoint at {directory} (not a directory)")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise CheckpointError(f"{directory} is not a converted checkpoint (no {MANIFEST_NAME})") from None
    except ValueError as exc:
        raise CheckpointError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a tf2norm manifest (format != {FORMAT})")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{path} has manifest version {manifest.get('version')}, "
                              f"this tf2norm reads version {VERSION}")
    check_structure(manifest, path)
    weights = inside(directory, manifest.get("weights_file", WEIGHTS_NAME), f"{path}: weights_file")
    if not os.path.isfile(weights):
        raise CheckpointError(f"converted checkpoint {directory} has no {os.path.basename(weights)}")
    manifest["_weights_path"] = weights
    return manifest


def inside(directory: str, relative, what: str) -> str:
    """``directory/relative``, refused when it is absolute or leads outside ``directory`` (``..``, a symlink):
    a converted directory must not make tf2norm read other files."""
    if not isinstance(relative, str) or not relative or os.path.isabs(relative) or "\\" in relative:
        raise CheckpointError(f"{what} must be a relative path inside the directory, not {relative!r}")
    root = os.path.realpath(directory)
    target = os.path.realpath(os.path.join(directory, relative))
    if os.path.commonpath([root, target]) != root:
        raise CheckpointError(f"{what} {relative!r} leads outside {directory}")
    return os.path.join(directory, relative)


def _fail(path, where, expected):
    raise CheckpointError(f"{path} is damaged: {where} should be {expected}")


def _is_shape(value, allow_none) -> bool:
    return isinstance(value, list) and all(
        (v is None and allow_none) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0) for v in value)


def check_structure(manifest: dict, path) -> None:
    """Raise CheckpointError (one line) unless ``manifest`` has the structure documented above."""
    if not isinstance(manifest.get("groups"), list):
        _fail(path, "groups", "a list")
    for name in ("not_converted", "left_out"):
        if not isinstance(manifest.get(name, []), list):
            _fail(path, name, "a list")
    known = {k.ID for k in kinds.all_kinds()}
    for i, e in enumerate(manifest["groups"]):
        where = f"groups[{i}]"
        if not isinstance(e, dict):
            _fail(path, where, "an object")
        for key in ("scope", "kind", "class", "h5_group"):
            if not isinstance(e.get(key), str) or not e[key]:
                _fail(path, f"{where}.{key}", "a non-empty string")
        if e["kind"] not in known:
            _fail(path, f"{where}.kind", f"one of {', '.join(sorted(known))}")
        if "/" in e["h5_group"] or e["h5_group"].startswith("."):
            _fail(path, f"{where}.h5_group", "a plain HDF5 group name")
        if not isinstance(e.get("config"), dict):
            _fail(path, f"{where}.config", "an object")
        if not _is_shape(e.get("build_input_shape"), allow_none=True):
            _fail(path, f"{where}.build_input_shape", "a list of sizes or nulls")
        if "data_format" in e and not isinstance(e["data_format"], str):
            _fail(path, f"{where}.data_format", "a string")
        if not isinstance(e.get("data_format_given", False), bool):
            _fail(path, f"{where}.data_format_given", "true or false")
        weights = e.get("weights")
        if not isinstance(weights, dict) or not weights:
            _fail(path, f"{where}.weights", "a non-empty object")
        for key, w in weights.items():
            if not isinstance(w, dict) or not isinstance(w.get("tf1_name"), str) \
                    or not isinstance(w.get("dtype"), str) or not _is_shape(w.get("shape"), allow_none=False):
                _fail(path, f"{where}.weights.{key}", '{"tf1_name": str, "shape": [int], "dtype": str}')


def find(manifest: dict, scope: str) -> dict:
    for e in manifest["groups"]:
        if e["scope"] == scope:
            return e
    known = ", ".join(e["scope"] for e in manifest["groups"]) or "none"
    raise CheckpointError(f"the converted checkpoint has no group {scope} (groups: {known})")


def dumps(manifest: dict) -> str:
    return json.dumps({k: v for k, v in manifest.items() if not k.startswith("_")}, indent=2) + "\n"
