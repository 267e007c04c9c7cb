"""tf2norm.apis is complete: every legacy API has all its parts, and every part belongs to an API.

This is the test that fails while a new API is half added (DEVELOPERS.md, "Adding a legacy API").
"""

from __future__ import annotations

import pkgutil
import re
from pathlib import Path

import pytest

from tf2norm import apis, rewriters
from tf2norm.checkpoints import kinds

ROOT = Path(__file__).resolve().parents[1]
API_IDS = [api.id for api in apis.APIS]


def _public_modules(package) -> set[str]:
    return {info.name for info in pkgutil.iter_modules(package.__path__) if not info.name.startswith("_")}


def test_ids_are_unique_and_every_rewriter_module_is_an_api():
    assert len(API_IDS) == len(set(API_IDS))
    assert _public_modules(rewriters) - {"command"} == set(API_IDS)


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_every_api_has_its_rewriter_and_its_rewriter_tests(api):
    assert (ROOT / "tf2norm" / "rewriters" / f"{api.id}.py").is_file()
    assert (ROOT / "tests" / "rewriters" / f"test_{api.id}.py").is_file()


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_identifiers_reach_every_legacy_name(api):
    # A legacy name is reached through its own components (attributes, names, imported module paths),
    # the first (`tensorflow`, `tensorflow_addons`) aside; one of them must make the file worth parsing.
    # `tensorflow.X` is also `tensorflow.compat.v1.X` (what tf_upgrade_v2 writes), reached through `compat`.
    rewriter = rewriters.available()[api.id]
    for name in rewriter.legacy:
        parts = set(name.split(".")[1:])
        if name.startswith("tensorflow."):
            parts.add("compat")
        if name.startswith("tensorflow_addons."):
            parts.add("tensorflow_addons")
        assert parts & api.identifiers, f"{api.id}: nothing in {sorted(api.identifiers)} reaches {name}"


def test_the_prefilter_pattern_finds_every_identifier():
    pattern = apis.mentions_pattern()
    assert all(pattern.search(name) for name in apis.identifiers())
    assert not pattern.search("import tensorflow as tf\nx = tf.keras.layers.Dense(3)(y)\n")


def test_the_rewriters_run_in_the_manifest_order():
    order = list(rewriters.available())
    assert order == list(apis.rewriter_order())
    assert sorted(order) == sorted(API_IDS)
    for api in apis.APIS:
        if api.wraps_cells:
            assert all(order.index(other.id) < order.index(api.id) for other in apis.APIS if other.cells)
        if api.reviews_leftovers:
            assert all(order.index(other.id) < order.index(api.id) for other in apis.APIS
                       if not other.reviews_leftovers)


def test_every_replacement_belongs_to_an_api():
    from tf2norm import replacements

    owned = {name for api in apis.APIS for name in api.replacements} | set(apis.SHARED_REPLACEMENTS)
    assert set(replacements.__all__) == owned
    assert all(hasattr(replacements, name) for name in owned)


def test_every_replacement_module_belongs_to_an_api():
    from tf2norm import replacements

    public = _public_modules(replacements)
    owned = {api.id for api in apis.APIS} | {m for api in apis.APIS for m in api.modules} | set(apis.SHARED_MODULES)
    assert public <= owned, f"modules no API owns: {sorted(public - owned)}"
    # Every API with replacements has its own module (contrib_slim has one without a public name; the
    # whole-program rewriters have none).
    needed = {api.id for api in apis.APIS if api.replacements} | {m for api in apis.APIS for m in api.modules}
    assert needed | set(apis.SHARED_MODULES) <= public


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_an_apis_replacements_live_in_its_modules(api):
    import importlib

    if not api.replacements:
        assert not api.modules
        return
    homes = [importlib.import_module(f"tf2norm.replacements.{m}")
             for m in (api.id, *api.modules, *apis.SHARED_MODULES)]
    for name in api.replacements:
        assert any(hasattr(module, name) for module in homes), f"{name} is not in {api.id}'s modules"


def test_every_checkpoint_kind_belongs_to_an_api():
    assert {k.ID for k in kinds.all_kinds()} == {kind for api in apis.APIS for kind in api.kinds}


@pytest.mark.parametrize("api", [a for a in apis.APIS if a.kinds], ids=[a.id for a in apis.APIS if a.kinds])
def test_a_kind_loads_one_of_its_apis_replacements(api):
    for kind in api.kinds:
        assert kinds.short_class_name(kind) in api.replacements


def _goldens():
    return sorted(p.name for p in (ROOT / "fixtures" / "golden").glob("*.npz"))


def test_every_golden_belongs_to_exactly_one_api():
    for name in _goldens():
        owners = [api.id for api in apis.APIS for prefix in api.goldens if name.startswith(prefix)]
        assert len(owners) == 1, f"{name}: {owners}"


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_an_api_with_arithmetic_has_goldens_and_their_generators(api):
    if not api.arithmetic:
        # No goldens; a generator may record behaviour (contrib_hparams: TF 1.15's values and errors).
        assert not api.goldens
        assert all((ROOT / generator).is_file() for generator in api.generators)
        return
    assert api.goldens and api.generators
    assert (ROOT / "tf2norm" / "reference" / f"{api.id}.py").is_file(), f"no NumPy reference for {api.id}"
    for prefix in api.goldens:
        assert any(name.startswith(prefix) for name in _goldens()), f"no fixtures/golden/{prefix}*.npz"
    for generator in api.generators:
        assert (ROOT / generator).is_file(), generator


def test_every_reference_module_belongs_to_an_api():
    from tf2norm import reference

    assert _public_modules(reference) == {api.id for api in apis.APIS if api.arithmetic}


def test_every_generator_belongs_to_an_api():
    scripts = {str(p.relative_to(ROOT)) for d in ("tf1", "tfa") for p in (ROOT / "fixtures" / d).glob("*.py")
               if not p.name.startswith("_")}  # _tf1.py: what the TF 1.15 generators share
    assert scripts == {g for api in apis.APIS for g in api.generators} | set(apis.PROGRAM_GENERATORS)


def test_every_real_checkpoint_belongs_to_exactly_one_api():
    directories = sorted(p.name for p in (ROOT / "fixtures" / "checkpoints").iterdir() if p.is_dir())
    listed = [c for api in apis.APIS for c in api.checkpoints]
    assert sorted(listed) == directories
    for api in apis.APIS:
        assert bool(api.checkpoints) == bool(api.kinds), api.id


def test_readme_support_table_is_the_manifests():
    # Regenerate it with `python -m tf2norm.apis` after changing a row.
    assert apis.support_table() in (ROOT / "README.md").read_text(encoding="utf-8")


def _codes(text: str) -> set[str]:
    """The finding codes a README cell names: `TF2N101`, then `102`, `105/106`, `601-603` after it."""
    found = set()
    for match in re.finditer(r"TF2N\d{3}|(?<![\d.e-])\d{3}(?:-\d{3})?(?![\d.])", text):
        token = match.group()
        if token.startswith("TF2N"):
            found.add(token)
        elif "-" in token:
            low, high = map(int, token.split("-"))
            found.update(f"TF2N{n}" for n in range(low, high + 1))
        else:
            found.add(f"TF2N{token}")
    return found


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_the_support_table_names_exactly_the_rewriters_codes_and_the_apis_kinds(api):
    rewriter = rewriters.available()[api.id]
    cells = [getattr(row, field) for row in api.rows for field in ("keras", "compat", "reported")]
    assert _codes(" ".join(cells)) == set(rewriter.rules)
    assert set(re.findall(r"`(\w+)`", " ".join(row.kind for row in api.rows))) >= set(api.kinds)


def _tests(directory: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / "tests" / directory).glob("test_*.py"))


@pytest.mark.parametrize("api", apis.APIS, ids=API_IDS)
def test_every_api_has_its_tests(api):
    replacement_tests = [t for t in _tests("replacements") if t.startswith(f"test_{api.id}")]
    # An API without a replacement module (a program-wide rewrite or check) has only its rewriter's tests.
    has_module = (ROOT / "tf2norm" / "replacements" / f"{api.id}.py").exists()
    assert bool(api.replacements) <= has_module, f"tf2norm/replacements/{api.id}.py"
    assert bool(replacement_tests) == has_module, f"tests/replacements/test_{api.id}*.py"
    if api.arithmetic:
        assert f"test_{api.id}_golden" in replacement_tests
    if api.kinds:
        assert any(t.startswith(f"test_{api.id}") for t in _tests("checkpoints")), \
            f"no tests/checkpoints/test_{api.id}*.py"


# Tests of what no one API owns: shared replacement modules, the contract of every layer, Keras
# internals; the checkpoint tools' generic parts.
_GENERIC_TESTS = {"test_batch_normalization", "test_contract", "test_keras_internals"}


@pytest.mark.parametrize("directory", ["replacements", "checkpoints"])
def test_every_test_module_is_named_by_its_api(directory):
    for test in _tests(directory):
        owners = [api.id for api in apis.APIS for name in (api.id, *api.modules)
                  if test == f"test_{name}" or test.startswith(f"test_{name}_")]
        assert owners or test in _GENERIC_TESTS or test.startswith("test_checkpoint_"), test
