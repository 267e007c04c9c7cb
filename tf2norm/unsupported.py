"""What cannot import or run on TensorFlow 2.16+ / Keras 3, by module path, with the one-line fix.

The table `tf2norm migrate` reports from (rewriter `unsupported_apis`, TF2N720-TF2N729): a name or
an import whose canonical path (`tensorflow.compat.v1.X` read as `tensorflow.X`) starts with an
entry's `prefix` cannot run on TF 2.16+ / Keras 3; the longest matching prefix gives the message
and the fix. What a rewriter of tf2norm migrates is never reported from here: the check runs on the
migrated tree, after every rewriter (see tf2norm/rewriters/unsupported_apis.py), so an entry stays
true as rewriters are added (a TF1 cell, `tf.contrib.slim`, ...) without editing this table.

Every entry was checked on TensorFlow 2.21.0 / Keras 3.15.1 without tf_keras: each `tensorflow.contrib`
path raises `ModuleNotFoundError: No module named 'tensorflow.contrib'` (as an import) or
`AttributeError: module 'tensorflow' has no attribute 'contrib'`; every `tf.compat.v1.layers.X` and
`tf.compat.v1.nn.rnn_cell.X` listed raises `AttributeError: `X` is not available with Keras 3.` (and
`tf.layers` does not exist); the fixes' targets (`tf_slim.l2_regularizer`, ...,
`tensorflow.python.keras.legacy_tf_layers.core.dense`, ...) import there. TF-free and LibCST-free.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Unsupported:
    """One module path that cannot run, the finding code for it, and its one-line fix."""

    prefix: str
    code: str
    why: str
    fix: str


_CONTRIB = "tf.contrib was removed in TensorFlow 2.0"
_KERAS3 = "removed from TensorFlow 2.16+ with Keras 3 (\"not available with Keras 3\")"

#: tf.layers' functions and classes (other than batch normalization, which tf2norm migrates) and their
#: Keras 3 layer; (module of tensorflow.python.keras.legacy_tf_layers, function) keeps TF1's variable names.
TF_LAYERS = {
    "dense": ("Dense", "core"), "Dense": ("Dense", "core"),
    "dropout": ("Dropout", "core"), "Dropout": ("Dropout", "core"),
    "flatten": ("Flatten", "core"), "Flatten": ("Flatten", "core"),
    **{name: (cls, "convolutional") for name, cls in (
        ("conv1d", "Conv1D"), ("conv2d", "Conv2D"), ("conv3d", "Conv3D"), ("conv2d_transpose", "Conv2DTranspose"),
        ("conv3d_transpose", "Conv3DTranspose"), ("separable_conv1d", "SeparableConv1D"),
        ("separable_conv2d", "SeparableConv2D"))},
    **{cls: (cls, "convolutional") for cls in ("Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "Conv3DTranspose",
                                               "SeparableConv1D", "SeparableConv2D")},
    **{f"{kind}_pooling{d}d": (f"{kind.capitalize()}Pooling{d}D", "pooling")
       for kind in ("average", "max") for d in (1, 2, 3)},
    **{f"{kind}Pooling{d}D": (f"{kind}Pooling{d}D", "pooling") for kind in ("Average", "Max") for d in (1, 2, 3)},
    "Layer": ("Layer", "base"),
}

#: TF1's RNN cells, wrappers and state tuple (`tf.compat.v1.nn.rnn_cell`, `tf.contrib.rnn`). Each has a
#: tf2norm replacement of the same name (bases: tf2norm's RNNCell), which the rewriters tf1_rnn_cells and
#: rnn_cell_wrappers write; the table reports one only where those rewriters did not run (--skip/--only).
TF1_CELLS = ("BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "LSTMStateTuple",
             "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "RNNCell", "LayerRNNCell")
_BASES = ("RNNCell", "LayerRNNCell")
#: contrib's block and Cudnn-compatible cells, by module: tf2norm.replacements has each (rewriter tf1_rnn_cells).
CONTRIB_CELLS = {"tensorflow.contrib.rnn": ("LSTMBlockCell", "LSTMBlockFusedCell", "GRUBlockCell",
                                            "GRUBlockCellV2"),
                 "tensorflow.contrib.cudnn_rnn": ("CudnnCompatibleLSTMCell", "CudnnCompatibleGRUCell")}

_BASE_FIX = ("derive from tf2norm.replacements.RNNCell: TF1's variable scoping and zero_state, so the cell's "
             "get_variable code runs unchanged (rewriter tf1_rnn_cells writes it)")
_CELL_FIX = ("tf2norm.replacements.{name}: TF1's {name}, same arguments and variable names (rewriters "
             "tf1_rnn_cells and rnn_cell_wrappers write it)")
_CONTRIB_CELL_FIX = ("tf2norm.replacements.{name}: contrib's {name}, same arguments, variable names and numbers "
                     "(rewriter tf1_rnn_cells writes it)")
#: contrib.rnn's other cells (tf1_rnn_cells reports the known ones with a fix of their own, TF2N312).
_OTHER_CELL_FIX = ("no TF 2.16+ equivalent keeps TF1's variables: port it onto tf2norm.replacements.RNNCell, or "
                   "rebuild it with the nearest Keras cell in keras.layers.RNN (Keras names: convert the "
                   "checkpoint), or keep this program on TF <= 2.15 with tf_keras")


def _cell_fix(name: str) -> str:
    return _BASE_FIX if name in _BASES else _CELL_FIX.format(name=name)


TABLE: tuple[Unsupported, ...] = (
    Unsupported("tensorflow.contrib", "TF2N720", _CONTRIB,
                "replace it with its successor (tf.compat.v1, tf_slim, or a maintained package), or keep this "
                "program on TF 1.15"),
    Unsupported("tensorflow.contrib.training.HParams", "TF2N721", _CONTRIB + "; TF 2 has no HParams",
                "tf2norm.replacements.HParams: TF 1.15's class, same arguments (rewriter contrib_hparams "
                "writes it)"),
    *(Unsupported(f"tensorflow.contrib.layers.{name}", "TF2N722", _CONTRIB,
                  f"tf_slim.{name} (pip install tf-slim): contrib's function, same arguments")
      for name in ("l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "sum_regularizer",
                   "apply_regularization", "xavier_initializer", "xavier_initializer_conv2d",
                   "variance_scaling_initializer")),
    Unsupported("tensorflow.contrib.slim", "TF2N723", _CONTRIB,
                "import tf_slim as slim (pip install tf-slim), contrib.slim's maintained successor"),
    Unsupported("tensorflow.contrib.framework", "TF2N723", _CONTRIB,
                "tf_slim (pip install tf-slim) has contrib.framework's arg_scope, add_arg_scope and variable "
                "functions"),
    Unsupported("tensorflow.contrib.seq2seq", "TF2N724", _CONTRIB + "; TF 2.16+/Keras 3 has no seq2seq "
                "(tensorflow_addons.seq2seq needs TF <= 2.15 with Keras 2)",
                "rewrite the decoder with keras.layers.RNN or tf.while_loop, or delete it if unused; or keep this "
                "program on TF <= 2.15 with tensorflow-addons"),
    Unsupported("tensorflow.contrib.rnn", "TF2N725", _CONTRIB, _OTHER_CELL_FIX),
    Unsupported("tensorflow.contrib.cudnn_rnn", "TF2N725", _CONTRIB,
                "keras.layers.LSTM / GRU (cuDNN kernels on a GPU; Keras names: convert the checkpoint)"),
    *(Unsupported(f"tensorflow.contrib.rnn.{name}", "TF2N725", _CONTRIB, _cell_fix(name)) for name in TF1_CELLS),
    *(Unsupported(f"{module}.{name}", "TF2N725", _CONTRIB, _CONTRIB_CELL_FIX.format(name=name))
      for module, names in CONTRIB_CELLS.items() for name in names),
    *(Unsupported(f"tensorflow.nn.rnn_cell.{name}", "TF2N726", _KERAS3, _cell_fix(name)) for name in TF1_CELLS),
    *(Unsupported(f"tensorflow.layers.{name}", "TF2N727", _KERAS3,
                  f"{'derive from keras.layers.Layer' if name == 'Layer' else f'keras.layers.{keras}(...)(x)'} "
                  f"(Keras names: convert the checkpoint); to keep TF1's variable names in graph code: "
                  f"tensorflow.python.keras.legacy_tf_layers.{module}.{name} (what tf_slim uses)")
      for name, (keras, module) in TF_LAYERS.items()),
)

#: Names that make a file worth reading for the table (tf2norm.apis' `identifiers`). tf.layers' names
#: are Keras' too (`keras.layers.Dense`, `tf.nest.flatten`: reading every Keras file would make
#: `migrate` several times slower); files reach them as `tf.compat.v1.layers.X` after tf_upgrade_v2,
#: and are read for `compat` or their other TF1 names (rewriter graph_programs).
IDENTIFIERS = frozenset({"contrib", "rnn_cell"})
#: tf.layers' functions (lower case: Keras 3 has only the classes) make a file worth reading too, so a
#: file whose only TF1 use is `tf.layers.dense(...)` (tf_upgrade_v2 leaves some, BLOCKERS L3) is reported.
#: tf.layers' classes share Keras' names and do not.
LAYER_FUNCTIONS = frozenset(name for name in TF_LAYERS if name[0].islower())
#: The entries code reaches through IDENTIFIERS (the rewriter's `legacy`).
REACHED = frozenset(entry.prefix for entry in TABLE if set(entry.prefix.split(".")[1:]) & IDENTIFIERS)

_BY_PREFIX = {entry.prefix: entry for entry in TABLE}


def lookup(canonical: str) -> Unsupported | None:
    """The entry for a canonical qualified name (longest matching prefix), or None when it can run."""
    parts = canonical.split(".")
    for end in range(len(parts), 0, -1):
        entry = _BY_PREFIX.get(".".join(parts[:end]))
        if entry is not None:
            return entry
    return None
