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


@register.filter
def constant_label(label: str) -> str:
    """A constant of the calculation record named in the active language."""
    return labels.constant_label(str(label))


@register.filter
def constant_source(location: str) -> str:
    """Where a constant came from (a cell of the export, the run's settings, a default)."""
    return labels.constant_source(str(location))


@register.filter
def unit_text(unit: str) -> str:
    """A parameter's unit in the active language (``ratio``; symbols as stored)."""
    return labels.unit_text(str(unit))
