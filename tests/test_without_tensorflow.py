"""`pip install tf2norm` brings no TensorFlow: migrate works without it, the rest says what to install.

The "no TensorFlow" environment is simulated in a subprocess by an import hook that makes
`tensorflow` and `keras` unimportable, as in a fresh venv with only libcst and click.
"""

import subprocess
import sys
from pathlib import Path

import tomllib

from tf2norm import _requirements

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ("pip install 'tf2norm[tf]' (or any TensorFlow 2.16+ distribution: tensorflow, tensorflow-cpu, "
           "tensorflow-macos, ...)")

_BLOCK = """
import sys

class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("tensorflow", "keras"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, _NotInstalled())
"""


def _without_tensorflow(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _BLOCK + code], capture_output=True, text=True, timeout=120,
                          cwd=ROOT)


def test_migrate_runs_without_tensorflow_numpy_or_h5py(tmp_path):
    (tmp_path / "legacy.py").write_text("import tensorflow as tf\n\ny = tf.contrib.layers.batch_norm(x, decay=0.9)\n")
    done = _without_tensorflow(
        "from tf2norm.cli import main\n"
        f"try:\n    main(['migrate', {str(tmp_path / 'legacy.py')!r}])\n"
        "except SystemExit as exit:\n    print('exit', exit.code)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'numpy', 'h5py'}))\n")
    assert done.stdout == "exit 1\n[]\n", done.stderr
    assert (tmp_path / "legacy.py").read_text() == (
        "import tensorflow as tf\nfrom tf2norm.replacements import BatchNormalization\n\n"
        "y = BatchNormalization(momentum=0.9, scale=False)(x, training=True)\n")


def test_checkpoint_command_names_what_to_install():
    done = _without_tensorflow("from tf2norm.cli import main\nmain(['checkpoint', 'inspect', 'model.ckpt'])\n")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"error: tf2norm checkpoint needs TensorFlow 2.16 or later, which is not installed: "
                           f"{INSTALL}\n")


def test_importing_the_replacements_or_checkpoints_names_what_to_install():
    for package in ("tf2norm.replacements", "tf2norm.checkpoints"):
        done = _without_tensorflow(
            f"try:\n    import {package}\n"
            "except ImportError as error:\n    print(type(error).__name__, error)\n")
        assert done.stdout == (f"MissingDependency {package} needs TensorFlow 2.16 or later, which is not "
                               f"installed: {INSTALL}\n"), done.stderr


def test_keras_2_means_a_tensorflow_too_old(monkeypatch):
    monkeypatch.setattr(_requirements.metadata, "version", lambda name: "2.15.0")
    assert _requirements.problem("tf2norm checkpoint") == (
        "tf2norm checkpoint needs TensorFlow 2.16 or later (Keras 3); this environment has Keras 2.15.0, from an "
        "older TensorFlow: pip install --upgrade 'tensorflow>=2.16' (or your TensorFlow distribution, e.g. "
        "tensorflow-cpu)")
    monkeypatch.undo()
    assert _requirements.problem("tf2norm checkpoint") is None


def test_the_hard_dependencies_are_only_what_migrate_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["dependencies"] == ["libcst>=1.1", "click>=8.1", "tomli>=1.1; python_version < '3.11'"]
    assert project["optional-dependencies"]["tf"] == ["tensorflow>=2.16", "keras>=3", "numpy", "h5py"]
