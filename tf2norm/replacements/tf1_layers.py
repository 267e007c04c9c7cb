"""TF 1.15's `tf.layers` (other than batch normalization: layers_batch_normalization) for tf.compat.v1 graph code.

On TF 2.16+ with Keras 3 every `tf.compat.v1.layers.X` raises "not available with Keras 3" (it is
what `tf_upgrade_v2` writes for `tf.layers.X`). These are TF 1.15's functions and classes with the
same signatures and defaults, the same variables under the same names, and the same ops:

* `dense` / `Dense`: `kernel [in, units]`, `bias [units]`; `MatMul` for rank 2, `tensordot` above, `BiasAdd`;
* `conv1d/2d/3d` / `Conv1D/2D/3D`: `kernel [*kernel_size, in, filters]`, `bias`; `nn.convolution`
  (Conv1D's 'causal': left zero padding), `BiasAdd`;
* `conv2d_transpose` / `Conv2DTranspose`: `kernel [kh, kw, filters, in]`, `bias`; `conv2d_transpose`, `BiasAdd`;
* `separable_conv2d` / `SeparableConv2D`: `depthwise_kernel`, `pointwise_kernel`, `bias`;
  `nn.separable_conv2d`, `BiasAdd`;
* `dropout` / `Dropout`: TF 1.15's `dropout_v2` op for op (float32 `rate`, `x * (1 / (1 - rate)) * mask`);
* `max_/average_pooling1d/2d/3d` and their classes: `max_pool` / `avg_pool` (1-D through 2-D with a
  unit axis), `max_pool3d` / `avg_pool3d`;
* `flatten` / `Flatten`: `reshape` to `[batch, -1]` (channels_first: transposed first);
* `Layer`: the base class of all of them and of user layers (`build`, `call`, `add_weight`).

Naming and sharing are TF1's (`tf.layers.Layer`): an unnamed layer's variable scope is its snake-case
class name made unique in the enclosing variable scope (`dense`, `dense_1`, `conv2d`, ...: counted by
TF's variable-scope store, so tf2norm's `batch_normalization` between them counts as in TF1); the
functions' `name=` is the scope itself (a second call with the same name needs `reuse=True`), a
class's `name=` is made unique; `reuse=True` shares the named (or unnamed first) layer's variables.
Variables come from `tf.compat.v1.get_variable` (the enclosing scope's initializer, custom getters
and partitioners apply; an unset kernel initializer is the scope's, else glorot uniform, as TF1),
weight regularizers' losses go to REGULARIZATION_LOSSES (under `<scope>/<weight>/Regularizer`) once
per created variable, and `activity_regularizer(output) / batch_size` after every call, as TF 1.15.
A TF1 Saver checkpoint therefore restores unchanged.

Differences from TF1, on purpose: only graph code (a `tf.compat.v1` graph for a Session; eager and
`tf.function` code should use Keras layers), `layer.name` of an unnamed layer is its scope's last
component (TF1 counted Keras names separately), the Keras learning phase does not exist (`training`
None means False, as its default 0), and `input_spec` is not checked.
"""

from __future__ import annotations

import inspect
import math
import re

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph, smart_cond

_REGULARIZATION_LOSSES = tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES
_UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS
_ZEROS = tf.compat.v1.zeros_initializer()
# Keras 2's base-layer keywords that mean nothing in graph code (TF1 accepted them too).
_IGNORED_KWARGS = ("input_shape", "batch_input_shape", "batch_size", "autocast")


def _snake_case(name: str) -> str:
    """TF 1.15's keras `to_snake_case` ('Conv2DTranspose' -> 'conv2d_transpose')."""
    intermediate = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    insecure = re.sub("([a-z])([A-Z])", r"\1_\2", intermediate).lower()
    return insecure if insecure[0] != "_" else "private" + insecure


def _get(kind, value):
    """Keras' `X.get` for a name or config (TF1 did the same); a callable or None as it is."""
    if isinstance(value, (str, dict)):
        return getattr(keras, kind).get(value)
    return value


def _tuple(value, n, what):
    """TF1's conv_utils.normalize_tuple: an int repeated n times, or a tuple of n ints."""
    if isinstance(value, int):
        return (value,) * n
    value = tuple(value)
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(f"The `{what}` argument must be a tuple of {n} integers. Received: {value}")
    return value


def _data_format(value):
    value = (value or "channels_last").lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError(f'The `data_format` argument must be one of "channels_first", "channels_last". '
                         f"Received: {value}")
    return value


def _padding(value, allowed=("valid", "same")):
    value = value.lower()
    if value not in allowed:
        raise ValueError(f"The `padding` argument must be one of {', '.join(map(repr, allowed))}. Received: {value}")
    return value


def _tf_format(data_format, rank):
    """conv_utils.convert_data_format: 'NWC', 'NHWC', 'NDHWC' or their channels-first forms."""
    spatial = {1: "W", 2: "HW", 3: "DHW"}[rank]
    return f"NC{spatial}" if data_format == "channels_first" else f"N{spatial}C"


def _graph_only(what):
    if not in_legacy_graph():
        raise RuntimeError(
            f"tf2norm.replacements.{what} is TF1's tf.layers for tf.compat.v1 graph code (Session/Saver); "
            "it cannot keep variables between eager calls. In eager or tf.function code use the Keras layer "
            "of the same name (keras.layers)."
        )


class Layer:
    """TF 1.15's `tf.layers.Layer` (graph code): the base of every layer here and of user layers.

    Subclasses write `build(input_shape)` (creating variables with `add_weight` / `add_variable`)
    and `call(inputs, ...)`; calling the layer (`layer(x, ...)` or `layer.apply(x, ...)`) opens its
    variable scope (decided at the first call, see the module docstring), builds it once, and calls
    `call`. A `scope=` keyword of the call names the scope of an unscoped layer, and is passed on to
    `call` when `call` takes it. Attributes as in TF1: `name`, `dtype`, `trainable`, `built`,
    `variables`/`weights`, `trainable_variables`/`trainable_weights`, `non_trainable_variables`,
    `losses`, `updates`, `scope_name`, `add_loss`, `add_update`.
    """

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        scope = kwargs.pop("_scope", None)
        self._reuse = kwargs.pop("_reuse", None)
        self._activity_regularizer = _get("regularizers", kwargs.pop("activity_regularizer", None))
        for key in _IGNORED_KWARGS:
            kwargs.pop(key, None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword arguments {sorted(kwargs)}")
        self.trainable = trainable
        self.built = False
        self.input_spec = None
        self.dtype = None if dtype is None else tf.as_dtype(dtype)
        self._name = name
        self._base_name = name or _snake_case(type(self).__name__)
        self._weights: list = []  # (variable, trainable) in creation order
        self._losses: list = []
        self._updates: list = []
        self._scope = None
        self._current_scope = None
        if scope:
            _graph_only(type(self).__name__)
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
    def activity_regularizer(self):
        return self._activity_regularizer

    @property
    def trainable_weights(self):
        return [v for v, trainable in self._weights if trainable and self.trainable]

    trainable_variables = trainable_weights

    @property
    def non_trainable_weights(self):
        return [v for v, trainable in self._weights if not (trainable and self.trainable)]

    non_trainable_variables = non_trainable_weights

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def losses(self):
        return list(self._losses)

    @property
    def updates(self):
        # TF 1.15's Layer.updates skipped layers that are not trainable.
        return list(self._updates) if self.trainable else []

    def add_loss(self, losses, inputs=None):
        """Adds loss tensors (or zero-argument callables) to the layer and to REGULARIZATION_LOSSES, as TF1."""
        new = []
        for loss in tf.nest.flatten(losses):
            loss = loss() if callable(loss) else loss
            if loss is not None:
                new.append(tf.convert_to_tensor(loss))
        self._losses.extend(new)
        _add_to_collection(new, _REGULARIZATION_LOSSES)

    def add_update(self, updates, inputs=None):
        """Adds update ops; they go to UPDATE_OPS after the call, as TF1."""
        self._updates.extend(u() if callable(u) else u for u in tf.nest.flatten(updates))

    # ------------------------------------------------------------------ building
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def compute_output_shape(self, input_shape):
        raise NotImplementedError

    def add_weight(self, name, shape, dtype=None, initializer=None, regularizer=None, trainable=None,
                   constraint=None, use_resource=None, synchronization=tf.VariableSynchronization.AUTO,
                   aggregation=tf.VariableAggregation.NONE, partitioner=None, **kwargs):
        """TF 1.15's `Layer.add_weight`: `tf.compat.v1.get_variable(name, ...)` in the layer's scope.

        Reused when the layer is built or was made with `reuse=True`; an initializer None is the
        scope's, else glorot uniform (floating) or zeros; a regularizer's loss is added once, for a
        variable this call created.
        """
        _graph_only(type(self).__name__)
        if trainable is None:
            trainable = True
        dtype = tf.as_dtype(dtype or self.dtype or tf.float32)
        self._set_scope(None)
        reuse = self.built or self._reuse
        existing = {id(v) for v in tf.compat.v1.global_variables()}
        with tf.compat.v1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with tf.name_scope(scope.original_name_scope):
                initializer = _get("initializers", initializer)
                if initializer is None:
                    initializer = scope.initializer
                if initializer is None:
                    if dtype.is_floating:
                        initializer = tf.compat.v1.glorot_uniform_initializer()
                    elif dtype.is_integer or dtype.is_unsigned or dtype.is_bool:
                        initializer = tf.compat.v1.zeros_initializer()
                    else:
                        raise ValueError(f"An initializer for variable {name} of type {dtype} is required "
                                         f"for layer {self.name}")
                variable = tf.compat.v1.get_variable(
                    name, shape=shape, dtype=dtype, initializer=initializer,
                    trainable=bool(trainable and self.trainable), constraint=_get("constraints", constraint),
                    partitioner=partitioner, use_resource=use_resource, synchronization=synchronization,
                    aggregation=aggregation, **kwargs)
                regularizer = _get("regularizers", regularizer)
                if regularizer is not None and _new_variable(variable, existing):
                    for part in _parts(variable):
                        with tf.name_scope(name + "/Regularizer"):
                            self.add_loss(regularizer(part))
        self._weights.append((variable, trainable))
        return variable

    def add_variable(self, *args, **kwargs):
        """TF1's deprecated alias of `add_weight`."""
        return self.add_weight(*args, **kwargs)

    # ------------------------------------------------------------------ calling
    def apply(self, inputs, *args, **kwargs):
        """TF1's deprecated alias of `__call__`."""
        return self(inputs, *args, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        _graph_only(type(self).__name__)
        scope = kwargs.pop("scope", None)
        self._set_scope(scope)
        reuse = True if self.built else self._reuse
        with tf.compat.v1.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as current:
            self._current_scope = current
            if _takes(self.call, "scope"):
                kwargs["scope"] = current
            with tf.name_scope(current.original_name_scope):
                inputs = tf.nest.map_structure(_as_tensor, inputs)
                if not self.built:
                    first = tf.nest.flatten(inputs)[0]
                    if self.dtype is None and hasattr(first, "dtype"):
                        # TF1's 'infer' policy: the first input's dtype, integers included (a weight of
                        # an int32-fed layer without its own dtype is int32, zeros-initialised, as in TF1).
                        self.dtype = first.dtype.base_dtype
                    self.build(tf.nest.map_structure(lambda x: x.shape, inputs))
                    self.built = True
                outputs = self.call(inputs, *args, **kwargs)
                if self._activity_regularizer is not None:
                    with tf.name_scope("ActivityRegularizer"):
                        for output in tf.nest.flatten(outputs):
                            loss = self._activity_regularizer(output)
                            batch = tf.cast(tf.shape(output)[0], loss.dtype)
                            self.add_loss(loss / batch)
        _add_to_collection(self.updates, _UPDATE_OPS)
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


def _as_tensor(value):
    return value if isinstance(value, (tf.Tensor, tf.Variable, tf.SparseTensor)) else tf.convert_to_tensor(value)


def _takes(function, keyword):
    try:
        return keyword in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _parts(variable):
    # A PartitionedVariable (the scope's partitioner): TF1 regularized each part.
    parts = getattr(variable, "_get_variable_list", None)
    return list(parts()) if parts is not None else [variable]


def _new_variable(variable, existing):
    return all(id(part) not in existing for part in _parts(variable))


def _add_to_collection(elements, key):
    collection = tf.compat.v1.get_collection_ref(key)
    for element in elements:
        if not any(element is present for present in collection):
            collection.append(element)


def _activation(value):
    return keras.activations.get(value) if isinstance(value, (str, dict)) else value


# ---------------------------------------------------------------------------------------- core
class Dense(Layer):
    """TF 1.15's `tf.layers.Dense`: `activation(inputs @ kernel + bias)` (see the module docstring)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        self.units = int(units)
        self.activation = _activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = self.bias = None

    def build(self, input_shape):
        input_shape = tf.TensorShape(input_shape)
        if not (self.dtype.is_floating or self.dtype.is_complex):
            raise TypeError(f"Unable to build `Dense` layer with non-floating point dtype {self.dtype}")
        last = tf.compat.dimension_value(input_shape[-1])
        if last is None:
            raise ValueError("The last dimension of the inputs to `Dense` should be defined. Found `None`.")
        self.kernel = self.add_weight("kernel", shape=[last, self.units], initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      dtype=self.dtype, trainable=True)
        if self.use_bias:
            self.bias = self.add_weight("bias", shape=[self.units], initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        dtype=self.dtype, trainable=True)
        self.built = True

    def call(self, inputs):
        rank = inputs.shape.rank
        if rank > 2:
            # TF 1.15: tensordot for broadcasting, then the static shape set back.
            outputs = tf.tensordot(inputs, self.kernel, [[rank - 1], [0]])
            outputs.set_shape(inputs.shape[:-1].concatenate([self.units]))
        else:
            outputs = tf.raw_ops.MatMul(a=tf.cast(inputs, self.dtype), b=tf.convert_to_tensor(self.kernel))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.units])


class Dropout(Layer):
    """TF 1.15's `tf.layers.Dropout`: `call(inputs, training=False)`; `training` a bool or a bool tensor."""

    def __init__(self, rate=0.5, noise_shape=None, seed=None, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self.supports_masking = True

    def _noise_shape(self, inputs):
        if self.noise_shape is None:
            return None
        concrete = tf.shape(inputs)
        return tf.convert_to_tensor([concrete[i] if value is None else value
                                     for i, value in enumerate(self.noise_shape)])

    def call(self, inputs, training=False):
        if training is None:
            training = False  # TF1's learning phase, whose default is 0
        # A Python bool or a constant picks a branch now; a placeholder or a Variable becomes a tf.cond.
        return smart_cond(training, lambda: _dropout_v2(inputs, self.rate, self._noise_shape(inputs), self.seed),
                          lambda: tf.identity(inputs))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)


def _dropout_v2(x, rate, noise_shape, seed):
    """TF 1.15's `nn.dropout_v2(x, rate, noise_shape, seed)` op for op (TF 2.x divides by `1 - rate`)."""
    with tf.name_scope("dropout"):
        x = tf.convert_to_tensor(x, name="x")
        if not x.dtype.is_floating:
            raise ValueError(f"x has to be a floating point tensor since it's going to be scaled. Got a {x.dtype} "
                             "tensor instead.")
        if isinstance(rate, (int, float)) and not isinstance(rate, bool):
            if not 0 <= rate < 1:
                raise ValueError(f"rate must be a scalar tensor or a float in the range [0, 1), got {rate:g}")
            if rate == 0:
                return x
        rate = tf.convert_to_tensor(rate, dtype=x.dtype, name="rate")
        rate.shape.assert_has_rank(0)
        if tf.get_static_value(rate) == 0:
            return x
        shape = _noise_shape(x, noise_shape)
        random = tf.random.uniform(shape, seed=seed, dtype=x.dtype)
        keep_prob = 1 - rate
        scale = 1 / keep_prob
        kept = x * scale * tf.cast(random >= rate, x.dtype)
        kept.set_shape(x.shape)
        return kept


def _noise_shape(x, noise_shape):
    """TF 1.15's `nn_ops._get_noise_shape`."""
    if noise_shape is None:
        return tf.shape(x)
    try:
        static = tf.TensorShape(noise_shape)
    except (TypeError, ValueError):
        return noise_shape
    if x.shape.rank is not None and x.shape.rank == static.rank:
        return tf.TensorShape([d if n is None and d is not None else n
                               for d, n in zip(x.shape.as_list(), static.as_list())])
    return noise_shape


class Flatten(Layer):
    """TF 1.15's `tf.layers.Flatten`: `[batch, -1]` (channels_first inputs transposed to channels last first)."""

    def __init__(self, data_format="channels_last", **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        rank = inputs.shape.rank
        if self.data_format == "channels_first" and rank is not None and rank > 1:
            inputs = tf.transpose(inputs, perm=[0, *range(2, rank), 1])
        batch = tf.compat.dimension_value(inputs.shape[0]) or tf.shape(inputs)[0]
        outputs = tf.reshape(inputs, (batch, -1))
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        return outputs

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        rest = shape[1:]
        size = None if not rest or any(d is None for d in rest) else int(math.prod(rest))
        return tf.TensorShape([shape[0], size]) if rest else tf.TensorShape([shape[0], 1])


# --------------------------------------------------------------------------------- convolutions
class _Conv(Layer):
    """TF 1.15's keras `Conv` under tf.layers: `nn.convolution` then `bias_add` (data_format aware)."""

    RANK = 2

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format="channels_last", dilation_rate=1,
                 activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, trainable=True, name=None, **kwargs):
        super().__init__(trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs)
        rank = self.RANK
        self.filters = int(filters)
        self.kernel_size = _tuple(kernel_size, rank, "kernel_size")
        self.strides = _tuple(strides, rank, "strides")
        self.padding = _padding(padding, ("valid", "same", "causal") if rank == 1 else ("valid", "same"))
        self.data_format = _data_format(data_format)
        self.dilation_rate = _tuple(dilation_rate, rank, "dilation_rate")
        self.activation = _activation(activation)
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.kernel = self.bias = None

    def _channel_axis(self):
        return 1 if self.data_format == "channels_first" else -1

    def _input_dim(self, input_shape):
        dim = tf.TensorShape(input_shape)[self._channel_axis()]
        if tf.compat.dimension_value(dim) is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        return int(dim)

    def _kernel_shape(self, input_dim):
        return self.kernel_size + (input_dim, self.filters)

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=self._kernel_shape(self._input_dim(input_shape)),
                                      initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, trainable=True, dtype=self.dtype)
        self._add_bias()
        self.built = True

    def _add_bias(self):
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        trainable=True, dtype=self.dtype)

    def _convolve(self, inputs):
        if self.padding == "causal":
            # TF 1.15's Conv1D: left zero padding of (kernel - 1) * dilation steps, then 'VALID'.
            left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
            pad = [[0, 0], [left, 0], [0, 0]] if self.data_format == "channels_last" else [[0, 0], [0, 0], [left, 0]]
            inputs = tf.pad(inputs, pad)
        padding = "VALID" if self.padding == "causal" else self.padding.upper()
        return tf.compat.v1.nn.convolution(inputs, self.kernel, padding, strides=self.strides,
                                           dilation_rate=self.dilation_rate,
                                           data_format=_tf_format(self.data_format, self.RANK))

    def _bias_add(self, outputs):
        if not self.use_bias:
            return outputs
        if self.data_format == "channels_first":
            if self.RANK == 1:
                # TF 1.15: bias_add does not take a 1-D input in NCW.
                return outputs + tf.reshape(self.bias, (1, self.filters, 1))
            return tf.nn.bias_add(outputs, self.bias, data_format="NCHW")
        return tf.nn.bias_add(outputs, self.bias, data_format="NHWC")

    def call(self, inputs):
        outputs = self._bias_add(self._convolve(inputs))
        return self.activation(outputs) if self.activation is not None else outputs


class Conv1D(_Conv):
    """TF 1.15's `tf.layers.Conv1D` (padding 'valid', 'same' or 'causal')."""

    RANK = 1


class Conv2D(_Conv):
    """TF 1.15's `tf.layers.Conv2D`."""

    # TF1's defaults (1, 1) for strides and dilation_rate: the int 1 of _Conv's signature, repeated.
    RANK = 2


class Conv3D(_Conv):
    """TF 1.15's `tf.layers.Conv3D`."""

    RANK = 3


def _deconv_length(length, kernel, padding, stride):
    """TF 1.15's conv_utils.deconv_output_length (no output padding, dilation 1), on tensors too."""
    length = length * stride
    if padding == "valid":
        length = length + max(kernel - stride, 0)
    return length


class Conv2DTranspose(_Conv):
    """TF 1.15's `tf.layers.Conv2DTranspose`: kernel `[kh, kw, filters, in]`, `conv2d_transpose` then `bias_add`.

    As TF 1.15 on a CPU (Keras' backend without NCHW support), channels_first inputs are transposed to
    NHWC around the op.
    """

    RANK = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, trainable=True, name=None, **kwargs):
        # TF1's signature has no dilation_rate (the sixth argument is the activation).
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, bias_constraint=bias_constraint, trainable=trainable,
                         name=name, **kwargs)

    def _kernel_shape(self, input_dim):
        return self.kernel_size + (self.filters, input_dim)

    def call(self, inputs):
        shape = tf.shape(inputs)
        h_axis, w_axis = (2, 3) if self.data_format == "channels_first" else (1, 2)
        height = _deconv_length(shape[h_axis], self.kernel_size[0], self.padding, self.strides[0])
        width = _deconv_length(shape[w_axis], self.kernel_size[1], self.padding, self.strides[1])
        x = inputs
        if self.data_format == "channels_first":
            x = tf.transpose(x, (0, 2, 3, 1))
        output_shape = tf.stack((shape[0], height, width, self.filters))
        outputs = tf.compat.v1.nn.conv2d_transpose(x, self.kernel, output_shape, (1, *self.strides, 1),
                                                   padding=self.padding.upper(), data_format="NHWC")
        if self.data_format == "channels_first":
            outputs = tf.transpose(outputs, (0, 3, 1, 2))
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        if self.use_bias:
            outputs = tf.nn.bias_add(outputs, self.bias, data_format=_tf_format(self.data_format, 2))
        return self.activation(outputs) if self.activation is not None else outputs

    def compute_output_shape(self, input_shape):
        shape = tf.TensorShape(input_shape).as_list()
        c, h, w = (1, 2, 3) if self.data_format == "channels_first" else (3, 1, 2)
        shape[c] = self.filters
        for axis, kernel, stride in ((h, self.kernel_size[0], self.strides[0]), (w, self.kernel_size[1],
                                                                                 self.strides[1])):
            if shape[axis] is not None:
                shape[axis] = _deconv_length(shape[axis], kernel, self.padding, stride)
        return tf.TensorShape(shape)


class SeparableConv2D(_Conv):
    """TF 1.15's `tf.layers.SeparableConv2D`: `depthwise_kernel [kh, kw, in, depth_multiplier]`,
    `pointwise_kernel [1, 1, in * depth_multiplier, filters]`, `nn.separable_conv2d` then `bias_add`."""

    RANK = 2

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True, depthwise_initializer=None,
                 pointwise_initializer=None, bias_initializer=_ZEROS, depthwise_regularizer=None,
                 pointwise_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None, trainable=True,
                 name=None, **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                         dilation_rate=dilation_rate, activation=activation, use_bias=use_bias,
                         bias_initializer=bias_initializer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, bias_constraint=bias_constraint,
                         trainable=trainable, name=name, **kwargs)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        input_dim = self._input_dim(input_shape)
        self.depthwise_kernel = self.add_weight(
            name="depthwise_kernel", shape=self.kernel_size + (input_dim, self.depth_multiplier),
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, trainable=True, dtype=self.dtype)
        self.pointwise_kernel = self.add_weight(
            name="pointwise_kernel", shape=(1, 1, self.depth_multiplier * input_dim, self.filters),
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, trainable=True, dtype=self.dtype)
        self._add_bias()
        self.built = True

    def call(self, inputs):
        channels_last = self.data_format == "channels_last"
        strides = (1, *self.strides, 1) if channels_last else (1, 1, *self.strides)
        outputs = tf.compat.v1.nn.separable_conv2d(inputs, self.depthwise_kernel, self.pointwise_kernel,
                                                   strides=strides, padding=self.padding.upper(),
                                                   rate=self.dilation_rate,
                                                   data_format=_tf_format(self.data_format, 2))
        outputs = self._bias_add(outputs)
        return self.activation(outputs) if self.activation is not None else outputs


# -------------------------------------------------------------------------------------- pooling
class _Pooling(Layer):
    RANK = 2
    MAX = True

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.pool_size = _tuple(pool_size, self.RANK, "pool_size")
        self.strides = _tuple(strides, self.RANK, "strides")
        self.padding = _padding(padding)
        self.data_format = _data_format(data_format)

    def call(self, inputs):
        padding = self.padding.upper()
        if self.RANK == 1:
            # TF 1.15: a 1-D pooling is the 2-D pool of the input with a unit axis, through Keras' pool2d,
            # which transposes channels_first to NHWC on a CPU.
            axis = 2 if self.data_format == "channels_last" else 3
            x = tf.expand_dims(inputs, axis)
            if self.data_format == "channels_first":
                x = tf.transpose(x, (0, 2, 3, 1))
            pool = tf.compat.v1.nn.max_pool if self.MAX else tf.compat.v1.nn.avg_pool
            x = pool(x, (1, *self.pool_size, 1, 1), (1, *self.strides, 1, 1), padding=padding, data_format="NHWC")
            if self.data_format == "channels_first":
                x = tf.transpose(x, (0, 3, 1, 2))
            return tf.squeeze(x, axis)
        if self.RANK == 2:
            pool = tf.compat.v1.nn.max_pool if self.MAX else tf.compat.v1.nn.avg_pool
            if self.data_format == "channels_last":
                ksize, strides = (1, *self.pool_size, 1), (1, *self.strides, 1)
            else:
                ksize, strides = (1, 1, *self.pool_size), (1, 1, *self.strides)
            return pool(inputs, ksize=ksize, strides=strides, padding=padding,
                        data_format=_tf_format(self.data_format, 2))
        pool = tf.nn.max_pool3d if self.MAX else tf.nn.avg_pool3d
        x = inputs
        if self.data_format == "channels_first":
            x = tf.transpose(x, (0, 2, 3, 4, 1))
        x = pool(x, ksize=(1, *self.pool_size, 1), strides=(1, *self.strides, 1), padding=padding)
        if self.data_format == "channels_first":
            x = tf.transpose(x, (0, 4, 1, 2, 3))
        return x


def _pooling_class(name, rank, is_max):
    kind = "max" if is_max else "average"
    doc = (f"TF 1.15's `tf.layers.{name}`: {kind} pooling over {rank} spatial "
           f"dimension{'s' if rank > 1 else ''} (pool_size and strides required).")
    return type(name, (_Pooling,), {"RANK": rank, "MAX": is_max, "__doc__": doc, "__module__": __name__})


MaxPooling1D = _pooling_class("MaxPooling1D", 1, True)
MaxPooling2D = _pooling_class("MaxPooling2D", 2, True)
MaxPooling3D = _pooling_class("MaxPooling3D", 3, True)
AveragePooling1D = _pooling_class("AveragePooling1D", 1, False)
AveragePooling2D = _pooling_class("AveragePooling2D", 2, False)
AveragePooling3D = _pooling_class("AveragePooling3D", 3, False)


# ------------------------------------------------------------------------------------ functions
def _function_layer(cls, name, reuse, **kwargs):
    """TF 1.15's functions with variables: the layer's scope is `name` itself (`_scope=name`)."""
    _graph_only(_snake_case(cls.__name__))
    return cls(name=name, _scope=name, _reuse=reuse, **kwargs)


def _stateless_layer(cls, name, **kwargs):
    """TF 1.15's dropout, flatten and pooling functions: `name` only, made unique like a class's."""
    _graph_only(_snake_case(cls.__name__))
    return cls(name=name, **kwargs)


def dense(inputs, units, activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
          kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
          bias_constraint=None, trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.dense`: a new `Dense` per call (scope `name`, else `dense[_N]`), applied to `inputs`."""
    layer = _function_layer(Dense, name, reuse, units=units, activation=activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                            kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                            activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                            bias_constraint=bias_constraint, trainable=trainable)
    return layer.apply(inputs)


def dropout(inputs, rate=0.5, noise_shape=None, seed=None, training=False, name=None):
    """TF 1.15's `tf.layers.dropout`: `inputs` unchanged unless `training` (a bool or a bool tensor)."""
    layer = _stateless_layer(Dropout, name, rate=rate, noise_shape=noise_shape, seed=seed)
    return layer.apply(inputs, training=training)


def flatten(inputs, name=None, data_format="channels_last"):
    """TF 1.15's `tf.layers.flatten`."""
    return _stateless_layer(Flatten, name, data_format=data_format).apply(inputs)


def _conv_function(cls, inputs, name, reuse, trainable, **kwargs):
    layer = _function_layer(cls, name, reuse, trainable=trainable, **kwargs)
    return layer.apply(inputs)


def conv1d(inputs, filters, kernel_size, strides=1, padding="valid", data_format="channels_last", dilation_rate=1,
           activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS, kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None,
           trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.conv1d` (scope `name`, else `conv1d[_N]`)."""
    return _conv_function(Conv1D, inputs, name, reuse, trainable, filters=filters, kernel_size=kernel_size,
                          strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate,
                          activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                          bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.conv2d` (scope `name`, else `conv2d[_N]`)."""
    return _conv_function(Conv2D, inputs, name, reuse, trainable, filters=filters, kernel_size=kernel_size,
                          strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate,
                          activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                          bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def conv3d(inputs, filters, kernel_size, strides=(1, 1, 1), padding="valid", data_format="channels_last",
           dilation_rate=(1, 1, 1), activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.conv3d` (scope `name`, else `conv3d[_N]`)."""
    return _conv_function(Conv3D, inputs, name, reuse, trainable, filters=filters, kernel_size=kernel_size,
                          strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate,
                          activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                          bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                          bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                          kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     activation=None, use_bias=True, kernel_initializer=None, bias_initializer=_ZEROS,
                     kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.conv2d_transpose` (scope `name`, else `conv2d_transpose[_N]`)."""
    return _conv_function(Conv2DTranspose, inputs, name, reuse, trainable, filters=filters, kernel_size=kernel_size,
                          strides=strides, padding=padding, data_format=data_format, activation=activation,
                          use_bias=use_bias, kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                          kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                          bias_constraint=bias_constraint)


def separable_conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid", data_format="channels_last",
                     dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                     depthwise_initializer=None, pointwise_initializer=None, bias_initializer=_ZEROS,
                     depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                     activity_regularizer=None, depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):
    """TF 1.15's `tf.layers.separable_conv2d` (scope `name`, else `separable_conv2d[_N]`)."""
    return _conv_function(SeparableConv2D, inputs, name, reuse, trainable, filters=filters, kernel_size=kernel_size,
                          strides=strides, padding=padding, data_format=data_format, dilation_rate=dilation_rate,
                          depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
                          depthwise_initializer=depthwise_initializer, pointwise_initializer=pointwise_initializer,
                          bias_initializer=bias_initializer, depthwise_regularizer=depthwise_regularizer,
                          pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                          activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
                          pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint)


def _pooling_function(cls):
    def pooling(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
        layer = _stateless_layer(cls, name, pool_size=pool_size, strides=strides, padding=padding,
                                data_format=data_format)
        return layer.apply(inputs)

    pooling.__name__ = pooling.__qualname__ = _snake_case(cls.__name__)
    pooling.__doc__ = f"TF 1.15's `tf.layers.{pooling.__name__}` (scope `name`, else `{pooling.__name__}[_N]`)."
    return pooling


max_pooling1d = _pooling_function(MaxPooling1D)
max_pooling2d = _pooling_function(MaxPooling2D)
max_pooling3d = _pooling_function(MaxPooling3D)
average_pooling1d = _pooling_function(AveragePooling1D)
average_pooling2d = _pooling_function(AveragePooling2D)
average_pooling3d = _pooling_function(AveragePooling3D)

__all__ = [
    "Layer", "Dense", "Dropout", "Flatten", "Conv1D", "Conv2D", "Conv3D", "Conv2DTranspose", "SeparableConv2D",
    "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
    "dense", "dropout", "flatten", "conv1d", "conv2d", "conv3d", "conv2d_transpose", "separable_conv2d",
    "max_pooling1d", "max_pooling2d", "max_pooling3d", "average_pooling1d", "average_pooling2d", "average_pooling3d",
]
