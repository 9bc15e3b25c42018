"""Text cells of the CSV files celltrace hands out, safe to open in a spreadsheet."""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\x00")


def csv_text(value: object) -> str:
    """A text cell neutralised against formula injection (docs/design/reliability.md §8): a leading
    apostrophe before ``= + - @``, tab, carriage return or NUL."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text
