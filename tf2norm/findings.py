"""Findings and the rules they come from, shared by `tf2norm migrate` and `tf2norm checkpoint`.

A `Rule` is one stable code (`TF2N104`) with its message, hint and severity; a `Finding` is a rule
reported at one place. `tf2norm migrate`'s rules live with its rewriters (each rewriter's `RULES`,
the driver's in `tf2norm.rewriters._findings`), the checkpoint tools' in
`tf2norm.checkpoints.rules`; every code is unique across both (tests/rewriters/test_machinery.py).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    col: int
    code: str
    message: str
    hint: str
    rewriter: str | None = None
    end_line: int = dataclasses.field(default=0, compare=False)
    severity: str = dataclasses.field(default="warning", compare=False)

    def as_dict(self) -> dict:
        # The JSON schema: exactly these keys, in this order.
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "rewriter": self.rewriter,
        }


@dataclasses.dataclass(frozen=True)
class Rule:
    """One finding code: its message and hint (both may hold `{name}` fields the reporting site fills)
    and its severity: "error" for a file that could not be processed at all, "warning" for code
    left unchanged (or changed, and worth a look)."""

    code: str
    message: str
    hint: str
    severity: str = "warning"

    def finding(self, path: str, line: int, col: int, rewriter: str | None = None, end_line: int = 0,
                **fields) -> Finding:
        """A finding of this rule at `path:line:col`, its fields filled in."""
        fields["rewriter"] = rewriter
        return Finding(path, line, col, self.code, self.message.format(**fields), self.hint.format(**fields),
                       rewriter, end_line or line, self.severity)


def rules(*table: Rule) -> dict[str, Rule]:
    """`{code: rule}` of a rewriter's (or the driver's) rules."""
    by_code = {rule.code: rule for rule in table}
    if len(by_code) != len(table):
        raise ValueError("two rules share a code")
    return by_code
