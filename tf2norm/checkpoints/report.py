"""What ``tf2norm checkpoint inspect`` prints: the recognised groups and the rest, as text or JSON."""

from __future__ import annotations

from tf2norm._words import plural

from . import kinds
from .model import Inventory


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def as_text(path: str, inv: Inventory) -> str:
    lines = [f"checkpoint {path}: {plural(len(inv.variables), 'variable')}, "
             f"{plural(len(inv.groups), 'group')} recognised"]
    for kind in kinds.all_kinds():
        groups = [g for g in inv.groups if g.kind == kind.ID]
        if not groups:
            continue
        lines.append("")
        lines.append(f"{kind.TITLE} groups ({len(groups)}):")
        for g in groups:
            where = "; ".join(x for x in (g.role, g.naming) if x)
            lines.append(f"  {g.scope}  [{where}]")
            lines.append(f"    {kind.describe(g)}")
            width = max(len(k) for k in g.weights)
            swidth = max(len(_shape(inv.variables[n].shape)) for n in g.weights.values())
            for key, name in g.weights.items():
                v = inv.variables[name]
                lines.append(f"    {key.ljust(width)}  {_shape(v.shape).ljust(swidth)}  {v.dtype}"
                             f"  <- {name}")
            for problem in g.problems:
                lines.append(f"    PROBLEM: {problem}")
    lines.append("")
    slots = {v.name: inv.slot_owner(v.name) for v in inv.unrecognised}
    lines.append(f"Not recognised ({len(inv.unrecognised)}; not converted):")
    for v in inv.unrecognised:
        note = f"  (optimizer slot of {slots[v.name]})" if slots[v.name] else ""
        lines.append(f"  {v.name}  {_shape(v.shape)} {v.dtype}{note}")
    return "\n".join(lines)


def as_json(path: str, inv: Inventory) -> dict:
    return {
        "checkpoint": path,
        "groups": [
            {
                "scope": g.scope,
                "kind": g.kind,
                "class": kinds.get(g.kind).REPLACEMENT,
                "naming": g.naming,
                "role": g.role,
                "config": g.config,
                **kinds.get(g.kind).details(g),
                "weights": {k: {"tf1_name": n, "shape": list(inv.variables[n].shape),
                                "dtype": inv.variables[n].dtype} for k, n in g.weights.items()},
                "problems": g.problems,
                "findings": [f.as_dict() for f in g.findings],
            }
            for g in inv.groups
        ],
        "unrecognised": [
            {"name": v.name, "shape": list(v.shape), "dtype": v.dtype,
             "slot_of": inv.slot_owner(v.name)}
            for v in inv.unrecognised
        ],
    }
