"""Forms of the monitoring pages. They parse input; services decide and write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

WINDOWS = (
    ("1d", _("24 hours"), 1),
    ("3d", _("3 days"), 3),
    ("7d", _("7 days"), 7),
    ("30d", _("30 days"), 30),
    ("90d", _("90 days"), 90),
)
WINDOW_DAYS = {key: days for key, _label, days in WINDOWS}
DEFAULT_WINDOW = "3d"


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_("Columns: sensor, measured_at (ISO 8601 with offset), temperature_c."),
    )


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("Acknowledgement comment"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What happened and what was done; your signature will bind it."),
    )
