"""`BatchNormalization`: a Keras 3 layer computing what `tf.contrib.layers.batch_norm` computed.

Differences from `keras.layers.BatchNormalization`, all on purpose (NUMERICS.md section 2):

* contrib's defaults: momentum 0.999, epsilon 1e-3, center=True, **scale=False (no gamma)**;
* TF 1.15's arithmetic: for rank 2 and 4 inputs the fused rules (Bessel-corrected moving
  variance, epsilon clamped to at least 1.001e-5), the non-fused ones otherwise or with
  `fused=False`; `zero_debias_moving_mean`; batch renormalisation (which Keras 3 dropped);
* `training` may be a Python bool or a bool tensor, also inside `tf.function`;
* the moving statistics update in eager code, inside `tf.function`, and in tf.compat.v1 graph
  code, where the update ops go to `tf.compat.v1.GraphKeys.UPDATE_OPS` exactly like TF1's
  (Keras 3's own layer silently never updates there);
* `trainable=False` freezes gamma and beta; `training` alone decides batch vs moving statistics,
  as in TF1 (Keras' layer forces inference mode when frozen). The moving statistics stop too
  exactly where TF 1.15's stopped: contrib handed default calls (rank 4, any non-fused rank) to
  tf.layers' layer, whose updates a frozen layer dropped; its own rank-2 fused path and
  zero-debias path kept updating.

`training=None` means inference, as for every Keras layer; TF1's `is_training` defaulted to
True, which is why `tf2norm migrate` always writes `training=` explicitly.

`tf1_api="layers"` gives the rules of `tf.layers.batch_normalization` / `tf.layers.BatchNormalization`
(what `tf2norm migrate` writes for them, with their defaults momentum=0.99, scale=True spelled out):
only rank-4 inputs run the fused arithmetic (rank 2 is non-fused there, unlike contrib), fused=True
where the kernel cannot run silently falls back, `virtual_batch_size` and `adjustment` are accepted,
and `trainable=False` also stops the moving statistics (TF 1.15's Layer.updates skipped frozen
layers, so their updates never reached UPDATE_OPS).
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tf2norm.replacements import _batch_norm_math as bn
from tf2norm.replacements._modes import in_legacy_graph, smart_cond, static_bool
from tf2norm.replacements._tf1_scoped_layer import Tf1ScopedLayer
from tf2norm.replacements._tf1_variables import tf_variable

_RENORM_CLIPPING_KEYS = {"rmin", "rmax", "dmax"}
_TF1_APIS = ("contrib", "layers")


def _scalar_if_unknown_rank(training):
    """`training` as a scalar tensor when it is a tensor of unknown rank (BatchNormalization.__call__)."""
    if tf.is_tensor(training) and not isinstance(training, tf.Variable) and training.shape.rank is None:
        return tf.ensure_shape(training, [])
    return training


@keras.saving.register_keras_serializable(package="tf2norm")
class BatchNormalization(Tf1ScopedLayer):
    """Batch normalisation with TF 1.15 contrib defaults and arithmetic.

    Called as `layer(x, training=..., batch_weights=None)`: `batch_weights`, one weight per example
    (contrib's `batch_norm(batch_weights=...)`, tf1_api="contrib" only), normalises with TF 1.15's
    weighted moments (`tf.nn.weighted_moments`) and runs that call as TF 1.15's contrib legacy path
    did: non-fused arithmetic, `1 - momentum` in double precision, `adjustment` ignored, and the
    moving statistics updated also when `trainable=False`.

    `name` may be a TF1 scope path such as `"block1/bn"` (what `tf2norm migrate` writes for
    `scope="block1/bn"`): the Keras name is `block1_bn`, and in a tf.compat.v1 graph the weights are
    `block1/bn/beta`, ... as in TF1.

    Args:
      axis: channel axis (-1 for NHWC, 1 for NCHW).
      momentum: contrib's `decay`: `moving = moving - (moving - batch) * (1 - momentum)`.
      epsilon: added to the variance (clamped to >= 1.001e-5 on the fused path, as TF 1.15).
      center, scale: create beta / gamma. Contrib's default scale=False means no gamma at all.
      *_initializer, *_regularizer, *_constraint: as in Keras.
      renorm, renorm_clipping, renorm_momentum: batch renormalisation, as TF 1.15.
      fused: None or True: the fused arithmetic where TF 1.15 used it (rank 2 or 4, channel axis
        last or 1, no renorm), non-fused elsewhere, as TF 1.15 fell back; False: non-fused.
      zero_debias_moving_mean: TF1's zero-debiased moving mean.
      synchronized: under tf.distribute, batch statistics over all replicas.
      virtual_batch_size: tf.layers' ghost batch norm: the batch (a multiple of it) is split into
        virtual batches normalised with their own moments, TF 1.15's way (virtual batch g holds
        examples g, g + B/v, ...); the moving statistics take the average of those moments. The
        weights then have TF 1.15's shape `[1] * (rank + 1)` with C at `axis + 1`.
      adjustment: tf.layers' `adjustment(shape) -> (scale, bias)`, applied to the normalised
        values before gamma and beta, only when training. Not serialised by `get_config`.
        (contrib's `batch_norm(adjustment=...)` reached it only with the default
        updates_collections and no zero-debias or batch_weights; elsewhere TF 1.15 ignored it, and
        so does this layer: with `zero_debias_moving_mean` or a call's `batch_weights`.)
      tf1_api: "contrib" (tf.contrib.layers.batch_norm's rules) or "layers" (tf.layers'), see the
        module docstring.
      forced_updates: contrib's `updates_collections=None` (tf1_api="contrib"): in a tf.compat.v1
        graph the moving-average updates run with the output, which depends on them (TF1's control
        dependencies), instead of waiting in UPDATE_OPS for the train op; eager and tf.function calls
        update in place either way. As TF 1.15, such calls took contrib's own path: the fused kernel
        for rank 2 and 4 with `1 - momentum` in double precision, non-fused elsewhere, `adjustment`
        ignored, and the moving statistics updated also when `trainable=False`.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.999,
        epsilon=1e-3,
        center=True,
        scale=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        fused=None,
        zero_debias_moving_mean=False,
        synchronized=False,
        virtual_batch_size=None,
        adjustment=None,
        tf1_api="contrib",
        forced_updates=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        # tf1_build_scope's rules (graph code): contrib's unnamed calls are BatchNorm[_N] and its
        # scope= exact; tf.layers' are batch_normalization[_N], a name uniquified as its class did.
        self.TF1_DEFAULT_SCOPE = "BatchNorm" if tf1_api == "contrib" else "batch_normalization"
        self.TF1_EXACT_NAMES = tf1_api == "contrib"
        if not isinstance(axis, int):
            raise TypeError(
                f"BatchNormalization: axis must be an int, got {axis!r} (a list of axes, multi-axis batch "
                "normalization, is not supported by tf2norm)"
            )
        if tf1_api not in _TF1_APIS:
            raise ValueError(f"tf1_api must be one of {_TF1_APIS}, got {tf1_api!r}")
        if renorm_clipping is not None:
            unknown = set(renorm_clipping) - _RENORM_CLIPPING_KEYS
            if unknown:
                raise ValueError(f"renorm_clipping: unknown keys {sorted(unknown)}; allowed: rmin, rmax, dmax")
        if renorm and zero_debias_moving_mean:
            raise ValueError("renorm is not supported with zero_debias_moving_mean (as in TF 1.15)")
        if renorm and fused and tf1_api == "contrib":
            raise ValueError("fused=True cannot be used with renorm (TF 1.15 ran renorm non-fused)")
        if virtual_batch_size is not None:
            if isinstance(virtual_batch_size, bool) or not isinstance(virtual_batch_size, int) \
                    or virtual_batch_size <= 0:
                raise ValueError(
                    "virtual_batch_size must be a positive integer that divides the true batch size, "
                    f"got {virtual_batch_size!r}"
                )
            if axis == 0:
                raise ValueError("virtual_batch_size: the batch dimension must be 0, so axis cannot be 0")
        if adjustment is not None and not callable(adjustment):
            raise TypeError("adjustment must be a function of the input shape returning (scale, bias), "
                            f"got {adjustment!r}")
        if virtual_batch_size is not None and adjustment is not None:
            raise ValueError("virtual_batch_size and adjustment cannot be used together (as in TF 1.15)")
        if synchronized and (virtual_batch_size is not None or adjustment is not None):
            raise ValueError("synchronized=True is not supported with virtual_batch_size or adjustment")
        if zero_debias_moving_mean and virtual_batch_size is not None:
            raise ValueError("zero_debias_moving_mean is not supported with virtual_batch_size")
        if zero_debias_moving_mean and adjustment is not None and tf1_api == "layers":
            raise ValueError("zero_debias_moving_mean is contrib's (tf1_api='contrib')")
        if forced_updates and (tf1_api != "contrib" or renorm or virtual_batch_size is not None or synchronized):
            raise ValueError("forced_updates is contrib's updates_collections=None (tf1_api='contrib'); TF 1.15 ran "
                             "it without renorm, virtual batches or synchronized statistics")
        if fused and tf1_api == "contrib" and (virtual_batch_size is not None or adjustment is not None):
            raise ValueError("fused=True cannot be used with virtual_batch_size or adjustment")
        self.axis = axis
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = center
        self.scale = scale
        self.beta_initializer = keras.initializers.get(beta_initializer)
        self.gamma_initializer = keras.initializers.get(gamma_initializer)
        self.moving_mean_initializer = keras.initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = keras.initializers.get(moving_variance_initializer)
        self.beta_regularizer = keras.regularizers.get(beta_regularizer)
        self.gamma_regularizer = keras.regularizers.get(gamma_regularizer)
        self.beta_constraint = keras.constraints.get(beta_constraint)
        self.gamma_constraint = keras.constraints.get(gamma_constraint)
        self.renorm = renorm
        self.renorm_clipping = dict(renorm_clipping) if renorm_clipping else None
        self.renorm_momentum = float(renorm_momentum)
        self.fused = fused
        self.zero_debias_moving_mean = zero_debias_moving_mean
        self.synchronized = synchronized
        self.virtual_batch_size = virtual_batch_size
        self.adjustment = adjustment
        self.tf1_api = tf1_api
        self.forced_updates = bool(forced_updates)
        self.supports_masking = True
        self.gamma = self.beta = None

    # ---------------------------------------------------------------- building
    def build(self, input_shape):
        # In a tf.compat.v1 graph: TF1's variable names, and the weights of a reused scope shared
        # (BLOCKERS.md L8, issue 13 item 5: towers sharing by variable_scope(reuse=...) elsewhere).
        with self.tf1_build_scope():
            self._build(input_shape)

    def _build(self, input_shape):
        rank = len(input_shape)
        axis = self.axis % rank if rank else 0
        channels = input_shape[axis]
        if channels is None:
            raise ValueError(f"{self.name}: axis {self.axis} of input shape {tuple(input_shape)} must be known")
        if self.virtual_batch_size is not None and axis == 0:
            raise ValueError(f"{self.name}: virtual_batch_size needs a channel axis other than the batch axis")
        # As TF 1.15's contrib batch_norm and tf.layers: fused=True where the kernel cannot run
        # (other ranks, renorm, ...) silently falls back to the non-fused arithmetic.
        fused = self.fused is not False and bn.fused_arithmetic_applies(
            rank, axis, self.renorm, tf_layers=self.tf1_api == "layers",
            virtual_batch_size=self.virtual_batch_size, adjustment=self.adjustment,
        )
        self._config = bn.BatchNormConfig(
            axis=axis,
            rank=rank,
            epsilon=self.epsilon,
            decay=self.momentum,
            fused=fused,
            # TF 1.15 sent rank-4 default calls through tf.layers' fused path (float32 1-decay);
            # rank 2 and zero-debias went through contrib's own fused path (double 1-decay).
            decay_in_float32=fused and rank == 4 and not (self.zero_debias_moving_mean or self.forced_updates),
            renorm=self.renorm,
            renorm_clipping=self.renorm_clipping,
            renorm_decay=self.renorm_momentum,
            synchronized=self.synchronized,
            virtual_batch_size=self.virtual_batch_size,
            # contrib's zero-debias calls took its legacy path, which ignored adjustment (TF 1.15).
            adjustment=None if self.zero_debias_moving_mean or self.forced_updates else self.adjustment,
        )
        self._channels = int(channels)
        # Whether TF 1.15 computed this call with tf.layers' layer, whose Layer.updates were empty
        # when trainable=False (so the moving statistics never moved), or with contrib's own code.
        self._tf_layers_updates = self.tf1_api == "layers" or not (
            self.zero_debias_moving_mean or self.forced_updates
            or (rank == 2 and self.fused is not False and not self.renorm))
        # The arithmetic was chosen for this rank (fused or not): other ranks are an error, not a
        # silent change of numbers; Keras reports it naming the layer and both ranks.
        self.input_spec = keras.InputSpec(ndim=rank, axes={axis: self._channels})
        # As TF 1.15's layer (and Keras 2's): with virtual batches the weights are [1, ..., C, ...].
        shape = (self._channels,) if self.virtual_batch_size is None else tuple(
            bn.virtual_batch_shape(rank, axis, self._channels))
        if self.scale:
            self.gamma = self.add_weight(
                name="gamma",
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                autocast=False,
            )
        if self.center:
            self.beta = self.add_weight(
                name="beta",
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                autocast=False,
            )
        statistic = dict(shape=shape, trainable=False, autocast=False, aggregation="mean")
        self.moving_mean = self.add_weight(name="moving_mean", initializer=self.moving_mean_initializer, **statistic)
        self.moving_variance = self.add_weight(
            name="moving_variance", initializer=self.moving_variance_initializer, **statistic
        )
        if self.renorm:
            # TF 1.15 tracked the inference stddev next to the variance, initialised from it.
            variance_initializer = self.moving_variance_initializer

            def stddev_initializer(shape, dtype=None):
                return tf.sqrt(variance_initializer(shape, dtype=dtype))

            self.moving_stddev = self.add_weight(name="moving_stddev", initializer=stddev_initializer, **statistic)
            self.renorm_mean = self.add_weight(name="renorm_mean", initializer=self.moving_mean_initializer,
                                               **statistic)
            self.renorm_stddev = self.add_weight(name="renorm_stddev", initializer=stddev_initializer, **statistic)
        if self.zero_debias_moving_mean:
            self.moving_mean_biased = self.add_weight(name="moving_mean_biased", initializer="zeros", **statistic)
            step = dict(statistic, shape=())
            self.moving_mean_local_step = self.add_weight(name="moving_mean_local_step", initializer="zeros", **step)
        self.built = True

    def _state(self) -> bn.BatchNormState:
        def var(name):
            value = getattr(self, name, None)
            if value is None:
                return None
            if self.virtual_batch_size is not None:
                return bn.FlatVariable(tf_variable(value), self._channels)
            return tf_variable(value)

        return bn.BatchNormState(
            moving_mean=var("moving_mean"),
            moving_variance=var("moving_variance"),
            beta=var("beta"),
            gamma=var("gamma"),
            moving_stddev=var("moving_stddev"),
            renorm_mean=var("renorm_mean"),
            renorm_stddev=var("renorm_stddev"),
            biased=var("moving_mean_biased"),
            local_step=var("moving_mean_local_step"),
        )

    # ----------------------------------------------------------------- calling
    def __call__(self, *args, **kwargs):
        # Keras 3 builds a layer from the static shape of every tensor argument and cannot take an
        # unknown rank; TF1 programs often pass an unshaped tf.placeholder(tf.bool) as `training`
        # (TF1's tf.cond took it and checked for a scalar when it ran). `tf.ensure_shape` gives it
        # that scalar shape and keeps the run-time check: a fed non-scalar still fails.
        if "training" in kwargs:
            kwargs["training"] = _scalar_if_unknown_rank(kwargs["training"])
        elif len(args) > 1:
            args = (args[0], _scalar_if_unknown_rank(args[1])) + args[2:]
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=None, batch_weights=None):
        """`batch_weights`: contrib's per-example weights `[batch]` (weighted moments), see the class."""
        if training is None:
            training = False
        if static_bool(training) is None:
            training = tf.cast(training, tf.bool)
        state, cfg = self._state(), self._config
        tf_layers_updates = self._tf_layers_updates
        if batch_weights is not None:
            if self.tf1_api != "contrib" or self.virtual_batch_size is not None or self.renorm or self.synchronized:
                raise ValueError(f"{self.name}: batch_weights is contrib's (tf1_api='contrib'), and TF 1.15 ran it "
                                 "without renorm, virtual batches or synchronized statistics")
            # TF 1.15's contrib took its legacy path for weighted calls: tf.nn.weighted_moments,
            # non-fused arithmetic, `1 - decay` in Python, adjustment ignored, updates kept when frozen.
            weights = tf.reshape(tf.convert_to_tensor(batch_weights), [-1] + [1] * (cfg.rank - 1))
            cfg = dataclasses.replace(cfg, fused=False, decay_in_float32=False, adjustment=None,
                                      batch_weights=weights)
            tf_layers_updates = False
        outputs, mean, variance = bn.forward(inputs, state, cfg, self._channels, training)
        if static_bool(training) is False:
            return outputs
        if not self.trainable and tf_layers_updates:
            # TF 1.15's tf.layers never put a frozen layer's updates in UPDATE_OPS: they never ran.
            return outputs
        if in_legacy_graph() and self.forced_updates:
            # TF1's updates_collections=None: when training, the output waits for the updates.
            def forced():
                with tf.control_dependencies([outputs]):
                    updates = bn.moving_updates(state, cfg, mean, variance)
                with tf.control_dependencies(updates):
                    return tf.identity(outputs)

            return smart_cond(training, forced, lambda: outputs)
        if in_legacy_graph():
            # TF1 semantics: the update ops only run when the train op depends on UPDATE_OPS.
            for update in bn.gated_moving_updates(state, cfg, mean, variance, training, after=outputs):
                tf.compat.v1.add_to_collection(tf.compat.v1.GraphKeys.UPDATE_OPS, update)
        else:
            # Eager and tf.function: update now (automatic control dependencies order it).
            bn.gated_moving_updates(state, cfg, mean, variance, training, after=outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            axis=self.axis,
            momentum=self.momentum,
            epsilon=self.epsilon,
            center=self.center,
            scale=self.scale,
            beta_initializer=keras.initializers.serialize(self.beta_initializer),
            gamma_initializer=keras.initializers.serialize(self.gamma_initializer),
            moving_mean_initializer=keras.initializers.serialize(self.moving_mean_initializer),
            moving_variance_initializer=keras.initializers.serialize(self.moving_variance_initializer),
            beta_regularizer=keras.regularizers.serialize(self.beta_regularizer),
            gamma_regularizer=keras.regularizers.serialize(self.gamma_regularizer),
            beta_constraint=keras.constraints.serialize(self.beta_constraint),
            gamma_constraint=keras.constraints.serialize(self.gamma_constraint),
            renorm=self.renorm,
            renorm_clipping=self.renorm_clipping,
            renorm_momentum=self.renorm_momentum,
            fused=self.fused,
            zero_debias_moving_mean=self.zero_debias_moving_mean,
            synchronized=self.synchronized,
            virtual_batch_size=self.virtual_batch_size,
            tf1_api=self.tf1_api,
            forced_updates=self.forced_updates,
        )
        return config
