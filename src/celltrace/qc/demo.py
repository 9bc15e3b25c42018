"""Demo data of the QC laboratory (filled in later)."""

from __future__ import annotations


def load(progress: bool) -> None:
    return None
