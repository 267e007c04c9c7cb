"""Counted nouns in messages: "1 finding", "2 findings"."""

from __future__ import annotations


def plural(count: int, noun: str) -> str:
    """`count` and `noun`, with an `s` unless there is exactly one."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
