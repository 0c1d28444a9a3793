"""Results reports, generated in the background from stored snapshots: the ISR-style results table a
World Bank mission reads, and one PO's results report. Pages, the API and the Celery task all call the
functions here; the figures come from monitoring.dashboard (`board`, `progress`), never recomputed.

Rules, as the pages and the files state them:
- **Dates**: each reporting date reads the latest snapshot on or before it (`snapshot_as_of`); the file
  says which snapshot dates were used. The previous reporting date defaults to the last quarter-end
  before the reporting date (none if that is before the programme start).
- **No snapshot yet**: if no snapshot exists on or before a date, the job computes that date's snapshot
  itself first (an aggregation run with the trigger "results report", in the same background task,
  so it also works with a real worker); if that run fails or is skipped because another run holds the
  lock, the job fails with a message saying so and can be requested again.
- **% of target**: `dashboard.progress`, the one rule: programme figures against the programme's end
  targets (ISR); a PO's figures against its own commitments in its approved proposals (PO report),
  with the share of the programme's target as a separate, labelled column.
- **Who**: programme-wide roles (PMU, World Bank, PKSF approver) request and download every report;
  PO staff only their own PO's report (another PO's answers 404); only PMU officers write comments;
  anyone else is refused (403).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _

from core import jobs, lifecycle, quarters
from core.errors import ActionRefused
from core.models import PartnerOrganization
from core.permissions import is_pmu, is_po_staff, sees_whole_programme
from finance import rates
from monitoring import aggregation, dashboard, quality
from monitoring.indicators import programme_start
from monitoring.models import (
    Dimension,
    Indicator,
    ReportFormat,
    ReportJob,
    ReportKind,
    RunTrigger,
    Unit,
)

log = logging.getLogger(__name__)

CONTENT_TYPES = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.PDF: "application/pdf",
}
COMMENT_MAX_LENGTH = 2000
# The breakdowns of the PO report: the dimensions shown and the ME indicators they are shown for.
PO_BREAKDOWNS = (Dimension.DISTRICT, Dimension.SUB_SECTOR)
# How many of a user's reports the reports page lists.
RECENT_JOBS = 15


class ReportError(Exception):
    """A report that cannot be made, with a message for the person who asked for it."""


# --- Who may do what ------------------------------------------------------------------------------


def may_use_reports(user) -> bool:
    """Programme-wide roles and PO staff; TEC members, verifiers and others have no reports."""
    return sees_whole_programme(user) or is_po_staff(user)


def visible_jobs(user) -> QuerySet[ReportJob]:
    """The report jobs `user` may see and download: every job for programme-wide roles; for PO staff
    the PO reports of their own PO (whoever asked for them); nothing for anyone else."""
    jobs = ReportJob.objects.select_related("partner_organization", "requested_by")
    if sees_whole_programme(user):
        return jobs
    if is_po_staff(user):
        return jobs.filter(kind=ReportKind.PO, partner_organization_id=user.partner_organization_id)
    return jobs.none()


# --- Dates and comments ---------------------------------------------------------------------------


def quarter_end_before(day: date) -> date:
    """The last calendar quarter-end strictly before `day`."""
    return quarters.previous_quarter_end(day)


def latest_quarter_end(today: date | None = None) -> date:
    """The last quarter-end on or before today: the usual reporting date."""
    today = today or timezone.localdate()
    return today if quarters.is_quarter_end(today) else quarters.previous_quarter_end(today)


def default_previous(as_of: date) -> date | None:
    previous = quarter_end_before(as_of)
    return previous if previous >= programme_start() else None


def last_comments(as_of: date | None) -> dict[str, str]:
    """The comments of the last ISR report requested for the same reporting date (any status: a failed
    job's comments are kept for the next request)."""
    if as_of is None:
        return {}
    job = (
        ReportJob.objects.filter(kind=ReportKind.ISR, as_of=as_of)
        .exclude(comments={})
        .order_by("-requested_at", "-pk")
        .first()
    )
    return dict(job.comments) if job else {}


# --- Requesting a report --------------------------------------------------------------------------


@dataclass
class ReportRequest:
    kind: str
    file_format: str
    as_of: date
    previous_as_of: date | None
    po: PartnerOrganization | None
    comments: dict[str, str]


def check_request(
    user,
    *,
    kind: str,
    file_format: str,
    as_of: date | None,
    previous_as_of: date | None = None,
    po_code: str | None = None,
    comments: dict[str, str] | None = None,
) -> ReportRequest:
    """Check a request for a report and complete it (default previous date, PO staff's own PO,
    comments from the last report of the same date). Raises PermissionDenied (403) for a role that
    may not, Http404 for PO staff naming another PO, ValidationError by field for bad input."""
    if not may_use_reports(user):
        raise PermissionDenied(_("Your role has no results reports."))
    errors: dict[str, list[str]] = {}
    if kind not in ReportKind.values:
        errors["kind"] = [_("Choose the ISR results table or a PO results report.")]
    if file_format not in ReportFormat.values:
        errors["file_format"] = [_("Choose Excel (.xlsx) or PDF.")]
    if as_of is None:
        errors["as_of"] = [_("Enter the reporting date, e.g. 2025-06-30.")]
    labels = {"as_of": _("The reporting date"), "previous_as_of": _("The previous reporting date")}
    for name, day in (("as_of", as_of), ("previous_as_of", previous_as_of)):
        if day is not None:
            try:
                dashboard.check_results_date(day, labels[name])  # from the programme start to today
            except ValidationError as exc:
                errors[name] = exc.messages
    if as_of is not None and previous_as_of is not None and previous_as_of >= as_of:
        errors.setdefault("previous_as_of", []).append(
            _("The previous reporting date must be before the reporting date.")
        )
    po = None
    if kind == ReportKind.ISR:
        if not sees_whole_programme(user):
            raise PermissionDenied(
                _("The ISR results table covers the whole programme; request your PO's report.")
            )
    elif kind == ReportKind.PO:
        if sees_whole_programme(user):
            if not po_code:
                errors["po"] = [_("Choose the PO whose report you want.")]
            else:
                po = PartnerOrganization.objects.filter(code=po_code).first()
                if po is None:
                    errors["po"] = [_("No PO has the code %(code)s.") % {"code": po_code}]
        else:
            po = user.partner_organization
            if po_code and po_code != po.code:
                raise Http404(_("No PO matches the given query."))
    if comments:
        if not is_pmu(user):
            raise PermissionDenied(_("Only PMU officers write comments on the results table."))
        if kind != ReportKind.ISR:
            errors["comments"] = [_("Comments go in the ISR results table only.")]
        else:
            known = set(Indicator.objects.filter(code__in=list(comments)).values_list("code", flat=True))
            unknown = sorted(set(comments) - known)
            if unknown:
                errors.setdefault("comments", []).append(
                    _("No indicator has the code %(codes)s.") % {"codes": ", ".join(unknown)}
                )
            too_long = sorted(code for code, text in comments.items() if len(str(text)) > COMMENT_MAX_LENGTH)
            if too_long:
                errors.setdefault("comments", []).append(
                    _("Keep each comment under %(max)s characters (too long: %(codes)s).")
                    % {"max": COMMENT_MAX_LENGTH, "codes": ", ".join(too_long)}
                )
    if errors:
        raise ValidationError(errors)
    if kind == ReportKind.ISR:
        if previous_as_of is None:
            previous_as_of = default_previous(as_of)
        if comments is None:
            comments = last_comments(as_of)
        comments = {code: str(text).strip() for code, text in comments.items() if str(text).strip()}
    else:
        previous_as_of, comments = None, {}
    return ReportRequest(kind, file_format, as_of, previous_as_of, po, comments)


def request_report(user, **request) -> ReportJob:
    """Check the request (see `check_request`), record the job and queue its generation once the
    transaction commits (in-process without a broker)."""
    return create_job(user, check_request(user, **request))


def create_job(user, checked: ReportRequest) -> ReportJob:
    """Record and queue a request already checked by `check_request` (e.g. by the page's form)."""
    # The job and its queued task are saved together: a job saved without its message would stay
    # "queued" for ever, and the page would poll it for ever.
    with transaction.atomic():
        job = ReportJob.objects.create(
            kind=checked.kind,
            file_format=checked.file_format,
            as_of=checked.as_of,
            previous_as_of=checked.previous_as_of,
            partner_organization=checked.po,
            comments=checked.comments,
            requested_by=user,
        )
        _queue(job)
    return job


def request_again(job: ReportJob, user) -> ReportJob:
    """The same report once more (after a failure, or with newer figures), under the same checks."""
    return request_report(
        user,
        kind=job.kind,
        file_format=job.file_format,
        as_of=job.as_of,
        previous_as_of=job.previous_as_of,
        po_code=job.partner_organization.code if job.partner_organization else None,
        comments=dict(job.comments) if is_pmu(user) else None,
    )


def _queue(job: ReportJob) -> None:
    from core import outbox
    from monitoring.tasks import generate_report

    outbox.enqueue(generate_report, job.pk)


# --- The figures ----------------------------------------------------------------------------------


def snapshot_for(day: date, user=None) -> dashboard.AsOf:
    """The snapshot answering `day`; when none exists on or before it, compute that date's snapshot
    now (we are in the background task already) or fail with a clear message."""
    chosen = dashboard.snapshot_as_of(day, compute_if_missing=False)
    if chosen.snapshot is not None:
        return chosen
    run = aggregation.run_now(as_of=day, trigger=RunTrigger.REPORT, user=user if user and user.pk else None)
    chosen = dashboard.snapshot_as_of(day, compute_if_missing=False)
    if chosen.snapshot is None:
        raise ReportError(
            _(
                "No figures were stored on or before %(date)s and computing them did not succeed "
                "(aggregation run %(run)s: %(status)s%(error)s). Request the report again once an "
                "aggregation run for that date has succeeded."
            )
            % {
                "date": day.isoformat(),
                "run": run.pk,
                "status": run.get_status_display(),
                "error": f" — {run.error}" if run.error else "",
            }
        )
    return chosen


def _by_code(board: dashboard.Board) -> dict[str, dashboard.Headline]:
    """Every headline of a board (top-level, parts and companions) by indicator code."""
    found: dict[str, dashboard.Headline] = {}
    for headline in board.headlines:
        found[headline.indicator.code] = headline
        for part in headline.parts:
            found[part.indicator.code] = part
    for companion in board.companions.values():
        if companion is not None:
            found[companion.indicator.code] = companion
    return found


def framework() -> list[Indicator]:
    """Every indicator in the framework's order (as the dashboard and the framework page)."""
    return list(Indicator.objects.order_by("position", "code"))


@dataclass
class IsrRow:
    indicator: Indicator
    baseline: Decimal | None
    baseline_date: date | None
    previous: Decimal | None
    current: Decimal | None
    target: Decimal | None
    percent: float | None
    comment: str

    @property
    def is_part(self) -> bool:
        return self.indicator.parent_id is not None


@dataclass
class IsrReport:
    as_of: dashboard.AsOf
    previous: dashboard.AsOf | None
    rows: list[IsrRow]
    generated_at: datetime = field(default_factory=timezone.now)
    requested_by: str = ""

    kind = ReportKind.ISR

    @property
    def title(self) -> str:
        return _("SMART results framework: ISR results table as of %(date)s") % {
            "date": self.as_of.requested.isoformat()
        }

    @property
    def columns(self) -> list[str]:
        return isr_columns(self)

    def notes(self) -> list[tuple[str, str]]:
        return _isr_notes(self)


def isr_report(as_of: dashboard.AsOf, previous: dashboard.AsOf | None, comments: dict[str, str]) -> IsrReport:
    """One row per indicator of the framework, in its order: baseline, previous and current values
    (programme), end target, % of target (`dashboard.progress`, read from the board) and comment."""
    current = _by_code(dashboard.board(as_of=as_of))
    before = _by_code(dashboard.board(as_of=previous)) if previous and previous.snapshot else {}
    rows = []
    for indicator in framework():
        headline = current.get(indicator.code)
        earlier = before.get(indicator.code)
        progress = headline.progress if headline else dashboard.progress(indicator, None)
        rows.append(
            IsrRow(
                indicator=indicator,
                baseline=indicator.baseline_value,
                baseline_date=indicator.baseline_date,
                previous=earlier.value if earlier else None,
                current=headline.value if headline else None,
                target=indicator.target,
                percent=progress.percent if progress.basis == "programme" else None,
                comment=comments.get(indicator.code, ""),
            )
        )
    return IsrReport(as_of, previous, rows)


def isr_columns(report: IsrReport) -> list[str]:
    return [
        _("Indicator"),
        _("Level"),
        _("Unit"),
        _("Baseline"),
        _("Baseline date"),
        _("Previous value (as of %(date)s)") % {"date": _snapshot_date(report.previous)}
        if report.previous
        else _("Previous value (none: before the programme start)"),
        _("Current value (as of %(date)s)") % {"date": _snapshot_date(report.as_of)},
        _("End target"),
        # xgettext:no-python-format
        _("Progress (% of end target)"),
        _("Comment"),
    ]


def _snapshot_date(chosen: dashboard.AsOf | None) -> str:
    if chosen is None or chosen.snapshot is None:
        return _("no previous date")
    return chosen.snapshot.as_of.isoformat()


def _snapshot_statement(label: str, chosen: dashboard.AsOf | None) -> tuple[str, str]:
    if chosen is None:
        return label, _("None: the previous quarter-end is before the programme start.")
    snapshot = chosen.snapshot
    text = _("%(asked)s: figures of the snapshot of %(used)s, computed %(computed)s.") % {
        "asked": chosen.requested.isoformat(),
        "used": snapshot.as_of.isoformat(),
        "computed": timezone.localtime(snapshot.computed_at).strftime("%Y-%m-%d %H:%M"),
    }
    if snapshot.as_of != chosen.requested:
        text += " " + _("No snapshot was stored for that exact date: this is the latest one before it.")
    return label, text


def _rates_text(chosen: dashboard.AsOf | None) -> str:
    """The BDT/USD rates the figures of the date used: those in force on some day from the programme
    start to the snapshot's date, from the portal's rate table."""
    if chosen is not None and chosen.snapshot is not None:
        day = chosen.snapshot.as_of
    else:
        day = (chosen.requested if chosen is not None else None) or timezone.localdate()
    used = rates.rates_in_force(programme_start(), day)
    if not used:
        return _("no rate entered")
    return "; ".join(
        _("%(rate)s from %(day)s")
        % {"rate": quality.plain(rate.bdt_per_usd), "day": rate.valid_from.isoformat()}
        for rate in used
    )


def _common_rules(chosen: dashboard.AsOf | None) -> list[tuple[str, str]]:
    return [
        (
            _("As of a date"),
            _(
                "Every figure is that of the latest snapshot stored on or before the date. Snapshots are "
                "computed every night and on request; for a date with no snapshot on or before it, the "
                "report computed one first."
            ),
        ),
        (
            _("Units"),
            _(
                "Counts of MEs, facilities or jobs; shares in percent; money in USD, each amount at the "
                "BDT/USD rate of its own day (a disbursement at its disbursement date, a committed budget "
                "at its award date), from the portal's rate table. BDT per USD: %(rates)s."
            )
            % {"rates": _rates_text(chosen)},
        ),
        (
            _("Parts and companions"),
            _(
                "Indicators marked as a part (e.g. revenue-generating CSFs) are included in the indicator "
                "above them. Figures “reported, not yet verified” are shown beside an indicator, never "
                "inside it."
            ),
        ),
    ]


def _isr_notes(report: IsrReport) -> list[tuple[str, str]]:
    return [
        (_("Report"), report.title),
        _snapshot_statement(_("Reporting date"), report.as_of),
        _snapshot_statement(_("Previous reporting date"), report.previous),
        *_common_rules(report.as_of),
        (
            _("Progress"),
            _(
                # xgettext:no-python-format
                "The current value as a percentage of the programme's end-of-project target (the "
                "dashboard's “% of target”). Empty where an indicator has no end target."
            ),
        ),
        (_("Comments"), _("Written by the PMU for this report.")),
        (
            _("Generated"),
            _("%(when)s by %(who)s, from the SMART Portal.")
            % {
                "when": timezone.localtime(report.generated_at).strftime("%Y-%m-%d %H:%M"),
                "who": report.requested_by or "—",
            },
        ),
    ]


@dataclass
class PoRow:
    indicator: Indicator
    value: Decimal | None
    commitment: Decimal | None
    percent: float | None
    programme_target: Decimal | None
    programme_percent: float | None

    @property
    def is_part(self) -> bool:
        return self.indicator.parent_id is not None


@dataclass
class Breakdown:
    dimension: str
    indicators: list[Indicator]
    # (group label, one value per indicator)
    rows: list[tuple[str, list[Decimal]]]

    @property
    def label(self) -> str:
        return str(Dimension(self.dimension).label)


@dataclass
class PoReport:
    po: PartnerOrganization
    as_of: dashboard.AsOf
    rows: list[PoRow]
    breakdowns: list[Breakdown]
    quality: quality.QualityRow
    quality_rules: list[tuple[str, str]]
    generated_at: datetime = field(default_factory=timezone.now)
    requested_by: str = ""

    kind = ReportKind.PO

    @property
    def title(self) -> str:
        return _("SMART results of %(po)s as of %(date)s") % {
            "po": self.po,
            "date": self.as_of.requested.isoformat(),
        }

    @property
    def columns(self) -> list[str]:
        return [
            _("Indicator"),
            _("Level"),
            _("Unit"),
            _("Value (as of %(date)s)") % {"date": _snapshot_date(self.as_of)},
            _("PO commitment (approved proposals)"),
            # xgettext:no-python-format
            _("% of the PO's commitment"),
            _("Programme end target"),
            _("Share of the programme target (%)"),
        ]

    @property
    def quality_note(self) -> str:
        # The panel is not stored by date: say that its figures are of the day the report was made.
        return _(
            "Figures of the day the report was made (%(day)s), not of the reporting date: data quality "
            "is not stored by date. Each figure's rule is stated beside it."
        ) % {"day": timezone.localtime(self.generated_at).date().isoformat()}

    def quality_figures(self) -> list[tuple[str, object, str, str]]:
        """(metric, value, detail, how it is counted) of the PO's data-quality panel."""
        row = self.quality
        rate = _("not yet checked") if row.confirmation_rate is None else f"{row.confirmation_rate} %"
        figures = [
            (
                _("Readings overdue"),
                row.readings_overdue,
                _("of %(n)s MEs with a KPI baseline") % {"n": row.mes_with_baseline},
            ),
            (
                _("Adoptions unverified"),
                row.adoptions_unverified,
                _("of %(n)s adoptions reported") % {"n": row.adoptions_reported},
            ),
            (
                _("Verification confirmation rate"),
                rate,
                _("%(done)s of %(sampled)s sampled checks done%(flag)s")
                % {
                    "done": row.checks_done,
                    "sampled": row.checks_sampled,
                    "flag": " · " + _("flagged: below the threshold") if row.flagged else "",
                },
            ),
            (_("Duplicates pending"), row.duplicates_pending, _("pairs the PMU has not decided")),
            (
                _("Imports refused"),
                row.imports_refused,
                _("in the last %(days)s days") % {"days": quality.IMPORTS_REFUSED_DAYS},
            ),
            (
                _("Last data entry"),
                timezone.localtime(row.last_entry).strftime("%Y-%m-%d %H:%M")
                if row.last_entry
                else _("never"),
                "",
            ),
        ]
        # quality.rules() states the rules in the same order as these figures.
        return [(*figure, rule) for figure, (_name, rule) in zip(figures, self.quality_rules, strict=True)]

    def notes(self) -> list[tuple[str, str]]:
        return [
            (_("Report"), self.title),
            _snapshot_statement(_("Reporting date"), self.as_of),
            *_common_rules(self.as_of),
            (
                # xgettext:no-python-format
                _("% of the PO's commitment"),
                _(
                    "The PO's figure as a percentage of what it committed to in its approved proposals "
                    "(committed results; for money disbursed to MEs, its budget lines for financing MEs). "
                    "Empty where the PO committed to nothing for that indicator."
                ),
            ),
            (
                _("Share of the programme target"),
                _(
                    "The PO's figure as a percentage of the whole programme's end-of-project target: its "
                    "contribution, not its progress."
                ),
            ),
            (_("Data quality"), self.quality_note),
            (
                _("Generated"),
                _("%(when)s by %(who)s, from the SMART Portal.")
                % {
                    "when": timezone.localtime(self.generated_at).strftime("%Y-%m-%d %H:%M"),
                    "who": self.requested_by or "—",
                },
            ),
        ]


def main_me_indicators(indicators: list[Indicator]) -> list[Indicator]:
    """The ME indicators of the framework (not their "reported, not yet verified" companions)."""
    companions = set(dashboard.COMPANIONS.values())
    return [i for i in indicators if i.code in dashboard.ENTERPRISE_INDICATORS and i.code not in companions]


def po_report(po: PartnerOrganization, as_of: dashboard.AsOf) -> PoReport:
    """One PO's figures for every indicator against its own commitments (and, labelled, as a share of
    the programme's target), its breakdowns by district and sub-sector, and its data-quality panel."""
    headlines = _by_code(dashboard.board(as_of=as_of, po_id=po.pk))
    indicators = framework()
    rows = []
    for indicator in indicators:
        headline = headlines.get(indicator.code)
        if headline is None:
            progress = dashboard.progress(indicator, None, po_id=po.pk)
            rows.append(PoRow(indicator, None, progress.target, None, indicator.target, None))
            continue
        progress = headline.progress
        rows.append(
            PoRow(
                indicator=indicator,
                value=headline.value,
                commitment=progress.target if progress.basis == "po_commitment" else None,
                percent=progress.percent if progress.basis == "po_commitment" else None,
                programme_target=indicator.target,
                programme_percent=headline.programme_percent,
            )
        )
    shown = main_me_indicators(indicators)
    breakdowns = []
    for dimension in PO_BREAKDOWNS:
        groups: dict[str, dict[str, Decimal]] = {}
        for indicator in shown:
            headline = headlines.get(indicator.code)
            for value in headline.breakdowns.get(dimension, []) if headline else []:
                groups.setdefault(value.label or value.key, {})[indicator.code] = value.value
        rows_of_groups = [
            (label, [values.get(i.code, Decimal(0)) for i in shown])
            for label, values in sorted(groups.items())
        ]
        breakdowns.append(Breakdown(dimension, shown, rows_of_groups))
    panel = quality.panel(po_id=po.pk)
    return PoReport(
        po, as_of, rows, breakdowns, panel.row(po.pk) or quality.QualityRow(po=po), quality.rules(panel)
    )


# --- Files ----------------------------------------------------------------------------------------


def _number(value: Decimal | float | None) -> int | float | None:
    """A spreadsheet number: integers stay integers."""
    if value is None:
        return None
    value = Decimal(str(value)) if isinstance(value, float) else value
    return int(value) if value == value.to_integral_value() else float(value)


def _fraction(percent: float | Decimal | None) -> float | None:
    """A percentage as a spreadsheet percentage (0.25 shown as 25.0 %)."""
    return None if percent is None else float(percent) / 100


def _value_cell(value: Decimal | None, unit: str) -> tuple[int | float | None, str]:
    if unit == Unit.PERCENT:
        return _fraction(value), "0.0%"
    # Counts and USD alike: whole numbers with thousands separators (the unit column says which).
    return _number(value), "#,##0"


def _sheet_header(sheet, columns: list[str], widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    sheet.append([str(c) for c in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="1F5C4A")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[_column_letter(index)].width = width


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index)


def _notes_sheet(book, notes: list[tuple[str, str]], indicators: list[Indicator]) -> None:
    from openpyxl.styles import Alignment, Font

    sheet = book.create_sheet(_("Notes"))
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 100
    for topic, text in notes:
        sheet.append([str(topic), str(text)])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
        sheet.cell(sheet.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
    sheet.append([])
    sheet.append(
        [
            str(_("Code")),
            str(_("What is counted")),
            str(_("Data source")),
            str(_("Frequency")),
            str(_("Responsible")),
        ]
    )
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for column, width in zip("CDE", (45, 16, 40), strict=True):
        sheet.column_dimensions[column].width = width
    for indicator in indicators:
        sheet.append(
            [
                indicator.code,
                f"{indicator.name}: {indicator.definition}",
                indicator.data_source,
                indicator.get_frequency_display(),
                indicator.responsible_unit,
            ]
        )
        for cell in sheet[sheet.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")


def _indent(cell, row) -> None:
    from openpyxl.styles import Alignment

    if row.is_part:
        cell.alignment = Alignment(indent=2, wrap_text=True, vertical="top")
    else:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def isr_xlsx(report: IsrReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    book = Workbook()
    sheet = book.active
    sheet.title = _("ISR results")
    _sheet_header(sheet, report.columns, [48, 26, 12, 12, 13, 18, 18, 14, 14, 50])
    for row in report.rows:
        unit = row.indicator.unit
        baseline, value_format = _value_cell(row.baseline, unit)
        previous, _format = _value_cell(row.previous, unit)
        current, _format = _value_cell(row.current, unit)
        target, _format = _value_cell(row.target, unit)
        sheet.append(
            [
                row.indicator.name,
                row.indicator.get_level_display(),
                row.indicator.get_unit_display(),
                baseline,
                row.baseline_date,
                previous,
                current,
                target,
                _fraction(row.percent),
                row.comment,
            ]
        )
        line = sheet.max_row
        _indent(sheet.cell(line, 1), row)
        for column in (4, 6, 7, 8):
            sheet.cell(line, column).number_format = value_format
        sheet.cell(line, 5).number_format = "yyyy-mm-dd"
        sheet.cell(line, 9).number_format = "0.0%"
        sheet.cell(line, 10).alignment = Alignment(wrap_text=True, vertical="top")
    _notes_sheet(book, report.notes(), [row.indicator for row in report.rows])
    return _save(book)


def po_xlsx(report: PoReport) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment

    book = Workbook()
    sheet = book.active
    sheet.title = _("PO results")
    _sheet_header(sheet, report.columns, [48, 26, 12, 16, 18, 14, 16, 16])
    for row in report.rows:
        unit = row.indicator.unit
        value, value_format = _value_cell(row.value, unit)
        commitment, _format = _value_cell(row.commitment, unit)
        target, _format = _value_cell(row.programme_target, unit)
        sheet.append(
            [
                row.indicator.name,
                row.indicator.get_level_display(),
                row.indicator.get_unit_display(),
                value,
                commitment,
                _fraction(row.percent),
                target,
                _fraction(row.programme_percent),
            ]
        )
        line = sheet.max_row
        _indent(sheet.cell(line, 1), row)
        for column in (4, 5, 7):
            sheet.cell(line, column).number_format = value_format
        for column in (6, 8):
            sheet.cell(line, column).number_format = "0.0%"
    for breakdown in report.breakdowns:
        part = book.create_sheet((_("By %(dimension)s") % {"dimension": breakdown.label})[:31])
        _sheet_header(
            part,
            [breakdown.label.capitalize(), *(i.name for i in breakdown.indicators)],
            [30] + [18] * len(breakdown.indicators),
        )
        for label, values in breakdown.rows:
            part.append([label, *(_number(v) for v in values)])
            for cell in part[part.max_row][1:]:
                cell.number_format = "#,##0"
    checks = book.create_sheet(_("Data quality"))
    _sheet_header(
        checks, [_("Data quality"), _("Value"), _("Detail"), _("How it is counted")], [30, 14, 36, 90]
    )
    for name, value, detail, rule in report.quality_figures():
        checks.append([str(name), value, str(detail), str(rule)])
        checks.cell(checks.max_row, 4).alignment = Alignment(wrap_text=True, vertical="top")
    _notes_sheet(book, report.notes(), [row.indicator for row in report.rows])
    return _save(book)


def _save(book) -> bytes:
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def render_pdf(report: IsrReport | PoReport) -> bytes:
    """The same tables on A4 landscape pages (WeasyPrint, system fonts as the TEC minutes)."""
    from weasyprint import HTML

    template = (
        "monitoring/report_isr_pdf.html" if report.kind == ReportKind.ISR else "monitoring/report_po_pdf.html"
    )
    html = render_to_string(template, {"report": report})
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def render(report: IsrReport | PoReport, file_format: str) -> bytes:
    if file_format == ReportFormat.PDF:
        return render_pdf(report)
    return isr_xlsx(report) if report.kind == ReportKind.ISR else po_xlsx(report)


def download_name(job: ReportJob) -> str:
    scope = "isr" if job.kind == ReportKind.ISR else job.partner_organization.code.lower()
    return f"smart-{scope}-results-{job.as_of.isoformat()}.{job.file_format}"


# --- The background job ---------------------------------------------------------------------------


def generate(job: ReportJob) -> ReportJob:
    """Make the report of `job` and store its file (under the media root); any failure is recorded on
    the job with a message for the person who asked, never raised. Each move of the job goes through
    its lifecycle (monitoring.lifecycles), taken by the portal: a job no longer queued (another worker
    was handed it too) is left as it is and returned as stored. The worker holds the job's lock from
    before its claim to its end, so that the sweeper (core.jobs) can tell when the worker died."""
    with jobs.advisory_lock(jobs.LockSpace.REPORT_JOB, job.pk) as mine:
        if not mine:  # another worker makes this very report
            return ReportJob.objects.get(pk=job.pk)
        return _generate(job)


def _generate(job: ReportJob) -> ReportJob:
    started = _move(job, "start")
    if started is None:
        return ReportJob.objects.get(pk=job.pk)
    job = started
    try:
        content = _make(job, jobs.Heartbeat(ReportJob, job.pk))
    except ReportError as exc:
        return _fail(job, str(exc))
    except Exception as exc:  # any failure is recorded on the job; the page offers to request it again
        log.exception("report job %s failed", job.pk)
        return _fail(job, _unexpected(exc))
    try:
        ready = _move(job, "succeed", content=content)
    except Exception as exc:  # the file could not be stored
        log.exception("report job %s failed", job.pk)
        return _fail(job, _unexpected(exc))
    return ready or ReportJob.objects.get(pk=job.pk)


def _make(job: ReportJob, heartbeat: Callable[[], None] | None = None) -> bytes:
    """The file's content, from the snapshots (computing a missing one first)."""

    def beat() -> None:
        if heartbeat is not None:
            heartbeat()

    current = snapshot_for(job.as_of, job.requested_by)
    beat()
    if job.kind == ReportKind.ISR:
        previous = snapshot_for(job.previous_as_of, job.requested_by) if job.previous_as_of else None
        beat()
        report = isr_report(current, previous, job.comments or {})
    else:
        report = po_report(job.partner_organization, current)
    beat()
    report.requested_by = job.requested_by.get_display_name() if job.requested_by else ""
    return render(report, job.file_format)


def _unexpected(exc: Exception) -> str:
    return _(
        "The report could not be made (%(error)s). Request it again; if it fails again, tell the PMU."
    ) % {"error": f"{type(exc).__name__}: {exc}"}


def _fail(job: ReportJob, error: str) -> ReportJob:
    return _move(job, "fail", comment=error, error=error) or ReportJob.objects.get(pk=job.pk)


def _move(job: ReportJob, action: str, comment: str = "", **params) -> ReportJob | None:
    """The job after the portal's `action`, or None when it was no longer in a state to take it
    (another worker took it first; `apply()` then changed nothing)."""
    try:
        return lifecycle.apply(job, action, None, comment=comment, **params)
    except ActionRefused as exc:
        if exc.code != "wrong_state":
            raise
        log.warning("report job %s: %s refused (%s)", job.pk, action, exc)
        return None
