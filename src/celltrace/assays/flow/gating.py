"""FCS file + gating template (GatingML 2.0 or FlowJo 10 workspace) → release counts.

Compensation and transforms are whatever the template defines:

* a GatingML dimension with ``compensation-ref="FCS"`` asks for the file's own spillover matrix
  (``$SPILLOVER`` or ``$SPILL``).  If the file has none, the GatingML 2.0 rule would be to gate
  uncompensated data; celltrace refuses instead unless ``allow_uncompensated=True`` is passed
  (and then records ``compensation="none (template asked for FCS, file has no spillover)"``).
* ``compensation-ref="<matrix id>"`` uses a matrix defined in the template; ``uncompensated`` or
  no reference uses the data as acquired.
* ``transformation-ref`` picks a logicle, asinh, hyperlog, log or linear transform defined in the
  template; gate coordinates are in the transformed scale.

Templates are checked with :mod:`defusedxml` (no DTDs, no entities) before FlowKit parses them.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from celltrace.assays.errors import AssayInputError, InstrumentFileError
from celltrace.assays.flow.fcs import FcsFile, read_sample, require_flowkit, spillover_keyword
from celltrace.assays.flow.release import (
    FlowInputs,
    FlowSampleResult,
    GateCount,
    PopulationCount,
    ReleasePopulation,
    SampleCounts,
    check_nesting,
    population_map,
    sample_result,
)

#: Gate IDs a celltrace-convention template uses; a template following them needs no mapping.
DEFAULT_GATE_NAMES: dict[ReleasePopulation, str] = {
    ReleasePopulation.SINGLETS: "Singlets",
    ReleasePopulation.VIABLE: "Viable",
    ReleasePopulation.CD45: "CD45pos",
    ReleasePopulation.CD3: "CD3pos",
    ReleasePopulation.CAR: "CARpos",
    ReleasePopulation.CD4: "CD4pos_CD8neg",
    ReleasePopulation.CD8: "CD8pos_CD4neg",
}


class TemplateKind(StrEnum):
    GATINGML = "gatingml"
    FLOWJO_WSP = "flowjo-wsp"


@dataclass(frozen=True)
class GatingTemplate:
    name: str
    kind: TemplateKind
    sha256: str
    data: bytes = field(repr=False)

    @classmethod
    def load(
        cls,
        source: str | Path | bytes | GatingTemplate,
        *,
        file_name: str | None = None,
    ) -> GatingTemplate:
        """Read a template and detect its kind from the XML root element."""
        if isinstance(source, GatingTemplate):
            return source
        if isinstance(source, bytes):
            data, name = source, file_name or "template.xml"
        else:
            path = Path(source)
            name = file_name or path.name
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise AssayInputError(
                    f"gating template {name}: cannot be read ({exc.strerror})"
                ) from None
        try:
            root = SafeET.fromstring(data, forbid_dtd=True)
        except DefusedXmlException as exc:
            raise AssayInputError(
                f"gating template {name}: rejected, it declares a DTD or entities ({exc})"
            ) from None
        except SafeET.ParseError as exc:
            raise AssayInputError(f"gating template {name}: not well-formed XML ({exc})") from None
        local = root.tag.rsplit("}", 1)[-1]
        if local == "Gating-ML":
            kind = TemplateKind.GATINGML
        elif local == "Workspace":
            kind = TemplateKind.FLOWJO_WSP
        else:
            raise AssayInputError(
                f"gating template {name}: root element <{local}> is neither GatingML 2.0 "
                f"<Gating-ML> nor a FlowJo <Workspace>"
            )
        return cls(name=name, kind=kind, sha256=hashlib.sha256(data).hexdigest(), data=data)


def _schema_errors(template: GatingTemplate) -> str:
    """The first GatingML 2.0 schema violations, to say *why* FlowKit rejected a template."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # defusedxml.lxml is deprecated but still safe here
            import defusedxml.lxml as safe_lxml
            from flowkit._resources import gml_schema  # FlowKit's bundled Gating-ML 2.0 XSD

            doc = safe_lxml.parse(io.BytesIO(template.data), forbid_dtd=True)
        if gml_schema.validate(doc):
            return ""
        return "; ".join(f"line {e.line}: {e.message}" for e in list(gml_schema.error_log)[:3])
    except Exception:  # diagnostics only: never mask the original error
        return ""


def gating_strategy(template: GatingTemplate, *, wsp_sample: str | None = None) -> Any:
    """Build a ``flowkit.GatingStrategy`` from a template (for a workspace: one sample's)."""
    fk = require_flowkit()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if template.kind is TemplateKind.GATINGML:
                return fk.parse_gating_xml(io.BytesIO(template.data))
            wsp = fk.parse_wsp(io.BytesIO(template.data))
    except Exception as exc:  # FlowKit raises ValueError/KeyError/... for unsupported content
        detail = _schema_errors(template) if template.kind is TemplateKind.GATINGML else ""
        raise AssayInputError(
            f"gating template {template.name}: cannot be used ({type(exc).__name__}: {exc})"
            + (f"; GatingML 2.0 schema: {detail}" if detail else "")
        ) from exc
    samples: dict[str, Any] = wsp["samples"]
    if wsp_sample is None:
        if len(samples) != 1:
            raise AssayInputError(
                f"gating template {template.name}: the workspace holds {len(samples)} samples "
                f"({', '.join(sorted(samples))}); name the one to use (wsp_sample)"
            )
        wsp_sample = next(iter(samples))
    if wsp_sample not in samples:
        raise AssayInputError(
            f"gating template {template.name}: sample {wsp_sample!r} not in the workspace "
            f"({', '.join(sorted(samples))})"
        )
    return samples[wsp_sample]["gating_strategy"]


def _compensation_refs(strategy: Any) -> set[str]:
    refs: set[str] = set()
    for name, path in strategy.get_gate_ids():
        try:
            gate = strategy.get_gate(name, path)
        except Exception:  # noqa: S112 - quadrant members are not gates on their own
            continue
        for dim in getattr(gate, "dimensions", []) or []:
            ref = getattr(dim, "compensation_ref", None)
            if ref not in (None, "uncompensated"):
                refs.add(str(ref))
    return refs


def check_template_compensation(
    strategy: Any, sample: Any, fcs: FcsFile, template: GatingTemplate, allow_uncompensated: bool
) -> str:
    """Check the compensation the template asks for is possible; describe it for the record."""
    fk = require_flowkit()
    refs = _compensation_refs(strategy)
    parts: list[str] = []
    for ref in sorted(refs):
        if ref != "FCS":
            parts.append(f"template matrix {ref!r}")
            continue
        spill = spillover_keyword(sample)
        if spill is None:
            if not allow_uncompensated:
                raise InstrumentFileError(
                    f"{fcs.name}: the template {template.name} asks for the file's spillover "
                    f"matrix (compensation-ref='FCS') but the file has no $SPILLOVER/$SPILL "
                    f"keyword; supply a matrix in the template or allow uncompensated gating"
                )
            parts.append("none (template asked for FCS, file has no spillover)")
            continue
        detectors = [sample.pnn_labels[i] for i in sample.fluoro_indices]
        try:
            matrix = fk.Matrix(spill, detectors, null_channels=sample.null_channels)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InstrumentFileError(
                f"{fcs.name}: the file's spillover matrix cannot be applied ({first}); it must "
                f"name exactly the file's fluorescence channels"
            ) from exc
        parts.append(f"FCS spillover keyword ({len(matrix.detectors)} detectors)")
    return "; ".join(parts) if parts else "none"


def _resolve(strategy: Any, wanted: str, pop: ReleasePopulation, where: str) -> tuple[str, ...]:
    """A mapped gate name or ``a/b/c`` path → full path tuple without 'root'."""
    parts = tuple(p for p in wanted.strip("/").split("/") if p)
    if parts and parts[0] == "root":
        parts = parts[1:]
    matches = [(*tuple(p[1:]), parts[-1]) for p in strategy.find_matching_gate_paths(parts[-1])]
    if len(parts) > 1:
        matches = [m for m in matches if m == parts]
    if not matches:
        known = ", ".join("/".join((*p[1:], n)) for n, p in strategy.get_gate_ids())
        raise AssayInputError(
            f"{where}: gate {wanted!r} (mapped to {pop.value}) is not in the template; "
            f"gates: {known}",
            field=pop.value,
        )
    if len(matches) > 1:
        raise AssayInputError(
            f"{where}: gate name {wanted!r} (mapped to {pop.value}) is ambiguous: "
            f"{', '.join('/'.join(m) for m in matches)}; give the full path",
            field=pop.value,
        )
    return matches[0]


def analyze_fcs(
    fcs: str | Path | bytes | FcsFile,
    template: str | Path | bytes | GatingTemplate,
    *,
    sample_id: str | None = None,
    populations: Mapping[ReleasePopulation, str] | Mapping[str, str] | None = None,
    wsp_sample: str | None = None,
    allow_uncompensated: bool = False,
) -> FlowSampleResult:
    """Gate one FCS file with a template and compute its release counts and percentages.

    ``populations`` maps release populations to template gate names or paths; ``None`` uses
    :data:`DEFAULT_GATE_NAMES` (gates of that convention absent from the template are skipped).
    """
    fcs_file = FcsFile.load(fcs)
    tpl = GatingTemplate.load(template)
    where = f"{fcs_file.name} with template {tpl.name}"
    strategy = gating_strategy(tpl, wsp_sample=wsp_sample)
    sample = read_sample(fcs_file, sample_id=sample_id or fcs_file.name)
    compensation = check_template_compensation(strategy, sample, fcs_file, tpl, allow_uncompensated)

    # Which gates are mapped to which release population
    if populations is None:
        names = {n for n, _ in strategy.get_gate_ids()}
        pmap = population_map({p: n for p, n in DEFAULT_GATE_NAMES.items() if n in names})
    else:
        pmap = population_map(populations)
    paths = {pop: _resolve(strategy, wanted, pop, where) for pop, wanted in pmap}
    check_nesting(paths, where)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = strategy.gate_sample(sample, cache_events=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InstrumentFileError(
            f"{where}: gating failed ({type(exc).__name__}: {first})"
        ) from exc

    by_path: dict[tuple[str, ...], int] = {}
    for gate_path, gate_name, count in zip(
        results.report["gate_path"],
        results.report["gate_name"],
        results.report["count"],
        strict=True,
    ):
        by_path[(*tuple(gate_path[1:]), str(gate_name))] = int(count)
    total = int(sample.event_count)
    gate_counts = tuple(
        GateCount(
            path="/".join(p),
            count=by_path[p],
            parent_count=by_path[p[:-1]] if len(p) > 1 else total,
        )
        for p in sorted(by_path, key=lambda p: (len(p), p))
    )
    counts = SampleCounts(
        sample_id=str(sample.id),
        counts=tuple(
            PopulationCount(pop, "/".join(paths[pop]), by_path[paths[pop]]) for pop, _ in pmap
        ),
    )
    inputs = FlowInputs(
        sample_id=str(sample.id),
        source_kind=f"fcs+{tpl.kind.value}",
        file_name=fcs_file.name,
        file_sha256=fcs_file.sha256,
        template_name=tpl.name,
        template_sha256=tpl.sha256,
        compensation=compensation,
        population_map=pmap,
        fcs_version=str(sample.version),
        cytometer=str(sample.metadata.get("cyt")) if sample.metadata.get("cyt") else None,
        total_events=total,
    )
    return sample_result(inputs, counts, gate_counts)
