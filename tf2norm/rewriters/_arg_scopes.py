"""`with slim.arg_scope([slim.batch_norm, ...], is_training=t, decay=0.9):` made explicit.

arg_scope gives default arguments to the functions it lists, for every call made while the block
runs. The replacements are not arg_scope functions, so the defaults are pushed down into what the
block visibly reaches:

* a call of the function itself gets them as explicit arguments (its own arguments win);
* a call or nested arg_scope with `normalizer_fn=<the function>` gets them in `normalizer_params`;
* a slim layer call whose `normalizer_fn=<the function>` comes from an enclosing arg_scope of the same
  function gets an explicit `normalizer_params`.

Then the function leaves the list (and an arg_scope left with an empty list leaves the code). When
the block may reach the function where tf2norm cannot see (a call of a helper, `slim.repeat`, a layer
whose normalizer_fn comes from elsewhere, `as sc` scopes returned to callers), the defaults are
still pushed into what is visible, but the arg_scope stays as it was and is reported.
"""

from __future__ import annotations

import dataclasses
import sys

import libcst as cst

from tf2norm.rewriters import _calls
from tf2norm.rewriters._findings import Rule
from tf2norm.rewriters._signature import code

ARG_SCOPES = frozenset({
    "tensorflow.contrib.framework.arg_scope",
    "tensorflow.contrib.slim.arg_scope",
    "tensorflow.contrib.framework.python.ops.arg_scope.arg_scope",
})
_SAFE_MODULES = ("tensorflow", "numpy", "builtins", *sys.stdlib_module_names)


# The layers that call normalizer_fn(outputs, **normalizer_params), for arg_scope defaults.
_SLIM_LAYERS = ("conv2d", "convolution", "convolution1d", "convolution2d", "convolution3d", "conv1d", "conv3d",
           "conv2d_transpose", "conv3d_transpose", "convolution2d_transpose", "convolution3d_transpose",
           "separable_conv2d", "separable_convolution2d", "conv2d_in_plane", "convolution2d_in_plane",
           "fully_connected")
SLIM_LAYERS = frozenset(f"tensorflow.contrib.{m}.{n}" for m in ("layers", "slim") for n in _SLIM_LAYERS)


@dataclasses.dataclass(frozen=True)
class Spec:
    """What the arg_scope machinery needs to know about one legacy function."""

    legacy: frozenset[str]  # canonical names of the function
    layers: frozenset[str]  # canonical names of the layers that take normalizer_fn / normalizer_params
    rule: Rule  # reported when the arg_scope must stay

    @property
    def name(self) -> str:
        """The function's own name, for messages (`batch_norm`)."""
        return min(self.legacy).rsplit(".", 1)[-1]


@dataclasses.dataclass
class _Block:
    with_node: cst.With
    item: cst.WithItem
    ops: cst.List | cst.Tuple
    entries: list[cst.BaseExpression]
    defaults: dict[str, cst.BaseExpression]
    reasons: list[str] = dataclasses.field(default_factory=list)


def plan(ctx, spec: Spec) -> dict[cst.Call, dict[str, cst.BaseExpression]]:
    """Plans the push-down; returns, for each direct call inside such blocks, its inherited defaults."""
    blocks = sorted(_blocks(ctx, spec), key=lambda b: len(list(ctx.names.ancestors(b.with_node))))
    direct: dict[cst.Call, dict[str, cst.BaseExpression]] = {}
    params: dict[cst.Call, dict[str, cst.BaseExpression]] = {}
    bases: dict[cst.Call, cst.BaseExpression | None] = {}
    for block in blocks:  # outer blocks first: an inner block's defaults win
        calls = [n for n in ctx.names.descendants(block.with_node.body, (cst.FunctionDef, cst.Lambda, cst.ClassDef))
                 if isinstance(n, cst.Call)]
        for call in calls:
            if ctx.names.canonical(call.func) in spec.legacy:
                direct[call] = {**direct.get(call, {}), **block.defaults}
            elif (normalizer_fn := _keyword(call, "normalizer_fn")) is not None:
                if ctx.names.canonical(normalizer_fn.value) in spec.legacy:
                    params[call] = {**params.get(call, {}), **block.defaults}
            elif ctx.names.canonical(call.func) in spec.layers:
                found, normalizer, base = _enclosing_normalizer(ctx, spec, call)
                if not found:
                    block.reasons.append(f"{code(call.func)}() may get normalizer_fn from an arg_scope outside it")
                elif normalizer:
                    params[call] = {**params.get(call, {}), **block.defaults}
                    bases[call] = base
            else:
                reason = _opaque(ctx, call, spec.name)
                if reason:
                    block.reasons.append(reason)
    for call, defaults in params.items():
        ctx.edit(call, _merge_params(call, defaults, bases.get(call)))
    for block in blocks:
        _settle(ctx, spec, block)
    return direct


def _settle(ctx, spec: Spec, block: _Block) -> None:
    if block.reasons:
        for entry in block.entries:
            ctx.report(spec.rule, entry, reason=block.reasons[0])
        return
    for entry in block.entries:
        ctx.handled.add(entry)
        ctx.consumed.add(entry)
    # One arg_scope may list several legacy functions (batch_norm and layer_norm), each settled by
    # its own rewriter: the list is empty when every rewriter has taken its entries out.
    taken = ctx.arg_scope_entries
    taken.update(block.entries)
    dropped = {e.value for e in block.ops.elements if e.value in taken}
    if len(dropped) < len(block.ops.elements):
        ctx.edit(block.ops, lambda updated, ops=block.ops: _without(ops, updated, dropped))
        return
    # Nothing left for the arg_scope to do.
    ctx.consumed.add(block.item)
    if len(block.with_node.items) > 1:
        ctx.edit(block.with_node, lambda updated, w=block.with_node: _drop_item(w, updated, block.item))
    elif isinstance(block.with_node.body, cst.IndentedBlock):
        ctx.edit(block.with_node, lambda updated, w=block.with_node: _flatten(ctx, w, updated))
    else:
        ctx.edit(block.ops, lambda updated, ops=block.ops: _without(ops, updated, dropped))


def _blocks(ctx, spec: Spec):
    for node in ctx.names.parents:
        if not isinstance(node, cst.With):
            continue
        for item in node.items:
            call = item.item
            if not isinstance(call, cst.Call) or ctx.names.canonical(call.func) not in ARG_SCOPES:
                continue
            ops = call.args[0].value if call.args and call.args[0].keyword is None else None
            listed = _keyword(call, "list_ops_or_scope")
            ops = listed.value if listed else ops
            if not isinstance(ops, (cst.List, cst.Tuple)):
                continue
            entries = [e.value for e in ops.elements if ctx.names.canonical(e.value) in spec.legacy]
            if not entries:
                continue
            block = _Block(node, item, ops, entries,
                           {a.keyword.value: a.value for a in call.args if a.keyword is not None
                            and a.keyword.value != "list_ops_or_scope"})
            if any(a.star for a in call.args):
                block.reasons.append("**kwargs hide its defaults")
            if item.asname is not None:
                block.reasons.append("its scope is kept with `as` and may be entered elsewhere")
            yield block


def _keyword(call: cst.Call, name: str) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword is not None and a.keyword.value == name), None)


def _op_name(name: str | None) -> str | None:
    return None if name is None else name.rsplit(".", 1)[-1]


def _enclosing_normalizer(ctx, spec: Spec, call: cst.Call):
    """(found, normalizer is the legacy function, normalizer_params expression) from enclosing arg_scopes."""
    op = _op_name(ctx.names.canonical(call.func))
    normalizer = base = None
    for ancestor in ctx.names.ancestors(call):
        if isinstance(ancestor, (cst.FunctionDef, cst.Lambda, cst.ClassDef)):
            break
        if not isinstance(ancestor, cst.With):
            continue
        for item in reversed(ancestor.items):
            scope = item.item
            if not isinstance(scope, cst.Call) or ctx.names.canonical(scope.func) not in ARG_SCOPES:
                continue
            ops = scope.args[0].value if scope.args else None
            if not isinstance(ops, (cst.List, cst.Tuple)):
                continue
            if not any(_op_name(ctx.names.canonical(e.value)) == op
                       and ctx.names.canonical(e.value) in spec.layers for e in ops.elements):
                continue
            params, function = _keyword(scope, "normalizer_params"), _keyword(scope, "normalizer_fn")
            if base is None and params is not None:
                base = params.value
            if normalizer is None and function is not None:
                normalizer = function.value
    if normalizer is None:
        return False, False, None
    return True, ctx.names.canonical(normalizer) in spec.legacy, base


def _opaque(ctx, call: cst.Call, function: str) -> str | None:
    """Why `call` may reach the legacy function out of tf2norm's sight, or None."""
    func = call.func
    name = ctx.names.canonical(func)
    if name is not None:
        if name.startswith("tensorflow.contrib.") and _op_name(name) in ("repeat", "stack"):
            return f"{code(func)}() calls layers tf2norm cannot see"
        if name.split(".")[0] in _SAFE_MODULES:
            return None
        return f"it calls {code(func)}(), which may call {function}"
    root = func
    while isinstance(root, cst.Attribute):
        root = root.value
    if isinstance(func, cst.Attribute) and not (isinstance(root, cst.Name) and root.value in ("self", "cls")):
        return None  # a method of a local value (a tensor, a list): not a layer function
    # A function of this file, a function value (a lambda, a functools.partial) or a method of self.
    return f"it calls {code(func)}(), which may call {function}"


def _string(key: str) -> cst.SimpleString:
    return cst.SimpleString(f'"{key}"')


def _merge_params(original: cst.Call, defaults: dict, base: cst.BaseExpression | None):
    """An edit giving `original` normalizer_params with `defaults` under its own keys."""
    existing = _keyword(original, "normalizer_params")

    def merged(params: cst.BaseExpression | None) -> cst.BaseExpression:
        if isinstance(params, cst.Dict):
            keys = {_key(e) for e in params.elements}
            extra = [cst.DictElement(_string(k), v) for k, v in defaults.items() if k not in keys]
            return params.with_changes(elements=_spaced([*params.elements, *extra]))
        elements: list[cst.BaseDictElement] = [cst.DictElement(_string(k), v) for k, v in defaults.items()]
        if params is not None:
            elements.append(cst.StarredDictElement(params))
        return cst.Dict(_spaced(elements))

    def change(updated: cst.Call) -> cst.Call:
        if existing is not None:
            index = original.args.index(existing)
            args = list(updated.args)
            args[index] = args[index].with_changes(value=merged(args[index].value))
            return updated.with_changes(args=args)
        items: list[tuple[cst.Arg, int | None]] = [(a, i) for i, a in enumerate(updated.args)]
        items.append((_calls.keyword("normalizer_params", merged(base.deep_clone() if base else None)), None))
        return updated.with_changes(args=_calls.relaid(updated, items))

    return change


def _key(element) -> str | None:
    if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
        value = element.key.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _spaced(elements: list) -> list:
    """Commas between dict elements: the existing ones kept, new ones `, `."""
    out = []
    for i, element in enumerate(elements):
        last = i == len(elements) - 1
        if not last and not isinstance(element.comma, cst.Comma):
            element = element.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        out.append(element)
    return out


def _without(original: cst.List | cst.Tuple, updated, dropped: set) -> cst.BaseExpression:
    if len(updated.elements) != len(original.elements):
        # Another rewriter took its entries out first; the dropped references are left unedited.
        codes = {code(e) for e in dropped}
        kept = [new for new in updated.elements if code(new.value) not in codes]
    else:
        kept = [new for old, new in zip(original.elements, updated.elements) if old.value not in dropped]
    if kept and not isinstance(original.elements[-1].comma, cst.Comma):
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    if isinstance(updated, cst.Tuple) and len(kept) == 1:
        kept[0] = kept[0].with_changes(comma=cst.Comma())
    return updated.with_changes(elements=kept)


def _drop_item(original: cst.With, updated: cst.With, item: cst.WithItem) -> cst.With:
    kept = [new for old, new in zip(original.items, updated.items) if old is not item]
    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return updated.with_changes(items=kept)


def _flatten(ctx, original: cst.With, updated: cst.With):
    """The block's statements in place of the `with` (LibCST re-indents them); an indented block only."""
    assert isinstance(updated.body, cst.IndentedBlock)
    statements = list(updated.body.body)
    comments = [cst.EmptyLine(comment=cst.Comment(c)) for c in ctx.rescued.pop(original, [])]
    header = updated.body.header.comment
    if header is not None:
        comments.append(cst.EmptyLine(comment=header))
    first = statements[0]
    assert isinstance(first, (cst.SimpleStatementLine, cst.BaseCompoundStatement))
    statements[0] = first.with_changes(leading_lines=[*updated.leading_lines, *comments, *first.leading_lines])
    return cst.FlattenSentinel(statements)

