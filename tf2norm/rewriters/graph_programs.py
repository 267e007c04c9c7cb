"""TF1 graph programs -> what they need to run on TF 2.x as they ran on TF 1.x: graph mode at the
entry (`tf.compat.v1.disable_eager_execution()`), TF1 ref variables where they are fed or fetched,
TF1 summaries, TF1 dimensions. Both targets; tf_upgrade_v2 leaves all four.

**Graph mode** (TF2 executes eagerly: `tf.compat.v1.placeholder` raises "not compatible with eager
execution", a `Saver` without `var_list` raises, a `Session` runs nothing of the default graph).
A module *builds a TF1 graph* when it calls `placeholder`, `placeholder_with_default`,
`sparse_placeholder`, `Session` / `InteractiveSession` (without `graph=`), `train.Saver`,
`train.MonitoredTrainingSession`, `train.Supervisor` or `train.import_meta_graph` outside every
`with ....as_default():` block (code inside one builds its own graph and runs in eager TF2 as it is).
Such a module that is certainly a program's entry (a top-level `if __name__ == "__main__":` or a
top-level `tf.compat.v1.app.run(...)`) gets `tf.compat.v1.disable_eager_execution()` right after its
imports: it runs when the program starts and when another module imports it (whose graph then needs
graph mode too). A `saver.restore(...)` / `saver.save(...)` outside every graph context, of a Saver
the module builds (even inside one), counts too: it runs eagerly in TF 2. A module that builds a
graph but is no entry (a library) is reported (TF2N701) where it certainly fails in eager mode: a graph built at
import, or such a Saver; only the program knows whether it runs eagerly. A library function that
builds a graph is not reported: it runs in whatever its caller set up (a `with graph.as_default():`
around the call, or graph mode at the program's entry, which tf2norm adds where it is certain).
Modules that already choose (`disable_eager_execution`, `disable_v2_behavior`, `enable_eager_execution`,
`enable_v2_behavior`) are left alone, which also makes a second run change nothing.

**Ref variables** (in modules of TF1 graph code: the builders above, `get_variable`, `variable_scope`,
`get_collection`, `GraphKeys`, `summary.merge_all` / `FileWriter`, ...). TF 1.15's `tf.Variable` was a ref
variable; TF 2's is a resource variable, and two things silently change: a fed variable ignores the
feed (`sess.run(y, {lr: 0.5})` reads the variable), and a variable fetched in the same `run` as its
update returns the value before the update (TF1: after). `tf.Variable(...)` (also
`tf.compat.v1.Variable`) becomes `tf.compat.v1.Variable(..., use_resource=False)`, TF1's own ref
variable, when the module feeds or fetches it (a dict key, or one of several fetches of a `run`,
named like its assignment target: `self.lr` and `model.lr` match), or creates it `trainable=False`
(the step counters, learning rates and loss weights programs feed and fetch; in another module,
often). Checked on TF 2.21: fed 0.5 gives 1.0 for `2 * v` (0.02 without), and `run([inc, v])` gives
1, 2, 3 (0, 1, 2 without). Calls that cannot be rewritten faithfully (more than two positional
arguments: TF2's third parameter is not TF1's; `**kwargs`; a TF2-only keyword) are reported (TF2N702).
Modules that call `enable_resource_variables` or `enable_eager_execution` are left alone.

**Summaries**: `tf.summary.merge_all`, `merge`, `FileWriter`, `FileWriterCache`, `Summary`,
`tensor_summary`, `get_summary_description` (TF1 only: AttributeError on TF2) become
`tf.compat.v1.summary.*` anywhere. `tf.summary.scalar`, `histogram`, `image`, `audio`, `text` exist
in TF2 with other semantics (they need TensorBoard and a default writer, and do not join
`merge_all`); in TF1 graph code that uses no TF2 summary API (`create_file_writer`, `record_if`, ...)
and called with TF1's arguments only, they become `tf.compat.v1.summary.*` (TF1's functions); other
such calls in TF1 graph code are reported (TF2N703); outside graph code they are TF2 code and left.

**Dimensions**: `x.shape[i].value`, `x.get_shape()[i].value`, `x.shape.dims[i].value` and `d.value`
for `d` looping over `x.shape[...]` (a TF1 `Dimension`; a plain int or None on TF2, which has no
`.value`) become `tf.compat.v1.dimension_value(...)`, which returns the same on both.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ExpressionContext

from tf2norm.rewriters._findings import Rule, rules
from tf2norm.rewriters._names import dotted
from tf2norm.rewriters._rewriter import Rewriter

#: Calls that build a TF1 graph and fail (or run nothing) in eager mode.
GRAPH_BUILDERS = frozenset(f"tensorflow.{n}" for n in (
    "placeholder", "placeholder_with_default", "sparse_placeholder", "Session", "InteractiveSession",
    "train.Saver", "train.MonitoredTrainingSession", "train.Supervisor", "train.import_meta_graph"))
#: Names only TF1 graph code uses.
GRAPH_CODE = GRAPH_BUILDERS | frozenset(f"tensorflow.{n}" for n in (
    "get_variable", "variable_scope", "get_collection", "add_to_collection", "GraphKeys", "get_default_graph",
    "global_variables_initializer", "local_variables_initializer", "trainable_variables", "global_variables",
    "summary.merge_all", "summary.FileWriter", "train.get_or_create_global_step"))
#: A module that calls one of these chose its execution mode itself.
MODE_SWITCHES = frozenset(f"tensorflow.{n}" for n in (
    "disable_eager_execution", "disable_v2_behavior", "enable_eager_execution", "enable_v2_behavior"))
#: A module that calls one of these chose its variables itself.
RESOURCE_CHOICES = frozenset({"tensorflow.enable_resource_variables", "tensorflow.enable_eager_execution",
                              "tensorflow.enable_v2_behavior"})

SUMMARY_V1_ONLY = frozenset({"merge_all", "merge", "FileWriter", "FileWriterCache", "Summary", "tensor_summary",
                             "get_summary_description"})
#: TF1's parameters of the summary functions TF2 kept under the same name.
SUMMARY_V1_PARAMS = {
    "scalar": ("name", "tensor", "collections", "family"),
    "histogram": ("name", "values", "collections", "family"),
    "image": ("name", "tensor", "max_outputs", "collections", "family"),
    "audio": ("name", "tensor", "sample_rate", "max_outputs", "collections", "family"),
    "text": ("name", "tensor", "collections"),
}
SUMMARY_V2_API = frozenset({"create_file_writer", "create_noop_writer", "record_if", "should_record_summaries",
                            "experimental", "write", "flush", "trace_on", "trace_off", "trace_export",
                            "SummaryWriter"})

#: TF1's `tf.Variable` (VariableV1) keywords TF2's `tf.Variable` shares; positional: the first two only.
VARIABLE_KEYWORDS = frozenset({"initial_value", "trainable", "validate_shape", "caching_device", "name",
                               "variable_def", "dtype", "import_scope", "constraint", "synchronization",
                               "aggregation", "shape", "collections", "expected_shape"})

LEGACY = GRAPH_BUILDERS | {f"tensorflow.summary.{n}" for n in SUMMARY_V1_ONLY - {"merge"}}
#: What makes a file worth reading (tf2norm.apis' `identifiers`): TF1 graph code's names, TF1-only
#: summaries, and `compat` (tf_upgrade_v2's `tf.compat.v1.`). Not `Variable`, `summary`, `shape`:
#: TF2 and Keras code is full of them, and they matter here only in TF1 graph code, which names one of these.
IDENTIFIERS = frozenset({name.rsplit(".", 1)[1] for name in GRAPH_CODE} | SUMMARY_V1_ONLY | {"compat"}) - {
    "trainable_variables", "global_variables", "get_default_graph", "merge"}  # Keras and TF2 code use them too

RULES = rules(
    Rule("TF2N701", "{name}: this module builds a TF1 graph, which TF 2 runs eagerly (\"not compatible with eager "
                    "execution\"), and it is no program entry tf2norm can be sure of; left unchanged",
                    "call tf.compat.v1.disable_eager_execution() once at the start of the program that uses it "
                    "(after this module's imports if it is the program), or build the graph inside "
                    "`with tf.Graph().as_default():`"),
    Rule("TF2N702", "{name}({reason}): fed or fetched in TF1 graph code, where TF 2's resource variable ignores "
                    "feeds and returns the value before an update fetched with it; left unchanged",
                    "tf.compat.v1.Variable(initial_value, trainable, ..., use_resource=False) (TF1's ref variable) "
                    "with keyword arguments"),
    Rule("TF2N703", "tf.summary.{name} in TF1 graph code: TF 2's function needs a default writer and never joins "
                    "merge_all(); left unchanged ({reason})",
                    "tf.compat.v1.summary.{name}(...) if the summary is merged or written with a "
                    "tf.compat.v1.summary.FileWriter"),
)


def _is_main_guard(statement: cst.CSTNode) -> bool:
    if not isinstance(statement, cst.If) or not isinstance(statement.test, cst.Comparison):
        return False
    test = statement.test
    if len(test.comparisons) != 1 or not isinstance(test.comparisons[0].operator, cst.Equal):
        return False
    sides = [test.left, test.comparisons[0].comparator]
    names = [s for s in sides if isinstance(s, cst.Name) and s.value == "__name__"]
    strings = [s for s in sides if isinstance(s, cst.SimpleString) and s.evaluated_value == "__main__"]
    return len(names) == 1 and len(strings) == 1


def _is_entry(ctx) -> bool:
    """A top-level `if __name__ == "__main__":` or `tf.compat.v1.app.run(...)`."""
    for statement in ctx.module.body:
        if _is_main_guard(statement):
            return True
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
                        and ctx.names.canonical(small.value.func) == "tensorflow.app.run":
                    return True
    return False


def _imports(statement: cst.CSTNode) -> bool:
    if isinstance(statement, cst.SimpleStatementLine):
        return any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)
    if isinstance(statement, cst.Try):
        return any(_imports(s) for s in statement.body.body)
    return False


def _last_import(ctx) -> cst.CSTNode | None:
    """The last top-level import (or try: of imports) before the module's first block of code."""
    last = None
    for statement in ctx.module.body:
        if isinstance(statement, cst.BaseCompoundStatement) and not isinstance(statement, cst.Try):
            break
        if _imports(statement):
            last = statement
    return last


def _in_own_graph(ctx, node: cst.CSTNode) -> bool:
    """Inside `with <graph>.as_default():` (or a Session given its graph): not the default graph."""
    call = ctx.names.parents.get(node)
    if isinstance(call, cst.Call) and call.func is node and any(
            a.keyword is not None and a.keyword.value == "graph" for a in call.args):
        return True
    for ancestor in ctx.names.ancestors(node):
        if isinstance(ancestor, cst.With) and any(
                isinstance(item.item, cst.Call) and isinstance(item.item.func, cst.Attribute)
                and item.item.func.attr.value == "as_default" for item in ancestor.items):
            return True
    return False


def _saver_runs(ctx, refs) -> list[cst.CSTNode]:
    """`self.saver.restore(...)` / `.save(...)` of a Saver this module builds, outside every graph
    context: it runs eagerly in TF 2 ("Can only save/restore ResourceVariables when executing eagerly")
    even when the Saver was built inside `with graph.as_default():`."""
    savers = set()
    for node, name in refs:
        call = ctx.names.parents.get(node)
        if name == "tensorflow.train.Saver" and isinstance(call, cst.Call) and call.func is node \
                and _in_own_graph(ctx, node):
            savers.add(_assigned_to(ctx, call))
    savers.discard(None)
    runs: list[cst.CSTNode] = []
    for node in ctx.names.of_kind(cst.Call):
        if isinstance(node.func, cst.Attribute) \
                and node.func.attr.value in ("restore", "save") \
                and _last_identifier(node.func.value) in savers and not _in_own_graph(ctx, node):
            runs.append(node.func)
    return runs


def _at_import(ctx, node: cst.CSTNode) -> bool:
    """Does `node` run when the module is imported (not inside a function)?"""
    return not any(isinstance(a, (cst.FunctionDef, cst.Lambda)) for a in ctx.names.ancestors(node))


def _graph_mode(ctx, refs) -> None:
    builders = [node for node, name in refs if name in GRAPH_BUILDERS and not _in_own_graph(ctx, node)]
    saver_runs = _saver_runs(ctx, refs)
    if not builders and not saver_runs:
        return
    anchor = _last_import(ctx) if _is_entry(ctx) else None
    if anchor is None:
        # A library. What it runs at import fails in eager mode whoever imports it; a saver it builds in a
        # graph of its own but saves or restores outside fails whoever calls it. A function that builds a
        # graph runs in whatever its caller set up (a graph context, or graph mode at the entry): no finding.
        certain = [node for node in builders if _at_import(ctx, node)] + saver_runs
        if certain:
            ctx.report(RULES["TF2N701"], certain[0], name=dotted(certain[0]) or "placeholder")
        return

    def add_the_call(updated):
        line = cst.SimpleStatementLine(
            body=[cst.Expr(cst.Call(func=ctx.tf_compat_v1("disable_eager_execution")))],
            leading_lines=[cst.EmptyLine()])
        return cst.FlattenSentinel([updated, line])

    ctx.edit(anchor, add_the_call)


def _last_identifier(node: cst.CSTNode) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return None


def _fed_and_fetched(ctx) -> set[str]:
    """Identifiers (last part of `self.lr`) used as dict keys (feeds) or as one of several fetches of `.run()`."""
    found: set[str] = set()
    for node in ctx.names.of_kind(cst.Dict, cst.Call):
        if isinstance(node, cst.Dict):
            found.update(filter(None, (_last_identifier(e.key) for e in node.elements
                                       if isinstance(e, cst.DictElement))))
        elif isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value == "run":
            fetches = [a.value for a in node.args if a.keyword is None][:1] + \
                      [a.value for a in node.args if a.keyword is not None and a.keyword.value == "fetches"]
            for value in fetches:
                if isinstance(value, (cst.List, cst.Tuple)) and len(value.elements) > 1:
                    found.update(filter(None, (_last_identifier(e.value) for e in value.elements)))
    return found


def _assigned_to(ctx, call: cst.Call) -> str | None:
    parent = ctx.names.parents.get(call)
    if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
        return _last_identifier(parent.targets[0].target)
    if isinstance(parent, cst.AnnAssign):
        return _last_identifier(parent.target)
    return None


def _is_false(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _variables(ctx, refs) -> None:
    calls = [ctx.names.parents[node] for node, name in refs if name == "tensorflow.Variable"
             and isinstance(ctx.names.parents.get(node), cst.Call) and ctx.names.parents[node].func is node]
    if not calls:
        return
    fed_or_fetched = _fed_and_fetched(ctx)
    for call in calls:
        keywords = {a.keyword.value: a.value for a in call.args if a.keyword is not None}
        if "use_resource" in keywords:
            continue
        positional = [a for a in call.args if a.keyword is None and not a.star]
        frozen = _is_false(keywords.get("trainable", cst.Name("True"))) or (
            len(positional) > 1 and _is_false(positional[1].value))
        target = _assigned_to(ctx, call)
        if not (frozen or (target is not None and target in fed_or_fetched)):
            continue
        problem = None
        if any(a.star for a in call.args):
            problem = "*args/**kwargs"
        elif len(positional) > 2:
            problem = f"{len(positional)} positional arguments"
        elif set(keywords) - VARIABLE_KEYWORDS:
            problem = ", ".join(f"{k}=" for k in sorted(set(keywords) - VARIABLE_KEYWORDS))
        if problem is not None:
            ctx.report(RULES["TF2N702"], call.func, name=dotted(call.func) or "tf.Variable", reason=problem)
            continue

        def ref_variable(updated: cst.Call) -> cst.Call:
            args = list(updated.args)
            if args and args[-1].comma == cst.MaybeSentinel.DEFAULT:
                args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
            flag = cst.Arg(keyword=cst.Name("use_resource"), value=cst.Name("False"),
                           equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                 whitespace_after=cst.SimpleWhitespace("")))
            return updated.with_changes(func=ctx.tf_compat_v1("Variable"), args=[*args, flag])

        ctx.edit(call, ref_variable)


def _summaries(ctx, refs, graph_code: bool) -> None:
    spelled = [(node, ctx.names.qualified(node) or "") for node, _ in refs]
    spelled = [(node, q) for node, q in spelled if q.startswith("tensorflow.summary.")]
    tf2_writers = any(q.split(".")[2] in SUMMARY_V2_API for _, q in spelled)
    for node, qualified in spelled:
        parts = qualified.split(".")
        name = parts[2]
        rest = ".".join(parts[2:])
        if name in SUMMARY_V1_ONLY:
            ctx.edit(node, lambda updated, rest=rest: ctx.tf_compat_v1(f"summary.{rest}"))
            continue
        call = ctx.names.parents.get(node)
        if name not in SUMMARY_V1_PARAMS or not graph_code or len(parts) != 3 \
                or not isinstance(call, cst.Call) or call.func is not node:
            continue
        params = SUMMARY_V1_PARAMS[name]
        keywords = [a.keyword.value for a in call.args if a.keyword is not None]
        positional = [a for a in call.args if a.keyword is None]
        reason = None
        if tf2_writers:
            reason = "the module also uses TF 2 summary writers"
        elif any(a.star for a in call.args):
            reason = "*args/**kwargs"
        elif len(positional) > len(params) or set(keywords) - set(params):
            reason = "arguments TF1's function did not take"
        if reason is not None:
            ctx.report(RULES["TF2N703"], node, name=name, reason=reason)
            continue
        ctx.edit(node, lambda updated, name=name: ctx.tf_compat_v1(f"summary.{name}"))


_SHAPE_ATTRIBUTES = frozenset({"shape", "dims"})


def _is_shape(ctx, node: cst.BaseExpression) -> bool:
    """`x.shape`, `x.get_shape()`, `x.shape.dims`, or a slice of one of them: a TensorShape (TF1)."""
    if isinstance(node, cst.Subscript):
        return all(isinstance(e.slice, cst.Slice) for e in node.slice) and _is_shape(ctx, node.value)
    if isinstance(node, cst.Attribute):
        return node.attr.value in _SHAPE_ATTRIBUTES
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value == "get_shape" and not node.args)


def _is_dimension(ctx, node: cst.BaseExpression) -> bool:
    """An element of a TensorShape: `x.shape[i]`, or a loop variable over a shape."""
    if isinstance(node, cst.Subscript):
        return (len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)
                and node.slice[0].slice.star is None and _is_shape(ctx, node.value))
    if isinstance(node, cst.Name):
        assignment = ctx.names.binding(node)
        bound = getattr(assignment, "node", None)
        loop = ctx.names.parents.get(bound) if bound is not None else None
        return isinstance(loop, cst.For) and loop.target is bound and _is_shape(ctx, loop.iter)
    return False


def _dimensions(ctx) -> None:
    for node, context in list(ctx.names.contexts.items()):
        if isinstance(node, cst.Attribute) and node.attr.value == "value" \
                and context is ExpressionContext.LOAD and _is_dimension(ctx, node.value):
            ctx.edit(node, lambda updated: cst.Call(func=ctx.tf_compat_v1("dimension_value"),
                                                   args=[cst.Arg(updated.value)]))


class GraphPrograms(Rewriter):
    legacy = frozenset(LEGACY)
    rules = RULES

    def plan(self, ctx) -> None:
        refs = [(node, name) for node, name in ctx.names.references(lambda n: n.startswith("tensorflow."))
                if node not in ctx.handled]
        names = {name for _, name in refs}
        graph_code = bool(names & GRAPH_CODE)
        _summaries(ctx, refs, graph_code)
        _dimensions(ctx)
        if graph_code and not names & RESOURCE_CHOICES:
            _variables(ctx, refs)
        if not names & MODE_SWITCHES:
            _graph_mode(ctx, refs)
        # Nothing here needs every name resolved: a `tf` bound twice (try/except imports) is no reason
        # for the shared "bind it once" finding (TF2N012) about these names.
        for node in list(ctx.names.contexts):
            if isinstance(node, (cst.Name, cst.Attribute)) and node not in ctx.handled \
                    and ctx.names.qualified(node) is None \
                    and {c.replace("tensorflow.compat.v1.", "tensorflow.") for c in ctx.names.candidates(node)} \
                    & LEGACY:
                ctx.handled.add(node)


REWRITER = GraphPrograms()
