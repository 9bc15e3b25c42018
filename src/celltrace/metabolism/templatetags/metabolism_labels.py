"""``{% load metabolism_labels %}``: ``{{ parameter|parameter_label }}`` in the page's language."""

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
