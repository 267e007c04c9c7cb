"""tf_slim, the maintained `tf.contrib.slim`: tf2norm's TF1 layer functions are its arg_scope functions.

`tf2norm migrate` turns `tf.contrib.slim` into `tf_slim` (`pip install tf-slim`), whose layers
(conv2d, fully_connected, repeat, nets.*, ...) and `arg_scope` run on TF 2.16+ in graph mode.
TF1's `batch_norm` and `layer_norm` took their defaults from `arg_scope([slim.batch_norm], ...)`
wherever they were called: directly, as a layer's `normalizer_fn`, from helpers in other modules,
from slim's own nets. tf2norm's `batch_norm` and `layer_norm` are therefore decorated with
tf_slim's `add_arg_scope`, and the migrated `arg_scope` lists name them, so the defaults reach
every one of those calls as they did in TF1.

tf_slim is optional: without it the functions are undecorated (and a program that uses slim
imports tf_slim after migration, so it names what to install). tf_slim keys an arg_scope function
by `str(function)` of the undecorated function (`arg_scope_func_key`), which its `add_arg_scope`
records as the decorated function's `_key_op`: `arg_scope([batch_norm])` and the calls of
`batch_norm` meet on that key.
"""

from __future__ import annotations

from collections.abc import Callable


def arg_scope_function(function: Callable) -> Callable:
    """`function` decorated with tf_slim's `add_arg_scope` when tf_slim is installed, else itself."""
    try:
        from tf_slim.ops.arg_scope import add_arg_scope
    except ImportError:
        return function
    return add_arg_scope(function)
