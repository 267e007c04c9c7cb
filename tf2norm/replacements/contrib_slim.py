"""tf_slim, the maintained `tf.contrib.slim`: tf2norm's TF1 layer functions are its arg_scope functions.

`tf2norm migrate` turns `tf.contrib.slim` into `tf_slim` (`pip install tf-slim`), whose layers
(conv2d, fully_connected, repeat, nets.*, ...) and `arg_scope` run on TF 2.16+ in graph mode.
TF1's `batch_norm` and `layer_norm` took their defaults from `arg_scope([slim.batch_norm], ...)`
wherever they were called: directly, as a layer's `normalizer_fn`, from helpers in other modules,
from slim's own nets (inception_v1/v2 open `arg_scope([batch_norm, dropout], is_training=...)`
around the layers they build). tf2norm's `batch_norm` and `layer_norm` therefore take their
defaults from tf_slim's arg_scope, under the very key of tf_slim's own `batch_norm` / `layer_norm`:
as in TF1, where slim's and contrib.layers' batch_norm were one function, an arg_scope listing either
(the migrated lists name tf2norm's, tf_slim's nets name tf_slim's) gives its defaults to both, and
nested arg_scopes merge in the order they were entered.

tf_slim keys an arg_scope function by its `_key_op` attribute (else `str(function)`:
`arg_scope_func_key`); `add_arg_scope` sets it and registers the key, which `arg_scope([f])`
requires (`has_arg_scope`). The functions here reuse tf_slim's registered key instead of making
their own. tf_slim is optional: without it the functions are returned undecorated (a program that
uses slim imports tf_slim after migration, so it names what to install).
"""

from __future__ import annotations

import functools
from collections.abc import Callable


def arg_scope_function(slim_name: str) -> Callable[[Callable], Callable]:
    """A decorator: the function takes the arg_scope defaults of `tf_slim.<slim_name>` (its TF1
    namesake with the same signature) when tf_slim is installed, and is itself otherwise."""

    def decorate(function: Callable) -> Callable:
        try:
            from tf_slim.layers import layers as slim_layers
            from tf_slim.ops import arg_scope as slim_arg_scope
        except ImportError:
            return function
        key = slim_arg_scope.arg_scope_func_key(getattr(slim_layers, slim_name))

        @functools.wraps(function)
        def with_arg_scope(*args, **kwargs):
            defaults = slim_arg_scope.current_arg_scope().get(key)
            if defaults:
                kwargs = {**defaults, **kwargs}  # the call's own arguments win, as in add_arg_scope
            return function(*args, **kwargs)

        with_arg_scope._key_op = key  # type: ignore[attr-defined]  # tf_slim's arg_scope_func_key
        return with_arg_scope

    return decorate
