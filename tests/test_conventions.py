"""Coding rules of docs/development.md that a reader of the source can check mechanically."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "celltrace"


def _chain(node: ast.AST) -> list[ast.Call]:
    """The calls of a method chain such as ``M.objects.select_for_update().select_related()``."""
    calls: list[ast.Call] = []
    while True:
        if isinstance(node, ast.Call):
            calls.append(node)
            node = node.func
        elif isinstance(node, ast.Attribute):
            node = node.value
        else:
            return calls


def _name(call: ast.Call) -> str:
    return call.func.attr if isinstance(call.func, ast.Attribute) else ""


def test_row_locks_with_joins_lock_only_their_own_table() -> None:
    """``select_for_update()`` chained with ``select_related()`` locks the joined rows too on
    PostgreSQL, outside the documented lock order: such chains must pass ``of=("self",)``."""
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        outermost = {id(c) for node in ast.walk(tree) for c in _chain(node)[1:]}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in outermost:
                continue
            calls = _chain(node)
            names = [_name(c) for c in calls]
            if "select_for_update" in names and "select_related" in names:
                lock = calls[names.index("select_for_update")]
                if not any(k.arg == "of" for k in lock.keywords):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []
    # the rule is exercised: such chains exist and pass of=
    assert "bank/services.py" in {
        str(p.relative_to(SRC)) for p in SRC.rglob("services.py") if "of=(" in p.read_text()
    }
