"""Load TF1 values into tf2norm's replacement layers: from a TF1 checkpoint or a converted directory.

* :func:`load_tf1_weights` -- one TF1 group straight from the TF1 checkpoint into a replacement layer.
* :func:`restore` -- fresh replacement layers, built and loaded, for every group of a converted dir.
* :func:`restore_into` -- the converted values into the layers of your own Keras model, by name.

Every function assigns one tensor at a time and checks each shape first; a layer whose weights do
not match the group (another num_units, layer_norm on one side only, scale=True against a group
without gamma) raises :class:`CheckpointError` before anything is assigned.
"""

from __future__ import annotations

import warnings

from . import kinds
from . import manifest as mf
from .errors import CheckpointError
from .kinds import replacement_class
from .reader import Tf1Checkpoint


def kind_of(layer) -> str:
    for kind in kinds.all_kinds():
        if isinstance(layer, replacement_class(kind.ID)):
            return kind.ID
    known = ", ".join(kinds.short_class_name(k.ID) for k in kinds.all_kinds())
    raise CheckpointError(
        f"{getattr(layer, 'name', layer)!r} is a {type(layer).__name__}, not a tf2norm replacement "
        f"whose checkpoints tf2norm converts ({known}): only those compute what TF1 computed")


def layer_weights(layer) -> dict:
    """{replacement weight name: variable} of a built replacement layer (its kind's `layer_weights`)."""
    return kinds.get(kind_of(layer)).layer_weights(layer)


def layer_name(scope: str) -> str:
    """A Keras layer name for a TF1 scope (Keras names cannot hold '/')."""
    return scope.replace("/", "__")


def build_layer(kind: str, config: dict, input_shape, name=None):
    """A fresh replacement layer built for ``input_shape`` (weights still at their initialisers)."""
    cls = replacement_class(kind)
    try:
        layer = cls(**config, **({"name": name} if name else {}))
        layer.build(tuple(input_shape))  # a setting may only fail here (groups that do not divide C)
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot build {cls.__name__}({config}): {exc}") from None
    return layer


def _ensure_built(layer, kind, build_input_shape):
    """Cells are built from the group's input depth; other layers need the user's input rank."""
    if layer.built:
        return
    if kinds.get(kind).CELL:
        layer.build(tuple(build_input_shape))
        return
    raise CheckpointError(f"build {layer.name} first (layer.build(input_shape)): a "
                          f"{kinds.get(kind).TITLE}'s input rank is not recorded in a TF1 checkpoint")


def check_and_assign(layer, expected: dict, fetch, what: str):
    """``expected`` {weight: shape}; ``fetch(weight)`` returns the value. Checks all, then assigns."""
    have = layer_weights(layer)
    missing = sorted(set(expected) - set(have))
    extra = sorted(set(have) - set(expected))
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{what} has {', '.join(missing)} which the layer lacks")
        if extra:
            parts.append(f"the layer has {', '.join(extra)} which {what} lacks")
        raise CheckpointError(f"{layer.name} does not match {what}: " + "; ".join(parts) +
                              " (layer_norm / center / scale / renorm / zero_debias_moving_mean "
                              "must agree)")
    for key, shape in expected.items():
        if tuple(have[key].shape) != tuple(shape):
            raise CheckpointError(f"{layer.name}.{key} has shape {list(have[key].shape)}, "
                                  f"{what} has {list(shape)}")
    for key in expected:
        value = fetch(key)
        have[key].assign(value)
        del value


def load_tf1_weights(layer, ckpt_path, scope: str):
    """Assign the TF1 group at ``scope`` of the checkpoint ``ckpt_path`` to a replacement ``layer``.

    ``layer`` is a :class:`tf2norm.replacements.LayerNormBasicLSTMCell` (built, or built here from
    the kernel's shape) or a built :class:`tf2norm.replacements.BatchNormalization`. Any TF1 naming
    (kernel/weights/linear/weights ...) is accepted. Returns the layer.
    """
    ckpt = Tf1Checkpoint(ckpt_path)
    inv = ckpt.inventory()
    try:
        group = inv.group(scope.rstrip("/"))
    except KeyError as exc:
        raise CheckpointError(f"{ckpt.path}: {exc.args[0]}") from None
    if group.problems:
        raise CheckpointError(group.problems[0])
    kind = kind_of(layer)
    if kind != group.kind:
        raise CheckpointError(f"{scope} is a {group.kind} group, {layer.name} a {type(layer).__name__}")
    _ensure_built(layer, kind, mf.build_input_shape(group))
    expected = {k: inv.variables[n].shape for k, n in group.weights.items()}
    check_and_assign(layer, expected, lambda k: ckpt.read(group.weights[k]),
                      f"TF1 group {scope}")
    return layer


def _local(h5file, path: str, what: str):
    """The object at ``path``, reached through hard links only and stored in this file.

    Soft links (which can loop), external links, external storage and virtual datasets would make
    a converted directory read other files: refused, like a missing object, with CheckpointError.
    """
    import h5py

    node = h5file
    try:
        for part in path.split("/"):
            link = node.get(part, getlink=True)
            if link is None:
                raise CheckpointError(f"weights file lacks {path} ({what})")
            if not isinstance(link, h5py.HardLink):
                raise CheckpointError(f"weights file: {path} is a {type(link).__name__}; tf2norm reads only "
                                      "objects stored in the file itself")
            node = node[part]
        if isinstance(node, h5py.Dataset) and (node.is_virtual or node.external):
            raise CheckpointError(f"weights file: {path} keeps its data outside the file "
                                  f"({'virtual dataset' if node.is_virtual else 'external storage'}); refused")
    except CheckpointError:
        raise
    except (KeyError, RuntimeError, OSError, ValueError) as exc:
        raise CheckpointError(f"weights file: cannot read {path}: {str(exc).splitlines()[0]}") from None
    return node


def load_converted_group(layer, entry: dict, h5file) -> None:
    """Assign one manifest entry's datasets from an open ``weights.h5`` to ``layer``."""
    import h5py

    group = _local(h5file, entry["h5_group"], f"the group of {entry['scope']}")
    if not isinstance(group, h5py.Group):
        raise CheckpointError(f"weights file: {entry['h5_group']} is not a group")
    expected, datasets = {}, {}
    for key, w in entry["weights"].items():
        dataset = _local(group, key, w["tf1_name"])
        if not isinstance(dataset, h5py.Dataset):
            raise CheckpointError(f"weights file: {entry['h5_group']}/{key} is not a dataset")
        datasets[key] = dataset
        expected[key] = dataset.shape
        if list(dataset.shape) != list(w["shape"]) or dataset.dtype.name != w["dtype"]:
            raise CheckpointError(
                f"weights file {entry['h5_group']}/{key} is {dataset.dtype.name} "
                f"{list(dataset.shape)}, the manifest says {w['dtype']} {w['shape']}")

    def fetch(key):
        try:
            return datasets[key][()]
        except (OSError, RuntimeError, ValueError) as exc:
            raise CheckpointError(f"weights file: cannot read {entry['h5_group']}/{key}: "
                                  f"{str(exc).splitlines()[0]}") from None

    check_and_assign(layer, expected, fetch, f"converted group {entry['scope']}")


def open_weights(manifest):
    """The converted directory's ``weights.h5``, open for reading (CheckpointError if it cannot be)."""
    import h5py

    path = manifest["_weights_path"]
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise CheckpointError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None


def restore(converted_dir, scopes=None, *, input_shapes=None) -> dict:
    """Fresh replacement layers for the groups of a converted directory, loaded with its values.

    Returns ``{tf1_scope: layer}`` in manifest order (``scopes`` selects some). Each layer is built
    with the manifest's ``build_input_shape``; ``input_shapes={scope: shape}`` overrides it (a batch
    norm's input rank, for instance). Layers are named after their scope, '/' written '__'.
    """
    manifest = mf.read(converted_dir)
    entries = manifest["groups"] if scopes is None else [mf.find(manifest, s) for s in scopes]
    input_shapes = input_shapes or {}
    layers = {}
    with open_weights(manifest) as h5:
        for e in entries:
            shape = input_shapes.get(e["scope"], e["build_input_shape"])
            layer = build_layer(e["kind"], e["config"], shape, name=layer_name(e["scope"]))
            load_converted_group(layer, e, h5)
            layers[e["scope"]] = layer
    return layers


def _walk(layer, seen):
    if id(layer) in seen:
        return
    seen.add(id(layer))
    yield layer
    children = list(getattr(layer, "layers", None) or [])
    for attr in ("cell", "forward_layer", "backward_layer", "layer"):
        child = getattr(layer, attr, None)
        if child is not None and hasattr(child, "name"):
            children.append(child)
    children.extend(getattr(layer, "cells", None) or [])
    for child in children:
        yield from _walk(child, seen)


def find_layer(model, name: str, kind: str):
    """The replacement layer called ``name`` inside ``model`` (through RNN/Bidirectional wrappers)."""
    matches = [layer for layer in _walk(model, set()) if getattr(layer, "name", None) == name]
    for layer in matches:
        # keras.layers.RNN(cell, name=...) carries the name; the cell holds the weights.
        while kinds.get(kind).CELL and not isinstance(layer, replacement_class(kind)) \
                and getattr(layer, "cell", None) is not None:
            layer = layer.cell
        if isinstance(layer, replacement_class(kind)):
            return layer
    if matches:
        kind_of(matches[0])  # raises: not a replacement
    raise CheckpointError(f"no layer named {name!r} in {getattr(model, 'name', model)!r}")


def _warn_config(layer, entry):
    differs = []
    same = kinds.get(entry["kind"]).same_setting
    for key, value in entry["config"].items():
        mine = getattr(layer, key, value)
        if key == "axis" and not entry.get("data_format_given", True):
            continue
        if isinstance(value, (int, float, bool, type(None))) and not same(layer, key, value):
            differs.append(f"{key}={mine!r} (TF1 group: {value!r})")
    if differs:
        warnings.warn(f"{layer.name} loaded from {entry['scope']} but configured differently: "
                      + ", ".join(differs), stacklevel=3)


def restore_into(model, converted_dir, mapping: dict) -> dict:
    """Assign converted groups to the layers of your own model: ``mapping={tf1_scope: layer}``.

    A mapping value is a layer name found anywhere in ``model`` (an RNN layer's name stands for its
    cell) or the layer object itself. Unbuilt cells are built from the kernel's shape; batch norms
    must be built. Configuration that differs from the manifest (forget_bias, momentum, epsilon,
    axis when it was given at conversion) is reported with a warning, since the weights still fit.
    Returns ``{tf1_scope: layer}``.
    """
    manifest = mf.read(converted_dir)
    targets = {}
    for scope, target in mapping.items():
        e = mf.find(manifest, scope)
        layer = find_layer(model, target, e["kind"]) if isinstance(target, str) else target
        if kind_of(layer) != e["kind"]:
            raise CheckpointError(f"{scope} is a {e['kind']} group, {layer.name} a "
                                  f"{type(layer).__name__}")
        _ensure_built(layer, e["kind"], e["build_input_shape"])
        targets[scope] = (layer, e)
    with open_weights(manifest) as h5:
        for scope, (layer, e) in targets.items():
            load_converted_group(layer, e, h5)
            _warn_config(layer, e)
    return {scope: layer for scope, (layer, _) in targets.items()}
