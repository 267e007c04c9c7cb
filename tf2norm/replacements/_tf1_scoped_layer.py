"""TF1 variable scopes for the Keras layers of the layer functions (batch_norm, tf.layers, layer_norm)
when a tf.compat.v1 graph program calls them: TF1's names and TF1's sharing by scope.

Keras names a graph's variables after its name scopes, which the graph uniquifies op by op, and
shares weights only by layer object. TF1 programs name and share by variable scope: an unnamed
layer is `BatchNorm`, `BatchNorm_1`, ... counted per enclosing scope, and a second tower built in
`variable_scope(..., reuse=True)` (often in another function or file than the layer call) reuses
the first tower's variables. `Tf1ScopedLayer.tf1_build_scope` reproduces both with TF1's own
machinery: it opens the variable scope TF1 opened (so the counts are shared with every other
TF1-style layer of the graph), and under a reusing scope hands the new layer the weights of the
layer that first built that scope (its `add_weight` returns them), as TF1's `get_variable` did.
"""

from __future__ import annotations

import contextlib
import weakref

import keras
import tensorflow as tf

from tf2norm.replacements._modes import in_legacy_graph
from tf2norm.replacements._tf1_cell import program_graph

# program graph -> {full TF1 scope name: the layer whose weights live there}
_LAYERS: "weakref.WeakKeyDictionary[tf.Graph, dict]" = weakref.WeakKeyDictionary()


class Tf1ScopedLayer(keras.layers.Layer):
    """Base of the Keras layers whose graph variables follow TF1's variable scopes (module docstring).

    Subclasses set `TF1_DEFAULT_SCOPE` (the unnamed calls' scope) and build their weights inside
    `tf1_build_scope()`. `TF1_EXACT_NAMES`: a `name=` is the scope itself (contrib's `scope=`);
    otherwise it is uniquified like an unnamed one (tf.layers' class). A name holding "/" (a TF1
    scope path) is always used as is, and the Keras name joins its parts with "_".
    """

    TF1_DEFAULT_SCOPE = ""
    TF1_EXACT_NAMES = True

    def __init__(self, **kwargs):
        # The name the caller chose (TF1's scope= / name=), before Keras invents one.
        self._tf1_name = kwargs.get("name")
        if isinstance(self._tf1_name, str) and "/" in self._tf1_name:
            kwargs["name"] = self._tf1_name.replace("/", "_")  # Keras 3 rejects "/" in a layer name
        self._tf1_share_from = None
        super().__init__(**kwargs)

    def _tf1_exact(self) -> bool:
        return bool(self._tf1_name) and (self.TF1_EXACT_NAMES or "/" in self._tf1_name)

    @contextlib.contextmanager
    def tf1_build_scope(self):
        """Around the weights' creation: in a tf.compat.v1 graph, TF1's variable scope and sharing."""
        if not in_legacy_graph():
            yield
            return
        if self._tf1_exact():
            scope = tf.compat.v1.variable_scope(self._tf1_name, auxiliary_name_scope=False)
        else:
            default = self._tf1_name or self.TF1_DEFAULT_SCOPE
            scope = tf.compat.v1.variable_scope(None, default_name=default, auxiliary_name_scope=False)
        registry = _LAYERS.setdefault(program_graph(), {})
        with scope as captured, tf.name_scope(captured.name + "/"):
            owner = registry.get(captured.name)
            if captured.reuse is True and owner is None:
                raise ValueError(
                    f"{self.name}: variable scope {captured.name!r} is reused (reuse=True) but no layer has "
                    "created its variables (TF1: 'Variable ... does not exist'). If get_variable() created "
                    "them, use --target compat for this program."
                )
            if captured.reuse and owner is not None:  # True or AUTO_REUSE: share, as get_variable did
                self._tf1_share_from = owner
            elif owner is not None:
                raise ValueError(
                    f"{self.name}: variable scope {captured.name!r} already has this layer's variables; pass "
                    "reuse=True (or AUTO_REUSE) to the enclosing variable_scope to share them, as TF1 required"
                )
            try:
                yield
            finally:
                self._tf1_share_from = None
            if owner is None:
                registry[captured.name] = self

    def get_config(self):
        config = super().get_config()
        if self._tf1_name:
            config["name"] = self._tf1_name  # the TF1 scope path, "/" included
        return config

    def add_weight(self, *args, **kwargs):
        owner = self._tf1_share_from
        if owner is None:
            return super().add_weight(*args, **kwargs)
        # TF1's get_variable under reuse: the existing variable, whose shape must agree.
        name = kwargs.get("name")
        shared = getattr(owner, name, None)
        shape = tuple(kwargs.get("shape") or ())
        if shared is None or tuple(shared.shape) != shape:
            found = None if shared is None else tuple(shared.shape)
            raise ValueError(f"{self.name}: cannot share {name!r} of {owner.name}: shape {shape} here, {found} there "
                             "(TF1: 'Trying to share variable ..., but specified shape ... and found shape ...')")
        return shared  # tracked when the layer assigns it to its attribute, as add_weight's own
