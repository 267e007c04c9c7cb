"""TF1 variable sharing (`scope=` + `reuse=True`) for Keras layers.

TF1 code shared batch-norm variables by reaching the same variable scope twice, typically when
a model function builds a training tower and then an evaluation tower with `reuse=True`. Keras
shares by reusing one layer object. `scoped_layer` maps the first onto the second: the layer is
looked up by its full TF1 scope name, so the migrated code keeps its structure.
"""

from __future__ import annotations

import weakref

import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph

# One registry per tf.compat.v1 graph (weakly keyed, so it dies with the graph), one for eager code.
_GRAPH_REGISTRIES: "weakref.WeakKeyDictionary[tf.Graph, dict]" = weakref.WeakKeyDictionary()
_EAGER_REGISTRY: dict = {}


def _registry() -> dict:
    if in_legacy_graph():
        return _GRAPH_REGISTRIES.setdefault(tf.compat.v1.get_default_graph(), {})
    return _EAGER_REGISTRY


def _full_scope_name(scope: str) -> str:
    if in_legacy_graph():
        outer = tf.compat.v1.get_variable_scope().name
        return f"{outer}/{scope}" if outer else scope
    return scope


def scoped_layer(scope: str, factory, reuse=None):
    """Return the layer that owns TF1 scope `scope`, creating it with `factory()` on first use.

    Args:
      scope: the TF1 `scope=` string. Inside a `tf.compat.v1.variable_scope` it is joined to the
        enclosing scope name, as TF1 did.
      factory: zero-argument callable building the layer (e.g. `lambda: BatchNormalization(...)`).
      reuse: TF1's `reuse`: True or `tf.compat.v1.AUTO_REUSE` to share an existing layer; falsy
        to require a new one. As in TF1, reaching an existing scope without reuse is an error,
        and `reuse=True` on a scope that does not exist yet is an error too.
    """
    if not isinstance(scope, str) or not scope:
        raise ValueError(f"scoped_layer needs a non-empty scope name, got {scope!r}")
    if isinstance(reuse, (tf.Tensor, tf.Variable)):
        raise TypeError("scoped_layer: reuse must be a Python value (True, False, None or AUTO_REUSE), not a tensor")
    name = _full_scope_name(scope)
    registry = _registry()
    if name in registry:
        if not reuse:
            raise ValueError(
                f"Scope {name!r} already has a layer; pass reuse=True (or AUTO_REUSE) to share it, as TF1 required."
            )
        return registry[name]
    if reuse is True:
        raise ValueError(f"reuse=True but scope {name!r} has no layer yet (TF1: 'Variable ... does not exist').")
    layer = factory()
    registry[name] = layer
    return layer


def clear_scoped_layers() -> None:
    """Forget the eager registry (e.g. between independent models or tests)."""
    _EAGER_REGISTRY.clear()
