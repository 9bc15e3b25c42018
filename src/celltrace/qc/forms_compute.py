"""Forms of the QC result calculators: they parse what the analyst types or uploads into the
inputs of :mod:`celltrace.qc.calculators`; the calculators decide and the services write.

Lists are typed as numbers separated by spaces, commas or semicolons ('.' is the decimal
separator); a '-' stands for "no onset" or "no amplification" where the field says so. Every
error names the field, the entry (value n or line n) and the rule.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from celltrace.assays import mycoplasma, sterility
from celltrace.assays.endotoxin import Pharmacopoeia
from celltrace.core.errors import Invalid
from celltrace.qc import calculators
from celltrace.qc.instrument_files import read_upload

LIST_HELP = _("Separate the values with spaces or commas; use '.' for decimals.")
MISSING = {"-", "—", "none", "na", "n/a"}


def _numbers(
    text: str, label: Any, *, integers: bool = False, missing: bool = False, empty: bool = False
) -> list[Any]:
    """Numbers separated by spaces, commas or semicolons; ``-`` is ``None`` when ``missing``."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    if not parts and not empty:
        raise forms.ValidationError(_("%(field)s: enter at least one number.") % {"field": label})
    values: list[Any] = []
    for i, part in enumerate(parts, start=1):
        if missing and part.lower() in MISSING:
            values.append(None)
            continue
        try:
            number = Decimal(part)
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number < 0:
            raise forms.ValidationError(
                _("%(field)s: value %(n)s (%(v)s) must be a number of 0 or more.")
                % {"field": label, "n": i, "v": part}
            )
        if integers:
            if number != number.to_integral_value():
                raise forms.ValidationError(
                    _("%(field)s: value %(n)s (%(v)s) must be a whole number.")
                    % {"field": label, "n": i, "v": part}
                )
            values.append(int(number))
        else:
            values.append(number)
    return values


def _flags(text: str, label: Any, *, n: int | None = None) -> list[bool]:
    """``+``/``-`` (or 1/0, yes/no) separated by spaces or commas: clot or growth per entry."""
    parts = [p for p in text.replace(",", " ").replace(";", " ").split() if p]
    out: list[bool] = []
    for i, part in enumerate(parts, start=1):
        word = part.lower()
        if word in {"+", "1", "yes", "y", "clot", "growth"}:
            out.append(True)
        elif word in {"-", "0", "no", "n"}:
            out.append(False)
        else:
            raise forms.ValidationError(
                _("%(field)s: entry %(n)s (%(v)s) must be + or -.")
                % {"field": label, "n": i, "v": part}
            )
    return out


def _flag_rows(text: str, label: Any) -> list[list[bool]]:
    rows = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(_flags(line, label))
        except forms.ValidationError as exc:
            raise forms.ValidationError(
                _("Line %(n)s: %(error)s") % {"n": i, "error": " ".join(exc.messages)}
            ) from None
    if not rows:
        raise forms.ValidationError(_("%(field)s: enter at least one line.") % {"field": label})
    return rows


def _cq(text: str, label: Any, line: int) -> float | None:
    value = text.strip()
    if value.lower() in MISSING or value == "":
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number <= 0:
        raise forms.ValidationError(
            _("%(field)s, line %(n)s: Cq %(v)s must be a number above 0 or '-'.")
            % {"field": label, "n": line, "v": value}
        )
    return float(number)


def _wells(text: str, label: Any, *, required: bool = True) -> list[mycoplasma.NatWell]:
    """One well per line: ``name, target Cq, internal-control Cq`` ('-' = no amplification)."""
    wells = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) not in (2, 3) or not parts[0]:
            raise forms.ValidationError(
                _("%(field)s, line %(n)s: write 'name, target Cq, internal control Cq'.")
                % {"field": label, "n": i}
            )
        ic = _cq(parts[2], label, i) if len(parts) == 3 else None
        wells.append(mycoplasma.NatWell(parts[0], _cq(parts[1], label, i), ic))
    if required and not wells:
        raise forms.ValidationError(_("%(field)s: enter at least one well.") % {"field": label})
    return wells


def _observations(text: str, label: Any) -> list[mycoplasma.CultureObservation]:
    """One reading per line: ``vessel, day, +/-``."""
    out = []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit():
            raise forms.ValidationError(
                _("%(field)s, line %(n)s: write 'vessel, day, + or -' (e.g. agar, 14, -).")
                % {"field": label, "n": i}
            )
        try:
            (growth,) = _flags(parts[2], label)
        except ValueError:
            raise forms.ValidationError(
                _("%(field)s, line %(n)s: growth must be + or -.") % {"field": label, "n": i}
            ) from None
        out.append(mycoplasma.CultureObservation(parts[0], int(parts[1]), growth))
    if not out:
        raise forms.ValidationError(_("%(field)s: enter at least one reading.") % {"field": label})
    return out


def _decimal(label: Any, **kw: Any) -> forms.DecimalField:
    return forms.DecimalField(label=label, max_digits=20, decimal_places=8, **kw)


class ComputeForm(forms.Form):
    """Base: every compute form ends with a comment; file fields become :class:`Upload`."""

    file_fields: tuple[str, ...] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["comment"] = forms.CharField(
            label=_("Comment"), required=False, max_length=2000
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in self.file_fields:
            uploaded = data.get(name)
            if uploaded:
                try:
                    data[name] = read_upload(name, uploaded)
                except Invalid as exc:
                    self.add_error(name, exc.message)
            else:
                data[name] = None
        return data

    def uploads(self) -> list[Any]:
        return [self.cleaned_data[f] for f in self.file_fields if self.cleaned_data.get(f)]


# ----------------------------------------------------------------------------- counts


class HemocytometerForm(ComputeForm):
    """Manual Neubauer count with an exclusion dye: one entry per large square counted."""

    viable_counts = forms.CharField(
        label=_("Live cells per large square"), max_length=2000, help_text=LIST_HELP
    )
    nonviable_counts = forms.CharField(
        label=_("Dead cells per large square"),
        max_length=2000,
        help_text=_("Same squares, same order as the live counts."),
    )
    dilution_factor = forms.DecimalField(
        label=_("Dilution factor"),
        min_value=1,
        max_digits=12,
        decimal_places=4,
        initial=2,
        help_text=_("Total dilution of the counted suspension: 2 for a 1:1 trypan-blue mix."),
    )

    def clean_viable_counts(self) -> list[int]:
        return _numbers(
            self.cleaned_data["viable_counts"], _("Live cells per large square"), integers=True
        )

    def clean_nonviable_counts(self) -> list[int]:
        return _numbers(
            self.cleaned_data["nonviable_counts"], _("Dead cells per large square"), integers=True
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        live, dead = data.get("viable_counts"), data.get("nonviable_counts")
        if live is not None and dead is not None and len(live) != len(dead):
            self.add_error(
                "nonviable_counts",
                _("%(d)s dead counts for %(l)s live counts: enter one of each per square.")
                % {"d": len(dead), "l": len(live)},
            )
        return data


class DoseFields(forms.Form):
    volume_ml = _decimal(
        _("Product volume (mL)"),
        min_value=Decimal("0.000001"),
        required=False,
        help_text=_("With the volume: total viable cells in the product."),
    )
    body_mass_kg = _decimal(
        _("Patient body mass (kg)"),
        min_value=Decimal("0.1"),
        required=False,
        help_text=_("With the volume and the patient's mass: the dose in viable cells per kg."),
    )


class CellCountHemocytometerForm(HemocytometerForm, DoseFields):
    pass


class CounterForm(ComputeForm):
    """An automated counter's CSV export (Countess-style or Vi-CELL-style, docs/assays.md)."""

    file_fields = ("file",)
    file = forms.FileField(
        label=_("Counter export (CSV)"),
        help_text=_("Countess-style or Vi-CELL-style layout; the layout is detected."),
    )
    layout = forms.ChoiceField(
        label=_("Layout"),
        required=False,
        choices=[
            ("", _("Detect from the header")),
            ("countess", "Countess"),
            ("vicell", "Vi-CELL"),
        ],
    )
    sample = forms.CharField(
        label=_("Sample in the file"),
        required=False,
        max_length=200,
        help_text=_(
            "Needed when the file holds several samples; their replicate rows are averaged."
        ),
    )
    extra_dilution = forms.DecimalField(
        label=_("Pre-dilution not entered on the instrument"),
        min_value=1,
        max_digits=12,
        decimal_places=4,
        initial=1,
        required=False,
    )
    cv_max_percent = _decimal(_("Maximum replicate CV (%)"), min_value=0, required=False)


class CellCountCounterForm(CounterForm, DoseFields):
    pass


# ----------------------------------------------------------------------------- endotoxin


class EndotoxinKineticForm(ComputeForm):
    """Kinetic chromogenic or turbidimetric LAL run: standards, sample, PPC, negative control,
    and what the maximum valid dilution is computed from."""

    concentrations = forms.CharField(
        label=_("Standard concentrations (EU/mL), one per well"),
        max_length=4000,
        help_text=LIST_HELP,
    )
    onset_times = forms.CharField(
        label=_("Standard onset times (s), one per well"),
        max_length=4000,
        help_text=_("Same wells, same order as the concentrations."),
    )
    sample_onset_times = forms.CharField(
        label=_("Sample onset times (s), one per replicate"),
        max_length=2000,
        help_text=_("'-' for a replicate without onset within the run time."),
    )
    ppc_onset_times = forms.CharField(
        label=_("Positive product control onset times (s)"),
        max_length=2000,
        help_text=_("The spiked sample, one per replicate."),
    )
    spike_eu_per_ml = _decimal(
        _("PPC spike (EU/mL in the test solution)"), min_value=Decimal("0.00000001")
    )
    negative_control_onset_times = forms.CharField(
        label=_("Negative control onset times (s)"),
        max_length=2000,
        required=False,
        help_text=_("'-' for no onset (expected)."),
    )
    dilution = forms.DecimalField(
        label=_("Sample dilution"), min_value=1, max_digits=12, decimal_places=4, initial=1
    )
    k_eu_per_kg = _decimal(
        _("Threshold pyrogenic dose K (EU/kg)"),
        min_value=Decimal("0.00000001"),
        initial=Decimal("5"),
        help_text=_("5 EU/kg; 0.2 EU/kg for intrathecal administration."),
    )
    dose_per_hour = _decimal(
        _("Maximum dose per hour (mL)"),
        min_value=Decimal("0.00000001"),
        help_text=_("The most product a patient receives in one hour."),
    )
    pharmacopoeia = forms.ChoiceField(
        label=_("Body mass convention"),
        choices=[
            (Pharmacopoeia.USP.value, _("USP (70 kg)")),
            (Pharmacopoeia.PH_EUR.value, _("Ph. Eur. (70 kg)")),
            (Pharmacopoeia.CHP.value, _("ChP (60 kg)")),
        ],
    )
    product_concentration = _decimal(
        _("Product concentration c"),
        min_value=Decimal("0.00000001"),
        initial=Decimal("1"),
        help_text=_("1 when the limit is in EU/mL."),
    )
    cv_max_percent = _decimal(
        _("Maximum replicate CV (%)"),
        min_value=Decimal("0.00000001"),
        required=False,
        help_text=_("The laboratory's limit; the compendia set none."),
    )

    def clean_concentrations(self) -> list[Any]:
        return _numbers(self.cleaned_data["concentrations"], _("Standard concentrations (EU/mL)"))

    def clean_onset_times(self) -> list[Any]:
        return _numbers(self.cleaned_data["onset_times"], _("Standard onset times (s)"))

    def clean_sample_onset_times(self) -> list[Any]:
        return _numbers(
            self.cleaned_data["sample_onset_times"], _("Sample onset times (s)"), missing=True
        )

    def clean_ppc_onset_times(self) -> list[Any]:
        return _numbers(
            self.cleaned_data["ppc_onset_times"], _("PPC onset times (s)"), missing=True
        )

    def clean_negative_control_onset_times(self) -> list[Any]:
        return _numbers(
            self.cleaned_data["negative_control_onset_times"],
            _("Negative control onset times (s)"),
            missing=True,
            empty=True,
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        conc, times = data.get("concentrations"), data.get("onset_times")
        if conc is not None and times is not None and len(conc) != len(times):
            self.add_error(
                "onset_times",
                _("%(t)s onset times for %(c)s concentrations: enter one of each per well.")
                % {"t": len(times), "c": len(conc)},
            )
        return data


class GelClotForm(ComputeForm):
    """Gel-clot assay: confirmation of the lysate's labelled sensitivity, then the product's
    replicate dilution series."""

    labelled_sensitivity = _decimal(
        _("Labelled lysate sensitivity λ (EU/mL)"), min_value=Decimal("0.00000001")
    )
    std_concentrations = forms.CharField(
        label=_("Standard concentrations (EU/mL)"),
        max_length=500,
        help_text=_("E.g. 2λ λ 0.5λ 0.25λ: 0.25 0.125 0.06 0.03."),
    )
    std_series = forms.CharField(
        label=_("Standard series (one replicate per line)"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=2000,
        help_text=_("+ clot, - no clot, in the order of the concentrations; four lines."),
    )
    negative_controls = forms.CharField(
        label=_("Negative controls"), max_length=200, help_text=_("+ or - per tube.")
    )
    dilutions = forms.CharField(
        label=_("Product dilutions"), max_length=500, help_text=_("E.g. 1 2 4 8 16.")
    )
    sample_series = forms.CharField(
        label=_("Product series (one replicate per line)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        help_text=_("+ clot, - no clot, in the order of the dilutions."),
    )
    positive_product_controls = forms.CharField(
        label=_("Positive product controls (2λ spike)"),
        max_length=200,
        help_text=_("+ or - per tube; they must clot."),
    )

    def clean_std_concentrations(self) -> list[Any]:
        return _numbers(self.cleaned_data["std_concentrations"], _("Standard concentrations"))

    def clean_std_series(self) -> list[list[bool]]:
        return _flag_rows(self.cleaned_data["std_series"], _("Standard series"))

    def clean_negative_controls(self) -> list[bool]:
        return _flags(self.cleaned_data["negative_controls"], _("Negative controls"))

    def clean_dilutions(self) -> list[Any]:
        values = _numbers(self.cleaned_data["dilutions"], _("Product dilutions"))
        if any(v < 1 for v in values):
            raise forms.ValidationError(_("Product dilutions: each must be 1 or more."))
        return values

    def clean_sample_series(self) -> list[list[bool]]:
        return _flag_rows(self.cleaned_data["sample_series"], _("Product series"))

    def clean_positive_product_controls(self) -> list[bool]:
        return _flags(
            self.cleaned_data["positive_product_controls"], _("Positive product controls")
        )


# ----------------------------------------------------------------------------- sterility


class SterilityReadingsForm(ComputeForm):
    """Nothing to type: the readings recorded on the test are decided as of now."""


class BloodCultureForm(ComputeForm):
    file_fields = ("file",)
    file = forms.FileField(
        label=_("Culture system export (CSV)"),
        help_text=_("The celltrace automated-culture layout (docs/assays.md)."),
    )
    sample_id = forms.CharField(
        label=_("Sample id in the file"),
        required=False,
        max_length=200,
        help_text=_("Needed when the file holds bottles of several samples."),
    )
    required_days = forms.IntegerField(
        label=_("Required protocol (days)"),
        min_value=1,
        max_value=60,
        initial=sterility.INCUBATION_DAYS_DEFAULT,
    )


class IncubationStartForm(forms.Form):
    incubated_media = forms.MultipleChoiceField(
        label=_("Media"),
        choices=[("FTM", _("FTM (30-35 °C)")), ("SCDM", _("SCDM / TSB (20-25 °C)"))],
        widget=forms.CheckboxSelectMultiple,
        initial=["FTM", "SCDM"],
    )
    started_at = forms.DateTimeField(
        label=_("Inoculated at"),
        help_text=_("Local time, YYYY-MM-DD HH:MM."),
    )
    days = forms.IntegerField(
        label=_("Incubation (days)"),
        min_value=1,
        max_value=60,
        initial=sterility.INCUBATION_DAYS_DEFAULT,
    )


GROWTH_CHOICES = [("", _("Not read")), ("no", _("No growth")), ("yes", _("Growth"))]


class ReadingForm(forms.Form):
    observed_at = forms.DateTimeField(
        label=_("Read at"), help_text=_("Local time, YYYY-MM-DD HH:MM.")
    )
    ftm = forms.ChoiceField(label=_("FTM"), choices=GROWTH_CHOICES, required=False)
    scdm = forms.ChoiceField(label=_("SCDM"), choices=GROWTH_CHOICES, required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("ftm") and not data.get("scdm"):
            raise forms.ValidationError(_("Record the reading of at least one medium."))
        return data

    def growth(self) -> dict[str, bool]:
        d = self.cleaned_data
        return {m.upper(): d[m] == "yes" for m in ("ftm", "scdm") if d.get(m)}


# ----------------------------------------------------------------------------- mycoplasma

WELL_HELP = _("One well per line: name, target Cq, internal control Cq ('-' = no amplification).")


class NatForm(ComputeForm):
    samples = forms.CharField(
        label=_("Sample wells"), widget=forms.Textarea(attrs={"rows": 3}), help_text=WELL_HELP
    )
    positive_controls = forms.CharField(
        label=_("Positive controls"), widget=forms.Textarea(attrs={"rows": 2}), help_text=WELL_HELP
    )
    negative_controls = forms.CharField(
        label=_("Negative controls"), widget=forms.Textarea(attrs={"rows": 2}), help_text=WELL_HELP
    )
    spiked_samples = forms.CharField(
        label=_("Spiked samples (inhibition control)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=WELL_HELP,
    )
    cq_cutoff = _decimal(_("Cq cut-off"), min_value=Decimal("0.01"), required=False)

    def clean_samples(self) -> list[Any]:
        return _wells(self.cleaned_data["samples"], _("Sample wells"))

    def clean_positive_controls(self) -> list[Any]:
        return _wells(self.cleaned_data["positive_controls"], _("Positive controls"))

    def clean_negative_controls(self) -> list[Any]:
        return _wells(self.cleaned_data["negative_controls"], _("Negative controls"))

    def clean_spiked_samples(self) -> list[Any]:
        return _wells(self.cleaned_data["spiked_samples"], _("Spiked samples"), required=False)


OBS_HELP = _("One reading per line: vessel, day, + or - (e.g. agar, 14, -).")


class CultureForm(ComputeForm):
    test_observations = forms.CharField(
        label=_("Test readings"), widget=forms.Textarea(attrs={"rows": 4}), help_text=OBS_HELP
    )
    positive_controls = forms.CharField(
        label=_("Positive controls"), widget=forms.Textarea(attrs={"rows": 2}), help_text=OBS_HELP
    )
    negative_controls = forms.CharField(
        label=_("Negative controls"), widget=forms.Textarea(attrs={"rows": 2}), help_text=OBS_HELP
    )

    def clean_test_observations(self) -> list[Any]:
        return _observations(self.cleaned_data["test_observations"], _("Test readings"))

    def clean_positive_controls(self) -> list[Any]:
        return _observations(self.cleaned_data["positive_controls"], _("Positive controls"))

    def clean_negative_controls(self) -> list[Any]:
        return _observations(self.cleaned_data["negative_controls"], _("Negative controls"))


# ----------------------------------------------------------------------------- VCN


class CarPercentField(forms.Form):
    car_positive_percent = _decimal(
        _("CAR+ % (optional)"),
        min_value=Decimal("0.00000001"),
        max_value=Decimal("100"),
        required=False,
        help_text=_("With CAR+ %% the reported value is copies per transduced cell."),
    )


class QpcrForm(ComputeForm, CarPercentField):
    target_std_copies = forms.CharField(
        label=_("Target standards: copies, one per well"), max_length=4000, help_text=LIST_HELP
    )
    target_std_cq = forms.CharField(label=_("Target standards: Cq"), max_length=4000)
    reference_std_copies = forms.CharField(
        label=_("Reference gene standards: copies"), max_length=4000
    )
    reference_std_cq = forms.CharField(label=_("Reference gene standards: Cq"), max_length=4000)
    sample_target_cq = forms.CharField(label=_("Sample target Cq, per replicate"), max_length=500)
    sample_reference_cq = forms.CharField(
        label=_("Sample reference gene Cq, per replicate"), max_length=500
    )
    efficiency_min_percent = _decimal(_("Minimum efficiency (%)"), initial=90, min_value=1)
    efficiency_max_percent = _decimal(_("Maximum efficiency (%)"), initial=110, min_value=1)
    r_squared_min = _decimal(_("Minimum R²"), initial=Decimal("0.98"), min_value=0, max_value=1)

    def _list(self, name: str, label: Any) -> list[Any]:
        return _numbers(self.cleaned_data[name], label)

    def clean_target_std_copies(self) -> list[Any]:
        return self._list("target_std_copies", _("Target standards: copies"))

    def clean_target_std_cq(self) -> list[Any]:
        return self._list("target_std_cq", _("Target standards: Cq"))

    def clean_reference_std_copies(self) -> list[Any]:
        return self._list("reference_std_copies", _("Reference gene standards: copies"))

    def clean_reference_std_cq(self) -> list[Any]:
        return self._list("reference_std_cq", _("Reference gene standards: Cq"))

    def clean_sample_target_cq(self) -> list[Any]:
        return self._list("sample_target_cq", _("Sample target Cq"))

    def clean_sample_reference_cq(self) -> list[Any]:
        return self._list("sample_reference_cq", _("Sample reference gene Cq"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for copies, cq in (
            ("target_std_copies", "target_std_cq"),
            ("reference_std_copies", "reference_std_cq"),
        ):
            a, b = data.get(copies), data.get(cq)
            if a is not None and b is not None and len(a) != len(b):
                self.add_error(
                    cq,
                    _("%(b)s Cq values for %(a)s standards: enter one of each per well.")
                    % {"a": len(a), "b": len(b)},
                )
        return data


class DdpcrForm(ComputeForm, CarPercentField):
    target_positive = forms.IntegerField(label=_("Target-positive droplets"), min_value=0)
    reference_positive = forms.IntegerField(label=_("Reference-positive droplets"), min_value=0)
    total_droplets = forms.IntegerField(label=_("Accepted droplets"), min_value=1)
    droplet_nl = _decimal(
        _("Droplet volume (nL)"),
        min_value=Decimal("0.001"),
        initial=Decimal("0.85"),
        help_text=_("The instrument's droplet volume (0.85 nL for QX200, check the reader)."),
    )
    min_droplets = forms.IntegerField(
        label=_("Minimum accepted droplets"), min_value=1, initial=10000
    )


# ----------------------------------------------------------------------------- flow

POPULATION_LABELS = {
    "singlets": _("Singlets (total) population"),
    "viable": _("Viable population"),
    "cd45": _("CD45+ population"),
    "cd3": _("CD3+ population"),
    "car": _("CAR+ population"),
    "cd4": _("CD4+CD8- population"),
    "cd8": _("CD8+CD4- population"),
}


class PopulationFields(forms.Form):
    """The software's name (gate path) of each release population."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in POPULATION_LABELS.items():
            self.fields[name] = forms.CharField(label=label, required=False, max_length=300)


CONTROL_KIND = forms.ChoiceField(
    label=_("Control"),
    choices=[("untransduced", _("Untransduced cells")), ("fmo", _("FMO control"))],
)


class FlowStatisticsForm(ComputeForm, PopulationFields):
    file_fields = ("file",)
    file = forms.FileField(
        label=_("Statistics export (CSV)"),
        help_text=_("FlowJo table, Kaluza gate statistics or FACSDiva statistics (with counts)."),
    )
    layout = forms.ChoiceField(
        label=_("Layout"),
        required=False,
        choices=[
            ("", _("Detect from the header")),
            ("flowjo", "FlowJo"),
            ("kaluza", "Kaluza"),
            ("facsdiva", "FACSDiva"),
        ],
    )
    sample = forms.CharField(label=_("Stained sample"), required=False, max_length=300)
    control_sample = forms.CharField(
        label=_("Control sample"),
        required=False,
        max_length=300,
        help_text=_("Identity is reported net of the control's CAR+ %."),
    )
    control_kind = CONTROL_KIND

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any((data.get(p) or "").strip() for p in POPULATION_LABELS):
            raise forms.ValidationError(
                _("Name the populations of the export: at least singlets and CD3+.")
            )
        return data


class FlowFcsForm(ComputeForm, PopulationFields):
    file_fields = ("fcs_file", "template", "control_fcs_file")
    fcs_file = forms.FileField(label=_("FCS file of the stained sample"))
    template = forms.FileField(
        label=_("Gating template"),
        help_text=_("GatingML 2.0 (.xml) or FlowJo 10 workspace (.wsp)."),
    )
    control_fcs_file = forms.FileField(
        label=_("FCS file of the control"),
        required=False,
        help_text=_("Untransduced or FMO control, gated with the same template."),
    )
    wsp_sample = forms.CharField(
        label=_("Sample in the workspace"),
        required=False,
        max_length=300,
        help_text=_("FlowJo workspaces only: whose gates to apply."),
    )
    control_kind = CONTROL_KIND

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in POPULATION_LABELS:
            self.fields[name].help_text = _("Leave empty for the celltrace gate names.")


#: (method code, kind slug) -> the form of the calculator's inputs.
FORMS: dict[tuple[str, str], type[ComputeForm]] = {
    ("viability", "hemocytometer"): HemocytometerForm,
    ("viability", "counter-csv"): CounterForm,
    ("cell-count", "hemocytometer"): CellCountHemocytometerForm,
    ("cell-count", "counter-csv"): CellCountCounterForm,
    ("endotoxin", "kinetic"): EndotoxinKineticForm,
    ("endotoxin", "gel-clot"): GelClotForm,
    ("sterility", "readings"): SterilityReadingsForm,
    ("sterility", "blood-culture-csv"): BloodCultureForm,
    ("sterility-cell", "readings"): SterilityReadingsForm,
    ("sterility-cell", "blood-culture-csv"): BloodCultureForm,
    ("mycoplasma-nat", "nat"): NatForm,
    ("mycoplasma-culture", "culture"): CultureForm,
    ("vcn", "qpcr"): QpcrForm,
    ("vcn", "ddpcr"): DdpcrForm,
    ("identity-flow", "statistics-csv"): FlowStatisticsForm,
    ("identity-flow", "fcs"): FlowFcsForm,
    ("purity-flow", "statistics-csv"): FlowStatisticsForm,
    ("purity-flow", "fcs"): FlowFcsForm,
}


def form_for(method_code: str, kind: str) -> type[ComputeForm] | None:
    return FORMS.get((method_code, kind))


def has_calculator(method_code: str) -> bool:
    return bool(calculators.kinds_for(method_code))
