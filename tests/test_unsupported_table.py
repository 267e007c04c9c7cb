"""tf2norm.unsupported's table against the installed TensorFlow 2.16+ / Keras 3: every entry cannot run,
and every replacement its fix names exists."""

import importlib

import pytest

from tf2norm import unsupported

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")


def _entries(prefix):
    return [e for e in unsupported.TABLE if e.prefix.startswith(prefix)]


def test_tf_contrib_is_gone():
    with pytest.raises(ModuleNotFoundError, match="No module named 'tensorflow.contrib'"):
        importlib.import_module("tensorflow.contrib")
    with pytest.raises(AttributeError, match="has no attribute 'contrib'"):
        tf.contrib  # noqa: B018
    assert _entries("tensorflow.contrib")


@pytest.mark.parametrize("entry", _entries("tensorflow.layers.") + _entries("tensorflow.nn.rnn_cell."),
                         ids=lambda e: e.prefix)
def test_every_tf1_layer_and_cell_listed_raises_on_keras_3(entry):
    module, name = entry.prefix.rsplit(".", 1)
    namespace = tf.compat.v1.layers if module == "tensorflow.layers" else tf.compat.v1.nn.rnn_cell
    with pytest.raises(AttributeError, match=f"`{name}` is not available with Keras 3"):
        getattr(namespace, name)


@pytest.mark.parametrize("name", sorted(unsupported.TF_LAYERS))
def test_the_fixes_of_tf_layers_name_what_exists(name):
    layer, module = unsupported.TF_LAYERS[name]
    assert hasattr(keras.layers, layer)
    legacy = importlib.import_module(f"tensorflow.python.keras.legacy_tf_layers.{module}")
    assert callable(getattr(legacy, name))


def test_the_cells_fixes_name_tf2norms_replacements():
    from tf2norm import replacements

    for entry in unsupported.TABLE:
        if entry.prefix.rsplit(".", 1)[1] in unsupported.TF1_CELLS:
            named = entry.fix.split(":")[0].split(" ")[-1]  # "tf2norm.replacements.X: ..." / "derive from ...: ..."
            assert named.startswith("tf2norm.replacements."), entry
            assert hasattr(replacements, named.rsplit(".", 1)[1]), entry


def test_the_tf_slim_fixes_name_what_tf_slim_has():
    tf_slim = pytest.importorskip("tf_slim")  # tf-slim is what the fixes ask users to install
    for entry in _entries("tensorflow.contrib.layers."):
        assert entry.code == "TF2N722"
        assert callable(getattr(tf_slim, entry.prefix.rsplit(".", 1)[1])), entry.prefix
    assert callable(tf_slim.arg_scope) and callable(tf_slim.add_arg_scope)
