"""TF1 variables as tf.contrib.layers made them, and the tf.Variable behind a Keras weight."""

from __future__ import annotations

import keras
import tensorflow as tf


def tf_variable(variable):
    """The tf.Variable behind a Keras variable (Keras' own assign() drops the op in graph mode)."""
    return variable.value if isinstance(variable, keras.Variable) else variable


def collections_for(variables_collections, name):
    """contrib's utils.get_variable_collections: a dict per variable name, or one list for all."""
    if isinstance(variables_collections, dict):
        return variables_collections.get(name)
    return variables_collections


def model_variable(name, shape, dtype, initializer, trainable, regularizer=None, collections=None):
    """contrib's `model_variable`: a get_variable also listed in MODEL_VARIABLES."""
    collections = list(collections or []) + [
        tf.compat.v1.GraphKeys.GLOBAL_VARIABLES,
        tf.compat.v1.GraphKeys.MODEL_VARIABLES,
    ]
    return tf.compat.v1.get_variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=trainable,
        collections=collections,
    )
