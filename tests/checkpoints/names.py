"""TF1 checkpoint variable lists for the recognition tests: `(name, shape, dtype)` triples, no TensorFlow."""

from __future__ import annotations

F = "float32"
GATES = [f"{g}/{p}" for g in ("input", "transform", "forget", "output", "state") for p in ("gamma", "beta")]


def ln_cell(scope, d=5, h=8, kernel="kernel", dtype=F):
    return [(f"{scope}/{kernel}", (d + h, 4 * h), dtype)] + [(f"{scope}/{g}", (h,), F) for g in GATES]


def plain_cell(scope, d=5, h=6, kernel="kernel", bias="bias"):
    return [(f"{scope}/{kernel}", (d + h, 4 * h), F), (f"{scope}/{bias}", (4 * h,), F)]


def bn(scope, c=4, center=True, scale=True):
    out = [(f"{scope}/moving_mean", (c,), F), (f"{scope}/moving_variance", (c,), F)]
    if center:
        out.append((f"{scope}/beta", (c,), F))
    if scale:
        out.append((f"{scope}/gamma", (c,), F))
    return out


def summary(inv):
    return {g.scope: (g.kind, g.naming, sorted(g.weights)) for g in inv.groups}


LN_WEIGHTS = sorted(["kernel"] + [g.replace("/", "_") for g in GATES])
