"""``{% load metabolism_labels %}``: parameter names, formulas and warnings, translated."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from celltrace.metabolism import labels

register = template.Library()


@register.filter
def parameter_label(parameter: Mapping[str, Any] | str) -> str:
    """A stored parameter (dict with ``key``, or its English label) named in the active language."""
    return labels.parameter_label(parameter)


@register.filter
def formula_text(parameter: Mapping[str, Any]) -> str:
    """A stored parameter's formula in the active language."""
    return labels.formula_text(parameter)


@register.filter
def warning_text(warning: str) -> str:
    """A stored warning in the active language."""
    return labels.warning_text(warning)
