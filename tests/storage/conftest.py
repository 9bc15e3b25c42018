from __future__ import annotations

from typing import Any

import pytest

from tests.bank import factories


@pytest.fixture
def store(tech: Any) -> dict[str, Any]:
    return factories.hierarchy(tech, boxes=2, rows=9, columns=9)


@pytest.fixture
def stock(tech: Any, client_a: Any) -> list[Any]:
    return factories.aliquots(tech, client_a, 6)
