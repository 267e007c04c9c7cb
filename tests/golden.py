"""Loading the real-TF1 golden fixtures (fixtures/golden/*.npz).

They are made by the generators of fixtures/tf1/ and fixtures/tfa/.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "golden"


class Golden:
    """One case: `config` (dict) and the arrays by their `in:`, `var:`, `out:`, `after:`, `grad:` keys."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.stem
        with np.load(path) as data:
            self.arrays = {key: data[key] for key in data.files}
        self.config = json.loads(str(self.arrays.pop("config")))

    def __getitem__(self, key):
        return self.arrays[key]

    def __contains__(self, key):
        return key in self.arrays

    def with_prefix(self, prefix: str) -> dict:
        return {k[len(prefix):]: v for k, v in self.arrays.items() if k.startswith(prefix)}


def cases(prefix: str):
    paths = sorted(GOLDEN_DIR.glob(f"{prefix}*.npz"))
    if not paths:
        raise FileNotFoundError(f"no golden fixtures {prefix}*.npz under {GOLDEN_DIR}")
    return [Golden(p) for p in paths]


def case_ids(prefix: str):
    return [p.stem for p in sorted(GOLDEN_DIR.glob(f"{prefix}*.npz"))]


def max_abs_error(actual, expected) -> float:
    return float(np.max(np.abs(np.asarray(actual, np.float64) - np.asarray(expected, np.float64))))
