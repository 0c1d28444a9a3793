"""The data-quality panel: for each PO, the figures that tell the PMU whether its reported data can be
relied on. Pages, the API and the PO results report all read `panel()`.

Each metric is one grouped query over all POs (never a query per PO), so the panel costs the same
number of queries for 1 or 100 POs. The rules, as the page states them:

- **Readings overdue**: MEs (a confirmed duplicate counted once, as its original) with a baseline
  reading for some KPI but no reading of any KPI for a month from the start of the last
  `READINGS_OVERDUE_MONTHS` complete months on (the current month counts too).
- **Adoptions unverified**: RECP adoptions the PO reported that nobody outside any PO (a PMU officer
  or a verifier) has verified, as a share of all adoptions the PO reported.
- **Verification**: the confirmation rate of the PO's sampled verification checks over all rounds
  (verification.rates), flagged below the PMU's threshold.
- **Duplicates pending**: suspected duplicate pairs the PMU has not decided that involve one of the
  PO's MEs (a pair across two POs counts for both).
- **Imports refused**: the PO's spreadsheet imports of the last `IMPORTS_REFUSED_DAYS` days that were
  refused for errors in the file or failed.
- **Last data entry**: the latest time any of the PO's MEs or field records (financial support,
  trainings, RECP adoptions, KPI readings, facilities) was entered.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from core.models import PartnerOrganization
from enterprises.models import (
    Adoption,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    ImportJob,
    ImportStatus,
    KpiReading,
    TrainingSession,
)

# How many complete months without any reading make an ME with a baseline "overdue" (a setting).
READINGS_OVERDUE_MONTHS: int = getattr(settings, "MONITORING_READINGS_OVERDUE_MONTHS", 3)
# How far back refused imports are counted.
IMPORTS_REFUSED_DAYS: int = 90
# The import statuses meaning the file was refused (errors in it) or the import failed.
# A file its PO cancelled after it was refused still counts: cancelling does not hide a refusal.
REFUSED_IMPORTS = Q(status__in=(ImportStatus.INVALID, ImportStatus.FAILED)) | (
    Q(status=ImportStatus.CANCELLED) & (Q(error_count__gt=0) | ~Q(failure=""))
)
# Records whose `created_at` tells when the PO last entered data, with the path to their PO.
ENTRY_RECORDS = (
    (Enterprise, "partner_organization"),
    (FinancialSupport, "enterprise__partner_organization"),
    (TrainingSession, "partner_organization"),
    (Adoption, "enterprise__partner_organization"),
    (KpiReading, "enterprise__partner_organization"),
    (CommonServiceFacility, "partner_organization"),
)


@dataclass
class QualityRow:
    """One PO's line of the panel."""

    po: PartnerOrganization
    mes_with_baseline: int = 0
    readings_overdue: int = 0
    adoptions_reported: int = 0
    adoptions_unverified: int = 0
    checks_sampled: int = 0
    checks_done: int = 0
    checks_confirmed: int = 0
    checks_partly: int = 0
    checks_not_found: int = 0
    # Percent, one decimal; None while no sampled check is done.
    confirmation_rate: Decimal | None = None
    flagged: bool = False
    duplicates_pending: int = 0
    imports_refused: int = 0
    last_entry: datetime | None = None

    @property
    def readings_overdue_percent(self) -> Decimal | None:
        return _percent(self.readings_overdue, self.mes_with_baseline)

    @property
    def adoptions_unverified_percent(self) -> Decimal | None:
        return _percent(self.adoptions_unverified, self.adoptions_reported)


@dataclass
class Panel:
    rows: list[QualityRow]
    today: date
    # The first month of the window for readings (inclusive): readings for it or later count.
    readings_since: date
    readings_months: int
    imports_since: date
    imports_days: int
    threshold: Decimal
    by_po: dict[int, QualityRow] = field(default_factory=dict)

    def row(self, po_id: int) -> QualityRow | None:
        return self.by_po.get(po_id)


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def plain(number: Decimal | None) -> str:
    """A decimal without trailing zeros: 90.00 → "90", 87.50 → "87.5"."""
    return "" if number is None else format(Decimal(number).normalize(), "f")


def readings_window_start(today: date, months: int = READINGS_OVERDUE_MONTHS) -> date:
    """The first day of the earliest of the last `months` complete months before `today`'s month."""
    index = today.year * 12 + (today.month - 1) - months
    return date(index // 12, index % 12 + 1, 1)


def _scoped(queryset: QuerySet, path: str, po_id: int | None) -> QuerySet:
    return queryset if po_id is None else queryset.filter(**{path: po_id})


def _readings(po_id: int | None, since: date) -> dict[int, tuple[int, int]]:
    """PO id → (MEs with a baseline, those without any reading since `since`). One query."""

    # An ME's readings, and those entered on a confirmed duplicate of it (counted as its own): two
    # lookups each, so that each goes through the readings' enterprise index (one lookup with an OR
    # of the two scans every reading for every ME).
    def readings(**condition) -> Q:
        own = KpiReading.objects.filter(enterprise=OuterRef("pk"), **condition)
        of_duplicates = KpiReading.objects.filter(enterprise__duplicate_of=OuterRef("pk"), **condition)
        return Q(Exists(own)) | Q(Exists(of_duplicates))

    rows = (
        _scoped(Enterprise.objects.countable(), "partner_organization_id", po_id)
        .filter(readings(is_baseline=True))
        .order_by()
        .values("partner_organization_id")
        .annotate(with_baseline=Count("pk"), overdue=Count("pk", filter=~readings(period__gte=since)))
    )
    return {row["partner_organization_id"]: (row["with_baseline"], row["overdue"]) for row in rows}


def _adoptions(po_id: int | None) -> dict[int, tuple[int, int]]:
    """PO id → (adoptions reported, not verified independently). One query."""
    verified = Adoption.objects.verified_independently().values("pk")
    rows = (
        _scoped(Adoption.objects.all(), "enterprise__partner_organization_id", po_id)
        .order_by()
        .values(po=F("enterprise__partner_organization_id"))
        .annotate(reported=Count("pk"), unverified=Count("pk", filter=~Q(pk__in=verified)))
    )
    return {row["po"]: (row["reported"], row["unverified"]) for row in rows}


def _duplicates(po_id: int | None) -> dict[int, int]:
    """PO id → open suspected pairs involving its MEs. One query, grouped by the pair's two POs."""
    suspects = DuplicateSuspect.objects.open()
    if po_id is not None:
        suspects = suspects.filter(
            Q(enterprise__partner_organization_id=po_id)
            | Q(matched_enterprise__partner_organization_id=po_id)
        )
    rows = (
        suspects.order_by()
        .values(
            first=F("enterprise__partner_organization_id"),
            second=F("matched_enterprise__partner_organization_id"),
        )
        .annotate(pairs=Count("pk"))
    )
    counts: dict[int, int] = defaultdict(int)
    for row in rows:
        counts[row["first"]] += row["pairs"]
        if row["second"] != row["first"]:
            counts[row["second"]] += row["pairs"]
    return counts


def _imports(po_id: int | None, since: datetime) -> dict[int, int]:
    rows = (
        _scoped(ImportJob.objects.all(), "partner_organization_id", po_id)
        .filter(REFUSED_IMPORTS, created_at__gte=since)
        .order_by()
        .values("partner_organization_id")
        .annotate(refused=Count("pk"))
    )
    return {row["partner_organization_id"]: row["refused"] for row in rows}


def _last_entries(po_id: int | None) -> dict[int, datetime]:
    """PO id → the latest `created_at` over its MEs and field records. One query: each kind of
    record grouped by PO once (a lookup per PO scanned the financing, adoption and reading tables
    once per PO: 3.5-4.5 s for 100 POs at 80,000 MEs)."""
    per_kind = [
        _scoped(model.objects.all(), f"{path}_id", po_id)
        .order_by()
        .values(po=F(f"{path}_id"))
        .annotate(latest=Max("created_at"))
        for model, path in ENTRY_RECORDS
    ]
    latest: dict[int, datetime] = {}
    for row in per_kind[0].union(*per_kind[1:], all=True):
        if row["po"] is not None and row["latest"] is not None:
            latest[row["po"]] = max(row["latest"], latest.get(row["po"], row["latest"]))
    return latest


def panel(*, po_id: int | None = None, today: date | None = None) -> Panel:
    """The data-quality figures of every PO (or only `po_id`), in PO code order. A fixed number of
    queries (eight) whatever the number of POs."""
    from verification.models import VerificationPolicy
    from verification.rates import confirmation_rates

    today = today or timezone.localdate()
    since = readings_window_start(today)
    imports_since = today - timedelta(days=IMPORTS_REFUSED_DAYS)
    threshold = VerificationPolicy.current().threshold_percent
    pos = _scoped(PartnerOrganization.objects.all(), "pk", po_id)
    last_entries = _last_entries(po_id)
    readings = _readings(po_id, since)
    adoptions = _adoptions(po_id)
    rates = confirmation_rates(po_id=po_id, threshold=threshold)
    duplicates = _duplicates(po_id)
    start_of_window = timezone.make_aware(datetime.combine(imports_since, datetime.min.time()))
    imports = _imports(po_id, start_of_window)
    rows = []
    for po in pos.order_by("code"):
        row = QualityRow(po=po)
        row.mes_with_baseline, row.readings_overdue = readings.get(po.pk, (0, 0))
        row.adoptions_reported, row.adoptions_unverified = adoptions.get(po.pk, (0, 0))
        rate = rates.get(po.pk)
        if rate is not None:
            row.checks_sampled, row.checks_done = rate.sampled, rate.done
            row.checks_confirmed, row.checks_partly, row.checks_not_found = (
                rate.confirmed,
                rate.partly,
                rate.not_found,
            )
            row.confirmation_rate, row.flagged = rate.rate, rate.flagged
        row.duplicates_pending = duplicates.get(po.pk, 0)
        row.imports_refused = imports.get(po.pk, 0)
        row.last_entry = last_entries.get(po.pk)
        rows.append(row)
    return Panel(
        rows=rows,
        today=today,
        readings_since=since,
        readings_months=READINGS_OVERDUE_MONTHS,
        imports_since=imports_since,
        imports_days=IMPORTS_REFUSED_DAYS,
        threshold=threshold,
        by_po={row.po.pk: row for row in rows},
    )


def rules(panel: Panel) -> list[tuple[str, str]]:
    """Each metric's name and its rule in words, with this panel's dates: the page, the PO report and
    the API documentation say the same."""
    return [
        (
            _("Readings overdue"),
            _(
                "MEs with a baseline reading for some environmental KPI but no reading of any KPI for a "
                "month from %(since)s on: none for the last %(months)s complete months (a reading for the "
                "current month also counts). A confirmed duplicate counts once, as its original."
            )
            % {
                "since": date_format(panel.readings_since, "YEAR_MONTH_FORMAT"),
                "months": panel.readings_months,
            },
        ),
        (
            _("Adoptions unverified"),
            _(
                "RECP adoptions the PO reported that nobody outside any PO (a PMU officer or a verifier) "
                "has verified yet, as a share of all adoptions the PO reported. Only verified adoptions "
                "count in the results."
            ),
        ),
        (
            _("Verification"),
            _(
                "Confirmation rate of the PO's sampled verification checks over all rounds: confirmed "
                "counts 1, partly confirmed 0.5, not found 0, divided by the checks done. A PO is flagged "
                "below %(threshold)s %% (the PMU's threshold)."
            )
            % {"threshold": plain(panel.threshold)},
        ),
        (
            _("Duplicates pending"),
            _(
                "Suspected duplicate pairs involving one of the PO's MEs that the PMU has not decided yet "
                "(a pair across two POs counts for both)."
            ),
        ),
        (
            _("Imports refused"),
            _(
                "Spreadsheet imports of the PO since %(since)s (the last %(days)s days) that were refused "
                "because of errors in the file, or that failed."
            )
            % {"since": panel.imports_since.isoformat(), "days": panel.imports_days},
        ),
        (
            _("Last data entry"),
            _(
                "The latest time one of the PO's MEs or field records (financial support, trainings, RECP "
                "adoptions, KPI readings, facilities) was entered in the portal."
            ),
        ),
    ]
