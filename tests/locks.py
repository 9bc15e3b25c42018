"""What a piece of code locks, in order, read from the SQL it runs (PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any


def locked_tables(queries: list[dict[str, Any]]) -> list[str]:
    """The table of each ``SELECT … FOR UPDATE`` of ``queries`` (``CaptureQueriesContext``),
    in order, repeats collapsed."""
    out: list[str] = []
    for q in queries:
        sql = q["sql"]
        if sql.startswith("SELECT") and re.search(r'FOR UPDATE( OF "\w+")?\s*$', sql):
            table = re.search(r'FROM "?(\w+)"?', sql)
            assert table is not None, sql
            if not out or out[-1] != table.group(1):
                out.append(table.group(1))
    return out


def lock_statements(queries: list[dict[str, Any]], table: str) -> list[tuple[int, str]]:
    """``(index, SQL)`` of each ``SELECT … FOR UPDATE`` of ``queries`` reading ``table``."""
    return [
        (i, q["sql"])
        for i, q in enumerate(queries)
        if "FOR UPDATE" in q["sql"] and f'FROM "{table}"' in q["sql"]
    ]


def locks_only_its_own_table(sql: str, table: str) -> bool:
    """Whether a row lock is ``FOR UPDATE OF "<table>"`` (not also the rows it joins)."""
    return sql.rstrip().endswith(f'FOR UPDATE OF "{table}"')
