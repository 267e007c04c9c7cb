"""Write an object-based TF2 checkpoint of one replacement layer, one tensor at a time.

`tf.train.Checkpoint(layer=...).write()` needs every variable alive at once, and creating a
`tf.Variable` from a tensor copies it. Instead each tensor is saved into its own small bundle as
soon as it is read (no copy), the object graph (which holds names, not values) is taken from a
checkpoint of placeholder scalars, and TensorFlow's own MergeV2Checkpoints joins the bundles by
renaming their data files. The result reads back with::

    tf.train.Checkpoint(layer=built_replacement_layer).read(prefix)

because Keras tracks a layer's weights under their attribute names (`kernel`, `input_gamma`, ...),
and a sublayer's under the sublayer's attribute (`kernel_norm/gamma`).
"""

from __future__ import annotations

import os
import shutil

_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def _value_key(attribute: str) -> str:
    return f"layer/{attribute}/.ATTRIBUTES/VARIABLE_VALUE"


class Tf2LayerCheckpointWriter:
    """`with Tf2LayerCheckpointWriter(prefix, attributes) as w: w.add(attribute, tensor) ...`."""

    def __init__(self, prefix: str, attributes):
        self.prefix = prefix
        self._attributes = list(attributes)
        self._scratch = prefix + ".parts"
        self._parts: list[str] = []

    def __enter__(self):
        import tensorflow as tf

        os.makedirs(self._scratch, exist_ok=True)
        holder = tf.Module()
        for attribute in self._attributes:
            # `kernel_norm/gamma`: a weight of a sublayer, tracked under that sublayer's attribute.
            *path, leaf = attribute.split("/")
            owner = holder
            for part in path:
                if not hasattr(owner, part):
                    setattr(owner, part, tf.Module())
                owner = getattr(owner, part)
            setattr(owner, leaf, tf.Variable(0.0))
        dummy = tf.train.Checkpoint(layer=holder).write(os.path.join(self._scratch, "graph", "ckpt"))
        (graph,) = tf.raw_ops.RestoreV2(prefix=dummy, tensor_names=[_GRAPH_KEY], shape_and_slices=[""],
                                        dtypes=[tf.string])
        self._save(_GRAPH_KEY, graph)
        return self

    def _save(self, key: str, tensor) -> None:
        import tensorflow as tf

        part = os.path.join(self._scratch, f"part_{len(self._parts)}")
        tf.raw_ops.SaveV2(prefix=part, tensor_names=[key], shape_and_slices=[""], tensors=[tensor])
        self._parts.append(part)

    def add(self, attribute: str, tensor) -> None:
        if attribute not in self._attributes:
            raise ValueError(f"{attribute} is not one of {self._attributes}")
        self._save(_value_key(attribute), tensor)

    def __exit__(self, exc_type, exc, tb):
        import tensorflow as tf

        try:
            if exc_type is None:
                tf.raw_ops.MergeV2Checkpoints(
                    checkpoint_prefixes=self._parts, destination_prefix=self.prefix, delete_old_dirs=False
                )
        finally:
            shutil.rmtree(self._scratch, ignore_errors=True)
        return False
