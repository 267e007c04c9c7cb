"""`batch_normalization` and `LayersBatchNormalization`: TF 1.15's `tf.layers.batch_normalization`
and `tf.layers.BatchNormalization` (also spelled `tf.compat.v1.layers.*`, which is what
`tf_upgrade_v2` writes and what raises "not available with Keras 3" on TF 2.16+), for tf.compat.v1
graph code.

Same signatures and defaults (momentum 0.99, epsilon 1e-3, scale=True, `training=False`), same
variable names (`batch_normalization/gamma`, `beta`, `moving_mean`, `moving_variance`, renorm's
`moving_stddev`, `renorm_mean`, `renorm_stddev`; unnamed layers uniquified `batch_normalization_1`,
... per variable scope, `name=` + `reuse=` sharing, the class uniquifying its own name), same
variable shapes (`[1, ..., 1, C]` with `virtual_batch_size`), update ops in UPDATE_OPS, and the
arithmetic TF 1.15 picked (fused for rank-4 inputs only; renorm, virtual batches and `adjustment`
non-fused), from the arithmetic shared with `batch_norm` and `BatchNormalization`.

TF1 behaviours kept on purpose: `trainable=False` puts no update op in UPDATE_OPS (TF 1.15's
`Layer.updates` skipped frozen layers, so their moving statistics never moved); `training` may be a
Python bool or a bool tensor. Different from TF1: `training=None` means False (TF1 read the Keras
learning phase, which defaults to 0); a list of axes is rejected; `layer.name` of an unnamed layer
is its scope's last component, not Keras' separately counted name.

Keras / eager code should use `tf2norm.replacements.BatchNormalization(momentum=0.99, scale=True,
tf1_api="layers", ...)` instead, which is what `tf2norm migrate` writes for the keras target.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tf2norm.replacements import _batch_norm_math as bn
from tf2norm.replacements._modes import in_legacy_graph, static_bool

_UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS
_RENORM_CLIPPING_KEYS = ("rmax", "rmin", "dmax")
_BASE_NAME = "batch_normalization"

# TF 1.15's defaults were init_ops instances; an explicit None means get_variable's default
# (the scope's initializer, else glorot uniform), as it did in TF1.
_ZEROS = tf.compat.v1.zeros_initializer()
_ONES = tf.compat.v1.ones_initializer()


def _eager_error(what):
    return RuntimeError(
        f"tf2norm.replacements.{what} builds tf.compat.v1 graph code (Session/Saver); it cannot keep "
        "variables between eager calls. In eager or tf.function code use tf2norm.replacements."
        "BatchNormalization(momentum=0.99, scale=True, tf1_api='layers', ...)(x, training=...) instead."
    )


def _initializer(value):
    # TF1 ran Keras' initializers.get: strings ('zeros', 'ones', ...) and callables.
    return keras.initializers.get(value) if isinstance(value, (str, dict)) else value


def _regularizer(value):
    return keras.regularizers.get(value) if isinstance(value, (str, dict)) else value


def _constraint(value):
    return keras.constraints.get(value) if isinstance(value, (str, dict)) else value


class LayersBatchNormalization:
    """TF 1.15's `tf.layers.BatchNormalization` for tf.compat.v1 graph code (see the module docstring).

    Calling the object (`layer(x, training=...)` or `layer.apply(...)`) builds ops in the current
    graph; the first call creates the variables under the layer's scope (decided then, inside the
    enclosing variable scope), later calls reuse them. Attributes as in TF1: `gamma`, `beta`,
    `moving_mean`, `moving_variance` (renorm: `moving_stddev`, `renorm_mean`, `renorm_stddev`),
    `variables`/`weights`, `trainable_variables`, `non_trainable_variables`, `updates`, `losses`,
    `scope_name`.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer=_ZEROS,
        gamma_initializer=_ONES,
        moving_mean_initializer=_ZEROS,
        moving_variance_initializer=_ONES,
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        fused=None,
        trainable=True,
        virtual_batch_size=None,
        adjustment=None,
        name=None,
        dtype=None,
        **kwargs,
    ):
        scope = kwargs.pop("_scope", None)
        self._reuse = kwargs.pop("_reuse", None)
        if kwargs:
            raise TypeError(f"LayersBatchNormalization: unexpected keyword arguments {sorted(kwargs)}")
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(
                    f"axis={axis!r}: a list of axes (multi-axis batch normalization) is not supported by tf2norm"
                )
            axis = axis[0]
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"axis must be int or list, type given: {type(axis)}")
        if renorm:
            renorm_clipping = dict(renorm_clipping or {})
            unknown = set(renorm_clipping) - set(_RENORM_CLIPPING_KEYS)
            if unknown:
                raise ValueError(f"renorm_clipping {renorm_clipping} contains keys not in "
                                 f"{list(_RENORM_CLIPPING_KEYS)}")
        self.axis = axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = _initializer(beta_initializer)
        self.gamma_initializer = _initializer(gamma_initializer)
        self.moving_mean_initializer = _initializer(moving_mean_initializer)
        self.moving_variance_initializer = _initializer(moving_variance_initializer)
        self.beta_regularizer = _regularizer(beta_regularizer)
        self.gamma_regularizer = _regularizer(gamma_regularizer)
        self.beta_constraint = _constraint(beta_constraint)
        self.gamma_constraint = _constraint(gamma_constraint)
        self.renorm = renorm
        self.renorm_clipping = renorm_clipping if renorm else None
        self.renorm_momentum = renorm_momentum
        self.fused = fused
        self.trainable = trainable
        self.virtual_batch_size = virtual_batch_size
        self.adjustment = adjustment
        self.dtype = None if dtype is None else tf.as_dtype(dtype)
        self._base_name = name or _BASE_NAME
        self._name = name
        self.built = False
        self._weights: list = []
        self._updates: list = []
        self._losses: list = []
        self.gamma = self.beta = None
        self.moving_mean = self.moving_variance = None
        self.moving_stddev = self.renorm_mean = self.renorm_stddev = None
        self._scope = None
        if scope:
            if not in_legacy_graph():
                raise _eager_error("batch_normalization")
            with tf.compat.v1.variable_scope(scope) as captured:
                self._scope = captured

    # ------------------------------------------------------------------ properties
    @property
    def name(self):
        if self._name:
            return self._name
        return self._scope.name.rsplit("/", 1)[-1] if self._scope is not None else self._base_name

    @property
    def scope_name(self):
        if self._scope is None:
            raise ValueError(
                f'No name available for layer scope because the layer "{self.name}" has not been used yet. '
                "The scope name is determined the first time the layer instance is called."
            )
        return self._scope.name

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def trainable_weights(self):
        return [v for v, trainable in self._weights if trainable and self.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        return [v for v, trainable in self._weights if not (trainable and self.trainable)]

    non_trainable_variables = non_trainable_weights

    @property
    def updates(self):
        # TF 1.15's Layer.updates skipped layers that are not trainable.
        return list(self._updates) if self.trainable else []

    @property
    def losses(self):
        return list(self._losses)

    # ------------------------------------------------------------------ calling
    def apply(self, inputs, *args, **kwargs):
        """TF1's deprecated alias of `__call__`."""
        return self(inputs, *args, **kwargs)

    def __call__(self, inputs, training=False, scope=None):
        if not in_legacy_graph():
            raise _eager_error("LayersBatchNormalization")
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with tf.compat.v1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as current:
            with tf.compat.v1.name_scope(current.original_name_scope):
                inputs = tf.convert_to_tensor(inputs)
                if not self.built:
                    self._build(inputs.shape, inputs.dtype)
                outputs = self._call(inputs, training)
        # As tf.layers: after every call, all of the layer's updates (if trainable) go to UPDATE_OPS.
        collection = tf.compat.v1.get_collection_ref(_UPDATE_OPS)
        for update in self.updates:
            if not any(update is existing for existing in collection):
                collection.append(update)
        return outputs

    def _set_scope(self, scope=None):
        if self._scope is not None:
            return
        if self._reuse:
            with tf.compat.v1.variable_scope(scope if scope is not None else self._base_name) as captured:
                self._scope = captured
        else:
            with tf.compat.v1.variable_scope(scope, default_name=self._base_name) as captured:
                self._scope = captured

    def _build(self, input_shape, input_dtype):
        rank = input_shape.rank
        if not rank:
            raise ValueError(f"Input has undefined rank: {input_shape}")
        axis = self.axis + rank if self.axis < 0 else self.axis
        if axis < 0 or axis >= rank:
            raise ValueError(f"Invalid axis: {self.axis}")
        if self.virtual_batch_size is not None:
            if self.virtual_batch_size <= 0:
                raise ValueError(
                    "virtual_batch_size must be a positive integer that divides the true batch size of the input Tensor"
                )
            if axis == 0:
                raise ValueError("When using virtual_batch_size, the batch dimension must be 0 and thus axis "
                                 "cannot include 0")
            if self.adjustment is not None:
                raise ValueError("When using virtual_batch_size, adjustment cannot be specified")
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        channels = int(channels)
        # TF 1.15's V1 rule: fused=None or True means fused where possible, i.e. rank 4, axis 1 or 3,
        # no renorm, virtual batch or adjustment; elsewhere (rank 2 included) silently not fused.
        fused = self.fused in (None, True) and bn.fused_arithmetic_applies(
            rank, axis, self.renorm, tf_layers=True,
            virtual_batch_size=self.virtual_batch_size, adjustment=self.adjustment,
        )
        dtype = self.dtype or input_dtype
        param_dtype = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
        shape = [channels] if self.virtual_batch_size is None else bn.virtual_batch_shape(rank, axis, channels)

        self._config = bn.BatchNormConfig(
            axis=axis,
            rank=rank,
            epsilon=float(self.epsilon),
            decay=float(self.momentum),
            fused=fused,
            # The fused path computed 1 - momentum from a float32 tensor, the others in Python.
            decay_in_float32=fused,
            renorm=bool(self.renorm),
            renorm_clipping=self.renorm_clipping,
            renorm_decay=float(self.renorm_momentum),
            virtual_batch_size=self.virtual_batch_size,
            adjustment=self.adjustment,
        )
        self._channels = channels

        variance_initializer = self.moving_variance_initializer

        def stddev_initializer(shape, dtype=None, partition_info=None):
            return tf.sqrt(variance_initializer(shape, dtype=dtype))

        # TF 1.15's creation order: gamma, beta, moving_mean, moving_variance, renorm's three.
        if self.scale:
            self.gamma = self._variable("gamma", shape, param_dtype, self.gamma_initializer, True,
                                        self.gamma_regularizer, self.gamma_constraint)
        if self.center:
            self.beta = self._variable("beta", shape, param_dtype, self.beta_initializer, True,
                                       self.beta_regularizer, self.beta_constraint)
        # The moving statistics are never partitioned (TF1 lifted the scope's partitioner for them).
        partitioner = self._scope.partitioner
        self._scope.set_partitioner(None)
        try:
            statistic = dict(synchronization=tf.VariableSynchronization.ON_READ,
                             aggregation=tf.VariableAggregation.MEAN)
            self.moving_mean = self._variable("moving_mean", shape, param_dtype, self.moving_mean_initializer,
                                              False, **statistic)
            self.moving_variance = self._variable("moving_variance", shape, param_dtype,
                                                  self.moving_variance_initializer, False, **statistic)
            if self.renorm:
                self.moving_stddev = self._variable("moving_stddev", shape, param_dtype, stddev_initializer,
                                                    False, **statistic)
                self.renorm_mean = self._variable("renorm_mean", shape, param_dtype, self.moving_mean_initializer,
                                                  False, **statistic)
                self.renorm_stddev = self._variable("renorm_stddev", shape, param_dtype, stddev_initializer,
                                                    False, **statistic)
        finally:
            self._scope.set_partitioner(partitioner)
        self.built = True

    def _variable(self, name, shape, dtype, initializer, trainable, regularizer=None, constraint=None, **kwargs):
        """TF1's tf.layers add_weight: get_variable in the layer's scope (reused when built or reuse)."""
        reuse = self.built or self._reuse
        losses = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)
        with tf.compat.v1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False):
            variable = tf.compat.v1.get_variable(
                name,
                shape=shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                trainable=bool(trainable and self.trainable),
                constraint=constraint,
                **kwargs,
            )
        new = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)[len(losses):]
        self._losses.extend(new)
        self._weights.append((variable, trainable))
        return variable

    def _state(self) -> bn.BatchNormState:
        # Variables of the ghost-batch shape [1, ..., C] are read as [C]; assignments stay elementwise.
        def flat(variable):
            if variable is None or self.virtual_batch_size is None:
                return variable
            return bn.FlatVariable(variable, self._channels)

        return bn.BatchNormState(
            moving_mean=flat(self.moving_mean),
            moving_variance=flat(self.moving_variance),
            beta=flat(self.beta),
            gamma=flat(self.gamma),
            moving_stddev=flat(self.moving_stddev),
            renorm_mean=flat(self.renorm_mean),
            renorm_stddev=flat(self.renorm_stddev),
        )

    def _call(self, inputs, training):
        if training is None:
            training = False  # TF1's learning phase, whose default is 0
        training_value = static_bool(training)
        if training_value is None and not isinstance(training, tf.Variable):
            training = tf.convert_to_tensor(training)
        if training_value is not None:
            training = training_value
        state, cfg = self._state(), self._config
        outputs, mean, variance = bn.forward(inputs, state, cfg, self._channels, training)
        if training_value is not False:
            self._updates.extend(bn.gated_moving_updates(state, cfg, mean, variance, training, after=outputs))
        outputs.set_shape(inputs.shape)
        return outputs


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=_ZEROS,
    gamma_initializer=_ONES,
    moving_mean_initializer=_ZEROS,
    moving_variance_initializer=_ONES,
    beta_regularizer=None,
    gamma_regularizer=None,
    beta_constraint=None,
    gamma_constraint=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    renorm=False,
    renorm_clipping=None,
    renorm_momentum=0.99,
    fused=None,
    virtual_batch_size=None,
    adjustment=None,
):
    """TF 1.15 `tf.layers.batch_normalization` for tf.compat.v1 graph code (see the module docstring).

    As TF1: a new `LayersBatchNormalization` per call, whose variable scope is `name` (not
    uniquified: a second call with the same name needs `reuse=True`) or a fresh
    `batch_normalization[_N]`; `reuse=True` without a name shares `batch_normalization`.
    """
    if not in_legacy_graph():
        raise _eager_error("batch_normalization")
    layer = LayersBatchNormalization(
        axis=axis,
        momentum=momentum,
        epsilon=epsilon,
        center=center,
        scale=scale,
        beta_initializer=beta_initializer,
        gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer,
        gamma_regularizer=gamma_regularizer,
        beta_constraint=beta_constraint,
        gamma_constraint=gamma_constraint,
        renorm=renorm,
        renorm_clipping=renorm_clipping,
        renorm_momentum=renorm_momentum,
        fused=fused,
        trainable=trainable,
        virtual_batch_size=virtual_batch_size,
        adjustment=adjustment,
        name=name,
        _scope=name,
        _reuse=reuse,
    )
    return layer.apply(inputs, training=training)
