"""Spreadsheet imports of enterprises and field records (CSV and XLSX), for the browser, the API,
the management commands and the benchmark alike. See base.py for how a file is checked and written.

    report = import_file("enterprises", partner_organization=po, user=user,
                         open_file=lambda: open(path, "rb"), file_format="csv", commit=True)
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from django.utils.translation import gettext as _

from core.models import District, PartnerOrganization, SubSector, Upazila
from enterprises.imports.base import Column, Importer, ImportReport, Progress, RowError
from enterprises.imports.files import OpenFile, csv_bytes, xlsx_bytes
from enterprises.imports.kinds import IMPORTERS
from enterprises.models import (
    FacilityKind,
    FacilityStatus,
    Gender,
    Kpi,
    ReadingSource,
    RecpPractice,
    SupportKind,
    TrainingModule,
)
from subprojects.models import Financier, SubProject

__all__ = [
    "IMPORTERS",
    "Column",
    "ImportReport",
    "Importer",
    "RowError",
    "file_format_of",
    "get_importer",
    "import_file",
    "template_csv",
    "template_xlsx",
]


def get_importer(kind: str, *, partner_organization: PartnerOrganization, user=None) -> Importer:
    try:
        importer_class = IMPORTERS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(IMPORTERS)}") from None
    return importer_class(partner_organization=partner_organization, user=user)


def file_format_of(name: str) -> str:
    suffix = PurePath(name).suffix.lower()
    if suffix not in {".csv", ".xlsx"}:
        raise ValueError(_("Only .csv and .xlsx files can be imported."))
    return suffix[1:]


def import_file(
    kind: str,
    *,
    partner_organization: PartnerOrganization,
    user=None,
    open_file: OpenFile,
    file_format: str,
    commit: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """Check a file (commit=False: the dry run), or check it and write it if it is valid."""
    importer = get_importer(kind, partner_organization=partner_organization, user=user)
    if commit:
        return importer.commit(open_file, file_format, progress)
    return importer.check(open_file, file_format, progress)


# --- Templates ------------------------------------------------------------------------------------


def template_csv(kind: str) -> bytes:
    """The header row, ready to fill in (UTF-8 with a byte-order mark, so Excel shows Bangla)."""
    return csv_bytes([column.name for column in IMPORTERS[kind].columns])


def _lists_for(
    kind: str, partner_organization: PartnerOrganization | None
) -> list[tuple[str, list[str], list[list[Any]]]]:
    sheets: list[tuple[str, list[str], list[list[Any]]]] = []
    if kind in {"enterprises", "trainings", "facilities"} and partner_organization is not None:
        sub_projects = SubProject.objects.filter(partner_organization=partner_organization).select_related(
            "sector"
        )
        sheets.append(
            (
                "sub_project",
                ["agreement_number", "title", "sector", "status"],
                [
                    [sp.agreement_number, sp.title, sp.sector.name, sp.get_status_display()]
                    for sp in sub_projects
                ],
            )
        )
    if kind in {"enterprises", "facilities"}:
        subs = SubSector.objects.select_related("sector__business_area")
        sheets.append(
            (
                "sub_sector",
                ["code", "name", "sector", "business_area"],
                [[s.code, s.name, s.sector.name, s.sector.business_area.name] for s in subs],
            )
        )
    if kind in {"enterprises", "facilities", "trainings"}:
        districts = District.objects.select_related("division").order_by("division__name", "name")
        sheets.append(
            (
                "district",
                ["pcode", "name", "division"],
                [[d.pcode, d.name, d.division.name] for d in districts],
            )
        )
    if kind in {"enterprises", "facilities"}:
        upazilas = Upazila.objects.select_related("district").order_by("district__name", "name")
        sheets.append(
            ("upazila", ["pcode", "name", "district"], [[u.pcode, u.name, u.district.name] for u in upazilas])
        )
    if kind == "enterprises":
        sheets.append(("owner_gender", ["value", "label"], [[v, str(label)] for v, label in Gender.choices]))
    if kind == "financial-supports":
        sheets.append(("kind", ["value", "label"], [[v, str(label)] for v, label in SupportKind.choices]))
        sheets.append(("financier", ["value", "label"], [[v, str(label)] for v, label in Financier.choices]))
    if kind == "trainings":
        sheets.append(
            (
                "module",
                ["code", "name", "climate_vulnerability", "what_it_covers"],
                [
                    [m.code, m.name, _("yes") if m.climate_vulnerability else _("no"), m.description]
                    for m in TrainingModule.objects.filter(is_active=True)
                ],
            )
        )
    if kind == "adoptions":
        practices = RecpPractice.objects.filter(is_active=True).prefetch_related("applicable_sub_sectors")
        sheets.append(
            (
                "practice_code",
                ["code", "name", "category", "sub_sectors"],
                [
                    [
                        p.code,
                        p.name,
                        p.get_category_display(),
                        ", ".join(s.code for s in p.applicable_sub_sectors.all()) or _("all"),
                    ]
                    for p in practices
                ],
            )
        )
    if kind == "kpi-readings":
        kpis = Kpi.objects.filter(is_active=True)
        sheets.append(
            (
                "kpi_code",
                ["code", "name", "unit", "lowest", "highest"],
                [[k.code, k.name, k.unit, k.min_value, k.max_value] for k in kpis],
            )
        )
        sheets.append(("source", ["value", "label"], [[v, str(label)] for v, label in ReadingSource.choices]))
    if kind == "facilities":
        sheets.append(("kind", ["value", "label"], [[v, str(label)] for v, label in FacilityKind.choices]))
        sheets.append(
            ("status", ["value", "label"], [[v, str(label)] for v, label in FacilityStatus.choices])
        )
    return sheets


def template_xlsx(kind: str, partner_organization: PartnerOrganization | None = None) -> bytes:
    """The header on the first sheet (fill it in), then a help sheet and the allowed values."""
    importer = IMPORTERS[kind]
    columns = importer.columns
    help_rows = [
        [c.name, _("required") if c.required else _("optional"), str(c.description), c.example]
        for c in columns
    ]
    sheets = [
        (kind, [c.name for c in columns], []),
        (_("help"), [_("column"), _("required"), _("what to write"), _("example")], help_rows),
        *_lists_for(kind, partner_organization),
    ]
    return xlsx_bytes(sheets)
