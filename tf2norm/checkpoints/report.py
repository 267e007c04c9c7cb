"""What ``tf2norm checkpoint inspect`` prints: the recognised groups and the rest, as text or JSON."""

from __future__ import annotations

from .naming import BATCH_NORM, LSTM_CELL, Inventory


def _shape(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _config_line(g) -> str:
    if g.kind == LSTM_CELL:
        return (f"num_units={g.config['num_units']} input_depth={g.input_depth} "
                f"layer_norm={g.config['layer_norm']}")
    c = g.config
    extras = [k for k in ("renorm", "zero_debias_moving_mean") if c.get(k)]
    layout = g.data_format + ("" if g.data_format_given else " (assumed: not in the checkpoint)")
    return (f"channels={g.channels} center={c['center']} scale={c['scale']}"
            + "".join(f" {k}=True" for k in extras) + f" data_format={layout}")


def as_text(path: str, inv: Inventory) -> str:
    lines = [f"checkpoint {path}: {len(inv.variables)} variables, {len(inv.groups)} groups recognised"]
    for kind, title in ((LSTM_CELL, "LayerNormBasicLSTMCell"), (BATCH_NORM, "batch_norm")):
        groups = [g for g in inv.groups if g.kind == kind]
        lines.append("")
        lines.append(f"{title} groups ({len(groups)}):")
        for g in groups:
            where = "; ".join(x for x in (g.role, g.naming) if x)
            lines.append(f"  {g.scope}  [{where}]")
            lines.append(f"    {_config_line(g)}")
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
                "class": g.replacement_class,
                "naming": g.naming,
                "role": g.role,
                "config": g.config,
                **({"input_depth": g.input_depth} if g.kind == LSTM_CELL else
                   {"channels": g.channels, "data_format": g.data_format,
                    "data_format_given": g.data_format_given}),
                "weights": {k: {"tf1_name": n, "shape": list(inv.variables[n].shape),
                                "dtype": inv.variables[n].dtype} for k, n in g.weights.items()},
                "problems": g.problems,
            }
            for g in inv.groups
        ],
        "unrecognised": [
            {"name": v.name, "shape": list(v.shape), "dtype": v.dtype,
             "slot_of": inv.slot_owner(v.name)}
            for v in inv.unrecognised
        ],
    }
