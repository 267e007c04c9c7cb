"""Every legacy API tf2norm migrates, and where each of its parts lives: the list a new API joins.

A legacy API (tf.contrib.layers.batch_norm, tfa's LayerNormLSTMCell, a hand-written TF1 cell, ...)
has one id: its rewriter's (`tf2norm migrate --only ID`). The id names its parts:

* `tf2norm/rewriters/<id>.py` and `tests/rewriters/test_<id>.py`;
* `tf2norm/replacements/<id>.py` (and its `modules`), which define its `replacements` (exported by
  tf2norm.replacements; what several APIs share lives in a `SHARED_MODULES` module, such as
  `batch_normalization.py`), and `tests/replacements/test_<id>*.py`;
* with arithmetic of its own: `tf2norm/reference/<id>.py` (the NumPy oracle), the goldens
  `fixtures/golden/<prefix>*.npz` written by its `generators` from the real legacy library, and
  `tests/replacements/test_<id>_golden.py`;
* with checkpoints: its checkpoint group `kinds` (`tf2norm/checkpoints/kinds/<kind>.py`), the
  real checkpoints `fixtures/checkpoints/<name>/` and `tests/checkpoints/test_<id>.py`;
* its rows of README's support table (`rows`; `python -m tf2norm.apis` prints the table).

Two names are not the id, on purpose: a kind id is written into converted manifests and printed by
`checkpoint verify`, and it names a layout of TF1 variables (contrib's and tf.layers' batch norms
share one, tfa's two cells have two); a golden keeps the name it was recorded under (`lstm_*`).
Both are listed here, so nothing about an API is found by convention alone.

`tests/test_apis.py` fails while an API lacks a part, or a part (a rewriter, kind, replacement,
golden, generator, checkpoint) belongs to no API. `tf2norm migrate` derives from here the names
that make a file worth parsing (`identifiers`) and the order its rewriters run in. Nothing here
imports TensorFlow or LibCST.
"""

from __future__ import annotations

import dataclasses
import re

from tf2norm import unsupported

#: tf2norm.rewriters.graph_programs.IDENTIFIERS (that module imports LibCST; a test keeps them equal).
GRAPH_PROGRAM_IDENTIFIERS = frozenset({
    "placeholder", "placeholder_with_default", "sparse_placeholder", "Session", "InteractiveSession", "Saver",
    "MonitoredTrainingSession", "Supervisor", "import_meta_graph", "get_variable", "variable_scope",
    "get_collection", "add_to_collection", "GraphKeys", "global_variables_initializer",
    "local_variables_initializer", "merge_all", "FileWriter", "get_or_create_global_step", "FileWriterCache",
    "Summary", "tensor_summary",
    "get_summary_description", "compat"})


@dataclasses.dataclass(frozen=True)
class Row:
    """One row of README's support table (markdown cells)."""

    legacy: str
    keras: str
    compat: str
    mapped: str
    reported: str
    kind: str
    error: str


@dataclasses.dataclass(frozen=True)
class Api:
    """One legacy API and its parts (see the module docstring)."""

    #: The rewriter's id, and the name of the API's modules and tests.
    id: str
    #: Names through which code reaches the legacy API (an attribute, a name, a part of an imported
    #: module path): a file that never mentions one of them is not parsed by LibCST.
    identifiers: frozenset[str]
    #: Public names of tf2norm.replacements that migrated code of this API uses.
    replacements: tuple[str, ...]
    rows: tuple[Row, ...]
    #: Modules of tf2norm.replacements besides `<id>.py` that hold its replacements.
    modules: tuple[str, ...] = ()
    #: Checkpoint group kinds (modules of tf2norm.checkpoints.kinds) its replacements load.
    kinds: tuple[str, ...] = ()
    #: File name prefixes of its goldens in fixtures/golden/.
    goldens: tuple[str, ...] = ()
    #: Scripts (paths from the repository root) that write its goldens and checkpoints.
    generators: tuple[str, ...] = ()
    #: Its real legacy checkpoints: directories of fixtures/checkpoints/.
    checkpoints: tuple[str, ...] = ()
    #: Its rewriter migrates TF1 cells (registered on the FileContext's `cells`) that TF1 wrappers
    #: and dynamic_rnn may take.
    cells: bool = False
    #: Its rewriter follows the cells of the others (runs after every API with `cells`).
    wraps_cells: bool = False
    #: False: it adds no arithmetic of its own (its numbers are the cells' it wraps): no goldens,
    #: no reference module.
    arithmetic: bool = True
    #: It reviews what the others left (runs after every API without it).
    reviews_leftovers: bool = False


_RNN_CELL_MODULES = frozenset({"contrib", "rnn_cell", "rnn_cell_impl"})

#: Every API, in the order of README's support table.
APIS: tuple[Api, ...] = (
    Api(
        id="contrib_batch_norm",
        identifiers=frozenset({"contrib"}),
        replacements=("BatchNormalization", "batch_norm"),
        rows=(
        Row(
            legacy='`tf.contrib.layers.batch_norm`, `slim.batch_norm`, `normalizer_fn=slim.batch_norm`, '
                   '`functools.partial(batch_norm, ...)`',
            keras='`BatchNormalization(...)(x, training=...)`; `scoped_layer` for `scope=`+`reuse=`; as a '
                  'value: `batch_norm` (TF2N108, not where slim\'s layers or arg_scope take it)',
            compat='`batch_norm(...)`, arguments untouched',
            mapped='decay->momentum, is_training->training, data_format->axis, epsilon, center, scale, '
                   'param_initializers/regularizers, renorm*, fused, zero_debias_moving_mean, activation_fn '
                   '(around the layer), trainable, scope->name, adjustment, batch_weights (to the layer call), '
                   'updates_collections=None->forced_updates=True',
            reported='TF2N101 (no Keras equivalent), 103 updates_collections other than None/UPDATE_OPS, 104 reuse '
                     'without scope, 105/106 non-literal or tensor arguments, 107 activation_fn that may be '
                     'None, 109 (keras) an arg_scope that may reach a call made a Keras layer out of sight',
            kind='`batch_norm`',
            error=(
                'fused path (rank 2/4, the default): on the AMD EPYC, bit-identical to TF 1.15 on every fused golden, '
                "outputs, statistics and gradients (but for a tf.compat.v1 graph's gradients w.r.t. gamma, where "
                "grappler reassociates a product: 4e-7); every path within 9.5e-7 (values) and 7e-8 of the "
                "gradients' scale, 0.43 of the derived bound. On an Intel Xeon the same worst figures, but fused "
                'goldens too are a few ulps off in places: 4,986 of the 5,161 comparisons bit for bit (above)'
            ),
        ),
        ),
        kinds=("batch_norm",),
        goldens=("bn_",),
        generators=("fixtures/tf1/contrib_batch_norm.py", "fixtures/tf1/make_checkpoints.py"),
        checkpoints=("bn_convnet", "bn_extras"),
    ),
    Api(
        id="layer_norm_basic_lstm_cell",
        identifiers=frozenset({"contrib"}),
        replacements=("LayerNormBasicLSTMCell", "LayerNormBasicLSTM"),
        modules=("layer_norm_basic_lstm",),  # the fast sequence layer
        rows=(
        Row(
            legacy='`tf.contrib.rnn.LayerNormBasicLSTMCell`',
            keras='`LayerNormBasicLSTMCell(...)`, same arguments',
            compat='same',
            mapped='all (same signature)',
            reported='TF2N201 subclass',
            kind='`lstm_cell`',
            error=(
                '8.9e-7 over 24 steps, gradients 3e-6 of their scale; 0.61 of the bound (0.93 with oneDNN limited to '
                'SSE4.1)'
            ),
        ),
        ),
        kinds=("lstm_cell",),
        goldens=("lstm_",),
        generators=("fixtures/tf1/layer_norm_basic_lstm_cell.py", "fixtures/tf1/make_checkpoints.py"),
        checkpoints=("ln_lstm", "ln_lstm_bidir", "tf10_naming", "tf012_naming"),
        cells=True,
    ),
    Api(
        id="rnn_cell_wrappers",
        identifiers=_RNN_CELL_MODULES | {"dynamic_rnn", "bidirectional_dynamic_rnn", "LSTMStateTuple"},
        replacements=("MultiRNNCell", "DropoutWrapper", "ResidualWrapper", "DeviceWrapper", "LSTMStateTuple"),
        rows=(
        Row(
            legacy='`MultiRNNCell`, `DropoutWrapper`, `ResidualWrapper`, `DeviceWrapper`, `LSTMStateTuple` (any '
                   'cells), `tf.nn.(bidirectional_)dynamic_rnn` around migrated cells',
            keras="tf2norm's wrappers (`LSTMStateTuple`: TensorFlow's own class); `dynamic_rnn` over one LN cell: "
                  '`LayerNormBasicLSTM.from_cell(cell).dynamic_rnn(...)`',
            compat="tf2norm's wrappers, `tf.compat.v1.nn.dynamic_rnn`",
            mapped='all',
            reported='TF2N302 variational_recurrent, 303, 304 state_is_tuple=False',
            kind="(the cells')",
            error='—',
        ),
        ),
        wraps_cells=True,
        arithmetic=False,
    ),
    Api(
        id="tf1_rnn_cells",
        identifiers=_RNN_CELL_MODULES,
        replacements=("RNNCell", "BasicRNNCell", "BasicLSTMCell", "LSTMCell", "GRUCell", "LSTMBlockCell",
                      "LSTMBlockFusedCell", "GRUBlockCell", "GRUBlockCellV2", "CudnnCompatibleLSTMCell",
                      "CudnnCompatibleGRUCell"),
        modules=("contrib_rnn_cells",),
        rows=(
        Row(
            legacy='`BasicRNNCell`, `BasicLSTMCell`, `LSTMCell`, `GRUCell` of `tf.nn.rnn_cell` / '
                   '`tf.compat.v1.nn.rnn_cell` / `tf.contrib.rnn`; `RNNCell` / `LayerRNNCell` as the base of '
                   'hand-written cells',
            keras="tf2norm's class of the same name, same arguments (TF1 variable names in graphs; "
                  "`RNNCell`: TF1's scoping, `zero_state`, `add_variable`, so `get_variable` code runs)",
            compat='same',
            mapped='all (TF1 signatures); `LSTMCell` num_proj, use_peepholes, cell_clip, proj_clip, initializer, '
                   'state_is_tuple',
            reported='TF2N310 subclass of a concrete cell (converted), 311 num_unit_shards/num_proj_shards, 312 '
                     'TF1 cells without a replacement (contrib\'s LayerNormLSTMCell, research cells and '
                     'wrappers: the fix for each)',
            kind='— (TF1 Saver checkpoints restore as is)',
            error='2.4e-7 over 6 steps, 0.31 of the bound (gradients 0.22); seeded DropoutWrapper masks bit for '
                  'bit',
        ),
        Row(
            legacy="contrib's `LSTMBlockCell`, `LSTMBlockFusedCell`, `GRUBlockCell`, `GRUBlockCellV2` "
                   '(`tf.contrib.rnn`), '
                   '`CudnnCompatibleLSTMCell`, `CudnnCompatibleGRUCell` (`tf.contrib.cudnn_rnn`), also as values '
                   '(a cell factory)',
            keras="tf2norm's class of the same name, same arguments, TF 1.15's variable names (`lstm_cell/kernel`, "
                  '`w_i_diag`, ...; `gru_cell/w_ru`, `b_ru`, `w_c`, `b_c`; `cudnn_compatible_*_cell/...`)',
            compat='same',
            mapped='all (TF1 signatures): forget_bias, cell_clip (clips only when > 0; its gradient passes '
                   'through, as the block kernel\'s), use_peephole, cell_size, kernel_initializer, reuse, name',
            reported='— (`LSTMBlockFusedCell(...)(x, scope=...)` raises: pass name= instead)',
            kind='— (TF1 Saver checkpoints restore as is)',
            error='1.8e-7 over 6 steps, 0.28 of the bound (gradients 9.5e-7, 0.23); oneDNN on and off',
        ),
        ),
        goldens=("tf1cell_",),
        generators=("fixtures/tf1/tf1_rnn_cells.py",),
        cells=True,
    ),
    Api(
        id="contrib_stack_bidirectional_rnn",
        identifiers=frozenset({"contrib"}),
        replacements=("stack_bidirectional_dynamic_rnn", "stack_bidirectional_rnn"),
        rows=(
        Row(
            legacy='`tf.contrib.rnn.stack_bidirectional_dynamic_rnn`, `stack_bidirectional_rnn`',
            keras="tf2norm's function of the same name, same arguments (TF 1.15's code on "
                  '`tf.compat.v1.nn.bidirectional_dynamic_rnn`: its scopes `stack_bidirectional_rnn/cell_<i>/...`)',
            compat='same',
            mapped='all (TF1 signatures)',
            reported='—',
            kind='— (TF1 Saver checkpoints restore as is)',
            error='goldens `tf1cell_stack_bidir*` (mixed tf2norm cells, 1-2 layers, dynamic and static): '
                  'within the derived bound',
        ),
        ),
        arithmetic=False,
    ),
    Api(
        id="contrib_layer_norm",
        identifiers=frozenset({"contrib"}),
        replacements=("LayerNorm", "layer_norm"),
        rows=(
        Row(
            legacy='`tf.contrib.layers.layer_norm`, `slim.layer_norm` (also as `normalizer_fn=` / `partial`)',
            keras='`keras.layers.LayerNormalization(axis=..., epsilon=1e-12)` where both axes are the same '
                  'negative literal, else `LayerNorm(begin_norm_axis=..., begin_params_axis=...)`; as a '
                  'value: `layer_norm` (TF2N403, not where slim\'s layers or arg_scope take it)',
            compat='`layer_norm(...)`, arguments untouched',
            mapped='begin_norm_axis, begin_params_axis, center, scale, activation_fn (around the layer), '
                   'trainable, scope->name (a `a/b` path too: `LayerNorm`), scope+reuse->`scoped_layer`',
            reported='TF2N401 variables/outputs_collections, 402 reuse without scope (or of the default '
                     '`LayerNorm_N`), 404 (keras) an arg_scope that may reach a call made a Keras layer out of sight, '
                     '410 reuse of variables `get_variable` made',
            kind='`layer_norm` (scopes named `LayerNorm[_N]`; begin_norm_axis via `--config`, default 1)',
            error='3.6e-7 outputs, gradients 1.6e-7 of their scale; 0.13 of the bound (0.25 on an Intel Xeon: float16)',
        ),
        ),
        kinds=("layer_norm",),
        goldens=("layernorm_",),
        generators=("fixtures/tf1/contrib_layer_norm.py",),
        checkpoints=("layer_norm",),
    ),
    Api(
        id="contrib_slim",
        identifiers=frozenset({"contrib"}),
        # tf_slim is the replacement; replacements/contrib_slim.py makes batch_norm and layer_norm its
        # arg_scope functions (a module of the API with no public name of its own).
        replacements=(),
        rows=(
        Row(
            legacy='`tf.contrib.slim` (`import tensorflow.contrib.slim as slim`, `from tensorflow.contrib import '
                   'slim`, `slim = tf.contrib.slim`, `tf.contrib.slim.x`, `.nets`, `.python.slim.*`), '
                   "contrib.framework's `arg_scope` / `add_arg_scope`",
            keras='`tf_slim` (`import tf_slim as slim`; `pip install tf-slim`); `arg_scope([slim.batch_norm], ...)` '
                  "lists tf2norm's `batch_norm` (a tf_slim arg_scope function)",
            compat='same',
            mapped="every slim name tf_slim 1.1.0 has (layers, arg_scope, nets, learning, losses, metrics, ...)",
            reported='TF2N110 a name tf_slim lacks (feature columns, bow_encoder, ...), 111 the file binds '
                     '`tf_slim` to something else, 112 a tf_slim net that builds tf_slim\'s own batch_norm '
                     '(inception/resnet arg_scope functions, resnet_v2; it raises on Keras 3), converted',
            kind='—',
            error="e2e `slim_helper_net` (arg_scope over batch norms reached from another module, both targets): "
                  'eval after restore 3.6e-7, 3 steps within 4.2e-6 (logits of 1.7)',
        ),
        Row(
            legacy='`tf.contrib.layers.l1_regularizer`, `l2_regularizer`, `l1_l2_regularizer`, `sum_regularizer`, '
                   '`apply_regularization` (also as values: a module-level registry)',
            keras='`tf_slim.<same name>` (TF 1.15\'s code line for line: scale checks, errors, op names)',
            compat='same',
            mapped='all',
            reported='—',
            kind='—',
            error='penalties within 6.1e-6 (a float32 sum of 17 terms) of TF 1.15\'s',
        ),
        ),
        arithmetic=False,
    ),
    Api(
        id="layers_batch_normalization",
        identifiers=frozenset({"batch_normalization", "BatchNormalization", "normalization"}),
        replacements=("BatchNormalization", "batch_normalization", "LayersBatchNormalization"),
        rows=(
        Row(
            legacy='`tf.layers.batch_normalization`, `tf.compat.v1.layers.batch_normalization` '
                   "(tf_upgrade_v2's output, which raises on Keras 3)",
            keras='`BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", ...)(x, training=...)` '
                  '(training=False written when absent, as tf.layers defaulted); `scoped_layer` for '
                  '`name=`+`reuse=`',
            compat='`batch_normalization(...)`, arguments untouched',
            mapped='axis, momentum, epsilon, center, scale, initializers, regularizers, constraints, renorm, '
                   'renorm_clipping, renorm_momentum, fused, virtual_batch_size, adjustment, trainable, name',
            reported='TF2N501 several axes, 502 reuse without name, 503 tensor where a Python value is '
                     'needed, 506 passed as a value (converted to the compat function)',
            kind="`batch_norm` (`batch_normalization[_N]` scopes get tf.layers' defaults; virtual-batch "
                 'groups need `--config virtual_batch_size=N`)',
            error='4.8e-7 outputs and statistics, gradients 2.1e-7 of their scale; 0.19 of the bound',
        ),
        Row(
            legacy='`tf.layers.BatchNormalization`, `tf.compat.v1.layers.BatchNormalization`',
            keras='`BatchNormalization(momentum=0.99, scale=True, tf1_api="layers", ...)`; `bn.apply(x)` -> '
                  '`bn(x)`',
            compat='`LayersBatchNormalization(...)`',
            mapped='as above, plus dtype',
            reported='TF2N501, 503, 504 private `_scope`/`_reuse`, 505 layer object in a file that reuses '
                     'scopes, 506, 507 subclass, 508 `bn.updates` / `scope_name`',
            kind='`batch_norm`',
            error='as above',
        ),
        ),
        kinds=("batch_norm",),
        goldens=("tlbn_",),
        generators=("fixtures/tf1/layers_batch_normalization.py",),
        checkpoints=("layers_bn",),
    ),
    Api(
        id="tf1_layers",
        # tf.layers' classes share Keras' names (`Dense`, `Layer`) and `layers` is Keras' module: neither may
        # make every Keras file worth parsing. Files reach them as tf_upgrade_v2 writes them
        # (`tf.compat.v1.layers.X`) or through a function's name (not `python`: every shebang has it).
        identifiers=frozenset({"compat", "dense", "dropout", "flatten", "conv1d", "conv2d", "conv3d",
                               "conv2d_transpose", "separable_conv2d", "separable_conv1d", "conv3d_transpose",
                               "max_pooling1d", "max_pooling2d", "max_pooling3d", "average_pooling1d",
                               "average_pooling2d", "average_pooling3d", "max_pool2d"}),
        replacements=("Layer", "Dense", "Dropout", "Flatten", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose",
                      "SeparableConv2D", "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D",
                      "AveragePooling2D", "AveragePooling3D", "dense", "dropout", "flatten", "conv1d", "conv2d",
                      "conv3d", "conv2d_transpose", "separable_conv2d", "max_pooling1d", "max_pooling2d",
                      "max_pooling3d", "average_pooling1d", "average_pooling2d", "average_pooling3d"),
        rows=(
        Row(
            legacy='`tf.layers` / `tf.compat.v1.layers` `dense`, `conv1d/2d/3d`, `conv2d_transpose`, '
                   '`separable_conv2d`, `dropout`, `flatten`, `max_/average_pooling1d/2d/3d`, their classes, and '
                   '`Layer` as the base of user layers',
            keras="tf2norm's function or class of the same name, same arguments (TF 1.15's graph-mode layers: "
                  'TF1 variable names `dense/kernel`, `conv2d_1/bias`, counted with `batch_normalization[_N]`)',
            compat='same',
            mapped='all (TF 1.15 signatures and defaults; `name=`/`reuse=` sharing, regularizers to '
                   'REGULARIZATION_LOSSES, `training` bool or tensor)',
            reported='TF2N760 subclass of a concrete layer (converted), 761 `conv3d_transpose`, '
                     '`separable_conv1d` and their classes (no replacement)',
            kind='— (TF1 Saver checkpoints restore as is)',
            error='1.2e-7 outputs, gradients 1.7e-7 of their scale; 0.22 of the bound (oneDNN on and off); a TF1 '
                  'Saver checkpoint restores and trains on as in TF 1.15; seeded dropout masks bit for bit',
        ),
        ),
        goldens=("tf1layers_",),
        generators=("fixtures/tf1/tf1_layers.py",),
    ),
    Api(
        id="tfa_rnn_cells",
        identifiers=frozenset({"tensorflow_addons"}),
        replacements=("LayerNormLSTMCell", "LayerNormSimpleRNNCell"),
        rows=(
        Row(
            legacy='`tfa.rnn.LayerNormLSTMCell`',
            keras='`LayerNormLSTMCell(...)`, same arguments',
            compat='same',
            mapped="all (tfa's signature and weight order: `set_weights(tfa_layer.get_weights())` works)",
            reported='TF2N601 subclass (converted), 602 Keras 2-only argument with a value, 603 `**kwargs` '
                     '(converted)',
            kind="`tfa_lstm_cell` (Keras 2 TF-format `save_weights`; `.h5` loads with Keras 3's "
                 '`load_weights`)',
            error='1.1e-6 over 10 steps, gradients 4.4e-6 of their scale; 0.66 of the bound',
        ),
        Row(
            legacy='`tfa.rnn.LayerNormSimpleRNNCell`',
            keras='`LayerNormSimpleRNNCell(...)`, same arguments',
            compat='same',
            mapped='all',
            reported='TF2N601-603',
            kind='`tfa_simple_rnn_cell`',
            error=(
                "5.4e-6 on one ill-conditioned case (variance 0.003 against epsilon 1e-3, where tfa's own float32 "
                'error is 5e-6), gradients 8e-6 of their scale; 0.56 of the bound'
            ),
        ),
        ),
        kinds=("tfa_lstm_cell", "tfa_simple_rnn_cell"),
        goldens=("tfa_cell_",),
        generators=("fixtures/tfa/tfa_rnn_cells.py",),
        checkpoints=("tfa_cells",),
    ),
    Api(
        id="tfa_normalization",
        identifiers=frozenset({"tensorflow_addons"}),
        replacements=("GroupNormalization", "InstanceNormalization"),
        rows=(
        Row(
            legacy='`tfa.layers.GroupNormalization`',
            keras='`keras.layers.GroupNormalization(...)` (bit-exact with tfa in float32), or '
                  '`GroupNormalization` where Keras is not provably equal (negative axis other than -1, '
                  'non-literal axis, non-float32 dtype)',
            compat='`GroupNormalization(...)`',
            mapped='all 11 arguments',
            reported="TF2N651 tfa's per-channel axis bug (kept by the replacement), 652 Keras 2-only "
                     'argument, 654 subclass, 655 `isinstance`',
            kind='`group_norm` (gamma/beta only, so `--config SCOPE:groups=N` is required)',
            error=(
                "0 on the AMD EPYC the goldens were made on: outputs and gradients bit-exact (Keras' layer and the "
                "replacement); in tfa's conv net 1.6e-7 (its convolutions), gradients 1e-6 of their scale, bit-exact "
                "with the golden machine's kernels (`TF_ENABLE_ONEDNN_OPTS=0 ONEDNN_MAX_CPU_ISA=AVX2`). On an Intel "
                "Xeon 257 of 478 comparisons bit for bit, the others a few ulps off (above): 0.39 of the bound, oneDNN "
                "on and off"
            ),
        ),
        Row(
            legacy='`tfa.layers.InstanceNormalization`',
            keras='`keras.layers.GroupNormalization(groups=-1, ...)`, or `InstanceNormalization` (same '
                  'conditions)',
            compat='`InstanceNormalization(...)`',
            mapped='as above',
            reported='TF2N651, 652, 653 `groups` given (tfa ignored it; dropped), 654, 655',
            kind='`group_norm` with `groups=-1`',
            error='as above',
        ),
        ),
        kinds=("group_norm",),
        goldens=("tfa_norm_",),
        generators=("fixtures/tfa/tfa_normalization.py",),
        checkpoints=("tfa_norm_convnet",),
    ),
    Api(
        id="hand_rolled_layer_norm_gru",
        identifiers=_RNN_CELL_MODULES,
        replacements=("LayerNormGRUCell",),
        rows=(
        Row(
            legacy='hand-written LN-GRU (`class LNGRUCell(tf.nn.rnn_cell.RNNCell / GRUCell)`)',
            keras="reported, never rewritten: use `LayerNormGRUCell` (contrib's LN-LSTM recipe on TF1's "
                  'GRUCell, spec in its docstring)',
            compat='same',
            mapped='—',
            reported='TF2N801 on the class: hand-written math cannot be verified by its name',
            kind='`layer_norm_gru_cell`',
            error='1.5e-6 over 24 steps, gradients 2.3e-6 of their scale; 0.44 of the bound',
        ),
        ),
        kinds=("layer_norm_gru_cell",),
        goldens=("lngru_",),
        generators=("fixtures/tf1/hand_rolled_layer_norm_gru.py",),
        checkpoints=("ln_gru", "ln_gru_bidir"),
    ),
    Api(
        id="hand_rolled_bn_lstm",
        identifiers=_RNN_CELL_MODULES,
        replacements=("BatchNormLSTMCell",),
        rows=(
        Row(
            legacy='hand-written `BNLSTMCell(num_units, is_training_tensor, max_bn_steps, initial_scale=0.1, '
                   'activation=tf.tanh, decay=0.95)` (the widely copied recurrent batch-norm cell, Cooijmans '
                   'et al. 2016) defined in the file',
            keras='its calls: `BatchNormLSTMCell(num_units, training=is_training_tensor, max_bn_steps=..., '
                  "...)`; TF1 wrappers and `dynamic_rnn` around them: tf2norm's, "
                  '`tf.compat.v1.nn.dynamic_rnn`',
            compat='same',
            mapped="every constructor argument; class defaults that differ from the replacement's (decay, "
                   'initial_scale, activation, forget_bias, the `_batch_norm` epsilon) written into each '
                   'call',
            reported='TF2N851 the class is now unused (left in place: delete it, its RNNCell base raises on '
                     'Keras 3), 852 a copy that differs (reason given; nothing changed), 853 used other than '
                     'by a call, 854 not instantiated in this file',
            kind='`bn_lstm_cell` (`W_xh`, `W_hh`, `{xh,hh,c}/{scale,offset,pop_mean,pop_var}`; other copies '
                 'refused with the reason)',
            error='1e-6 outputs and per-step statistics, gradients 5.1e-6 of their scale; 0.67 of the bound',
        ),
        ),
        kinds=("bn_lstm_cell",),
        goldens=("bnlstm_",),
        generators=("fixtures/tf1/hand_rolled_bn_lstm.py", "fixtures/tf1/bn_lstm_program.py"),
        checkpoints=("bn_lstm",),
        cells=True,
    ),
    Api(
        id="graph_programs",
        identifiers=GRAPH_PROGRAM_IDENTIFIERS,
        replacements=(),
        rows=(
        Row(
            legacy='TF1 graph programs: `tf.compat.v1.placeholder` / `Session` outside `Graph().as_default()`, '
                   '`tf.Variable` fed or fetched, `tf.summary.*` TF1 calls, `shape[i].value`',
            keras='`tf.compat.v1.disable_eager_execution()` after the imports of a program entry (`__main__` or '
                  '`app.run`); `tf.compat.v1.Variable(..., use_resource=False)`; `tf.compat.v1.summary.*`; '
                  '`tf.compat.v1.dimension_value(d)`',
            compat='same',
            mapped='graph mode, TF1 ref variables (fed values used, updated values fetched), TF1 summaries, '
                   'TF1 dimensions',
            reported='TF2N701 a library that builds a graph at import (or saves/restores a Saver outside its '
                     'graph), 702 tf.Variable that cannot be rewritten, 703 tf.summary call that may be TF2 '
                     'code',
            kind='—',
            error='—',
        ),
        ),
        arithmetic=False,
    ),
    Api(
        id="contrib_hparams",
        identifiers=frozenset({"HParams"}),
        replacements=("HParams",),
        rows=(
        Row(
            legacy='`tf.contrib.training.HParams` (also `from tensorflow.contrib.training import HParams`, '
                   'aliases)',
            keras="`HParams(...)`, same arguments: TF 1.15's class in pure Python",
            compat='same',
            mapped='constructor keywords, attributes, `values`, `parse` (TF1\'s rules and errors), '
                   '`override_from_dict`, `set_hparam`, `add_hparam`, `del_hparam`, `get`, `to_json`, '
                   '`parse_json`',
            reported='TF2N750 `hparam_def=` (an HParamDef protocol buffer), TF2N751 `HParams.from_proto(...)`, both '
                     'left unchanged (`to_proto()` raises NotImplementedError naming `to_json`)',
            kind='—',
            error='— (no arithmetic: 25 cases of TF 1.15\'s values, types, strings and error messages, exact)',
        ),
        ),
        generators=("fixtures/tf1/contrib_hparams.py",),
        arithmetic=False,
    ),
    Api(
        id="contrib_opt",
        identifiers=frozenset({"ScipyOptimizerInterface"}),
        replacements=("ScipyOptimizerInterface",),
        rows=(
        Row(
            legacy='`tf.contrib.opt.ScipyOptimizerInterface` (also `from tensorflow.contrib.opt import '
                   'ScipyOptimizerInterface`, aliases)',
            keras="`ScipyOptimizerInterface(...)`, same arguments: TF 1.15's class over `scipy.optimize.minimize` "
                  "(graph mode; `pip install scipy`)",
            compat='same',
            mapped='`loss`, `var_list`, `equalities`, `inequalities`, `var_to_bounds`, `method`/`options`/... to '
                   'SciPy; `minimize(session, feed_dict, fetches, step_callback, loss_callback, **run_kwargs)`',
            reported='— (the rest of `tf.contrib.opt` stays reported by unsupported_apis)',
            kind='—',
            error='— (no arithmetic of its own: TF 1.15\'s loss sequence and final variables, '
                  'fixtures/golden/contrib_opt.json)',
        ),
        ),
        generators=("fixtures/tf1/contrib_opt.py",),
        arithmetic=False,
    ),
    Api(
        id="unsupported_apis",
        identifiers=unsupported.IDENTIFIERS | unsupported.LAYER_FUNCTIONS,
        replacements=(),
        rows=(
        Row(
            legacy='what cannot run on TF 2.16+/Keras 3 and no rewriter migrates: `tensorflow.contrib.*`, '
                   '`tf.compat.v1.layers.*`, `tf.compat.v1.nn.rnn_cell.*` (table: `tf2norm/unsupported.py`)',
            keras='reported with the fix, never rewritten',
            compat='same',
            mapped='—',
            reported='TF2N720 tf.contrib, 721 HParams, 722 contrib regularizers/initializers (tf_slim), 723 '
                     'slim/framework (tf_slim), 724 seq2seq, 725 contrib.rnn cells, 726 rnn_cell cells, 727 '
                     'tf.layers',
            kind='—',
            error='—',
        ),
        ),
        arithmetic=False,
        reviews_leftovers=True,
    ),
)

BY_ID: dict[str, Api] = {api.id: api for api in APIS}

#: Replacements no one API owns: TF1 variable sharing for Keras layers (`scoped_layer.py`), which
#: the rewriters of layer functions emit for calls that share variables by scope.
SHARED_REPLACEMENTS = ("scoped_layer", "clear_scoped_layers")
#: Modules of tf2norm.replacements that several APIs share: the Keras BatchNormalization of contrib's
#: and tf.layers' batch norms, and scoped_layer.
SHARED_MODULES = ("batch_normalization", "scoped_layer")

#: TF 1.15 generators of whole programs (several APIs at once, real code by others), not of one API.
PROGRAM_GENERATORS = ("fixtures/tf1/make_e2e_third_party.py",)


def identifiers() -> frozenset[str]:
    """Every name through which code reaches a legacy API (see `Api.identifiers`)."""
    return frozenset().union(*(api.identifiers for api in APIS))


def mentions_pattern() -> re.Pattern:
    """Text that any file reaching a legacy API contains (one of `identifiers()`): the cheapest test."""
    return re.compile("|".join(re.escape(name) for name in sorted(identifiers())))


def rewriter_order() -> tuple[str, ...]:
    """The rewriters' ids in the order they run: by id, each after the APIs whose cells it wraps,
    and those that review leftovers after all the others."""
    ordered: list[str] = []

    def visit(api: Api) -> None:
        if api.id in ordered:
            return
        if api.wraps_cells:
            for other in sorted(APIS, key=lambda a: a.id):
                if other.cells:
                    visit(other)
        ordered.append(api.id)

    for api in sorted(APIS, key=lambda a: a.id):
        if not api.reviews_leftovers:
            visit(api)
    for api in sorted(APIS, key=lambda a: a.id):
        visit(api)
    return tuple(ordered)


_HEADER = ("legacy API", "`--target keras` (default)", "`--target compat`", "mapped",
           "reported (left unchanged unless said)", "checkpoint kind", "worst error vs the real library")


def support_table() -> str:
    """README's support table (markdown), one or more rows per API."""
    lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    for api in APIS:
        for row in api.rows:
            lines.append("| " + " | ".join(getattr(row, f.name) for f in dataclasses.fields(Row)) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(support_table(), end="")
