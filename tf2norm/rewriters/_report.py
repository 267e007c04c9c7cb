"""What `tf2norm migrate` reports: each file that changed or would change, the findings, a summary.

* text (black's habit): `would migrate PATH` (with --check or --diff) or `migrated PATH` for each such
  file, each file's findings after it, then `tf2norm: 3 files, 1 changed, 1 finding, 0 failed`.
  Reading stdin (`-`) reports the findings only: the migrated code or the diff says the rest.
* json: one document, `{"written", "changed", "failed", "findings", "summary"}` (schema in
  `document`), for tools.
* github: workflow annotations: a warning on each file that would change (a notice for one that
  changed), a warning per finding, an error per file that could not be processed.
"""

from __future__ import annotations

import json

from tf2norm._words import plural
from tf2norm.rewriters import _findings


def _remaining(findings) -> list:
    """The findings about code (files that could not be processed count as failed instead)."""
    return [f for f in findings if f.severity != "error"]


def summary(results, written: bool) -> str:
    changed = sum(r.changed for r in results)
    findings = sum(len(_remaining(r.findings)) for r in results)
    failed = sum(r.failed for r in results)
    verb = "changed" if written else "would change"
    return (f"tf2norm: {plural(len(results), 'file')}, {changed} {verb}, {plural(findings, 'finding')}, "
            f"{failed} failed")


def text(results, written: bool, stdin: bool) -> str:
    lines = []
    for result in results:
        if result.changed and not stdin:
            lines.append(f"{'migrated' if written else 'would migrate'} {result.path}")
        lines.extend(_findings.format_text(f) for f in sorted(result.findings))
    if not stdin:
        lines.append(summary(results, written))
    return "".join(line + "\n" for line in lines)


def document(results, written: bool) -> dict:
    """The json report: whether changes were written, the files changed (or that would change with
    --check/--diff), the files that could not be processed, every finding (the findings schema of
    `_findings.Finding.as_dict`) and the summary's counts."""
    findings = [f for r in results for f in sorted(r.findings)]
    return {
        "written": written,
        "changed": [r.path for r in results if r.changed],
        "failed": [r.path for r in results if r.failed],
        "findings": [f.as_dict() for f in findings],
        "summary": {
            "files": len(results),
            "changed": sum(r.changed for r in results),
            "findings": len(_remaining(findings)),
            "failed": sum(r.failed for r in results),
        },
    }


def github(results, written: bool) -> str:
    lines = []
    for result in results:
        if result.changed:
            level, message = ("notice", "migrated") if written else ("warning", "would migrate: run tf2norm migrate")
            lines.append(f"::{level} file={_findings.escape_property(result.path)},title=tf2norm::{message}")
        lines.extend(_findings.format_github(f) for f in sorted(result.findings))
    return "".join(line + "\n" for line in lines)


def render(results, output_format: str, written: bool, stdin: bool) -> str:
    if output_format == "json":
        return json.dumps(document(results, written), indent=2) + "\n"
    if output_format == "github":
        return github(results, written)
    return text(results, written, stdin)
