"""Project modules that re-export TensorFlow: `from .backend import tf` where `backend.py` binds `tf`.

Real TF1 code often takes `tf` from its own shim module (`from ..backend import tf`, `from utils import
tf`), which binds it to `tensorflow` or `tensorflow.compat.v1` once for the whole project. Without
following that import, every legacy call of the project would be left alone without a finding.

`scan` reads the files of a run once (with Python's own parser, only those that name `tensorflow`)
and keeps, per file, the module-level names bound to a TensorFlow module or symbol. A binding under
`if`/`try` counts only when every branch binds the same TensorFlow module; otherwise the name is
`Ambiguous`, and a file that takes it and uses legacy names through it is reported (TF2N730).
`Project.translate` maps a qualified name as LibCST spells it in an importing file (`..backend.tf`,
`pkg.backend.tf.layers`) to the TensorFlow name behind it, looking files up in the scanned map only
(no file system access per name).
"""

from __future__ import annotations

import ast
import dataclasses
import os
import re
from collections.abc import Iterable, Mapping

from tf2norm.rewriters import _files
from tf2norm.rewriters._names import canonical
from tf2norm.rewriters._prefilter import attribute_chain, nodes


@dataclasses.dataclass(frozen=True)
class Ambiguous:
    """A name a project module binds to different things depending on a condition."""

    candidates: tuple[str, ...]


_OTHER = Ambiguous(("something that is not TensorFlow",))


def _is_tf(value) -> bool:
    return isinstance(value, str)


def _merge(branches: list[dict]) -> dict:
    """The bindings after a statement whose branches (each a dict) run one of them."""
    merged: dict = {}
    for name in set().union(*branches):
        values = [b.get(name, _OTHER) for b in branches]
        strings = {v for v in values if _is_tf(v)}
        if all(_is_tf(v) for v in values) and len({canonical(v) for v in strings}) == 1:
            # `tf = tf` under TF1, `tf = tf.compat.v1` under TF2: the same TF1 API either way; the
            # compat spelling is the one that runs on the TF2 this tool targets.
            merged[name] = "tensorflow.compat.v1" if "tensorflow.compat.v1" in strings else strings.pop()
        elif strings:
            found = sorted(strings | {c for v in values if isinstance(v, Ambiguous) for c in v.candidates})
            merged[name] = Ambiguous(tuple(found))
    return merged


def _value(node: ast.expr, env: dict):
    """What `node` (a dotted expression) names, given the bindings so far; None when not TensorFlow."""
    parts = attribute_chain(node)
    if parts is None:
        return None
    base = env.get(parts[0])
    if isinstance(base, Ambiguous):
        return base
    if base is None:
        return None
    return ".".join([base, *parts[1:]])


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bound_names(statement: ast.AST) -> set[str]:
    """Names a statement we do not interpret may bind (or unbind) at module level.

    A function's or class's own names stay in its scope, unless declared `global` there, and a
    comprehension's loop variables in the comprehension's: `def f(): tf = None` leaves the module's
    `tf` as it was (and walking only what runs at module level keeps the scan cheap).
    """
    names: set[str] = set()
    pending: list[ast.AST] = [statement]
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                names.add(node.name)
            names.update(n for inner in ast.walk(node) if isinstance(inner, ast.Global) for n in inner.names)
            # What runs where the def stands: decorators, defaults, bases (a walrus there binds here).
            pending.extend(node.decorator_list if not isinstance(node, ast.Lambda) else [])
            pending.extend(node.bases + [k.value for k in node.keywords] if isinstance(node, ast.ClassDef)
                           else node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
        elif isinstance(node, _COMPREHENSIONS):
            names.update(n.target.id for n in ast.walk(node)
                         if isinstance(n, ast.NamedExpr) and isinstance(n.target, ast.Name))
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        if not isinstance(node, _SCOPES + _COMPREHENSIONS):
            pending.extend(ast.iter_child_nodes(node))
    return names


def _run(body: Iterable[ast.stmt], env: dict) -> dict:
    env = dict(env)
    for statement in body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname:
                    env[alias.asname] = alias.name if alias.name.split(".")[0] == "tensorflow" else _OTHER
                else:
                    top = alias.name.split(".")[0]
                    env[top] = "tensorflow" if top == "tensorflow" else _OTHER
        elif isinstance(statement, ast.ImportFrom):
            module = statement.module or ""
            from_tf = statement.level == 0 and module.split(".")[0] == "tensorflow"
            for alias in statement.names:
                if alias.name != "*":
                    env[alias.asname or alias.name] = f"{module}.{alias.name}" if from_tf else _OTHER
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1 \
                and isinstance(statement.targets[0], ast.Name):
            value = _value(statement.value, env)
            env.update(dict.fromkeys(_bound_names(statement.value), _OTHER))  # a walrus in the value
            env[statement.targets[0].id] = _OTHER if value is None else value
        elif isinstance(statement, ast.If):
            env = _merge([_run(statement.body, env), _run(statement.orelse, env)])
        elif isinstance(statement, ast.Try):
            done = _run(statement.body, env)
            # `except E as name` binds name in its handler and deletes it at the handler's end.
            endings = [_run(statement.orelse, done)] + [
                {**_run(h.body, env), h.name: _OTHER} if h.name else _run(h.body, env) for h in statement.handlers]
            env = _run(statement.finalbody, _merge(endings))
        elif isinstance(statement, ast.With):
            env = _run(statement.body, {**env, **dict.fromkeys(
                set().union(*(_bound_names(item) for item in statement.items)), _OTHER)})
        else:
            for name in _bound_names(statement):
                if name in env:
                    env[name] = _merge([env, {}]).get(name) if isinstance(statement, (ast.For, ast.While)) \
                        else _OTHER
    return env


def exports(tree: ast.Module, relevant=lambda name: True) -> dict:
    """The module-level names `tree` binds to TensorFlow: {name: qualified name or Ambiguous}, those
    whose (canonical) name is `relevant` only."""
    found = {}
    for name, value in _run(tree.body, {}).items():
        if _is_tf(value) and relevant(canonical(value)):
            found[name] = value
        elif isinstance(value, Ambiguous) and any(relevant(canonical(c)) for c in value.candidates):
            found[name] = value
    return found


# A line that binds a TensorFlow module or a legacy symbol's module (`import tensorflow.compat.v1 as tf`,
# `from tensorflow.contrib import slim`, `from tensorflow import contrib`); TensorFlow's own sources
# (`from tensorflow.python.ops import x`) do not match, so a large tree parses few files here.
_BINDS_TENSORFLOW = re.compile(
    rb"^[ \t]*(?:import[ \t]+tensorflow\b|from[ \t]+tensorflow(?:\.(?:compat|contrib)[\w.]*)?[ \t]+import\b)",
    re.MULTILINE)


def scan(paths: Iterable[str], relevant=lambda name: True) -> dict[str, dict]:
    """{absolute path: exports} for the files among `paths` that re-export TensorFlow names
    (`relevant` ones: the module paths and symbols the rewriters act on)."""
    found: dict[str, dict] = {}
    for path in paths:
        if not path.endswith(".py"):
            continue
        try:
            data = _files.read(path).data  # regular files only, up to the size limit: never a FIFO
            if not _BINDS_TENSORFLOW.search(data):
                continue
            names = exports(ast.parse(data), relevant)
        except (_files.Unreadable, OSError, SyntaxError, ValueError, RecursionError):
            continue  # the run itself reports the file
        if names:
            found[os.path.abspath(path)] = names
    return found


class Project:
    """The re-exports of a run's files, as seen from one importing file."""

    def __init__(self, reexports: Mapping[str, Mapping], path: str):
        self._reexports = reexports
        directory = os.path.dirname(os.path.abspath(path))
        self._directory = directory
        self._bases = [directory]
        while os.path.dirname(self._bases[-1]) != self._bases[-1]:
            self._bases.append(os.path.dirname(self._bases[-1]))
        self._cache: dict[str, object] = {}
        self._imported_by: tuple[ast.Module | None, bool] = (None, False)  # the last tree asked about

    def __bool__(self) -> bool:
        return bool(self._reexports)

    def translate(self, qualified: str):
        """The TensorFlow name (or Ambiguous) behind `qualified` when it goes through a re-export, else None."""
        if qualified not in self._cache:
            self._cache[qualified] = self._translate(qualified)
        return self._cache[qualified]

    def _translate(self, qualified: str):
        parts = qualified.lstrip(".").split(".")
        for split in range(len(parts) - 1, 0, -1):
            exported = self._exports(qualified[:len(qualified) - len(".".join(parts[split:])) - 1])
            value = None if exported is None else exported.get(parts[split])
            if isinstance(value, Ambiguous):
                return value
            if value is not None:
                return ".".join([value, *parts[split + 1:]])
        return None

    def _exports(self, module: str) -> Mapping | None:
        """The re-exports of the project module `module` (`..backend`, `pkg.backend`), if it has any."""
        level = len(module) - len(module.lstrip("."))
        parts = module[level:].split(".") if module[level:] else []
        if level:
            base = self._directory
            for _ in range(level - 1):
                base = os.path.dirname(base)
            bases = [base]
        else:
            bases = self._bases
        for base in bases:
            for file in (os.path.join(base, *parts) + ".py", os.path.join(base, *parts, "__init__.py")):
                if file in self._reexports:
                    return self._reexports[file]
        return None

    def imported_by(self, tree: ast.Module) -> bool:
        """Can `tree` reach a re-exported TensorFlow name? (Such a file may reach legacy APIs under
        names the driver's word test does not know: `from .backend import slim`, `backend.tf.x`.)

        Most modules of a TF1 project bind `tf` themselves, so nearly every file imports some
        "re-exporting" module; what matters is whether it uses one of the re-exported names. A module
        imported whole (`from pkg import backend`) counts when its name is used other than as
        `backend.<a name it does not re-export>` (`backend.tf`, `b = backend`, `f(backend)`), whatever
        the name is bound to in a nested scope: the answer may say yes for nothing, never no for a use.
        """
        if self._imported_by[0] is not tree:
            self._imported_by = (tree, self._reaches_reexport(tree))
        return self._imported_by[1]

    def _reaches_reexport(self, tree: ast.Module) -> bool:
        # One pass over the tree: the imports decide, the names read are kept for after them.
        watched: dict[str, Mapping] = {}  # a name bound to a re-exporting module -> what it re-exports
        attributes: dict[int, str] = {}  # id(name) -> attr, for each `name.attr`
        names: list[ast.Name] = []
        for node in nodes(tree):
            if isinstance(node, ast.Name):
                names.append(node)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Name):
                    attributes[id(node.value)] = node.attr
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                exported = self._exports(module) or {}
                for alias in node.names:
                    if alias.name == "*" and exported or exported.get(alias.name):
                        return True
                    joined = f"{module}.{alias.name}" if node.module else module + alias.name
                    reexports = self._exports(joined)
                    if reexports is not None:
                        watched[alias.asname or alias.name] = reexports
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    reexports = self._exports(alias.name)
                    if reexports is None:
                        continue
                    if alias.asname is None and "." in alias.name:  # `import pkg.backend`: `pkg.backend.tf`
                        return True
                    watched[alias.asname or alias.name] = reexports
        for node in names:
            if node.id in watched:
                attribute = attributes.get(id(node))
                if attribute is None or attribute in watched[node.id]:
                    return True
        return False
