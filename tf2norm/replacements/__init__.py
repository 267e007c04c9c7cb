"""Drop-in TF2 (TF 2.16+, Keras 3) replacements that compute exactly what TF 1.x computed.

    from tf2norm.replacements import LayerNormBasicLSTMCell, BatchNormalization, batch_norm

See each class's docstring, and ../NUMERICS.md for the TF1 facts they honour. They need TensorFlow
2.16+ (any distribution: `pip install 'tf2norm[tf]'` brings `tensorflow`); without it this import
raises `tf2norm._requirements.MissingDependency` (an ImportError) naming what to install.
"""

# ruff: noqa: E402
# (the imports come after the check, so that a missing TensorFlow is named in one line)
from tf2norm._requirements import require as _require

_require("tf2norm.replacements")

from tf2norm.replacements.batch_normalization import BatchNormalization
from tf2norm.replacements.contrib_batch_norm import batch_norm
from tf2norm.replacements.contrib_hparams import HParams
from tf2norm.replacements.contrib_layer_norm import LayerNorm, layer_norm
from tf2norm.replacements.contrib_opt import ScipyOptimizerInterface
from tf2norm.replacements.contrib_rnn_cells import (
    CudnnCompatibleGRUCell,
    CudnnCompatibleLSTMCell,
    GRUBlockCell,
    GRUBlockCellV2,
    LSTMBlockCell,
    LSTMBlockFusedCell,
)
from tf2norm.replacements.contrib_stack_bidirectional_rnn import (
    stack_bidirectional_dynamic_rnn,
    stack_bidirectional_rnn,
)
from tf2norm.replacements.hand_rolled_bn_lstm import BatchNormLSTMCell
from tf2norm.replacements.hand_rolled_layer_norm_gru import LayerNormGRUCell
from tf2norm.replacements.layer_norm_basic_lstm import LayerNormBasicLSTM
from tf2norm.replacements.layer_norm_basic_lstm_cell import LayerNormBasicLSTMCell
from tf2norm.replacements.layers_batch_normalization import (
    LayersBatchNormalization,
    batch_normalization,
)
from tf2norm.replacements.rnn_cell_wrappers import (
    DeviceWrapper,
    DropoutWrapper,
    LSTMStateTuple,
    MultiRNNCell,
    ResidualWrapper,
)
from tf2norm.replacements.scoped_layer import clear_scoped_layers, scoped_layer
from tf2norm.replacements.tf1_layers import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    Conv1D,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Dense,
    Dropout,
    Flatten,
    Layer,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
    SeparableConv2D,
    average_pooling1d,
    average_pooling2d,
    average_pooling3d,
    conv1d,
    conv2d,
    conv2d_transpose,
    conv3d,
    dense,
    dropout,
    flatten,
    max_pooling1d,
    max_pooling2d,
    max_pooling3d,
    separable_conv2d,
)
from tf2norm.replacements.tf1_rnn_cells import (
    BasicLSTMCell,
    BasicRNNCell,
    GRUCell,
    LSTMCell,
    RNNCell,
)
from tf2norm.replacements.tfa_normalization import (
    GroupNormalization,
    InstanceNormalization,
)
from tf2norm.replacements.tfa_rnn_cells import LayerNormLSTMCell, LayerNormSimpleRNNCell

__all__ = [
    "BatchNormLSTMCell",
    "BatchNormalization",
    "batch_norm",
    "batch_normalization",
    "LayersBatchNormalization",
    "GroupNormalization",
    "InstanceNormalization",
    "LayerNorm",
    "layer_norm",
    "LayerNormBasicLSTMCell",
    "LayerNormBasicLSTM",
    "LayerNormGRUCell",
    "LSTMStateTuple",
    "MultiRNNCell",
    "DropoutWrapper",
    "ResidualWrapper",
    "DeviceWrapper",
    "RNNCell",
    "BasicRNNCell",
    "BasicLSTMCell",
    "LSTMCell",
    "GRUCell",
    "LSTMBlockCell",
    "LSTMBlockFusedCell",
    "GRUBlockCell",
    "GRUBlockCellV2",
    "CudnnCompatibleLSTMCell",
    "CudnnCompatibleGRUCell",
    "stack_bidirectional_dynamic_rnn",
    "stack_bidirectional_rnn",
    "scoped_layer",
    "clear_scoped_layers",
    "LayerNormLSTMCell",
    "LayerNormSimpleRNNCell",
    "HParams",
    "ScipyOptimizerInterface",
    "Layer",
    "Dense",
    "Dropout",
    "Flatten",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv2DTranspose",
    "SeparableConv2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "dense",
    "dropout",
    "flatten",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv2d_transpose",
    "separable_conv2d",
    "max_pooling1d",
    "max_pooling2d",
    "max_pooling3d",
    "average_pooling1d",
    "average_pooling2d",
    "average_pooling3d",
]
