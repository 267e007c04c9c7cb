"""_import_visitors: LibCST's import visitors skip their decorator searches once they found nothing,
and every other matcher-decoratable visitor still gets its decorated methods."""

import libcst as cst
from libcst import matchers as m
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor
from libcst.matchers import _visitors

from tf2norm.rewriters import _context, _import_visitors  # noqa: F401  (_context installs it)


def _added(code: str) -> str:
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, "tf2norm.replacements", "BatchNormalization")
    AddImportsVisitor.add_needed_import(context, "tensorflow")
    return cst.parse_module(code).visit(AddImportsVisitor(context)).code


def test_the_searches_are_installed_once():
    searches = [getattr(_visitors, name) for name in _import_visitors._SEARCHES]
    assert all(getattr(search, "tf2norm_remembers", False) for search in searches)
    _import_visitors.install()
    assert [getattr(_visitors, name) for name in _import_visitors._SEARCHES] == searches


def _counting(searched):
    """LibCST's three searches, wrapped afresh, each call recorded in `searched`."""
    wrapped = {}
    for name in _import_visitors._SEARCHES:
        search = getattr(_visitors, name).__wrapped__

        def counting(obj, search=search):
            searched.append(type(obj))
            return search(obj)

        counting.__name__ = name
        wrapped[name] = _import_visitors._remembering_nothing(counting)
    return wrapped


def test_an_import_visitor_searches_once_and_adds_the_same_imports(monkeypatch):
    codes = ['"""Doc."""\nimport os\nfrom tf2norm.replacements import Dense\n\nx = 1\n',
             "import tensorflow as tf\n\n\ndef f():\n    pass\n", "x = 1\n", ""]
    searched = []
    for name, search in _counting(searched).items():
        monkeypatch.setattr(_visitors, name, search)
    libcsts = []
    for code in codes:  # LibCST's matcher-aware dispatch, each class met for the first time
        monkeypatch.setattr(_import_visitors, "_FOUND_NOTHING", {})
        libcsts.append(_added(code))
    assert libcsts[0] == (
        '"""Doc."""\nimport os\nfrom tf2norm.replacements import BatchNormalization, Dense\nimport tensorflow\n\nx = 1\n')
    assert len(searched) == len(codes) * 3 * 2  # three searches for each of the two visitors
    # From then on: no search, and the plain dispatch, with the same results.
    visitor = AddImportsVisitor(CodemodContext())
    assert vars(visitor)["on_visit"].__func__ is cst.CSTTransformer.on_visit
    assert vars(visitor)["on_leave_attribute"].__func__ is cst.CSTTransformer.on_leave_attribute
    assert [_added(code) for code in codes] == libcsts
    assert len(searched) == len(codes) * 3 * 2


class _Counting(m.MatcherDecoratableVisitor):
    """A visitor of another library, with a decorated method: each instance must find it."""

    def __init__(self):
        super().__init__()
        self.names = []

    @m.visit(m.Name())
    def count(self, node: cst.Name) -> None:
        self.names.append(node.value)


def test_a_decorated_visitor_still_finds_its_methods_every_time():
    tree = cst.parse_module("a = b\n")
    for _ in range(2):
        counting = _Counting()
        tree.visit(counting)
        assert counting.names == ["a", "b"]


def test_a_visitor_outside_libcsts_import_visitors_is_searched_every_time(monkeypatch):
    searched = []
    search = _visitors._gather_matchers
    monkeypatch.setattr(_visitors, "_gather_matchers", _import_visitors._remembering_nothing(
        lambda obj: searched.append(type(obj)) or search.__wrapped__(obj)))

    class Plain(m.MatcherDecoratableVisitor):
        pass

    for _ in range(2):
        cst.parse_module("a = b\n").visit(Plain())
    assert searched == [Plain, Plain]
