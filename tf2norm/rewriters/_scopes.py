"""LibCST's `ScopeProvider` in linear time and memory.

LibCST gives every access the set of assignments it may refer to (`Access.referents`) and every
assignment the set of its accesses (`references`). A name assigned n times and read n times in one
scope (generated code: `x = f(x)` repeated) makes n sets of up to n members: 10 s and a gigabyte at
a few thousand lines, a 5 MB file never finished. Here those sets are read-only views over one list
per name and scope, sorted by position, with exactly the members LibCST computes (a test compares
the two on every fixture), so the work is linear. Everything else is LibCST's own; on a LibCST whose
internals differ from the ones this mirrors, LibCST's own algorithm runs.
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Set as AbstractSet

import libcst as cst
from libcst.metadata import ScopeProvider
from libcst.metadata import scope_provider as _libcst

_DEFERRED = "_ScopeVisitor__deferred_accesses"
_REFERENTS = "_Access__assignments"
_REFERENCES = "_BaseAssignment__accesses"


class _View(AbstractSet):
    """A read-only set; `view | other` (what LibCST's `|=` does) gives a plain set."""

    @classmethod
    def _from_iterable(cls, iterable):
        return set(iterable)

    __hash__ = None  # type: ignore[assignment]  # a mutable-looking set is not hashable


class _Prefix(_View):
    """`outer` plus the first `count` of `ordered` (whose positions are in `position`)."""

    def __init__(self, outer, ordered, position, count):
        self._outer, self._ordered, self._position, self._count = outer, ordered, position, count

    def __iter__(self):
        return itertools.chain(self._outer, itertools.islice(self._ordered, self._count))

    def __len__(self):
        return len(self._outer) + self._count

    def __contains__(self, item):
        return item in self._outer or self._position.get(item, self._count) < self._count


class _Slice(_View):
    """`ordered[start:]` or `ordered[:stop]` without the copy."""

    def __init__(self, ordered, position, start, stop):
        self._ordered, self._position, self._start, self._stop = ordered, position, start, stop

    def __iter__(self):
        return itertools.islice(self._ordered, self._start, self._stop)

    def __len__(self):
        return self._stop - self._start

    def __contains__(self, item):
        index = self._position.get(item)
        return index is not None and self._start <= index < self._stop


class _Union(_View):
    def __init__(self, parts):
        self._parts = parts

    def __iter__(self):
        seen = set()
        for part in self._parts:
            for item in part:
                if item not in seen:
                    seen.add(item)
                    yield item

    def __len__(self):
        return sum(1 for _ in self)

    def __contains__(self, item):
        return any(item in part for part in self._parts)


def _infer_accesses(visitor) -> None:
    """What `ScopeVisitor.infer_accesses` computes (LibCST 1.x), with views instead of copies."""
    groups = defaultdict(list)
    for deferred in getattr(visitor, _DEFERRED):
        access = deferred.access
        name = access.node.value
        if deferred.enclosing_attribute is not None:
            for attr_name, node in _libcst._gen_dotted_names(deferred.enclosing_attribute):
                if attr_name in access.scope:
                    access.node = node
                    name = attr_name
                    break
        if deferred.enclosing_string_annotation is not None:
            access.node = deferred.enclosing_string_annotation
        groups[(access.scope, name)].append(access)
        access.scope.record_access(name, access)

    parts = defaultdict(list)  # assignment -> views of its accesses
    for (scope, name), accesses in groups.items():
        accesses.sort(key=lambda a: a._index)
        access_at = {a: i for i, a in enumerate(accesses)}
        access_indexes = [a._index for a in accesses]
        assignments = scope._resolve_scope_for_access(name, scope)
        outer = frozenset(a for a in assignments if a.scope != scope)
        inner = sorted((a for a in assignments if a.scope == scope), key=lambda a: a._index)
        inner_at = {a: i for i, a in enumerate(inner)}
        inner_indexes = [a._index for a in inner]
        fallback = None
        referents: AbstractSet
        for access in accesses:
            # An access refers to the assignments of enclosing scopes and the earlier ones of its own.
            count = bisect.bisect_left(inner_indexes, access._index)
            if outer or count:
                referents = _Prefix(outer, inner, inner_at, count)
            elif assignments and scope.parent != scope:
                if fallback is None:
                    fallback = scope.parent._resolve_scope_for_access(name, scope)
                referents = fallback
            else:
                referents = frozenset()
            _set_view(access, _REFERENTS, referents)
        whole = _Slice(accesses, access_at, 0, len(accesses))
        for assignment in outer:
            parts[assignment].append(whole)
        earliest = 0  # the accesses before an assignment of this scope belong to the enclosing one's
        for assignment in inner:
            start = bisect.bisect_right(access_indexes, assignment._index)
            if start < len(accesses):
                parts[assignment].append(_Slice(accesses, access_at, start, len(accesses)))
            earliest = max(earliest, start)
        if earliest and scope.parent != scope:
            for shadowed in scope.parent[name]:
                parts[shadowed].append(_Slice(accesses, access_at, 0, earliest))
    for assignment, views in parts.items():
        own = getattr(assignment, _REFERENCES)
        _set_view(assignment, _REFERENCES, _Union(([own] if own else []) + views) if len(views) > 1 or own
                  else views[0])
    setattr(visitor, _DEFERRED, [])


def _set_view(owner, attribute: str, view) -> None:
    current = getattr(owner, attribute)
    setattr(owner, attribute, view if not current else current | view)


def _mirrors_libcst() -> bool:
    """Are LibCST's private names the ones `_infer_accesses` reads? (checked once per process)"""
    probe = _libcst.ScopeVisitor(ScopeProvider())
    access = _libcst.Access(cst.Name("x"), _libcst.GlobalScope(), False, False)
    assignment = _libcst.Assignment("x", _libcst.GlobalScope(), cst.Name("x"), 0)
    return (hasattr(probe, _DEFERRED) and hasattr(access, _REFERENTS) and hasattr(assignment, _REFERENCES)
            and hasattr(_libcst, "_gen_dotted_names") and hasattr(access, "_index"))


_LINEAR = _mirrors_libcst()


class LinearScopeProvider(ScopeProvider):
    """`ScopeProvider` whose referents and references are views: linear in accesses + assignments."""

    def visit_Module(self, node: cst.Module):
        if not _LINEAR:
            return super().visit_Module(node)
        visitor = _libcst.ScopeVisitor(self)
        node.visit(visitor)
        _infer_accesses(visitor)
        return False
