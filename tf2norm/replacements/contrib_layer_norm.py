"""`LayerNorm` (Keras 3) and `layer_norm` (tf.compat.v1 graphs): TF 1.15's `tf.contrib.layers.layer_norm`.

TF 1.15 normalised over the axes `[begin_norm_axis, rank)` and scaled/shifted with `gamma`/`beta`
of shape `inputs.shape[begin_params_axis:]` (by default: moments over every axis but the batch,
parameters over the last axis only), with

    mean = reduce_mean(x, norm_axes)
    var  = reduce_mean(squared_difference(x, stop_gradient(mean)), norm_axes)   # biased
    inv  = rsqrt(var + epsilon) * gamma
    y    = x * inv + (beta - mean * inv)

and epsilon 1e-12 (1e-3 for float16 inputs, whose moments are computed in float32 and cast back).
Both replacements run these ops in this order, so they reproduce TF 1.15 to the last bit or two.

`keras.layers.LayerNormalization(axis=..., epsilon=1e-12)` computes the same when the norm axes and
the parameter axes are the same (for instance `begin_norm_axis=-1`, the default begin_params_axis);
it cannot express the default `begin_norm_axis=1` with rank > 2 (moments over H, W, C, parameters
over C only), nor parameters that cover axes the moments do not. `LayerNorm` covers every case.
Keras' own default epsilon (1e-3) is a different layer: it changes every output.
"""

from __future__ import annotations

import operator

import keras
import tensorflow as tf

from tf2norm.replacements._layer_norm_math import normalize
from tf2norm.replacements._modes import in_legacy_graph
from tf2norm.replacements._tf1_scoped_layer import Tf1ScopedLayer
from tf2norm.replacements._tf1_variables import collections_for, model_variable
from tf2norm.replacements.contrib_slim import arg_scope_function


def _axis(name, value) -> int:
    """A Python or NumPy integer, as TF1 needed it to build the graph (not a tensor, not a bool)."""
    if isinstance(value, (bool, tf.Tensor, tf.Variable)) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be a Python int, got {value!r}")
    return operator.index(value)


def resolve_axes(rank: int, begin_norm_axis: int, begin_params_axis: int) -> tuple[list[int], int]:
    """(norm axes, begin_params_axis) with TF 1.15's checks and messages.

    Like TF 1.15, a negative begin_norm_axis counts from the end, and begin_params_axis is used as a
    slice start (`shape[begin_params_axis:]`), so one below -rank means every axis.
    """
    begin_norm_axis = _axis("begin_norm_axis", begin_norm_axis)
    begin_params_axis = _axis("begin_params_axis", begin_params_axis)
    norm = begin_norm_axis + rank if begin_norm_axis < 0 else begin_norm_axis
    if begin_params_axis >= rank or norm >= rank:
        raise ValueError(
            "begin_params_axis (%d) and begin_norm_axis (%d) must be < rank(inputs) (%d)"
            % (begin_params_axis, norm, rank)
        )
    if norm < 0:
        raise ValueError(f"begin_norm_axis ({begin_norm_axis}) must be >= -rank(inputs) ({-rank})")
    return list(range(norm, rank)), begin_params_axis


@keras.saving.register_keras_serializable(package="tf2norm")
class LayerNorm(Tf1ScopedLayer):
    """`tf.contrib.layers.layer_norm` as a Keras 3 layer, TF 1.15's axes, defaults and arithmetic.

    Args:
      begin_norm_axis: moments over axes `[begin_norm_axis, rank)` (negative: from the end).
        TF1's default 1 normalises every axis but the batch.
      begin_params_axis: `beta`/`gamma` have shape `input_shape[begin_params_axis:]` and are
        broadcast against the normalised tensor (default -1: the last axis).
      center, scale: create and apply `beta` / `gamma` (TF1's defaults: both True).
      epsilon: added to the variance. None (default): TF 1.15's, 1e-12, or 1e-3 when the layer
        computes in float16.
      activation: applied to the output (TF1's `activation_fn`; None: none).
      beta_initializer, gamma_initializer, *_regularizer, *_constraint: as in Keras (TF1 used
        zeros and ones).

    Weights, as attributes and Keras names: `beta` then `gamma` (TF1's creation order), each of
    TF1's shape, so a TF1 `LayerNorm/beta` and `LayerNorm/gamma` load as they are. With a negative
    begin_params_axis the built layer takes inputs of any rank ending in the parameters' dims, each
    normalised over its own `[begin_norm_axis, rank)`, as TF1 computed for variables reused on
    another rank; a non-negative one fixes the rank. Works in eager
    code, `tf.function`, Keras models and tf.compat.v1 graphs (initialise with
    `tf.compat.v1.global_variables_initializer()`). For TF1 variable names in graph code use
    `tf2norm.replacements.layer_norm`.
    """

    def __init__(
        self,
        begin_norm_axis=1,
        begin_params_axis=-1,
        center=True,
        scale=True,
        epsilon=None,
        activation=None,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        begin_norm_axis = _axis("LayerNorm: begin_norm_axis", begin_norm_axis)
        begin_params_axis = _axis("LayerNorm: begin_params_axis", begin_params_axis)
        if epsilon is not None and not epsilon >= 0:
            raise ValueError(f"LayerNorm: epsilon must be None or >= 0, got {epsilon!r}")
        self.begin_norm_axis = begin_norm_axis
        self.begin_params_axis = begin_params_axis
        self.center = bool(center)
        self.scale = bool(scale)
        self.epsilon = None if epsilon is None else float(epsilon)
        self.activation = keras.activations.get(activation)
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.supports_masking = True
        self.beta = self.gamma = None

    # In a tf.compat.v1 graph: variables LayerNorm[_N]/beta, ... or scope/beta as TF1 named them,
    # and shared under a reusing variable_scope (tf2norm.replacements._tf1_scoped_layer).
    TF1_DEFAULT_SCOPE = "LayerNorm"

    def build(self, input_shape):
        with self.tf1_build_scope():
            self._build(input_shape)

    def _build(self, input_shape):
        rank = len(input_shape)
        _, params_axis = resolve_axes(rank, self.begin_norm_axis, self.begin_params_axis)
        params_shape = tuple(input_shape[params_axis:])
        if any(d is None for d in params_shape):
            raise ValueError(
                f"{self.name}: input_shape[{params_axis}:] must be fully defined (TF1 requires it), "
                f"got input shape {tuple(input_shape)}"
            )
        trailing = {i - len(params_shape): int(d) for i, d in enumerate(params_shape)}
        if self.begin_params_axis >= 0 or self.begin_params_axis < -rank:
            # Parameter axes counted from the front (or all of them): only this rank has this shape.
            self.input_spec = keras.InputSpec(ndim=rank, axes=trailing)
        else:
            # The parameters are the last dims: like TF1 reusing the variables, any rank that has
            # them (and begin_norm_axis) is normalised over its own [begin_norm_axis, rank).
            norm = self.begin_norm_axis
            self.input_spec = keras.InputSpec(
                min_ndim=max(len(params_shape), norm + 1 if norm >= 0 else -norm), axes=trailing
            )
        if self.center:
            self.beta = self.add_weight(
                name="beta",
                shape=params_shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
            )
        if self.scale:
            self.gamma = self.add_weight(
                name="gamma",
                shape=params_shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
            )
        self.built = True

    def call(self, inputs):
        inputs = tf.convert_to_tensor(inputs)
        norm_axes, _ = resolve_axes(inputs.shape.rank, self.begin_norm_axis, self.begin_params_axis)
        beta = None if self.beta is None else tf.cast(self.beta, inputs.dtype)
        gamma = None if self.gamma is None else tf.cast(self.gamma, inputs.dtype)
        outputs = normalize(inputs, norm_axes, beta, gamma, self.epsilon)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            begin_norm_axis=self.begin_norm_axis,
            begin_params_axis=self.begin_params_axis,
            center=self.center,
            scale=self.scale,
            epsilon=self.epsilon,
            activation=keras.activations.serialize(self.activation),
            beta_initializer=keras.initializers.serialize(self.beta_initializer),
            gamma_initializer=keras.initializers.serialize(self.gamma_initializer),
            beta_regularizer=keras.regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=keras.regularizers.serialize(self.gamma_regularizer),
            beta_constraint=keras.constraints.serialize(self.beta_constraint),
            gamma_constraint=keras.constraints.serialize(self.gamma_constraint),
        )
        return config


@arg_scope_function("layer_norm")  # slim's arg_scope defaults reach it however it is called
def layer_norm(
    inputs,
    center=True,
    scale=True,
    activation_fn=None,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    begin_norm_axis=1,
    begin_params_axis=-1,
    scope=None,
):
    """TF 1.15 `tf.contrib.layers.layer_norm`, same signature, for tf.compat.v1 graph code.

    Variables `beta` and `gamma` under `variable_scope(scope, default_name="LayerNorm")`
    (`LayerNorm`, `LayerNorm_1`, ...; `reuse=True` with `scope=` shares them), made like TF1's
    model variables (GLOBAL_VARIABLES, MODEL_VARIABLES, TRAINABLE_VARIABLES when trainable,
    `variables_collections` as a list or a dict keyed by 'beta'/'gamma'), so a TF1 Saver
    checkpoint restores unchanged. The output goes to `outputs_collections` with the scope name
    as its alias. Eager and tf.function code should use `LayerNorm` instead.
    """
    if not in_legacy_graph():
        raise RuntimeError(
            "tf2norm.replacements.layer_norm builds tf.compat.v1 graph code (Session/Saver); it cannot keep "
            "variables between eager calls. In eager or tf.function code use "
            "tf2norm.replacements.LayerNorm(begin_norm_axis=..., begin_params_axis=...)(x) instead."
        )
    with tf.compat.v1.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse) as sc:
        inputs = tf.convert_to_tensor(inputs)
        inputs_shape = inputs.shape
        rank = inputs_shape.rank
        if rank is None:
            raise ValueError(f"Inputs {inputs.name} has undefined rank.")
        dtype = inputs.dtype.base_dtype
        norm_axes, params_axis = resolve_axes(rank, begin_norm_axis, begin_params_axis)
        params_shape = inputs_shape[params_axis:]
        if not params_shape.is_fully_defined():
            raise ValueError(
                f"Inputs {inputs.name}: shape(inputs)[{params_axis}:] is not fully defined: {inputs_shape}"
            )
        beta = gamma = None
        if center:
            beta = model_variable("beta", params_shape, dtype, tf.compat.v1.zeros_initializer(), trainable,
                                   collections=collections_for(variables_collections, "beta"))
        if scale:
            gamma = model_variable("gamma", params_shape, dtype, tf.compat.v1.ones_initializer(), trainable,
                                    collections=collections_for(variables_collections, "gamma"))
        outputs = normalize(inputs, norm_axes, beta, gamma)
        outputs.set_shape(inputs_shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        if outputs_collections:
            alias = sc.name[:-1] if sc.name.endswith("/") else sc.name
            try:  # contrib's append_tensor_alias: tensors remember the scope they came from.
                outputs.aliases = list(getattr(outputs, "aliases", [])) + [alias]
            except AttributeError:
                pass
            tf.compat.v1.add_to_collections(outputs_collections, outputs)
        return outputs
