"""How a replacement was called: Keras/eager code, or legacy tf.compat.v1 graph code."""

from __future__ import annotations

import tensorflow as tf


def in_legacy_graph() -> bool:
    """True while a tf.compat.v1 graph is being built for a Session.

    Inside `tf.function` (a TF2 graph traced from eager code) this is False: variables live
    outside the function and are created once, eagerly, exactly as in Keras code.
    """
    return not tf.compat.v1.executing_eagerly_outside_functions()


def static_bool(value):
    """The Python bool behind `value`, or None when it is only known at run time.

    TF1 did the same (`utils.constant_value`): a Python bool or a constant tensor selects one
    branch while building; a placeholder, a Variable or any other tensor becomes a `tf.cond`.
    """
    if value is None:
        return None
    if isinstance(value, (bool, int)):
        return bool(value)
    if isinstance(value, tf.Variable):
        return None
    static = tf.get_static_value(value)
    return None if static is None else bool(static)


def smart_cond(pred, true_fn, false_fn):
    """`tf.cond` when `pred` is a run-time tensor, a plain branch otherwise (TF1's smart_cond)."""
    static = static_bool(pred)
    if static is None:
        return tf.cond(tf.cast(pred, tf.bool), true_fn, false_fn)
    return true_fn() if static else false_fn()
