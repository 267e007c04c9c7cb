"""_visits.without_rebuilding: a visitor makes exactly the calls LibCST's own visit makes, in order,
and nothing outside the window (or of another class) changes. What the scope and expression-context
providers compute with it is compared with LibCST's own on every fixture in
tests/reliability/test_migrate_reliability.py (test_scopes_and_contexts_without_the_wrappers_...)."""

import glob
import os

import libcst as cst
import pytest

from tf2norm.rewriters import _visits

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_TRICKY = '''\
@decorator(arg)
class A(Base, metaclass=Meta):
    x: "int" = 1
    def f(self, a, /, b=2, *args, c, d: int = 3, **kwargs) -> None:
        global g
        with open(a) as (h, i), lock:
            pass
        for j, *k in zip(args, args):
            yield from (m for m in k if m)
        return lambda q=1: q + b
f"{x!r:>{width}} {y=}"
del a[1:2, ...], b.c
try:
    pass
except (E, F) as e:
    raise G from e
else:
    z = [w async for w in v] if (n := 1) else {**d, 'k': 1}
match p:
    case Point(x=0, y=[1, *rest]) | {"k": _} if rest:
        pass
'''


class _Recorder(cst.CSTVisitor):
    """Records every call LibCST makes of a visitor, and prunes one kind of subtree."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_visit(self, node):
        self.calls.append(("visit", node))
        return super().on_visit(node)

    def on_leave(self, node):
        self.calls.append(("leave", node))
        super().on_leave(node)

    def on_visit_attribute(self, node, attribute):
        self.calls.append(("enter", node, attribute))

    def on_leave_attribute(self, node, attribute):
        self.calls.append(("exit", node, attribute))

    def visit_Lambda(self, node):
        return False  # its children are not visited


class _ByName(cst.CSTVisitor):
    """Dispatches by method name, as LibCST's own providers do (hooks on nodes and on fields)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def visit_Name(self, node):
        self.calls.append(("Name", node.value))

    def leave_Call(self, node):
        self.calls.append(("Call", len(node.args)))

    def visit_FunctionDef_params(self, node):
        self.calls.append(("params", node.name.value))

    def leave_ClassDef_bases(self, node):
        self.calls.append(("bases", node.name.value))

    def visit_If(self, node):
        self.calls.append(("If",))
        node.test.visit(self)  # a visitor that walks a part itself, as ScopeVisitor does
        return False


def _sources():
    paths = sorted(glob.glob(os.path.join(ROOT, "fixtures", "legacy", "**", "*.py"), recursive=True))
    return [_TRICKY, *(open(path, encoding="utf-8").read() for path in paths)]


@pytest.mark.parametrize("kind", [_Recorder, _ByName])
def test_a_visitor_gets_libcsts_calls_in_libcsts_order(kind):
    compared = 0
    for source in _sources():
        try:
            module = cst.parse_module(source)
        except cst.ParserSyntaxError:  # the fixtures of files that do not parse
            assert source is not _TRICKY
            continue
        theirs = kind()
        module.visit(theirs)
        ours = kind()
        with _visits.without_rebuilding(kind):
            assert module.visit(ours) is module
        assert ours.calls == theirs.calls
        compared += 1
    assert compared >= 10
    assert (kind, cst.Name) in _visits._PLANS and _visits._PLANS[kind, cst.Name] is not None  # it was our walk


def test_outside_the_window_and_for_other_classes_libcst_visits():
    original = cst.CSTNode.visit
    module = cst.parse_module("x = 1\n")

    class Renamer(cst.CSTTransformer):
        def leave_Name(self, original_node, updated_node):
            return updated_node.with_changes(value="y")

    with _visits.without_rebuilding(_ByName):
        with _visits.without_rebuilding(_Recorder):  # nested: the outer one stays in force
            assert cst.CSTNode.visit is not original
        assert cst.CSTNode.visit is not original and _ByName in _visits._FAST and _Recorder not in _visits._FAST
        assert module.visit(Renamer()).code == "y = 1\n"  # a transformer still rebuilds
    assert cst.CSTNode.visit is original and not _visits._FAST


def test_the_window_closes_when_a_visit_raises():
    class Failing(cst.CSTVisitor):
        def visit_Name(self, node):
            raise RuntimeError("in a visitor")

    with pytest.raises(RuntimeError), _visits.without_rebuilding(Failing):
        cst.parse_module("x = 1\n").visit(Failing())
    assert cst.CSTNode.visit is _visits._LIBCST_VISIT and not _visits._FAST


def test_only_a_visitor_may_skip_the_rebuilding():
    with pytest.raises(TypeError), _visits.without_rebuilding(cst.CSTTransformer):
        pass


def test_the_scope_visitors_leave_is_the_one_mirrored():
    assert _visits._SCOPE_LEAVE_MIRRORED  # else the scope analysis is correct but as slow as LibCST's
