"""tf2norm.replacements.HParams against TF 1.15's tf.contrib.training.HParams.

Every case of fixtures/golden/contrib_hparams.json (written by fixtures/tf1/contrib_hparams.py under
real TF 1.15) is replayed: each operation's value or exact error, then values() with the exact type
of every value (an int must not become a float), str(), repr() and to_json().
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tf2norm.replacements.contrib_hparams import HParams

GOLDEN = Path(__file__).resolve().parents[2] / "fixtures" / "golden" / "contrib_hparams.json"
RECORDED = json.loads(GOLDEN.read_text())
CASES = RECORDED["cases"]


def _apply(hparams, op):
    method, args = op[0], op[1:]
    if method == "getattr":
        return getattr(hparams, args[0])
    if method == "in":
        return args[0] in hparams
    return getattr(hparams, method)(*args)


def _outcome(call):
    try:
        value = call()
    except Exception as e:  # noqa: BLE001  (every error is part of the contract)
        return {"error": f"{type(e).__name__}: {e}"}
    return {"self": True} if isinstance(value, HParams) else {"ok": value}


def _exact(value) -> str:
    """JSON text: tells 2 from 2.0 and True from 1, which == does not."""
    return json.dumps(value, sort_keys=True)


def test_the_oracle_is_tf_1_15():
    assert RECORDED["tensorflow"] == "1.15.0"
    assert len(CASES) == 25


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_hparams_behaves_as_tf1(case):
    made = _outcome(lambda: HParams(**dict(case["kwargs"])))
    assert made == case["constructor"]
    if "error" in made:
        return
    hparams = HParams(**dict(case["kwargs"]))
    results = [_outcome(lambda op=op: _apply(hparams, op)) for op in case["ops"]]
    assert _exact(results) == _exact(case["results"])
    assert _exact(hparams.values()) == _exact(case["values"])
    assert {k: type(v[0] if isinstance(v, list) else v).__name__ for k, v in hparams.values().items()} \
        == case["types"]
    assert str(hparams) == case["str"]
    assert repr(hparams) == case["repr"]
    assert hparams.to_json(sort_keys=True) == case["json"]


def test_hparam_def_is_refused_in_one_line():
    with pytest.raises(NotImplementedError, match=r"^tf2norm.replacements.HParams does not read an HParamDef"):
        HParams(hparam_def=object())


def test_model_structure_is_kept_and_hparam_def_none_is_no_hparam():
    structure = object()
    hparams = HParams(hparam_def=None, model_structure=structure, a=1)
    assert hparams.get_model_structure() is structure
    assert hparams.values() == {"a": 1}


def test_it_needs_no_tensorflow():
    import subprocess
    import sys

    module = Path(__file__).resolve().parents[2] / "tf2norm" / "replacements" / "contrib_hparams.py"
    code = ("import sys; sys.modules['tensorflow'] = None\n"
            "import importlib.util\n"
            f"spec = importlib.util.spec_from_file_location('h', {str(module)!r})\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(m.HParams(a=1).parse('a=2').a)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "2\n", "")


def test_the_protocol_buffer_methods_say_what_to_use_instead():
    # TF1's HParamDef went with tf.contrib: a clear NotImplementedError, not an AttributeError
    hps = HParams(lr=0.1)
    with pytest.raises(NotImplementedError) as to_proto:
        hps.to_proto()
    assert str(to_proto.value) == ("tf2norm.replacements.HParams has no to_proto() (TF1's HParamDef protocol buffer "
                                   "went with tf.contrib); serialise with to_json() / parse_json() instead")
    with pytest.raises(NotImplementedError, match=r"^tf2norm.replacements.HParams has no from_proto\(\) "):
        HParams.from_proto(object())
