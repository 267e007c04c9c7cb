"""How close to a golden fixture tf2norm must be, and why: the one bound every golden test uses.

A golden (fixtures/golden/*.npz) is what real TF 1.15 (or tensorflow-addons on TF 2.15) computed in
float32 on one machine. tf2norm computes the same math in float32 on another machine, with TF 2.x
kernels. Neither result is exact, and they cannot be equal in general:

* the summation order of a matmul or convolution depends on the machine (Eigen's blocking follows
  the cache sizes; oneDNN picks its kernels by instruction set, and TF 2.x runs oneDNN by default;
  even with oneDNN off, TF's Eigen contraction calls oneDNN's sgemm). The tensorflow-addons goldens
  are reproduced bit for bit by real tfa only as on the machine they were made on, with oneDNN off
  and limited to AVX2 (TF_ENABLE_ONEDNN_OPTS=0 ONEDNN_MAX_CPU_ISA=AVX2); otherwise, on an AVX-512
  AMD EPYC, real tfa differs from its own goldens by up to 1.4e-6 in outputs and 1.9e-5 in
  gradients, and real TF 1.15 from its goldens by up to 6.7e-7 and 4.2e-5;
* TF 2.x's float32 tanh and sigmoid are other approximations than TF 1.15's (up to 4e-7 apart,
  NUMERICS.md section 1): a few ulps each, of the same accuracy;
* where tf2norm writes a TF1 kernel out in plain ops (the fused batch norm, `_fused_kernel`), the
  graph optimiser may reassociate a product (grappler's MinimizeBroadcasts), one rounding apart.

Both are float32 evaluations of one formula, so the distance between them is bounded by their
distances to the exact value: |tf2norm - TF1| <= |tf2norm - exact| + |TF1 - exact|.

1. |TF1 - exact| is measured, per golden array: `tf2norm.reference` (an independent NumPy
   implementation of the TF1 math, never tf2norm's TF code) replays the case on the golden's own
   inputs and weights in float64 (`reference.float64()`, golden_reference.py), and gradients are
   central differences of that float64 replay (closed forms for layer and group norm). This is
   TF1's own float32 error on that very computation: it is large exactly where the computation is
   ill-conditioned (a zero-debiased mean divides by 1 - 0.999^k; a layer norm of values near 1000
   with a 0.05 spread; float16), and about an ulp where it is not.
2. One evaluation's maximum error can be luckily small on one array, so E pools evaluations and
   arrays. Two float32 evaluations are measured for values: TF1's and the reference's own float32
   replay. The outputs of one forward pass (`out:`, or `out:<run>:` for cases run several times)
   share E, the largest of those errors over them (a final state is a slice of the outputs; an
   inference step's output carries the moving statistics' error); a statistic (`after:`) has its
   own. The gradients of one backward pass (`grad:`, `grad:<run>:`) are all accumulated from the
   same upstream gradients, with cancellation (a BN offset's gradient sums signed terms far larger
   than itself): E is the largest error TF1 made on any of them, whatever the array's magnitude.
   |tf2norm - exact| is of the same kind: the same operations, rounded in another order or by other
   kernels. The factors come from independent float32 evaluations of the same programs, measured
   (beyond the ulps of 3.): the reference's float32 replay is within 1.6 E of TF1 on every golden
   value array; real TF 1.15, rerun on an AMD EPYC with AVX-512 (its goldens were made on one with
   AVX2), reproduces 1664 of its 1858 value arrays bit for bit and the others within 1.4 E, and its
   gradients within 5.1 E; rerun on an Intel Xeon (AVX-512, AMX), 1889 of its 2094 TF1 value arrays
   bit for bit, the others within 2.4 E, gradients within 6.4 E (0.69 of their bound).
   ERROR_FACTOR = 4 for values and GRADIENT_ERROR_FACTOR = 8 for gradients leave room above those
   spreads; tf2norm itself, with oneDNN on and off and with oneDNN limited
   to AVX2 and to SSE4.1 (ONEDNN_MAX_CPU_ISA), stays within 2.6 E on values and 7.3 E on gradients
   (4.7 E but for SSE4.1, which no machine running TF 2.x has: it needs AVX) on the AMD EPYC, and
   within 3.6 E and 7.9 E on an Intel Xeon (AVX-512, AMX), where batch and group norms bit-exact on
   the AMD machine are a few ulps off, oneDNN on or off (`--bounds` below; every comparison there
   within 0.63 of its bound; 8.3 E and 0.89 with oneDNN limited to SSE4.1).
3. Where TF1's result is (close to) exact, the measured error says nothing about the rounding
   another evaluation may do: ULPS = 4 float32 (float16 for float16 goldens) ulps of the array's
   largest magnitude are always allowed, a few roundings of the result.

    bound(array) = factor * E + ULPS * ulp(max|TF1|)

A broken reference would inflate |TF1 - exact| and with it the bound, so the measured error is
only accepted when it is itself the size of a float32 rounding error of this computation:

* values (`out:`, `after:`): the largest relative error of TF1 in the case is at most
  FORWARD_GUARD = 8 times that of the reference's own float32 replay (measured: at most 2.6);
  a reference computing other math leaves its float32 and float64 replays close to each other
  and far from TF1;
* gradients (`grad:`): TF1's largest relative gradient error is at most GRADIENT_GUARD = 64 times
  its forward one (measured: up to 32, backpropagation through 10-24 steps of a recurrent cell).
  A gradient of other math (a missing stop_gradient, another loss) is off by O(1).

The measured errors live in fixtures/golden/float32_error.json, written by
`python -m tests.tolerance --write` (about three minutes: central differences of whole sequences),
with each golden file's SHA-256 so a regenerated golden cannot keep a stale error (checked by
test_reference.py); the slow test test_float32_error_table_is_reproducible recomputes every entry.

How close tf2norm comes to these bounds on a machine: run the golden tests with
TF2NORM_RECORD_BOUNDS=FILE (each comparison appends a line to FILE), then
`python -m tests.tolerance --bounds FILE` prints, per API, the largest error, its fraction of the
bound and its multiple of E (README's "worst error" column and the figures of 2. above);
`python -m tests.tolerance --rerun DIR` compares goldens regenerated with real TF1 on another
machine (a scratch clone's fixtures/golden) with these, in the same units.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from tests.golden import GOLDEN_DIR, Golden

ERROR_FACTOR = 4.0
GRADIENT_ERROR_FACTOR = 8.0
ULPS = 4
FORWARD_GUARD = 8.0
GRADIENT_GUARD = 64.0

TABLE = GOLDEN_DIR / "float32_error.json"
#: Golden files that hold no numbers.
WITHOUT_NUMBERS = ("tlbn_naming",)


def golden_paths():
    return [p for p in sorted(GOLDEN_DIR.glob("*.npz")) if p.stem not in WITHOUT_NUMBERS]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def table() -> dict:
    with open(TABLE, encoding="utf-8") as f:
        return json.load(f)["cases"]


def _ulp(scale: float, dtype) -> float:
    dtype = np.float16 if np.dtype(dtype) == np.float16 else np.float32
    return float(np.spacing(dtype(min(scale, float(np.finfo(dtype).max)))))


def _factor(key: str) -> float:
    return GRADIENT_ERROR_FACTOR if key.startswith("grad:") else ERROR_FACTOR


def _scale(golden: Golden, key: str) -> float:
    value = np.asarray(golden[key])
    return float(np.max(np.abs(value.astype(np.float64)))) if value.size else 0.0


def bound(golden: Golden, key: str) -> float:
    """The largest |tf2norm - TF1| allowed for `golden[key]` (see the module docstring)."""
    return _factor(key) * float32_error(golden, key) + ULPS * _ulp(_scale(golden, key), golden[key].dtype)


def float32_error(golden: Golden, key: str) -> float:
    """E of the module docstring."""
    entry = table()[golden.name]

    def measured(k):
        return max(entry["tf1_error"][k], entry["reference_float32_error"].get(k, 0.0))

    if key.startswith("after:"):
        return measured(key)
    computation = key.rpartition(":")[0]  # "out", "grad", or "out:<run>", "grad:<run>"
    return max(measured(k) for k in entry["tf1_error"] if k.rpartition(":")[0] == computation)


def check(actual, golden: Golden, key: str, what: str = "", index=None) -> float:
    """Assert that `actual` is within `bound(golden, key)` of `golden[key]` (of `golden[key][index]`
    when `actual` is a part of it); returns the error."""
    expected = np.asarray(golden[key]) if index is None else np.asarray(golden[key])[index]
    actual = np.asarray(actual)
    label = f"{golden.name} {key}{' ' + what if what else ''}"
    assert actual.shape == expected.shape, f"{label}: shape {actual.shape}, TF1's {expected.shape}"
    error = float(np.max(np.abs(actual.astype(np.float64) - expected.astype(np.float64)))) if actual.size else 0.0
    limit = bound(golden, key)
    _record(golden.name, key, error, limit, float32_error(golden, key))
    assert error <= limit, (
        f"{label}: max |tf2norm - TF1| {error:.3g} > {limit:.3g} "
        f"({_factor(key):g} x the measured float32 error {float32_error(golden, key):.3g} "
        f"+ {ULPS} ulps of {float(np.max(np.abs(expected))) if expected.size else 0.0:.3g})"
    )
    return error


def check_against(actual, expected, exact, float32, what: str) -> float:
    """The same bound for a comparison that has no entry in the table: `expected` is what TF1 (or
    tfa) computed, `exact` and `float32` the reference's float64 and float32 replays of the same
    math on the same inputs (computed by the caller). Guarded as the table is: TF1's error must be
    of the size of the float32 replay's."""
    expected, actual = np.asarray(expected), np.asarray(actual)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, TF1's {expected.shape}"
    wide, exact = expected.astype(np.float64), np.asarray(exact, np.float64)
    tf1_error = float(np.max(np.abs(wide - exact))) if wide.size else 0.0
    own_error = float(np.max(np.abs(np.asarray(float32, np.float64) - exact))) if wide.size else 0.0
    scale = float(np.max(np.abs(wide))) if wide.size else 0.0
    unit = _ulp(scale, expected.dtype)
    assert tf1_error <= FORWARD_GUARD * max(own_error, unit), (
        f"{what}: TF1 is {tf1_error:.3g} from the float64 reference, its float32 replay {own_error:.3g}: "
        "the reference does not compute what TF1 did")
    measured = max(tf1_error, own_error)
    limit = ERROR_FACTOR * measured + ULPS * unit
    error = float(np.max(np.abs(actual.astype(np.float64) - wide))) if wide.size else 0.0
    _record(what, "out:" + what, error, limit, measured)
    assert error <= limit, (f"{what}: max |tf2norm - TF1| {error:.3g} > {limit:.3g} ({ERROR_FACTOR:g} x the "
                            f"measured float32 error {measured:.3g} + {ULPS} ulps of {scale:.3g})")
    return error


def _record(case: str, key: str, error: float, limit: float, measured: float) -> None:
    """One comparison, appended to $TF2NORM_RECORD_BOUNDS when set (pytest-xdist workers share the
    file: one short line per write, in append mode, is one write)."""
    path = os.environ.get("TF2NORM_RECORD_BOUNDS")
    if path:
        line = json.dumps({"case": case, "key": key, "error": error, "limit": limit, "E": measured})
        with open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")


def bounds_summary(path: str) -> str:
    """Per API (its golden prefix, tf2norm.apis), from a TF2NORM_RECORD_BOUNDS file: comparisons, how
    many of them bit for bit, the largest |tf2norm - TF1|, the largest fraction of its bound and the
    largest multiple of E (values, gradients; E = 0, where TF1 was exact, leaves only the ulps and is
    not a multiple)."""
    from tf2norm import apis

    prefixes = sorted(((prefix, api.id) for api in apis.APIS for prefix in api.goldens), key=lambda p: -len(p[0]))
    rows: dict = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            api = next((i for prefix, i in prefixes if record["case"].startswith(prefix)), "(other) " + record["case"])
            row = rows.setdefault(api, {"n": 0, "exact": 0, "error": 0.0, "fraction": 0.0, "value": 0.0, "grad": 0.0})
            row["n"] += 1
            row["exact"] += record["error"] == 0.0
            row["error"] = max(row["error"], record["error"])
            if record["limit"]:
                row["fraction"] = max(row["fraction"], record["error"] / record["limit"])
            if record["E"]:
                kind = _kind(record["key"])
                row[kind] = max(row[kind], record["error"] / record["E"])
    lines = [f"{'api':40s} {'compared':>8s} {'exact':>8s} {'max error':>10s} {'of bound':>8s} {'values/E':>8s} "
             f"{'grads/E':>8s}"]
    for api, row in sorted(rows.items()):
        lines.append(f"{api:40s} {row['n']:8d} {row['exact']:8d} {row['error']:10.2g} {row['fraction']:8.2f} "
                     f"{row['value']:8.2f} {row['grad']:8.2f}")
    return "\n".join(lines)


def rerun_summary(directory: str) -> str:
    """How far goldens regenerated elsewhere (`directory`: a scratch clone's fixtures/golden after
    rerunning the TF1 generators on another machine) are from the committed ones: value arrays bit for
    bit, the largest multiples of E (values, gradients) and fraction of the bound. The spread of TF1
    itself between machines, which the factors above must cover. tfa's goldens are left out (TF 2.15)."""
    compared = identical = 0
    worst = {"value": (0.0, ""), "grad": (0.0, ""), "bound": (0.0, "")}
    inputs_differ = []
    for path in golden_paths():
        other = Path(directory) / path.name
        if path.stem.startswith("tfa_") or not other.exists():
            continue
        golden, rerun = Golden(path), Golden(other)
        for key in golden.arrays:
            if key.startswith(("in:", "var:")) and not np.array_equal(golden[key], rerun.arrays.get(key)):
                inputs_differ.append(f"{path.stem} {key}")
            if not key.startswith(("out:", "after:", "grad:")):
                continue
            mine, theirs = np.asarray(golden[key], np.float64), np.asarray(rerun[key], np.float64)
            error = float(np.max(np.abs(mine - theirs))) if mine.size else 0.0
            kind = _kind(key)
            if kind == "value":
                compared += 1
                identical += error == 0.0
            measured, limit = float32_error(golden, key), bound(golden, key)
            for what, ratio in ((kind, error / measured if measured else 0.0),
                                ("bound", error / limit if limit else 0.0)):
                if ratio > worst[what][0]:
                    worst[what] = (ratio, f"{path.stem} {key}")
    lines = [f"value arrays: {compared}, bit for bit: {identical}"]
    named = (("values / E", worst["value"]), ("gradients / E", worst["grad"]),
             ("fraction of the bound", worst["bound"]))
    lines += [f"largest {what}: {ratio:.2f} ({where})" for what, (ratio, where) in named]
    if inputs_differ:  # another seed or input: the rerun is not the same computation
        lines.append(f"inputs or initial variables differ (not comparable): {', '.join(inputs_differ)}")
    return "\n".join(lines)


# ------------------------------------------------------------------------- the measured table


def _kind(key: str) -> str:
    return "grad" if key.startswith("grad:") else "value"


def measure(golden: Golden) -> dict:
    """TF1's float32 error on every array of `golden`, and the reference float32 replay's, checked
    against the guards; the table entry of the case."""
    from tests import golden_reference
    from tf2norm import reference

    float32 = golden_reference.reference_values(golden)
    with reference.float64():
        exact = golden_reference.reference_values(golden)
    exact.update(golden_reference.reference_gradients(golden))

    def distance(a, b):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        return float(np.max(np.abs(a - b))) if a.size else 0.0

    tf1_error = {k: distance(golden[k], exact[k]) for k in sorted(exact)}
    own_error = {k: distance(float32[k], exact[k]) for k in sorted(float32)}
    entry = {"sha256": sha256(golden.path), "tf1_error": tf1_error, "reference_float32_error": own_error}
    guard(golden, entry)
    return entry


def _relative(golden, errors, keys):
    """Largest error over `keys` relative to the largest magnitude among their golden arrays."""
    scale = max((float(np.max(np.abs(golden[k].astype(np.float64)))) for k in keys if golden[k].size), default=0.0)
    return max((errors[k] for k in keys), default=0.0) / scale if scale else 0.0


def guard(golden: Golden, entry: dict):
    """Refuse a measured TF1 error that is not the size of a float32 rounding error (docstring)."""
    values = [k for k in entry["tf1_error"] if _kind(k) == "value"]
    grads = [k for k in entry["tf1_error"] if _kind(k) == "grad"]
    dtype = np.float16 if any(golden[k].dtype == np.float16 for k in values) else np.float32
    unit = float(np.finfo(dtype).eps)
    tf1 = _relative(golden, entry["tf1_error"], values)
    own = _relative(golden, entry["reference_float32_error"], values)
    assert tf1 <= FORWARD_GUARD * max(own, unit), (
        f"{golden.name}: TF1 is {tf1:.3g} (relative) from the float64 reference, its float32 replay only "
        f"{own:.3g}: the reference does not compute what TF1 did")
    grad = _relative(golden, entry["tf1_error"], grads)
    assert grad <= GRADIENT_GUARD * max(tf1, unit), (
        f"{golden.name}: TF1's gradients are {grad:.3g} (relative) from the float64 reference's, its values "
        f"only {tf1:.3g}: the reference's gradients are not TF1's")


def write_table():
    cases = {}
    for path in golden_paths():
        cases[path.stem] = measure(Golden(path))
        print(f"{path.stem:45s} {len(cases[path.stem]['tf1_error']):3d} arrays", flush=True)
    document = {
        "about": "TF1's own float32 error per golden array: max |golden - tf2norm.reference in float64| "
                 "(see tests/tolerance.py); written by `python -m tests.tolerance --write`",
        "cases": cases,
    }
    tmp = TABLE.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(TABLE)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--bounds"] and len(sys.argv) == 3:
        print(bounds_summary(sys.argv[2]))
    elif sys.argv[1:2] == ["--rerun"] and len(sys.argv) == 3:
        print(rerun_summary(sys.argv[2]))
    elif sys.argv[1:] == ["--write"]:
        write_table()
    else:
        sys.exit("usage: python -m tests.tolerance --write   (rewrites fixtures/golden/float32_error.json)\n"
                 "       python -m tests.tolerance --bounds FILE   (summarises a TF2NORM_RECORD_BOUNDS file)\n"
                 "       python -m tests.tolerance --rerun DIR   (goldens regenerated elsewhere against these)")
