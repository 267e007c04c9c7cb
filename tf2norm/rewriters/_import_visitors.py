"""LibCST's import visitors, made once per file without their ~20 ms set-up.

`AddImportsVisitor` and the visitor it makes to gather the file's imports are matcher-decoratable
visitors: each instance looks through `dir(self)` (some 500 visit/leave methods) three times for
`@visit`, `@leave` and `@call_if_inside` decorators. LibCST's import visitors have none, so each
search finds nothing, every time: 20 ms per changed file, on a tree where every file changes a tenth
of `migrate`'s time. Here the answer is kept per class, for LibCST's own import visitors (those of
`libcst.codemod.visitors`), once LibCST's own search has found nothing for that class. Other
classes, and a LibCST whose internals differ from these, are left to LibCST's own code.

Once a class has been found to have no decorators of any kind, its instances also dispatch as plain
`CSTTransformer`s / `CSTVisitor`s: the matcher-aware `on_visit`, `on_leave`, `on_visit_attribute` and
`on_leave_attribute` look a method up and test its (absent) decorators for every node and field, then
do what the plain ones do (with nothing found, their matcher steps are no-ops).
"""

from __future__ import annotations

import functools
import types

from libcst import CSTTransformer, CSTVisitor
from libcst.matchers import _visitors

#: Where LibCST's import visitors are, which tf2norm makes a new instance of for every file it changes.
_IMPORT_VISITORS = "libcst.codemod.visitors."
_SEARCHES = ("_gather_constructed_visit_funcs", "_gather_constructed_leave_funcs", "_gather_matchers")


_DISPATCHERS = ("on_visit", "on_leave", "on_visit_attribute", "on_leave_attribute")
#: An import visitor's class -> the searches that found nothing for it.
_FOUND_NOTHING: dict[type, set[str]] = {}


def _dispatch_plainly(obj) -> None:
    """Gives `obj` (of a class with no decorators at all) the plain visitor's or transformer's dispatchers."""
    for matcher_aware, plain in ((_visitors.MatcherDecoratableTransformer, CSTTransformer),
                                 (_visitors.MatcherDecoratableVisitor, CSTVisitor)):
        if isinstance(obj, matcher_aware):
            for name in _DISPATCHERS:
                if getattr(type(obj), name) is getattr(matcher_aware, name):  # not overridden below it
                    setattr(obj, name, types.MethodType(getattr(plain, name), obj))


def _remembering_nothing(search):
    """`search`, answered without looking for an import visitor's class it once found nothing for."""
    name = search.__name__

    @functools.wraps(search)
    def remembering(obj):
        kind = type(obj)
        nothing = _FOUND_NOTHING.get(kind, set())
        if name in nothing:
            if len(nothing) == len(_SEARCHES):
                _dispatch_plainly(obj)
            return {}  # a new dict each time: LibCST keeps it on the instance
        found = search(obj)
        if not found and kind.__module__.startswith(_IMPORT_VISITORS):
            _FOUND_NOTHING.setdefault(kind, set()).add(name)
        return found

    remembering.tf2norm_remembers = True
    return remembering


def install() -> None:
    """Wraps LibCST's three searches (once; a no-op when this LibCST does not have them)."""
    if not all(callable(getattr(_visitors, name, None)) for name in _SEARCHES):
        return
    for name in _SEARCHES:
        search = getattr(_visitors, name)
        if not getattr(search, "tf2norm_remembers", False):
            setattr(_visitors, name, _remembering_nothing(search))
