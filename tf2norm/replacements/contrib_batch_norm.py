"""`batch_norm`: TF 1.15's `tf.contrib.layers.batch_norm`, same signature, for tf.compat.v1 graphs.

For code that stays in graph mode with Session and Saver: the variables have TF1's exact names
(`BatchNorm/beta`, `BatchNorm_1/moving_mean`, `scope/...`, `reuse=True` sharing, zero-debias and
renorm extras), the update ops go to `updates_collections` or are forced in place when it is None,
and the arithmetic is the one TF 1.15 picked for the same arguments. Keras / eager code should use
`tf2norm.replacements.BatchNormalization` instead.
"""

from __future__ import annotations

import tensorflow as tf

from tf2norm.replacements import _batch_norm_math as bn
from tf2norm.replacements._modes import in_legacy_graph, smart_cond, static_bool
from tf2norm.replacements._tf1_variables import collections_for, model_variable
from tf2norm.replacements.contrib_slim import arg_scope_function

_UPDATE_OPS = tf.compat.v1.GraphKeys.UPDATE_OPS
_DATA_FORMATS = ("NHWC", "NCHW")


def _unique_debias_name(name):
    # TF1's moving_averages._zero_debias: `biased_1`, ... when not reusing and the name is taken.
    scope = tf.compat.v1.get_variable_scope()
    if scope.reuse:
        return name
    existing = {v.op.name for v in scope.global_variables()}
    full = f"{scope.name}/{name}"
    if full not in existing:
        return name
    index = 1
    while f"{full}_{index}" in existing:
        index += 1
    return f"{name}_{index}"


def _zero_debias_variables(moving_mean):
    # Created under `variable_scope(moving_mean.op.name)` inside the layer's scope, hence
    # TF1's `BatchNorm/BatchNorm/moving_mean/biased` and `.../local_step`.
    zeros = tf.compat.v1.zeros_initializer()
    with tf.compat.v1.variable_scope(moving_mean.op.name):
        biased = tf.compat.v1.get_variable(
            _unique_debias_name("biased"), shape=moving_mean.shape, dtype=moving_mean.dtype, initializer=zeros,
            trainable=False
        )
        local_step = tf.compat.v1.get_variable(
            _unique_debias_name("local_step"), shape=[], dtype=moving_mean.dtype, initializer=zeros, trainable=False
        )
    return biased, local_step


@arg_scope_function("batch_norm")  # slim's arg_scope defaults reach it however it is called
def batch_norm(
    inputs,
    decay=0.999,
    center=True,
    scale=False,
    epsilon=0.001,
    activation_fn=None,
    param_initializers=None,
    param_regularizers=None,
    updates_collections=_UPDATE_OPS,
    is_training=True,
    reuse=None,
    variables_collections=None,
    outputs_collections=None,
    trainable=True,
    batch_weights=None,
    fused=None,
    data_format="NHWC",
    zero_debias_moving_mean=False,
    scope=None,
    renorm=False,
    renorm_clipping=None,
    renorm_decay=0.99,
    adjustment=None,
):
    """TF 1.15 `tf.contrib.layers.batch_norm` for tf.compat.v1 graph code (see the module docstring).

    The whole TF 1.15 signature works as it did there, including `batch_weights` (per-example
    weights `[batch]`: TF 1.15's `tf.nn.weighted_moments` on the non-fused path) and
    `adjustment` (`adjustment(shape) -> (scale, bias)` composed with gamma and beta while
    training, on the tf.layers path; TF 1.15 ignored it where the call took contrib's legacy path:
    `updates_collections` other than UPDATE_OPS, `zero_debias_moving_mean` or `batch_weights`).
    """
    if not in_legacy_graph():
        raise RuntimeError(
            "tf2norm.replacements.batch_norm builds tf.compat.v1 graph code (Session/Saver); it cannot keep "
            "variables between eager calls. In eager or tf.function code use "
            "tf2norm.replacements.BatchNormalization(...)(x, training=...) instead."
        )
    if data_format not in _DATA_FORMATS:
        raise ValueError("data_format has to be either NCHW or NHWC.")
    inputs = tf.convert_to_tensor(inputs)
    rank = inputs.shape.rank
    if rank is None:
        raise ValueError(f"Inputs {inputs.name} has undefined rank.")
    axis = 1 if data_format == "NCHW" else rank - 1
    channels = inputs.shape[axis]
    if channels is None:
        raise ValueError(f"Inputs {inputs.name} has undefined channels dimension {axis}.")
    channels = int(channels)
    if batch_weights is not None:
        # As TF 1.15: one weight per example, reshaped to broadcast over the input.
        batch_weights = tf.convert_to_tensor(batch_weights)
        inputs.shape[0:1].assert_is_compatible_with(batch_weights.shape)
        batch_weights = tf.reshape(batch_weights, [-1] + [1] * (rank - 1))

    # Which TF 1.15 path these arguments took: contrib's own fused code, tf.layers' layer
    # (fused for rank 4) or contrib's legacy non-fused code. Only the arithmetic and the
    # float32 `1 - decay` of tf.layers' fused path differ between them.
    fused_requested = fused is None or bool(fused)
    default_updates = updates_collections == _UPDATE_OPS
    possible_to_fuse = batch_weights is None and not renorm and rank in (2, 4) and adjustment is None
    contrib_fused = (
        fused_requested
        and possible_to_fuse
        and (zero_debias_moving_mean or rank == 2 or not default_updates)
    )
    core_layer = not contrib_fused and batch_weights is None and default_updates and not zero_debias_moving_mean
    layer_fused = core_layer and fused_requested and rank == 4 and not renorm and adjustment is None
    if renorm and not core_layer:
        raise ValueError("renorm is not supported with batch_weights, updates_collections or zero_debias_moving_mean")
    use_fused = contrib_fused or layer_fused

    param_initializers = param_initializers or {}
    param_regularizers = param_regularizers or {}
    dtype = inputs.dtype.base_dtype
    param_dtype = tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype
    initializer = {
        name: param_initializers.get(name, default)
        for name, default in (
            ("beta", tf.compat.v1.zeros_initializer()),
            ("gamma", tf.compat.v1.ones_initializer()),
            ("moving_mean", tf.compat.v1.zeros_initializer()),
            ("moving_variance", tf.compat.v1.ones_initializer()),
        )
    }

    def stddev_init(shape, dtype=None, partition_info=None):
        # renorm's standard deviations start at sqrt(moving_variance's initial value), as in TF 1.15.
        return tf.sqrt(initializer["moving_variance"](shape, dtype=dtype))

    def variable(name, trainable_variable, init=None):
        # As TF1: regularizers apply to beta/gamma only, variables_collections to the four
        # contrib variables (not to renorm's extras).
        return model_variable(
            name,
            [channels],
            param_dtype,
            init or initializer[name],
            trainable_variable,
            param_regularizers.get(name) if name in ("beta", "gamma") else None,
            collections_for(variables_collections, name) if name in initializer else None,
        )

    with tf.compat.v1.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse) as sc:
        state = bn.BatchNormState(
            beta=variable("beta", trainable) if center else None,
            gamma=variable("gamma", trainable) if scale else None,
            moving_mean=variable("moving_mean", False),
            moving_variance=variable("moving_variance", False),
        )
        if renorm:
            state.moving_stddev = variable("moving_stddev", False, stddev_init)
            state.renorm_mean = variable("renorm_mean", False, initializer["moving_mean"])
            state.renorm_stddev = variable("renorm_stddev", False, stddev_init)
        if zero_debias_moving_mean:
            state.biased, state.local_step = _zero_debias_variables(state.moving_mean)

        cfg = bn.BatchNormConfig(
            axis=axis,
            rank=rank,
            epsilon=float(epsilon),
            decay=float(decay),
            fused=use_fused,
            decay_in_float32=layer_fused,
            renorm=renorm,
            renorm_clipping=renorm_clipping,
            renorm_decay=float(renorm_decay),
            # Only tf.layers' layer (the core path) knew `adjustment`; contrib's legacy path, taken
            # with updates_collections other than UPDATE_OPS, zero-debias or batch_weights,
            # silently ignored it in TF 1.15, and so does this.
            adjustment=adjustment if core_layer else None,
            batch_weights=batch_weights,
        )
        training_value = static_bool(is_training)
        if training_value is None and not isinstance(is_training, tf.Variable):
            is_training = tf.convert_to_tensor(is_training)
        training = is_training if training_value is None else training_value

        outputs, mean, variance = bn.forward(inputs, state, cfg, channels, training)
        # tf.layers' layer (core_layer) dropped a frozen layer's updates: with trainable=False its
        # moving statistics never moved (verified on TF 1.15); contrib's own paths kept updating.
        frozen = core_layer and not trainable
        if training_value is not False and not frozen:
            if updates_collections is None:
                # Forced updates: the output depends on them, only when training (TF1).
                def forced():
                    with tf.control_dependencies([outputs]):
                        updates = bn.moving_updates(state, cfg, mean, variance)
                    with tf.control_dependencies(updates):
                        return tf.identity(outputs)

                outputs = smart_cond(training, forced, lambda: outputs)
            else:
                for update in bn.gated_moving_updates(state, cfg, mean, variance, training, after=outputs):
                    tf.compat.v1.add_to_collections(updates_collections, update)

        outputs.set_shape(inputs.shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        if outputs_collections:
            tf.compat.v1.add_to_collections(outputs_collections, outputs)
            try:  # contrib's append_tensor_alias: tensors remember the scope they came from.
                outputs.aliases = list(getattr(outputs, "aliases", [])) + [sc.name]
            except AttributeError:
                pass
        return outputs
