"""One file being migrated: rewriters plan edits on the original tree, then they are applied at once.

Planning happens on the original tree, where LibCST metadata (scopes, qualified names, positions)
is valid; an edit is a function from the updated node (its children already rewritten) to its
replacement. After planning, contrib imports and `slim = tf.contrib.slim` aliases whose every use was
rewritten are removed, and the replacements' imports are added with `AddImportsVisitor`.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, cast

import libcst as cst
from libcst import matchers
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.metadata import (
    CodeRange,
    ImportAssignment,
    MetadataWrapper,
    PositionProvider,
)

from tf2norm.rewriters import _findings, _import_visitors, _layout
from tf2norm.rewriters._names import Resolver, canonical, dotted
from tf2norm.rewriters._signature import is_literal

REPLACEMENTS = "tf2norm.replacements"
# What AddImportsVisitor puts its imports after (LibCST's `_add_imports._skip_first`, `_split_module`).
_FIRST_KEPT = matchers.Module(body=[matchers.SimpleStatementLine(body=[
    matchers.Assign(targets=[matchers.AssignTarget(target=matchers.Name("__strict__"))])]), matchers.ZeroOrMore()]) \
    | matchers.Module(body=[matchers.SimpleStatementLine(body=[matchers.Expr(value=matchers.SimpleString())]),
                            matchers.ZeroOrMore()])
#: False: edits are applied by visiting every statement, and AddImportsVisitor sees every top-level
#: simple statement and the first compound one, as before statements nothing changes were skipped
#: (tests/rewriters/test_apply.py compares the two).
FAST_APPLY = True
_IMPORT_LINE = matchers.SimpleStatementLine(body=[matchers.ImportFrom() | matchers.Import()])
# Modules that no longer import on TF 2.16+: an import of them nothing uses any more is removed.
_GONE_MODULES = ("tensorflow.contrib", "tensorflow_addons")


def _root(name: cst.BaseExpression) -> str:
    """The first module of an imported dotted name (`tensorflow` of `tensorflow.contrib`)."""
    return (dotted(name) or "").split(".")[0]


_import_visitors.install()


def lines_before(module: cst.Module, tree: ast.Module) -> dict[cst.CSTNode, int] | None:
    """For each top-level statement of `module`, how many lines of the file come before its code
    (its leading blank and comment lines included), read from Python's own tree of the same text;
    None when the two trees do not line up statement for statement.

    A statement's first line of code is the first line Python's tree gives it (its first decorator's
    for a decorated class or function); LibCST gives it the blank and comment lines right above (and
    those above its first decorator): so many lines come before them.
    """
    found: dict[cst.CSTNode, int] = {}
    position = 0
    for statement in module.body:
        if position >= len(tree.body):
            return None
        first = tree.body[position]
        above = len(statement.leading_lines)
        line = first.lineno
        if isinstance(statement, cst.SimpleStatementLine):
            position += len(statement.body)  # `a = 1; b = 2`: one line of LibCST's, two statements of Python's
        else:
            position += 1
            decorators = getattr(statement, "decorators", ())
            if decorators:
                decorator_list: list[ast.expr] = getattr(first, "decorator_list", [])
                if len(decorator_list) != len(decorators):
                    return None
                line = decorator_list[0].lineno
                above += len(decorators[0].leading_lines)
        found[statement] = line - 1 - above
    return found if position == len(tree.body) else None


@dataclasses.dataclass(frozen=True)
class MigratedCell:
    """A TF1 cell a rewriter replaced: its constructor's parameters (the replacement's), and the
    replacement that runs a whole sequence of it (`LayerNormBasicLSTM`), if there is one."""

    signature: tuple[str, ...]
    sequence_layer: str | None = None


class FileContext:
    """What the rewriters of one file share: the tree, name resolution, edits, findings."""

    def __init__(self, module: cst.Module, path: str, target: str, legacy: frozenset[str],
                 modules: frozenset[str], line_length: int | None = None, project=None,
                 source: str | None = None, python_tree: ast.Module | None = None):
        self.wrapper = MetadataWrapper(module, unsafe_skip_copy=True)  # the driver parsed it for us
        self.module = self.wrapper.module
        #: `module.code`: the text the driver parsed (LibCST gives it back exactly), or None to
        #: generate it. Generating a large file's code costs about as much as one rewriter's plan.
        self.source = source
        #: Python's own tree of `source` (where the lines of top-level statements are read), or None.
        self.python_tree = python_tree
        self._output: tuple[cst.Module, str] | None = None
        self._parsed: tuple[cst.Module, ast.Module] | None = None
        self.path = path
        self.target = target
        self.line_length = line_length  # None: the file's (see _layout.line_length)
        self.names = Resolver(self.wrapper, modules, project)
        #: The module paths an alias assignment may name (`_names.module_paths` of every legacy name).
        self.module_paths = modules
        self._positions: dict[cst.CSTNode, Mapping[cst.CSTNode, CodeRange]] = {}
        self._line_offsets: dict[cst.CSTNode, int] | None = None
        self.legacy = legacy
        self.rewriter: str | None = None
        self.findings: list[_findings.Finding] = []
        self.edits: dict[cst.CSTNode, list] = defaultdict(list)
        self.consumed: set[cst.CSTNode] = set()
        self.handled: set[cst.CSTNode] = set()
        self.rescued: dict[cst.CSTNode, list[str]] = defaultdict(list)
        #: The TF1 cells this file's rewriters migrated, by the callee of their construction: what TF1
        #: wrappers and dynamic_rnn around them may become (rnn_cell_wrappers).
        self.cells: dict[cst.CSTNode, MigratedCell] = {}
        self._imports: set[str] = set()
        self._free: set[str] = set()  # set by _plan_removals
        self._bound: set[str] = set()
        self._modules: dict[str, bool] = {}
        self._removed_aliases: set[cst.ImportAlias] = set()
        self._removed_assigns: set[cst.Assign] = set()
        self._reuses_scopes: bool | None = None
        #: While edits are applied: the nodes an edit, a removal or rescued comments change, and their
        #: ancestors (statements outside it are kept as they are); None: every statement is visited.
        self._touched: set[cst.CSTNode] | None = None

    # -- planning --------------------------------------------------------------------------------

    def report(self, rule: _findings.Rule, node: cst.CSTNode, **fields) -> None:
        """A finding of `rule` on `node` (its message and hint filled with `fields`); `node` counts as handled."""
        (line, column), (end_line, _) = self.position(node)
        self.findings.append(rule.finding(self.path, line, column + 1, self.rewriter, end_line, **fields))
        self.handled.add(node)

    def report_ambiguous(self, owners: dict[str, str]) -> None:
        """TF2N012 for expressions that may name a legacy symbol but could not be resolved.

        `owners` maps the legacy names of the rewriters that ran to their ids.
        """
        for node in self.names.outermost_loads():
            if node in self.handled or self.names.qualified(node) is not None:
                continue
            legacy = sorted(c for c in map(canonical, self.names.candidates(node)) if c in owners)
            through = self._conditional_reexport(node, owners)
            if through is not None:
                self.rewriter, statement, name, candidates = through
                if statement not in self.handled:
                    self.report(_findings.RULES["TF2N730"], statement, name=name, candidates=candidates)
            elif legacy:
                self.rewriter = owners[legacy[0]]
                self.report(_findings.RULES["TF2N012"], node, name=dotted(node), legacy=legacy[0])
        for star in self.names.of_kind(cst.ImportFrom):
            if isinstance(star.names, cst.ImportStar) and star.module and not star.relative:
                module = canonical(dotted(star.module))
                owner = next((owners[n] for n in sorted(owners) if n.rsplit(".", 1)[0] == module), None)
                if owner is not None:
                    self.rewriter = owner
                    self.report(_findings.RULES["TF2N013"], star, module=dotted(star.module))

    def _conditional_reexport(self, node: cst.CSTNode, owners: dict[str, str]):
        """(owner, import statement, name, candidates) when `node` reaches a legacy name through a
        name a project module binds conditionally (`_project.Ambiguous`), else None."""
        root: cst.CSTNode = node
        rest: list[str] = []
        through: Any = None  # _project.Ambiguous
        name: str | None = None
        behind: list[str] = []
        while True:  # `tf` in `tf.layers.dense`, `B.tf` in `B.tf.layers.dense`
            if through is None and root in self.names.ambiguous:
                through, name, behind = self.names.ambiguous[root], dotted(cast(cst.BaseExpression, root)), list(rest)
            if not isinstance(root, cst.Attribute):
                break
            rest.insert(0, root.attr.value)
            root = root.value
        if through is None:
            return None
        legacy = sorted(n for n in (canonical(".".join([c, *behind])) for c in through.candidates) if n in owners)
        assignment = self.names.binding(root) if isinstance(root, cst.Name) else None
        statement = getattr(assignment, "node", None)
        if not legacy or not isinstance(statement, (cst.Import, cst.ImportFrom)):
            return None
        return owners[legacy[0]], statement, name, " or ".join(through.candidates)

    def reuses_variable_scopes(self) -> bool:
        """Does the file share variables through variable scopes (`variable_scope(reuse=...)`,
        `reuse_variables()`)? Then two layer objects may be one set of TF1 variables."""
        if self._reuses_scopes is None:
            self._reuses_scopes = False
            for node in self.names.of_kind(cst.Call):
                if isinstance(node.func, cst.Attribute) and node.func.attr.value == "reuse_variables":
                    self._reuses_scopes = True
                elif self.names.canonical(node.func) == "tensorflow.variable_scope":
                    self._reuses_scopes = any(arg.keyword is not None and arg.keyword.value == "reuse"
                                              and not is_literal(arg.value, None, False) for arg in node.args)
                if self._reuses_scopes:
                    break
        return self._reuses_scopes

    def position(self, node: cst.CSTNode) -> tuple[tuple[int, int], tuple[int, int]]:
        """((line, column), (end line, end column)) of `node`, lines 1-based, columns 0-based.

        PositionProvider over a whole large file costs seconds, and only reported nodes need a
        position: it runs on the top-level statement holding the node, offset by the lines before.
        """
        top = node
        for ancestor in self.names.ancestors(node):
            if isinstance(ancestor, cst.Module):
                break
            top = ancestor
        if self._line_offsets is None:
            self._line_offsets = lines_before(self.module, self.python_tree) if self.python_tree else None
        if self._line_offsets is None:  # generating each statement's code tells too (costs ~10x more)
            offset, self._line_offsets = len(self.module.header), {}
            for statement in self.module.body:
                self._line_offsets[statement] = offset
                offset += self.module.code_for_node(statement).count(self.module.default_newline)
        if top not in self._positions:
            statement = cast(cst.SimpleStatementLine | cst.BaseCompoundStatement, top)  # a module's statement
            alone = cst.Module(body=[statement], default_indent=self.module.default_indent,
                               default_newline=self.module.default_newline)
            self._positions[top] = MetadataWrapper(alone, unsafe_skip_copy=True).resolve(PositionProvider)
        where, offset = self._positions[top][node], self._line_offsets[top]
        return (where.start.line + offset, where.start.column), (where.end.line + offset, where.end.column)

    def edit(self, node: cst.CSTNode, change, consumes: cst.CSTNode | None = None) -> None:
        """Replace `node` by `change(updated_node)`; `consumes` is the original expression that
        disappears (its names stop counting as uses of their imports)."""
        self.edits[node].append(change)
        self.handled.add(node)
        if self._touched is not None:  # an edit planned while edits are applied
            self._touch(node)
        if consumes is not None:
            self.consumed.add(consumes)

    def rescue_comments(self, node: cst.CSTNode, within: cst.CSTNode) -> None:
        """Keep the comments of `within`, which an edit drops, on a line above `node`'s statement."""
        if not isinstance(within, cst.CSTNode):
            return
        comments = []

        class _Collect(cst.CSTVisitor):
            def visit_Comment(self, comment: cst.Comment) -> None:
                comments.append(comment.value)

        within.visit(_Collect())
        if comments:
            statement = self.statement_of(node)
            self.rescued[statement].extend(comments)
            if self._touched is not None:
                self._touch(statement)

    def statement_of(self, node: cst.CSTNode) -> cst.CSTNode:
        for ancestor in self.names.ancestors(node):
            if isinstance(ancestor, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
                return ancestor
        raise LookupError("expression outside any statement")

    def replacement(self, name: str) -> cst.BaseExpression:
        """`name` from tf2norm.replacements, imported; qualified when the file binds `name` already.

        Called while edits are applied, when the imports that will be removed are known.
        """
        if name in self._free or name not in self._bound:
            AddImportsVisitor.add_needed_import(self._codemod, REPLACEMENTS, name)
            return cst.Name(name)
        AddImportsVisitor.add_needed_import(self._codemod, REPLACEMENTS)
        return cst.parse_expression(f"{REPLACEMENTS}.{name}")

    def module_name(self, module: str) -> cst.Name | None:
        """`module` (a top-level module such as `keras`) for an edit, its `import module` added;
        None when the file binds that name to anything else. Called while planning."""
        if module not in self._modules:
            self._modules[module] = self.module_name_free(module)
        return cst.Name(module) if self._modules[module] else None

    def module_name_free(self, module: str) -> bool:
        """Does the file leave the name `module` free for `import module` (bound by nothing else)?"""
        for scope in {s for s in self.names.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                node = getattr(assignment, "node", None)
                if assignment.name == module and not (
                        isinstance(assignment, ImportAssignment) and isinstance(node, cst.Import)
                        and all(_root(a.name) != module or a.asname is None for a in node.names)):
                    return False
        return True

    def add_import(self, module: str, obj: str | None = None, asname: str | None = None) -> None:
        """`import module [as asname]` / `from module import obj`, added to the file; called while
        edits are applied (an edit that turns out to be needed, see `removed`)."""
        AddImportsVisitor.add_needed_import(self._codemod, module, obj, asname)

    def removed(self, node: cst.CSTNode) -> bool:
        """Is `node` inside a legacy import or alias assignment that goes (known while edits are applied)?"""
        return node in self._removed_aliases or node in self._removed_assigns or any(
            a in self._removed_aliases or a in self._removed_assigns for a in self.names.ancestors(node))

    def tf_compat_v1(self, path: str) -> cst.BaseExpression:
        """`tf.compat.v1.<path>` spelled with the file's own TensorFlow import (added if it has none)."""
        global_scope = self.names.scopes.get(self.module)
        for assignment in sorted(global_scope.assignments if global_scope else (), key=lambda a: a.name):
            assert global_scope is not None  # the loop runs over its assignments
            if not isinstance(assignment, ImportAssignment) or len(global_scope[assignment.name]) != 1:
                continue
            node = cast(cst.Import | cst.ImportFrom, assignment.node)
            for alias in [] if isinstance(node.names, cst.ImportStar) else node.names:
                name = dotted(alias.name)
                target = f"{dotted(node.module)}.{name}" if isinstance(node, cst.ImportFrom) and node.module else name
                bound = cast(cst.Name, alias.asname.name).value if alias.asname else name
                if bound != assignment.name or isinstance(node, cst.ImportFrom) and node.relative:
                    continue
                if target == "tensorflow":
                    return cst.parse_expression(f"{bound}.compat.v1.{path}")
                if target == "tensorflow.compat.v1":
                    return cst.parse_expression(f"{bound}.{path}")
        AddImportsVisitor.add_needed_import(self._codemod, "tensorflow")
        return cst.parse_expression(f"tensorflow.compat.v1.{path}")

    # -- applying --------------------------------------------------------------------------------

    def apply(self) -> cst.Module:
        if not self.edits:
            return self.module
        self._plan_removals()
        self._codemod = CodemodContext()
        for name in sorted(m for m, usable in self._modules.items() if usable):
            AddImportsVisitor.add_needed_import(self._codemod, name)
        style = _layout.style(self.path, self.code(self.module), self.module.default_indent, self.line_length)
        self._touched = set() if FAST_APPLY else None
        for node in [*self.edits, *self._removed_aliases, *self._removed_assigns, *self.rescued]:
            self._touch(node)
        apply = _Apply(self, _layout.Layout(style, set()))
        try:
            module = cast(cst.Module, self.module.visit(apply))
        finally:
            self._touched = None
        if apply.layout.statements:
            # Laid out once every edit is in place, at the statements' final indentation.
            module = module.visit(_LayOut(apply.layout, module.default_indent))
        return self._with_imports(module, apply.layout)

    def code(self, migrated: cst.Module) -> str:
        """The text of `migrated` (what `apply` returned), generated once for the review and the driver."""
        if migrated is self.module and self.source is not None:
            return self.source
        if self._output is None or self._output[0] is not migrated:
            self._output = (migrated, migrated.code)
        return self._output[1]

    def parsed(self, migrated: cst.Module) -> ast.Module:
        """Python's own tree of `code(migrated)`, parsed once for the review and the driver's output
        check; raises what `ast.parse` raises."""
        if self._parsed is None or self._parsed[0] is not migrated:
            self._parsed = (migrated, ast.parse(self.code(migrated)))
        return self._parsed[1]

    def _with_imports(self, module: cst.Module, layout: _layout.Layout) -> cst.Module:
        """`module` with the imports the edits need, the replacements' import wrapped to fit.

        AddImportsVisitor (slow per node) reads only the import lines at the top of the file (after a
        docstring or `__strict__` line) and the blank lines above the next statement, where it adds
        one: it sees those, and a stand-in for that statement with its leading lines.
        """
        body = list(module.body)
        if not FAST_APPLY:
            end = 0
            while end < len(body) and isinstance(body[end], cst.SimpleStatementLine):
                end += 1
            top = module.with_changes(body=body[:end + 1]).visit(AddImportsVisitor(self._codemod))
            return top.with_changes(body=[*(self._wrapped_import(s, layout) for s in top.body), *body[end + 1:]])
        head = 1 if matchers.matches(module, _FIRST_KEPT) else 0
        while head < len(body) and matchers.matches(body[head], _IMPORT_LINE):
            head += 1
        shown: list = body[:head]
        if head < len(body):
            shown.append(cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=body[head].leading_lines))
        top = module.with_changes(body=shown).visit(AddImportsVisitor(self._codemod))
        added = list(top.body)
        if head < len(body):
            stand_in = added.pop()
            added.append(body[head].with_changes(leading_lines=stand_in.leading_lines))
        # The replacements' import is wrapped among the top-level simple statements and the first
        # compound one (where AddImportsVisitor looked before the stand-in).
        end = 0
        while end < len(body) and isinstance(body[end], cst.SimpleStatementLine):
            end += 1
        laid = [self._wrapped_import(s, layout) for s in [*added, *body[head + 1:end + 1]]]
        return top.with_changes(body=[*laid, *body[end + 1:]])

    def _touch(self, node: cst.CSTNode) -> None:
        """`node` and its ancestors change: `_Apply` visits the statements holding it."""
        if self._touched is None:
            return
        if node is not self.module and node not in self.names.parents:  # not the file's: visit everything
            self._touched = None
            return
        for changed in (node, *self.names.ancestors(node)):
            if changed in self._touched:
                break
            self._touched.add(changed)

    def untouched(self, statement: cst.CSTNode) -> bool:
        """Does nothing inside `statement` change while edits are applied (so far)?"""
        return self._touched is not None and statement not in self._touched

    @staticmethod
    def _wrapped_import(statement: cst.CSTNode, layout: _layout.Layout) -> cst.CSTNode:
        """The replacements' import, wrapped when the names added made it too long."""
        if not (isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1
                and isinstance(statement.body[0], cst.ImportFrom) and statement.body[0].module is not None
                and dotted(statement.body[0].module) == REPLACEMENTS):
            return statement
        return statement.with_changes(body=[layout.import_from(statement.body[0])])

    def _is_consumed(self, node: cst.CSTNode) -> bool:
        if node in self.consumed:
            return True
        # An alias assignment that goes (`sl = slim` once `sl.x` was rewritten) consumes its value.
        return any(a in self.consumed or a in self._removed_assigns for a in self.names.ancestors(node))

    def _plan_removals(self) -> None:
        bound: dict[str, list] = defaultdict(list)
        for scope in {s for s in self.names.scopes.values() if s is not None}:
            for assignment in scope.assignments:
                bound[assignment.name].append(assignment)
        while True:  # again while removing aliases frees what they were assigned from
            removed = (set(self._removed_aliases), set(self._removed_assigns))
            self._removal_verdicts(bound)
            if removed == (self._removed_aliases, self._removed_assigns):
                break
        free = set()
        for name in {n.split(".")[0] for n in bound}:
            kept = [a for a in bound.get(name, ()) if not self._removed(a)]
            if all(self._imports_replacement(a, name) for a in kept):
                free.add(name)
        # A replacement name is free to import if the file binds it only by importing it from
        # tf2norm.replacements, or not at all.
        self._free = free
        self._bound = set(bound)

    def _removal_verdicts(self, bound: dict) -> None:
        """Marks the legacy imports and aliases whose every use was rewritten (or removed)."""
        verdicts: dict[cst.CSTNode, bool | None] = {}
        for name, assignments in bound.items():
            for assignment in assignments:
                target = self._legacy_binding(assignment)
                if target is None:
                    continue
                references = [r.node for r in assignment.references]
                if (isinstance(target, cst.ImportAlias) and target.asname is None and "." not in name
                        and "." in (dotted(target.name) or "")
                        and any(isinstance(a, ImportAssignment) and a.node is not assignment.node
                                for a in assignments)):
                    # The root `tensorflow` that `import tensorflow.contrib.layers` also binds:
                    # another import binds it too, so its other uses do not keep this one.
                    references = []
                if not references:
                    verdicts.setdefault(target, None)  # unused before: not ours to remove (re-exports)
                    continue
                removable = all(self._is_consumed(r) for r in references)
                verdicts[target] = verdicts.get(target) is not False and removable
        for target, verdict in verdicts.items():
            if not verdict:
                continue
            if isinstance(target, cst.ImportAlias):
                self._removed_aliases.add(target)
            elif isinstance(target, cst.Assign):
                self._removed_assigns.add(target)

    def _removed(self, assignment) -> bool:
        if isinstance(assignment, ImportAssignment):
            node = cast(cst.Import | cst.ImportFrom, assignment.node)
            return not isinstance(node.names, cst.ImportStar) and any(a in self._removed_aliases for a in node.names)
        statement = self.names.assign_of(assignment)
        return statement is not None and statement in self._removed_assigns

    @staticmethod
    def _imports_replacement(assignment, name: str) -> bool:
        node = assignment.node
        return (isinstance(assignment, ImportAssignment) and isinstance(node, cst.ImportFrom)
                and node.module is not None and dotted(node.module) == REPLACEMENTS
                and not node.relative)

    def _legacy_binding(self, assignment):
        """The ImportAlias or Assign that binds a TF1 contrib module or legacy symbol, else None."""
        if isinstance(assignment, ImportAssignment):
            node = assignment.node
            if isinstance(node, cst.ImportFrom) and (node.relative or node.module is None):
                return None
            if isinstance(node.names, cst.ImportStar):
                return None
            for alias in node.names:
                name = dotted(alias.name)
                bound = alias.asname.name.value if alias.asname else name
                if isinstance(node, cst.ImportFrom):
                    target = f"{dotted(node.module)}.{name}"
                else:
                    target = name
                if bound == assignment.name or (alias.asname is None and name.startswith(assignment.name + ".")):
                    return alias if self._is_legacy(target) else None
            return None
        statement = self.names.assign_of(assignment)
        if statement is not None and self._is_legacy(self.names.qualified(statement.value)):
            parent = self.names.parents.get(statement)
            if isinstance(parent, cst.SimpleStatementLine):
                return statement
        return None

    def _is_legacy(self, qualified: str | None) -> bool:
        name = canonical(qualified)
        return name is not None and (any(name == m or name.startswith(m + ".") for m in _GONE_MODULES)
                                     or name in self.legacy)


class _Apply(cst.CSTTransformer):
    """Applies the planned edits, removes dead legacy imports and aliases, keeps comments."""

    def __init__(self, ctx: FileContext, layout: _layout.Layout):
        super().__init__()
        self.ctx = ctx
        self.layout = layout
        self._dropped: set[int] = set()
        self._kept: list[cst.CSTNode] = []  # keeps the ids the layout holds from being reused
        self._emitted = False  # an edit was applied inside the statement being left

    def on_visit(self, node):
        # A statement nothing in changes is kept as it is: visiting it would rebuild every node.
        # Not while an emitted edit waits for the next simple statement to be laid out with it.
        if not self._emitted and isinstance(node, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) \
                and self.ctx.untouched(node):
            return False
        return super().on_visit(node)

    def on_leave(self, original, updated):
        updated = super().on_leave(original, updated)
        changes = self.ctx.edits.get(original, ())
        if not changes:  # a node of the file (maybe with edited children), not one a rewriter built
            self.layout.user.add(id(updated))
            self._kept.append(updated)
        for change in changes:
            updated = change(updated)
            self._emitted = True
        if isinstance(updated, cst.FlattenSentinel):
            self._emitted = False  # whole statements added after this one, written as they are laid out
        if self._emitted and isinstance(updated, cst.SimpleStatementLine):
            # By its small statements: an edit may yet rebuild the line itself (comments moved onto it).
            self.layout.statements.update(id(small) for small in updated.body)
            self._kept.append(updated)
            self._emitted = False
        comments = self.ctx.rescued.get(original)
        if comments and isinstance(updated, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
            lines = [cst.EmptyLine(comment=cst.Comment(c)) for c in comments]
            updated = updated.with_changes(leading_lines=[*updated.leading_lines, *lines])
        return updated

    def leave_Import(self, original, updated):
        return self._filter_aliases(original, updated)

    def leave_ImportFrom(self, original, updated):
        return self._filter_aliases(original, updated)

    def _filter_aliases(self, original, updated):
        if isinstance(original.names, cst.ImportStar):
            return updated
        kept = [new for old, new in zip(original.names, updated.names) if old not in self.ctx._removed_aliases]
        if len(kept) == len(updated.names):
            return updated
        if not kept:
            return cst.RemoveFromParent()
        kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(names=kept)

    def leave_Assign(self, original, updated):
        return cst.RemoveFromParent() if original in self.ctx._removed_assigns else updated

    def leave_SimpleStatementLine(self, original, updated):
        if updated.body:
            return updated
        # Every statement on the line went: a placeholder that the enclosing block drops.
        line = updated.with_changes(body=[cst.Pass()])
        self._dropped.add(id(line))
        return line

    def leave_IndentedBlock(self, original, updated):
        return updated.with_changes(body=self._drop(updated.body, keep_one=True))

    def leave_Module(self, original, updated):
        return updated.with_changes(body=self._drop(updated.body, keep_one=False))

    def _drop(self, body, keep_one: bool):
        if not any(id(s) in self._dropped for s in body):
            return body
        kept: list = []
        carried: list[cst.EmptyLine] = []
        for statement in body:
            if id(statement) in self._dropped:
                # Comments above a removed import stay, above the next statement.
                carried.extend(line for line in statement.leading_lines if line.comment is not None)
                continue
            if carried:
                statement = statement.with_changes(leading_lines=[*carried, *statement.leading_lines])
                carried = []
            kept.append(statement)
        if not kept and keep_one:
            kept = [cst.SimpleStatementLine(body=[cst.Pass()], leading_lines=carried)]
        return kept


class _LayOut(cst.CSTTransformer):
    """Lays out the statements holding emitted code (`Layout.statements`), at their final indentation.

    Only statements and blocks are visited: expressions are the layout's business.
    """

    _BLOCKS = (cst.Module, cst.IndentedBlock, cst.BaseCompoundStatement, cst.Else, cst.ExceptHandler,
               cst.ExceptStarHandler, cst.Finally, cst.MatchCase)

    def __init__(self, layout: _layout.Layout, default_indent: str):
        super().__init__()
        self.layout = layout
        self.default_indent = default_indent
        self.indents: list[str] = []

    def on_visit(self, node):
        if isinstance(node, cst.IndentedBlock):
            self.indents.append(node.indent if node.indent is not None else self.default_indent)
        return isinstance(node, self._BLOCKS)

    def on_leave(self, original, updated):
        if isinstance(original, cst.IndentedBlock):
            self.indents.pop()
        if isinstance(original, cst.SimpleStatementLine) \
                and any(id(small) in self.layout.statements for small in original.body):
            return self.layout.statement(original, self.indents)
        return updated
