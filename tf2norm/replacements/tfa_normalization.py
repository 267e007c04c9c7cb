"""`GroupNormalization`, `InstanceNormalization`: tensorflow-addons 0.23's layers, number for number.

`tfa.layers.GroupNormalization` and `tfa.layers.InstanceNormalization` (tensorflow-addons reached
end of life and does not install on TF 2.16+) usually become `keras.layers.GroupNormalization`
(`groups=-1` for instance normalisation): in float32 Keras 3.15's layer gives tfa's numbers bit for
bit (same reshape into groups, `tf.nn.moments`, the same `x * inv + (beta - mean * inv)`), with the
same weights (`gamma`, `beta`, shape `[C]`). These replacements are for the two cases where it does
not (measured against real tfa 0.23 in `tests/replacements/test_tfa_normalization_golden.py`):

* **a negative `axis` other than -1 when there is one channel per group** (InstanceNormalization,
  `groups=-1` or `groups` equal to the channel count). tfa skips the reshape on that path and drops
  reduction axis `axis - 1` from `[1, rank)`, which for `axis=-2` of a rank-4 input normalises over
  axes 2 and 3 per row of axis 1, not per channel (and fails for rank 3). A model trained that way
  learned its weights for those numbers, so these layers keep tfa's rule; `keras.layers.
  GroupNormalization` normalises per channel (different numbers, by up to ~1 here).
* **mixed precision** (`dtype="mixed_float16"` or a global float16 policy): tfa casts the inputs to
  float16 and normalises in float16 (moments in float32, rounded to float16); Keras 3 normalises in
  float32 and rounds once, so the two differ by an ulp of float16 (up to 4e-3 on outputs near 4).

Otherwise they are `keras.layers.GroupNormalization` (they subclass it: same weights, config and
checks), with tfa's arguments and defaults (groups 32, axis -1, epsilon 1e-3, center and scale on)
and tfa's errors (`axis=0`). `InstanceNormalization` overwrites a given `groups` with -1 and
warns, as tfa did.
"""

from __future__ import annotations

import warnings

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="tf2norm")
class GroupNormalization(keras.layers.GroupNormalization):
    """`tfa.layers.GroupNormalization` with tfa's exact arithmetic, axis rule and mixed precision.

    Args:
      groups: channels are split into this many groups (a divisor of the channel count); -1: one per
        channel (instance normalisation). tfa's default 32.
      axis: the channel axis (an int, not 0).
      epsilon: added to the variance.
      center, scale: add beta / multiply by gamma (shape `[C]`).
      *_initializer, *_regularizer, *_constraint: as in Keras.
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise TypeError(f"{type(self).__name__}: axis must be an int, got {axis!r}")
        if axis == 0:
            raise ValueError(f"{type(self).__name__}: axis=0 is the batch axis; you may want BatchNormalization")
        # Keras 2 cast floating inputs to the compute dtype (float16 under mixed precision) unless
        # told not to, and tfa normalised in that dtype; Keras 3's layer always works in float32.
        autocast = kwargs.pop("autocast", True)
        super().__init__(groups=groups, axis=axis, epsilon=epsilon, center=center, scale=scale,
                         beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                         beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                         beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, **kwargs)
        self.autocast = autocast

    def build(self, input_shape):
        super().build(input_shape)
        rank, axis = len(input_shape), self.axis
        if not -rank < axis < rank:
            raise ValueError(f"{type(self).__name__}: axis {axis} is out of range for inputs of rank {rank}")
        if self._per_channel(input_shape) and axis < -1 and axis - 1 < -(rank - 1):
            raise ValueError(
                f"{type(self).__name__}: axis={axis} with one channel per group on a rank-{rank} input: "
                f"tensorflow-addons failed here too (IndexError: pop index out of range)")

    def _per_channel(self, input_shape) -> bool:
        # tfa's test for its no-reshape path (groups was set to the channel count by build for -1).
        return input_shape[self.axis] // self.groups == 1

    def call(self, inputs):
        dtype = self.compute_dtype if self.autocast else inputs.dtype
        inputs = tf.cast(inputs, dtype)
        shape, rank, axis = inputs.shape, inputs.shape.rank, self.axis
        channels = shape[axis]
        broadcast = [1] * rank
        if self._per_channel(shape):
            # tfa normalises without reshaping; reduction axis `axis - 1` of [1, rank) is dropped,
            # which is the channel axis only for axis -1 or axis > 0.
            grouped = inputs
            reduction = list(range(1, rank))
            reduction.pop(-1 if axis == -1 else axis - 1)
            broadcast[axis] = self.groups
        else:
            dynamic = tf.shape(inputs)
            group_shape = [dynamic[i] for i in range(rank)]
            group_shape[axis] = channels // self.groups
            group_shape.insert(axis, self.groups)
            grouped = tf.reshape(inputs, tf.stack(group_shape))
            reduction = list(range(1, rank + 1))
            reduction.pop(-2 if axis == -1 else axis - 1)
            broadcast[axis] = channels // self.groups
            broadcast.insert(axis, self.groups)
        mean, variance = tf.nn.moments(grouped, reduction, keepdims=True)
        gamma = tf.reshape(tf.cast(self.gamma, dtype), broadcast) if self.scale else None
        beta = tf.reshape(tf.cast(self.beta, dtype), broadcast) if self.center else None
        outputs = tf.nn.batch_normalization(grouped, mean=mean, variance=variance, offset=beta, scale=gamma,
                                            variance_epsilon=self.epsilon)
        return outputs if grouped is inputs else tf.reshape(outputs, tf.shape(inputs))


@keras.saving.register_keras_serializable(package="tf2norm")
class InstanceNormalization(GroupNormalization):
    """`tfa.layers.InstanceNormalization`: `GroupNormalization` with one group per channel.

    Takes GroupNormalization's keyword arguments; a `groups` given is overwritten with -1 (with a
    warning), as tfa did.
    """

    def __init__(self, **kwargs):
        if "groups" in kwargs:
            warnings.warn("InstanceNormalization: the given value for groups will be overwritten with -1 "
                          "(one group per channel), as tensorflow-addons did", stacklevel=2)
        kwargs["groups"] = -1
        super().__init__(**kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("groups")
        return config
