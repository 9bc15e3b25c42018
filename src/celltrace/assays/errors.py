"""Errors shared by the assay calculations and instrument-file readers."""

from __future__ import annotations


class AssayInputError(ValueError):
    """Bad input to a calculation: the message names the row, field and rule that failed."""

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.row = row
        self.field = field


class InstrumentFileError(AssayInputError):
    """An instrument export that cannot be read, or that lacks what the analysis needs."""
