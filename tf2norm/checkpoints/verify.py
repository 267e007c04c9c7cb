"""``tf2norm checkpoint verify``: prove the replacement layers compute what TF1 computed.

For every group of a TF1 checkpoint, the replacement layer is loaded (from the TF1 values, or from a
converted directory with ``converted=``) and run; its results are compared either with

* the independent NumPy reference (``tf2norm.reference``) fed the TF1 values and seeded random
  inputs: a cell runs a batch of sequences of different lengths from a random state; a batch norm
  runs one inference pass and one training pass, whose updated statistics are compared too (each
  kind's ``verify`` in :mod:`tf2norm.checkpoints.kinds` says what it runs); or
* outputs recorded from real TF 1.x (``golden=``, format in :mod:`tf2norm.checkpoints.golden`),
  for the groups the golden file holds.

A group passes when every compared value satisfies ``|got - want| <= atol + rtol * |want|``.
The relative error reported is ``max|got - want| / max|want|`` over each compared array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tf2norm._words import plural

from . import golden as gd
from . import kinds, source
from . import manifest as mf
from .convert import checked_inventory, non_finite, settle_candidates
from .errors import CheckpointError
from .model import parse_data_format
from .reader import Tf1Checkpoint
from .restore import (
    build_layer,
    check_and_assign,
    layer_name,
    load_converted_group,
    open_weights,
)


@dataclass
class Result:
    scope: str
    kind: str
    against: str
    max_abs: float
    max_rel: float
    passed: bool
    worst: str  # which compared quantity had the largest error
    config: dict = field(default_factory=dict)  # the replacement's configuration in this run
    data_format: str | None = None


class _Compare:
    def __init__(self, atol, rtol):
        self.atol, self.rtol = atol, rtol
        self.max_abs = 0.0
        self.max_rel = 0.0
        self.passed = True
        self.worst = ""
        self.compared = 0  # values compared: a group with none has proved nothing

    def mismatch(self, what):
        """The replacement cannot even take the inputs (a wrong layout, say): the group fails."""
        self.max_abs = self.max_rel = float("inf")
        self.passed = False
        self.worst = what

    def __call__(self, what, got, want):
        got = np.asarray(got, np.float64)
        want = np.asarray(want, np.float64)
        if got.shape != want.shape:
            raise CheckpointError(f"{what}: the replacement gave shape {list(got.shape)}, "
                                  f"the expected values have {list(want.shape)}")
        if not got.size:
            return
        self.compared += got.size
        diff = np.abs(got - want)
        diff = np.where(np.isnan(got) != np.isnan(want), np.inf, np.nan_to_num(diff, nan=0.0))
        err = float(diff.max())
        scale = float(np.max(np.abs(np.nan_to_num(want))))
        rel = err / scale if scale > 0 else (0.0 if err == 0 else np.inf)
        if err >= self.max_abs:
            self.max_abs, self.worst = err, what
        self.max_rel = max(self.max_rel, rel)
        if np.any(diff > self.atol + self.rtol * np.abs(want)):
            self.passed = False


# ----------------------------------------------------------------------------------------------
# the command
# ----------------------------------------------------------------------------------------------


def verify(checkpoint, *, converted=None, golden=None, atol=1e-5, rtol=0.0, seed=0,
           data_formats=(), settings=(), left_out=None, sources=(), notes=None, warnings=None) -> list:
    """Verify every group of ``checkpoint``; returns one :class:`Result` per group.

    The replacement's configuration comes from the converted directory's manifest when
    ``converted`` is given; otherwise from the checkpoint, then what the golden file records about
    the TF1 call (forget_bias, epsilon, decay, fused, data format), then ``data_formats`` and
    ``settings`` (the CLI's --data-format / --config), with what ``sources`` (--source) give
    first (noted in ``notes``). Raises CheckpointError for bad input.
    A group in which nothing could be compared (a 0-channel layer) fails. ``warnings`` (a list)
    receives one line per TF1 tensor with NaN or infinite values.
    """
    if converted is not None and (data_formats or settings or sources):
        raise CheckpointError("--data-format, --config and --source configure the groups of a TF1 "
                              "checkpoint; a converted directory records its own configuration")
    ckpt = Tf1Checkpoint(checkpoint)
    inv = checked_inventory(ckpt, settle=False)
    goldens = gd.load(golden) if golden is not None else {}
    scopes = {g.scope: g for g in inv.groups}
    for scope, fields in goldens.items():
        if scope not in scopes:
            raise CheckpointError(f"golden file {golden} has values for {scope}, which is not a "
                                  f"group of {ckpt.path}")
        gd.check(scope, scopes[scope].kind, fields, golden)
        extra, fmt = gd.config_from(scopes[scope].kind, fields)
        scopes[scope].config.update(extra)
        if fmt:
            scopes[scope].data_format = fmt
            scopes[scope].config["axis"] = parse_data_format(fmt)[0]
    from_source = source.apply(inv, sources, data_formats, settings)
    mf.apply_options(inv, [*from_source[0], *data_formats], [*from_source[1], *settings])
    if notes is not None:
        notes.extend(from_source[2])

    manifest = mf.read(converted) if converted is not None else None
    for g in inv.groups if manifest is not None else ():
        entry = next((e for e in manifest["groups"] if e["scope"] == g.scope), None)
        if g.required and entry is not None:  # confirmed at conversion
            g.config.update({k: entry["config"].get(k) for k in g.required})
    settle_candidates(inv, ckpt)
    if left_out is not None:  # candidate groups that are not verified, one line each
        left_out.extend(inv.left_out)
    if manifest is None:
        return [_verify_group(g, ckpt, g.config, g.data_format, None, None, goldens, atol, rtol,
                              seed, warnings) for g in inv.groups]
    with open_weights(manifest) as h5:
        results = []
        for g in inv.groups:
            entry = mf.find(manifest, g.scope)
            if entry["kind"] != g.kind:
                raise CheckpointError(f"{converted}: {g.scope} is a {entry['kind']} group there, "
                                      f"a {g.kind} group in {ckpt.path}")
            results.append(_verify_group(g, ckpt, dict(entry["config"]), entry.get("data_format"),
                                         entry, h5, goldens, atol, rtol, seed, warnings))
        return results


def _verify_group(group, ckpt, config, data_format, entry, h5, goldens, atol, rtol, seed, warnings=None):

    fields = goldens.get(group.scope)
    values = {k: ckpt.read(n) for k, n in group.weights.items()}
    if warnings is not None:
        for key, name in group.weights.items():
            warnings.extend(non_finite(name, np.asarray(values[key])))

    def factory(input_shape):
        layer = build_layer(group.kind, config, input_shape, name=layer_name(group.scope))
        if entry is not None:
            load_converted_group(layer, entry, h5)
        else:
            check_and_assign(layer, {k: v.shape for k, v in values.items()}, values.__getitem__,
                              f"TF1 group {group.scope}")
        return layer

    compare = _Compare(atol, rtol)
    rng = np.random.default_rng(seed)
    group.data_format = data_format
    kinds.get(group.kind).verify(factory, values, config, compare, fields, rng, group)
    if compare.passed and not compare.compared:
        compare.passed, compare.worst = False, "nothing to compare: the group has no values"
    return Result(group.scope, group.kind, "TF1 golden" if fields is not None else "NumPy reference",
                  compare.max_abs, compare.max_rel, compare.passed, compare.worst, dict(config), data_format)


# Float32 rounding of these layers stays below 1e-5 (the tolerances in README's support table); an
# error this large means the two sides compute different functions, most often because a setting the
# checkpoint cannot record (an activation, a decay, a layout) differs from the TF1 call's.
LARGE_ERROR = 1e-3


def unrecorded_settings_hint(result: Result, converted: bool) -> str | None:
    """For a group that failed by a large error: the settings its checkpoint cannot record, the values
    this run used, and how to give the TF1 code's (one line); None otherwise."""
    if result.passed or not result.max_abs >= LARGE_ERROR:
        return None
    kind = kinds.get(result.kind)
    keys = [k for k in kind.SETTABLE if k != "axis" or not kind.DATA_FORMAT]
    used = [f"{k}={result.config[k]!r}" for k in keys if k in result.config]
    if kind.DATA_FORMAT:
        keys.append("data format")
        used.append(f"data format {result.data_format or 'NHWC'}")
    defaults = [k for k in keys if k not in result.config and k != "data format"]
    if defaults:
        used.append(f"the replacement's defaults for {', '.join(defaults)}")
    options = f"--config {result.scope}:KEY=VALUE" + (f" / --data-format {result.scope}=FORMAT"
                                                      if kind.DATA_FORMAT else "")
    how = (f"convert again with {options} or --source FILE" if converted
           else f"pass {options}, or --source FILE to read them from the code")
    return (f"{result.scope} failed by {result.max_abs:.3g}, more than rounding: a checkpoint cannot record a "
            f"{kind.TITLE}'s {', '.join(keys)}, and this run used {', '.join(used)}; if the TF1 code passed "
            f"other values, {how}")


def format_table(results, atol, rtol) -> str:
    header = ("group", "kind", "against", "max abs err", "max rel err", "result")
    rows = [(r.scope, r.kind, r.against, f"{r.max_abs:.3g}", f"{r.max_rel:.3g}",
             "pass" if r.passed else f"FAIL ({r.worst})") for r in results]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip()
             for row in [header] + rows]
    failed = sum(not r.passed for r in results)
    lines.append(f"{plural(len(results), 'group')}: {len(results) - failed} pass, {failed} fail "
                 f"(atol {atol:g}, rtol {rtol:g})")
    return "\n".join(lines)
