"""``--source FILE``: the settings a checkpoint cannot record, read from the code that made it.

A checkpoint holds variables, not the calls' arguments: a batch norm's decay and layout, a cell's
forget_bias or activation, a group norm's groups. Instead of retyping them as ``--config``, convert
and verify can read them from the program, legacy or migrated: every call that makes a layer of a
kind (the ``SOURCE`` table of each kind module: which calls, their positional parameters, which
argument is which setting) is found with the rewriters' name resolution (libcst, no TensorFlow), and
its literal arguments (or names assigned a literal once, `DECAY = 0.9`) are taken as settings.

A call that names its scope (`scope="bn"`, `name="bn"`) gives its settings to the groups whose
scope is that name or ends with `/` and that name; the groups no such call names take what every
other call of their kind agrees on. Where the calls that may make a group disagree on a setting,
nothing is taken and a note says so. Explicit ``--config`` / ``--data-format`` options win.
"""

from __future__ import annotations

import ast
import dataclasses
import json

from . import kinds
from .errors import CheckpointError
from .model import SourceCalls

_ABSENT = object()
# Activations by the last part of their name (tf.nn.relu, tf.tanh, keras.activations.relu, "relu").
_ACTIVATIONS = {"relu", "relu6", "elu", "selu", "tanh", "sigmoid", "hard_sigmoid", "softsign", "softplus",
                "linear", "swish", "gelu", "exponential", "leaky_relu", "silu"}


@dataclasses.dataclass
class Call:
    """One call in the source that makes a layer of `kind`."""

    kind: str
    name: str | None  # the scope or name it gives the layer, when a literal
    named: bool  # it passes a scope or name (maybe not a literal one)
    settings: dict  # --config key (or "data_format") -> value
    where: str  # path:line


def _entries():
    """(kind id, qualified names, positional parameters, {argument: key}, name arguments, fixed settings)."""
    import importlib

    def names(calls: SourceCalls) -> frozenset:
        found = set(calls.names)
        for spelled in calls.legacy_from:  # "<rewriter id>.<its module constant>": a set of legacy names
            rewriter, attribute = spelled.split(".")
            found |= getattr(importlib.import_module(f"tf2norm.rewriters.{rewriter}"), attribute)
        return frozenset(found)

    return [(kind.ID, names(calls), calls.positional, calls.settings, calls.scope_args, calls.fixed)
            for kind in kinds.all_kinds() for calls in kind.SOURCE]


def read(paths) -> list[Call]:
    """Every call in the files `paths` that makes a layer of a checkpoint kind."""
    import libcst as cst
    from libcst.metadata import MetadataWrapper, PositionProvider

    from tf2norm.rewriters._names import Resolver, canonical, module_paths

    entries = _entries()
    by_name = {name: entry for entry in entries for name in entry[1]}
    calls = []
    for path in paths:
        try:
            with open(path, "rb") as file:
                module = cst.parse_module(file.read())
        except OSError as exc:
            raise CheckpointError(f"--source {path}: cannot read it: {exc.strerror or exc}") from None
        except (cst.ParserSyntaxError, SyntaxError, ValueError) as exc:
            raise CheckpointError(f"--source {path}: cannot parse it: {str(exc).splitlines()[0]}") from None
        wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
        resolver = Resolver(wrapper, module_paths(by_name))
        positions = wrapper.resolve(PositionProvider)
        for node in list(resolver.parents):
            if not isinstance(node, cst.Call):
                continue
            entry = by_name.get(canonical(resolver.qualified(node.func)))
            if entry is None:
                continue
            kind, _, positional, keys, name_args, fixed = entry
            bound = _bind(node, positional)
            if bound is None:
                continue
            settings = dict(fixed)
            for argument, key in keys.items():
                if argument in bound:
                    value = _value(bound[argument], key, resolver, module)
                    if value is not _ABSENT:
                        settings[key] = value
            given = [bound[a] for a in name_args if a in bound]
            name = _value(given[0], "name", resolver, module) if given else None
            calls.append(Call(kind, name if isinstance(name, str) else None, bool(given), settings,
                              f"{path}:{positions[node].start.line}"))
    return calls


def _bind(call, positional) -> dict | None:
    """{parameter: value expression}; None for a call with *args/**kwargs (which hide arguments)."""
    bound = {}
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            bound[arg.keyword.value] = arg.value
        elif index < len(positional):
            bound[positional[index]] = arg.value
    return bound


def _value(node, key, resolver, module):
    """The Python value of an argument, or _ABSENT when it is not a literal."""
    node = resolver.bound_value(node)
    try:
        return ast.literal_eval(module.code_for_node(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    if key in ("activation", "recurrent_activation"):
        qualified = resolver.qualified(node)
        last = (qualified or "").rsplit(".", 1)[-1]
        if last in _ACTIVATIONS:
            return last
    return _ABSENT


def options(inv, calls: list[Call], data_formats=(), settings=()):
    """(--data-format options, --config options, notes) that give the groups of `inv` the settings of
    `calls`; keys the explicit `data_formats` / `settings` give are left to them."""
    formats_out, settings_out, notes = [], [], []
    for group in inv.groups:
        kind = kinds.get(group.kind)
        own = [c for c in calls if c.kind == group.kind and c.name is not None
               and (group.scope == c.name or group.scope.endswith("/" + c.name))]
        candidates = own or [c for c in calls if c.kind == group.kind and c.name is None]
        if not candidates:
            continue
        taken, disagreements = [], []
        for key in sorted({k for c in candidates for k in c.settings}):
            if _given(group, key, data_formats, settings):
                continue
            if key != "data_format" and key not in kind.SETTABLE:
                continue
            values = {json.dumps(c.settings.get(key, None) if key in c.settings else "<default>")
                      for c in candidates}
            if len(values) > 1:
                disagreements.append(key)
                continue
            value = candidates[0].settings[key]
            if key == "data_format":
                formats_out.append(f"{group.scope}={value}")
            else:
                settings_out.append(f"{group.scope}:{key}={json.dumps(value)}")
            taken.append(f"{key}={value!r}")
        where = ", ".join(dict.fromkeys(c.where for c in candidates))
        if taken:
            notes.append(f"{group.scope}: {', '.join(taken)} from {where}")
        for key in disagreements:
            notes.append(f"{group.scope}: the calls that may make it disagree on {key} ({where}); give it "
                         f"with --config {group.scope}:{key}=VALUE")
    return formats_out, settings_out, notes


def _given(group, key, data_formats, settings) -> bool:
    """Does an explicit option set `key` (or the layout, for "data_format") on `group`?"""
    if key == "data_format":
        scopes = [option.rpartition("=")[0] for option in data_formats]
        return any(scope in ("", group.scope) for scope in scopes)
    for option in settings:
        scope, _, name = option.partition("=")[0].rpartition(":")
        if name.strip() == key and scope in ("", group.scope):
            return True
    return False


def apply(inv, paths, data_formats=(), settings=()) -> tuple[list, list, list]:
    """The options `--source paths` adds before the explicit ones, and its notes."""
    if not paths:
        return [], [], []
    return options(inv, read(paths), data_formats, settings)
