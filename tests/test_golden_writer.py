"""fixtures/golden_writer.py, the one writer of every generator's .npz files, writes them byte for byte.

Regenerating a fixture that computes the same numbers must leave git clean: the writer's bytes depend
on the arrays alone (sorted members, fixed timestamps). Checked against committed files of every
generator that writes through it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


def _writer():
    spec = importlib.util.spec_from_file_location("golden_writer", FIXTURES / "golden_writer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# One file per generator that writes through golden_writer (fixtures/tf1/*.py and fixtures/tfa/tfa_rnn_cells.py).
WRITTEN = ["golden/bn_rank3.npz", "golden/lstm_one_layer.npz", "golden/lngru_one_layer.npz",
           "golden/tfa_cell_lstm_default.npz", "golden/layernorm_rank3_default.npz", "golden/bnlstm_defaults.npz",
           "golden/tlbn_rank3.npz", "checkpoints/layer_norm/golden.npz", "checkpoints/bn_lstm/model.npz",
           "checkpoints/layers_bn/golden.npz", "checkpoints/tfa_cells/golden.npz"]


@pytest.mark.parametrize("name", WRITTEN)
def test_rewriting_a_committed_file_reproduces_its_bytes(name, tmp_path):
    committed = FIXTURES / name
    with np.load(committed) as data:
        arrays = {key: data[key] for key in data.files}
    out = tmp_path / "again.npz"
    _writer().write_npz(str(out), arrays)
    assert out.read_bytes() == committed.read_bytes()


def test_a_golden_case_holds_its_config_and_float32_arrays(tmp_path, capsys):
    _writer().save_case(str(tmp_path), "case_x", {"b": 1, "a": [2]}, {"out:y": np.arange(3.0), "in:n": np.int32(4)})
    assert capsys.readouterr().out.split() == ["wrote", "case_x.npz", "3", "arrays"]
    with np.load(tmp_path / "case_x.npz") as data:
        assert sorted(data.files) == ["config", "in:n", "out:y"]
        assert str(data["config"]) == '{"a": [2], "b": 1, "case": "case_x"}'
        assert data["out:y"].dtype == np.float32 and data["in:n"].dtype == np.int32
