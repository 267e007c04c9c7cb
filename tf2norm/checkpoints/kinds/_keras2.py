"""How Keras 2 (tf.keras <= 2.15) named the variables of its checkpoints, for tensorflow-addons' kinds.

`model.save_weights(path)` in the TF format saves object-based names,
``<object path>/<attribute>/.ATTRIBUTES/VARIABLE_VALUE`` (optimizer slots under ``/.OPTIMIZER_SLOT/``);
a name-based `tf.compat.v1.train.Saver` saves the variables' own names, ``<scope>/<attribute>``.
"""

from __future__ import annotations

VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"
SLOT = "/.OPTIMIZER_SLOT/"
OBJECT_NAMING = "Keras 2 object-based (model.save_weights, TF format)"
NAME_NAMING = "Keras 2 variable names (name-based Saver)"


def scopes_with(table, claimed, members, aliases=None) -> dict:
    """``{(scope, naming): {member: variable name}}`` for every scope holding a ``kernel``.

    A variable ``S/<path>`` (object-based: ``S/<path>/.ATTRIBUTES/VARIABLE_VALUE``) is member
    ``aliases.get(path, path)`` of scope ``S`` when that is one of ``members``; names already
    claimed and optimizer slots are skipped. Object-based and name-based variables never mix.
    """
    aliases = aliases or {}
    paths = {aliases.get(m, m): m for m in members}
    found: dict = {}
    for name in table:
        if name in claimed or SLOT in name:
            continue
        naming, base = (OBJECT_NAMING, name[: -len(VALUE)]) if name.endswith(VALUE) else (NAME_NAMING, name)
        for path, member in paths.items():
            if base.endswith("/" + path):
                found.setdefault((base[: -len(path) - 1], naming), {})[member] = name
                break
    return {key: group for key, group in found.items() if "kernel" in group}
