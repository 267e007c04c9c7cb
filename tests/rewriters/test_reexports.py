"""A project module that re-exports TensorFlow (`from .backend import tf`) hides no legacy call.

Each test is a two-file project run through the CLI, the way users run it on a tree: the importing
file must be migrated exactly as if it imported TensorFlow itself, or reported (TF2N730).
"""

import ast
from textwrap import dedent

import pytest
from click.testing import CliRunner

from tf2norm.cli import main
from tf2norm.rewriters import _project

CALLER_BODY = """

def block(x, training):
    return {tf}.layers.batch_normalization(x, training=training)
"""
MIGRATED_BODY = """

def block(x, training):
    return BatchNormalization(momentum=0.99, scale=True, tf1_api="layers")(
        x, training=training
    )
"""
REPLACEMENT_IMPORT = "from tf2norm.replacements import BatchNormalization\n"


def run(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(dedent(text))
    result = CliRunner().invoke(main, ["migrate", "--jobs", "1", str(tmp_path)])
    return result, {name: (tmp_path / name).read_text() for name in files}


BINDINGS = {
    "import_as": "import tensorflow.compat.v1 as tf\n",
    "assign_module": "import tensorflow\n\ntf = tensorflow.compat.v1\n",
    "rebind_compat": "import tensorflow as tf\n\ntf = tf.compat.v1\n",
    # DeepXDE 0.8.0's backend.py: either branch is TF1's API.
    "same_in_every_branch": """\
        import tensorflow as tf

        if tf.__version__.startswith("1."):
            tf = tf
        else:
            tf = tf.compat.v1
            tf.disable_v2_behavior()
        """,
}


@pytest.mark.parametrize("binding", sorted(BINDINGS))
@pytest.mark.parametrize("importer", ["from .backend import tf\n", "from pkg.backend import tf\n"])
def test_a_file_taking_tf_from_a_project_module_is_migrated(tmp_path, binding, importer):
    result, after = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/backend.py": BINDINGS[binding],
        "pkg/model.py": importer + CALLER_BODY.format(tf="tf"),
    })
    assert result.exit_code == 1, result.output
    assert after["pkg/model.py"] == dedent(importer + REPLACEMENT_IMPORT + MIGRATED_BODY)
    assert after["pkg/backend.py"] == dedent(BINDINGS[binding])  # the re-export itself is untouched
    assert result.output == "migrated pkg/model.py\ntf2norm: 3 files, 1 changed, 0 findings, 0 failed\n".replace(
        "pkg/", str(tmp_path / "pkg") + "/")


def test_a_module_attribute_of_an_imported_project_module(tmp_path):
    result, after = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/backend.py": BINDINGS["rebind_compat"],
        "pkg/model.py": "import pkg.backend as B\n" + CALLER_BODY.format(tf="B.tf"),
    })
    assert result.exit_code == 1, result.output
    assert after["pkg/model.py"] == dedent("import pkg.backend as B\n" + REPLACEMENT_IMPORT + MIGRATED_BODY)


def test_after_tf_upgrade_v2_the_compat_spelling_through_a_compat_v1_tf(tmp_path):
    # `tf_upgrade_v2 --intree` turns `tf.layers.x` into `tf.compat.v1.layers.x` whatever `tf` is.
    result, after = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/backend.py": BINDINGS["same_in_every_branch"],
        "pkg/model.py": "from .backend import tf\n" + CALLER_BODY.format(tf="tf.compat.v1"),
    })
    assert result.exit_code == 1, result.output
    assert after["pkg/model.py"] == dedent("from .backend import tf\n" + REPLACEMENT_IMPORT + MIGRATED_BODY)


def test_a_flat_script_directory(tmp_path):
    result, after = run(tmp_path, {
        "utils.py": BINDINGS["import_as"],
        "train.py": "from utils import tf\n" + CALLER_BODY.format(tf="tf"),
    })
    assert result.exit_code == 1, result.output
    assert after["train.py"] == dedent("from utils import tf\n" + REPLACEMENT_IMPORT + MIGRATED_BODY)


def test_a_project_object_named_tf_is_not_tensorflow(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/backend.py": "import tensorflow\n\n\nclass Toolkit:\n    layers = None\n\n\ntf = Toolkit()\n",
        "pkg/model.py": "from .backend import tf\n" + CALLER_BODY.format(tf="tf"),
    }
    result, after = run(tmp_path, files)
    assert result.exit_code == 0, result.output
    assert after == {name: dedent(text) for name, text in files.items()}


CONDITIONAL = """\
    import os

    if os.environ.get("USE_TF1"):
        import tensorflow.compat.v1 as tf
    else:
        import numpy as tf
    """


def test_a_conditional_binding_reached_through_a_module_attribute_is_reported(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/backend.py": CONDITIONAL,
        "pkg/model.py": "import pkg.backend as B\n" + CALLER_BODY.format(tf="B.tf"),
    }
    result, after = run(tmp_path, files)
    assert after == {name: dedent(text) for name, text in files.items()}
    assert result.exit_code == 1, result.output
    assert result.output == report(tmp_path / "pkg" / "model.py", "B.tf")


def test_a_conditional_binding_to_different_things_is_reported_at_the_import(tmp_path):
    files = {
        "pkg/__init__.py": "",
        "pkg/backend.py": CONDITIONAL,
        "pkg/model.py": "from .backend import tf\n" + CALLER_BODY.format(tf="tf"),
    }
    result, after = run(tmp_path, files)
    assert result.exit_code == 1, result.output
    assert after == {name: dedent(text) for name, text in files.items()}
    assert result.output == report(tmp_path / "pkg" / "model.py", "tf")


def report(path, name: str) -> str:
    return (
        f"{path}:1:1: TF2N730 {name} is imported from a project module that binds it to something that is not "
        "TensorFlow or tensorflow.compat.v1 depending on a condition; its legacy calls are left unchanged "
        "(fix: bind it to one TensorFlow module in that module (e.g. `import tensorflow.compat.v1 as tf`), "
        "then run tf2norm again)\n"
        "tf2norm: 3 files, 0 changed, 1 finding, 0 failed\n")



def test_a_re_exported_slim_survives_its_module_s_migration_and_its_users_are_migrated(tmp_path):
    # model.py names no word of a legacy API (`slim`, `batch_norm`): the driver's word test alone would
    # skip it; importing a re-exporting module is what makes it read.
    result, after = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/backend.py": "import tensorflow as tf\n\nslim = tf.contrib.slim\n",
        "pkg/model.py": "from .backend import slim\n\n\ndef f(x):\n    return slim.batch_norm(x)\n",
    })
    assert result.exit_code == 1, result.output
    assert after["pkg/backend.py"] == "import tensorflow as tf\n\nimport tf_slim as slim\n"
    assert after["pkg/model.py"] == (
        "from .backend import slim\n"
        "from tf2norm.replacements import BatchNormalization\n\n\n"
        "def f(x):\n    return BatchNormalization(momentum=0.999, scale=False)(x, training=True)\n")


def test_a_module_imported_from_its_package(tmp_path):
    result, after = run(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/backend.py": BINDINGS["import_as"],
        "pkg/model.py": "from . import backend\n" + CALLER_BODY.format(tf="backend.tf"),
    })
    assert result.exit_code == 1, result.output
    assert after["pkg/model.py"] == dedent("from . import backend\n" + REPLACEMENT_IMPORT + MIGRATED_BODY)


@pytest.mark.parametrize(("source", "expected"), [
    ("try:\n    import tensorflow.compat.v1 as tf\nexcept ImportError:\n    import tensorflow as tf\n",
     {"tf": "tensorflow.compat.v1"}),
    ("import tensorflow as tf\n\n\ndef tf():\n    pass\n", {}),
    ("from tensorflow.contrib import slim\nfrom tensorflow.python.ops import array_ops\n",
     {"slim": "tensorflow.contrib.slim"}),
    ("import tensorflow as tf\nfor tf in range(3):\n    pass\n",
     {"tf": _project.Ambiguous(("something that is not TensorFlow", "tensorflow"))}),
    # A function's, class's or comprehension's own names are not the module's.
    ("import tensorflow as tf\n\n\ndef f(x):\n    tf = x\n    return [tf for tf in x]\n", {"tf": "tensorflow"}),
    ("import tensorflow as tf\n\n\nclass C:\n    tf = None\n", {"tf": "tensorflow"}),
    ("import tensorflow as tf\nxs = [tf for tf in range(3)]\n", {"tf": "tensorflow"}),
    # ... unless declared global there, or bound by a walrus in a comprehension.
    ("import tensorflow as tf\n\n\ndef f():\n    global tf\n    tf = None\n", {}),
    ("import tensorflow as tf\nxs = [(tf := y) for y in range(3)]\n", {}),
    ("import tensorflow as tf\ndel tf\n", {}),
    ("import tensorflow as tf\nwith open(p) as tf:\n    pass\n", {}),
    ("import tensorflow as tf\ntry:\n    pass\nexcept ImportError as tf:\n    pass\n",
     {"tf": _project.Ambiguous(("something that is not TensorFlow", "tensorflow"))}),
])
def test_what_a_module_re_exports(source, expected):
    relevant = {"tensorflow", "tensorflow.contrib", "tensorflow.contrib.slim"}
    assert _project.exports(ast.parse(source), relevant.__contains__) == expected


# Nearly every module of a TF1 project binds `tf`, so nearly every file imports a "re-exporting"
# module; only a use of a re-exported name may reach TensorFlow (tensor2tensor: 610 of 831 files
# import such a module, 4 use a re-exported name).
@pytest.mark.parametrize(("source", "expected"), [
    ("from pkg import backend\nbackend.helper(1)\n", False),
    ("from pkg import backend\nbackend.tf.layers.dense(x, 1)\n", True),
    ("from pkg import backend as B\nB.helper(B.tf)\n", True),
    ("from pkg import backend\nb = backend\n", True),  # the module itself escapes
    ("from pkg import backend\nf(backend)\n", True),
    ("from pkg.backend import helper\n", False),
    ("from pkg.backend import tf\n", True),
    ("from pkg.backend import *\n", True),
    ("import pkg.backend\npkg.backend.helper()\n", True),  # dotted import: conservatively yes
    ("import pkg.backend as B\nB.helper()\n", False),
    ("import pkg.backend as B\nB.tf.x\n", True),
    ("from . import backend\nbackend.helper()\n", False),
    ("from .backend import helper, tf\n", True),
    ("def f():\n    from pkg import backend\n    return backend.tf\n", True),
    ("from pkg import other\nother.tf.x\n", False),  # `other` re-exports nothing
])
def test_a_file_reaches_a_re_export_only_through_a_re_exported_name(tmp_path, source, expected):
    (tmp_path / "pkg").mkdir()
    backend = str(tmp_path / "pkg" / "backend.py")
    project = _project.Project({backend: {"tf": "tensorflow.compat.v1"}}, str(tmp_path / "pkg" / "model.py"))
    assert project.imported_by(ast.parse(source)) is expected


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_scan_finds_a_re_export_in_any_chunk_of_a_parallel_run(tmp_path, jobs):
    # --jobs > 1 scans the files in the workers, _SCAN_CHUNK files a task: the re-exporting module and
    # its importer sort after the first chunks, and the importer must still be migrated.
    from tf2norm.rewriters import command

    files = {f"pkg/a{i:02}.py": f"VALUE = {i}\n" for i in range(2 * command._SCAN_CHUNK + 3)}
    files.update({"pkg/__init__.py": "", "pkg/zz_backend.py": BINDINGS["import_as"],
                  "pkg/zz_model.py": "from .zz_backend import tf\n" + CALLER_BODY.format(tf="tf")})
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    result = CliRunner().invoke(main, ["migrate", "--check", "--jobs", jobs, str(tmp_path)])
    assert result.output == f"would migrate {tmp_path / 'pkg/zz_model.py'}\n" \
        f"tf2norm: {len(files)} files, 1 would change, 0 findings, 0 failed\n"
    assert result.exit_code == 1
