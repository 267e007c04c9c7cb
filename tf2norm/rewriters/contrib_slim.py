"""Legacy `tf.contrib.slim` (however imported or aliased) and contrib's `arg_scope` -> `tf_slim`, the
maintained successor package (`pip install tf-slim`), whose layers and arg_scope run on TF 2.16+.

Every spelling, resolved by name (never by text): `import tensorflow.contrib.slim as slim`,
`from tensorflow.contrib import slim [as contrib_slim]`, `slim = tf.contrib.slim`, chains such as
`tf.contrib.slim.conv2d` or `tf.compat.v1.contrib.slim...`, `tensorflow.contrib.slim.nets`,
contrib's internal `tensorflow.contrib.slim.python.slim.*` paths, and `arg_scope` / `add_arg_scope`
from `tensorflow.contrib.framework` (the same functions slim exported), and contrib.layers' regularizers
(`tf.contrib.layers.l1_regularizer`, `l2_regularizer`, `l1_l2_regularizer`, `sum_regularizer`,
`apply_regularization`: tf_slim's are TF 1.15's code), also as values (a module-level
`{'l2': tf.contrib.layers.l2_regularizer}`). Imports are rewritten in
place (`import tf_slim as slim`), chains start at `tf_slim`, and `import tf_slim` is added where a
chain needs it. slim's `batch_norm` and `layer_norm` are not tf_slim's business: their own
rewriters replace them by tf2norm's functions, which are tf_slim arg_scope functions
(tf2norm.replacements.contrib_slim), so tf_slim's `arg_scope` reaches them.

What tf_slim 1.1.0 lacks (contrib's feature columns, `bow_encoder`, ...) is reported at each use,
with what to use instead, and left as it is; so are the nets of tf_slim that build tf_slim's own
batch_norm (inception's and resnet's arg_scope functions, resnet_v2), which raises on Keras 3.
"""

from __future__ import annotations

import libcst as cst

from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._names import canonical, dotted
from tf2norm.rewriters._rewriter import PlanRewriter

SLIM = "tensorflow.contrib.slim"
#: contrib.layers' regularizer functions (also reached through contrib's internal module), which tf_slim has.
REGULARIZERS = ("l1_regularizer", "l2_regularizer", "l1_l2_regularizer", "sum_regularizer", "apply_regularization")
REGULARIZER_MODULES = ("tensorflow.contrib.layers", "tensorflow.contrib.layers.python.layers.regularizers")
TF_SLIM = "tf_slim"

#: Legacy module paths and functions -> their tf_slim names (longest match wins).
PREFIXES = {
    SLIM: TF_SLIM,
    f"{SLIM}.python.slim": TF_SLIM,  # contrib's internal layout: python/slim/{nets,learning,...}
    "tensorflow.contrib.framework.python.ops.arg_scope": "tf_slim.ops.arg_scope",
    **{f"tensorflow.contrib.framework.{name}": f"{TF_SLIM}.{name}"
       for name in ("arg_scope", "add_arg_scope", "current_arg_scope", "has_arg_scope", "arg_scoped_arguments",
                    "arg_scope_func_key")},
    # contrib.layers' regularizers: tf_slim 1.1.0's are TF 1.15's source line for line (scale checks, errors,
    # op names; tests/replacements/test_contrib_slim.py holds them to TF 1.15's numbers).
    **{f"{module}.{name}": f"{TF_SLIM}.{name}" for module in REGULARIZER_MODULES for name in REGULARIZERS},
}

_FEATURE_COLUMNS = "use tf.feature_column (or keep this code on TF 1.x)"
#: Public names of `tf.contrib.slim` (TF 1.15) that tf_slim 1.1.0 does not have (dir() of both),
#: with what to use instead.
MISSING = {
    **{name: _FEATURE_COLUMNS for name in (
        "DataFrameColumn", "bucketized_column", "check_feature_columns", "create_feature_spec_for_parsing",
        "crossed_column", "embedding_column", "feature_column", "feature_column_ops", "fc", "fc_core",
        "infer_real_valued_columns", "input_from_feature_columns", "joint_weighted_sum_from_feature_columns",
        "make_place_holder_tensors_for_base_features", "one_hot_column", "parse_feature_columns_from_examples",
        "parse_feature_columns_from_sequence_examples", "real_valued_column", "scattered_embedding_column",
        "sequence_input_from_feature_columns", "shared_embedding_columns", "sparse_column_with_hash_bucket",
        "sparse_column_with_integerized_feature", "sparse_column_with_keys", "sparse_column_with_vocabulary_file",
        "transform_features", "weighted_sparse_column", "weighted_sum_from_feature_columns")},
    **{name: "use tf.estimator's heads (contrib's target columns have no TF2 form)" for name in (
        "ProblemType", "binary_svm_target", "get_default_binary_metrics_for_eval", "multi_class_target",
        "regression_target", "target_column")},
    **{name: "use tf.compat.v1.nn.embedding_lookup_sparse / tf.nn.safe_embedding_lookup_sparse" for name in (
        "embedding_lookup_sparse_with_distributed_aggregation", "embedding_lookup_unique",
        "safe_embedding_lookup_sparse",
        "scattered_embedding_lookup", "scattered_embedding_lookup_sparse", "embedding_ops")},
    **{name: "use tf.keras.layers.Embedding / tf.nn.embedding_lookup" for name in (
        "bow_encoder", "embed_sequence", "encoders")},
    **{name: "use tf.sparse.cross_hashed (TF 2's sparse feature cross)" for name in (
        "SPARSE_FEATURE_CROSS_DEFAULT_HASH_KEY", "sparse_feature_cross", "sparse_feature_cross_op",
        "gen_sparse_feature_cross_op")},
    "InputLayer": "use tf.compat.v1.keras.layers.InputLayer",
    "zero_initializer": "use tf.compat.v1.assign(ref, tf.zeros_like(ref))",
    "variables": "call the function on tf_slim itself (tf_slim exports contrib's variables functions at top "
                 "level: slim.get_variables_to_restore(), ...)",
    "contrib_variables": "call the function on tf_slim itself (slim.get_variables_to_restore(), ...)",
    "contrib_framework": "use tf_slim's own function of the same name, or tf.compat.v1",
    "checkpoint_utils": "use tf.train.load_checkpoint / tf.train.list_variables",
    "loss_ops": "use tf_slim.losses",
    "metric_ops": "use tf_slim.metrics",
    "lookup": "use tf.lookup",
    "loader": "use tf_slim.ops.variables.assign_from_checkpoint_fn",
}
# Modules contrib's slim happened to import (abc, math, nn, sparse_ops, ...) are not slim's API: a
# use of them through slim is reported too, with the module to import instead.
for _name in ("abc", "collections", "collections_abc", "contrib_sparse_ops", "deprecated", "deprecated_arg_values",
              "deprecation", "experimental", "functools", "logging", "make_all", "math", "nest", "nn", "nn_ops",
              "parsing_ops", "resource_loader", "resource_variable_ops", "sparse_ops", "sparse_tensor",
              "sparse_tensor_py", "string_ops", "tensor_shape", "variable_scope"):
    MISSING.setdefault(_name, "import what it names directly (it was a module slim imported, not slim's API)")

_ARG_SCOPE_HINT = ("open your own arg_scope over the same layers with normalizer_fn=tf2norm.replacements.batch_norm "
                   "(copy the net's arg_scope function), or run with tf_keras and TF_USE_LEGACY_KERAS=1")
#: tf_slim's nets that build tf_slim's own batch_norm, which raises on Keras 3 (it needs tf_keras):
#: their arg_scope functions give the layers normalizer_fn=tf_slim.batch_norm, and resnet_v2 calls it
#: directly. (Their own arg_scopes over tf_slim.batch_norm reach tf2norm's: one arg_scope key.)
SLIM_BATCH_NORM = {
    **{f"nets.{module}.{function}": _ARG_SCOPE_HINT for module, function in (
        ("inception", "inception_v1_arg_scope"), ("inception", "inception_v2_arg_scope"),
        ("inception", "inception_v3_arg_scope"), ("inception_v1", "inception_v1_arg_scope"),
        ("inception_v2", "inception_v2_arg_scope"), ("inception_v3", "inception_v3_arg_scope"),
        ("resnet_utils", "resnet_arg_scope"), ("resnet_v1", "resnet_arg_scope"), ("resnet_v2", "resnet_arg_scope"))},
    **{f"nets.resnet_v2.{function}": "copy the net and call tf2norm.replacements.batch_norm where it calls "
                                     "batch_norm, or run with tf_keras and TF_USE_LEGACY_KERAS=1"
       for function in ("bottleneck", "resnet_v2", "resnet_v2_50", "resnet_v2_101", "resnet_v2_152",
                        "resnet_v2_200")},
}

RULES = rules(
    Rule("TF2N110", "{name}: tf_slim 1.1.0 (the maintained tf.contrib.slim) has no {missing}; left unchanged",
                    "{hint}"),
    Rule("TF2N111", "{name}: the file binds tf_slim to something else, so tf.contrib.slim cannot become the "
                    "tf_slim package here; left unchanged",
                    "rename the file's own tf_slim, then run tf2norm again"),
    Rule("TF2N112", "{name}: tf_slim's {function} (what it becomes) builds tf_slim's own batch_norm, which raises "
                    "on Keras 3 (it needs tf_keras)", "{hint}"),
)


def target(name: str | None) -> tuple[str, str] | None:
    """(legacy prefix, its tf_slim name) for a canonical legacy name under one of `PREFIXES`, else None."""
    if name is None:
        return None
    found = [p for p in PREFIXES if name == p or name.startswith(p + ".")]
    if not found:
        return None
    prefix = max(found, key=len)
    return prefix, PREFIXES[prefix]


def _missing(name: str) -> str | None:
    """The first component after slim of a canonical name tf_slim lacks (`real_valued_column`), or None."""
    match = target(name)
    if match is None or match[1] != TF_SLIM or name == match[0]:
        return None
    first = name[len(match[0]) + 1:].split(".")[0]
    return first if first in MISSING else None


def _slim_batch_norm(name: str) -> str | None:
    """The part after slim of a canonical name whose tf_slim version builds tf_slim's batch_norm, or None."""
    match = target(name)
    if match is None or match[1] != TF_SLIM:
        return None
    rest = name[len(match[0]) + 1:]
    return rest if rest in SLIM_BATCH_NORM else None


def _report_slim_batch_norm(ctx, node: cst.CSTNode, spelled: str, canonical_name: str) -> None:
    rest = _slim_batch_norm(canonical_name)
    if rest is not None:
        ctx.report(RULES["TF2N112"], node, name=spelled, function=rest.split(".", 1)[1], hint=SLIM_BATCH_NORM[rest])


def _mapped(name: str) -> str:
    prefix, tf_slim = target(name)  # type: ignore[misc]  # only called on names under a prefix
    return tf_slim + name[len(prefix):]


def _expression(text: str) -> cst.BaseExpression:
    return cst.parse_expression(text)


def plan(ctx) -> None:
    free = ctx.module_name_free(TF_SLIM)
    for node in ctx.names.of_kind(cst.Import, cst.ImportFrom):
        if isinstance(node, cst.Import):
            _plan_import(ctx, node, free)
        elif isinstance(node, cst.ImportFrom):
            _plan_import_from(ctx, node, free)
    for node, name in list(ctx.names.references(lambda n: target(n) is not None)):
        if node in ctx.handled or node in ctx.consumed:
            continue  # another rewriter replaced it (slim.batch_norm)
        missing = _missing(name)
        if missing is not None:
            ctx.report(RULES["TF2N110"], node, name=dotted(node) or name, missing=missing, hint=MISSING[missing])
            continue
        _report_slim_batch_norm(ctx, node, dotted(node) or name, name)
        _plan_chain(ctx, node, free)


def _plan_chain(ctx, node: cst.BaseExpression, free: bool) -> None:
    """`tf.contrib.slim.conv2d` -> `tf_slim.conv2d`: the longest legacy prefix of the chain is rewritten;
    a chain that starts at a name bound by an import or alias is left (its binding is rewritten)."""
    chain = []
    current = node
    while isinstance(current, cst.Attribute):
        chain.append(current)
        current = current.value
    prefixes = [n for n in chain if ctx.names.canonical(n) in PREFIXES]
    if not prefixes:
        return  # `slim.conv2d` with `slim` imported or aliased: the import or alias is rewritten
    start = prefixes[0]  # the outermost: `...slim.python.slim` rather than `...slim`
    if not free:
        ctx.report(RULES["TF2N111"], node, name=dotted(node))
        return
    text = PREFIXES[ctx.names.canonical(start)]
    assign = ctx.names.parents.get(start)
    if start is node and isinstance(assign, cst.Assign) and assign.value is node and len(assign.targets) == 1 \
            and isinstance(assign.targets[0].target, cst.Name) and "." not in text:
        # `slim = tf.contrib.slim` -> `import tf_slim as slim`, where it stands.
        bound = assign.targets[0].target.value
        ctx.edit(assign, lambda updated: updated if not isinstance(updated, cst.Assign) else cst.Import(
            names=[cst.ImportAlias(cst.Name(text), asname=None if bound == text else cst.AsName(cst.Name(bound)))],
            semicolon=updated.semicolon), consumes=start)
        return

    def change(updated: cst.CSTNode, start=start) -> cst.BaseExpression:
        if not ctx.removed(start):
            ctx.add_import(TF_SLIM)
        return _expression(text)

    ctx.edit(start, change, consumes=start)


def _plan_import(ctx, node: cst.Import, free: bool) -> None:
    for alias in node.names:
        name = canonical(dotted(alias.name))
        if target(name) is None:
            continue
        assert name is not None
        missing = _missing(name)
        if missing is not None:
            ctx.report(RULES["TF2N110"], alias, name=dotted(alias.name), missing=missing, hint=MISSING[missing])
            continue
        if alias.asname is None:
            # `import tensorflow.contrib.slim[.nets]` binds `tensorflow`, whose chains are rewritten one by
            # one; the import keeps binding `tensorflow` for the file's other uses, and a submodule it
            # loaded (`tf_slim.nets`, which `import tf_slim` does not load) is imported as tf_slim's.
            mapped = _mapped(name)

            def keep_tensorflow(updated: cst.ImportAlias, alias=alias, mapped=mapped) -> cst.ImportAlias:
                if mapped != TF_SLIM and not ctx.removed(alias):
                    ctx.add_import(mapped)
                return updated.with_changes(name=cst.Name("tensorflow"))

            ctx.edit(alias, keep_tensorflow)
        elif not free and _bound_name(alias) != TF_SLIM:
            ctx.report(RULES["TF2N111"], alias, name=dotted(alias.name))
        else:
            mapped = _mapped(name)
            ctx.edit(alias, lambda updated, mapped=mapped: updated.with_changes(name=_expression(mapped)))


def _plan_import_from(ctx, node: cst.ImportFrom, free: bool) -> None:
    if node.relative or node.module is None or isinstance(node.names, cst.ImportStar):
        return
    module = canonical(dotted(node.module))
    if module is None:
        return
    if target(module) is not None:
        _plan_from_slim(ctx, node, module)
        return
    movable = {}
    for alias in node.names:
        name = f"{module}.{dotted(alias.name)}"
        if target(name) is None:
            continue
        bound = _bound_name(alias)
        missing = _missing(name)
        if missing is not None:
            ctx.report(RULES["TF2N110"], alias, name=name, missing=missing, hint=MISSING[missing])
        elif _mapped(name) == TF_SLIM and not free and bound != TF_SLIM:
            ctx.report(RULES["TF2N111"], alias, name=name)
        else:
            movable[dotted(alias.name)] = (_mapped(name), bound)
    if not movable:
        return
    homes = {mapped.rpartition(".")[0] for mapped, _ in movable.values()}
    if len(movable) == len(node.names) and homes != {""} and len(homes) == 1:
        # `from tensorflow.contrib.framework import arg_scope` -> `from tf_slim import arg_scope`
        (home,) = homes
        ctx.edit(node, lambda updated: _with_module(updated, home))
    elif len(movable) == len(node.names) == 1:
        # `from tensorflow.contrib import slim [as x]` -> `import tf_slim [as x]`, in place
        ((mapped, bound),) = movable.values()
        ctx.edit(node, lambda updated: _as_import(updated, mapped, bound))
    else:
        # `from tensorflow.contrib import slim, layers`: slim gets an import of its own.
        ctx.edit(node, lambda updated: _without(ctx, node, updated, movable))


def _plan_from_slim(ctx, node: cst.ImportFrom, module: str) -> None:
    """`from tensorflow.contrib.slim[.nets] import x, y` -> `from tf_slim[.nets] import x, y`."""
    assert not isinstance(node.names, cst.ImportStar)
    for alias in node.names:
        name = f"{module}.{dotted(alias.name)}"
        missing = _missing(name)
        if missing is not None:
            ctx.report(RULES["TF2N110"], alias, name=name, missing=missing, hint=MISSING[missing])
        _report_slim_batch_norm(ctx, alias, name, name)
    new = _mapped(module)
    ctx.edit(node, lambda updated: _with_module(updated, new))


def _bound_name(alias: cst.ImportAlias) -> str:
    """The name an import alias binds (`x` of `import a.b as x`, `a.b` of `import a.b`)."""
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    return dotted(alias.name) or ""


def _without(ctx, node: cst.ImportFrom, updated: cst.CSTNode,
             movable: dict) -> cst.CSTNode | cst.RemovalSentinel:
    """`updated` without the names that move to imports of their own (added unless they went unused)."""
    assert not isinstance(node.names, cst.ImportStar)
    for alias in node.names:
        name = dotted(alias.name)
        if name in movable and not ctx.removed(alias):
            mapped, bound = movable[name]
            home, _, obj = mapped.rpartition(".")
            if home:
                ctx.add_import(home, obj, None if bound == obj else bound)
            else:
                ctx.add_import(mapped, None, None if bound == mapped else bound)
    if not isinstance(updated, cst.ImportFrom) or isinstance(updated.names, cst.ImportStar):
        return updated
    kept = [a for a in updated.names if dotted(a.name) not in movable]
    if not kept:
        return cst.RemoveFromParent()
    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return updated.with_changes(names=kept)


def _as_import(updated: cst.CSTNode, mapped: str, bound: str) -> cst.CSTNode:
    if not isinstance(updated, cst.ImportFrom):
        return updated  # removed: nothing used it any more
    return cst.Import(names=[cst.ImportAlias(cst.Name(mapped), asname=None if mapped == bound
                                             else cst.AsName(cst.Name(bound)))],
                      semicolon=updated.semicolon)


def _with_module(updated: cst.CSTNode, module: str) -> cst.CSTNode:
    if not isinstance(updated, cst.ImportFrom):
        return updated
    return updated.with_changes(module=_expression(module))


REWRITER = PlanRewriter(frozenset(PREFIXES), RULES, plan)
