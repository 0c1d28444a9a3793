"""Grievance statistics for World Bank missions (issue 13): per calendar quarter, or a range of
quarters, how many grievances were received, resolved, resolved within the deadline, how long they
took, and how many were open at the end; by category, tier, PO, complainant gender and channel.

Definitions (the page, the XLSX export and the API state the same ones):
- A **period** is one calendar quarter, or a run of consecutive quarters, in the portal's local time
  (settings.TIME_ZONE, Asia/Dhaka): it starts at 00:00 local time on the first day of its first
  quarter and ends (exclusive) at 00:00 local time on the first day of the next quarter. A grievance
  received at 23:59 on 30 June (Dhaka) belongs to Q2; one received at 00:00 on 1 July to Q3.
- **Received**: `received_at` within the period.
- **Resolved**: `resolved_at` (the resolution proposed to the complainant) within the period,
  whenever the grievance was received. An appeal or escalation clears the resolution
  (grievances.handling): such a case counts as resolved when the next tier resolves it.
- **Resolved in time**: of those, resolved at most `GRIEVANCE_RESOLVE_DAYS` days after `received_at`
  (the deadline of the case as a whole, whatever tier resolved it).
- **Average days to resolve**: the mean of `resolved_at - received_at`, in days, over the grievances
  resolved within the period.
- **Open at the end**: received before the period's end and not closed by then (`closed_at` empty or
  on/after the end): a resolution awaiting the complainant's feedback is still open.
- **Open overdue** (the PMU dashboard): received or acknowledged, whatever the tier, more than
  `GRIEVANCE_RESOLVE_DAYS` days after receipt.
- **Tier** is the grievance's current tier; **PO** is the PO concerned (none: lodged with PKSF/the
  PMU without a PO).

These are counts only, never names or text. Every grievance counts, SEA/SH cases included (the Bank
asks for their number, as a category); no case detail is ever shown. Who may see them:
`may_see_statistics`. Every figure is a set-based query (COUNT/AVG with GROUP BY), never a loop over
grievances: one query per breakdown."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.models import PartnerOrganization
from core.roles import Role
from grievances.models import Category, Channel, ComplainantGender, Grievance, GrievanceStatus, Tier

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# The longest range the page, the export and the API compute (three years of quarters).
MAX_QUARTERS = 12
# Quarters that may be asked for (the programme runs from 2023; later years leave room).
FIRST_YEAR, LAST_YEAR = 2000, 2099

MEASURES: list[tuple[str, StrOrPromise]] = [
    ("received", gettext_lazy("Received")),
    ("resolved", gettext_lazy("Resolved")),
    ("resolved_in_time", gettext_lazy("Resolved in time")),
    ("resolved_in_time_percent", gettext_lazy("Resolved in time (%)")),
    ("average_days_to_resolve", gettext_lazy("Average days to resolve")),
    ("open_at_end", gettext_lazy("Open at the end")),
]

BREAKDOWNS: list[tuple[str, StrOrPromise]] = [
    ("category", gettext_lazy("Category")),
    ("tier", gettext_lazy("Tier (current)")),
    ("po", gettext_lazy("PO")),
    ("gender", gettext_lazy("Complainant's gender")),
    ("channel", gettext_lazy("Channel")),
]
BREAKDOWN_FIELDS = {
    "category": "category",
    "tier": "tier",
    "po": "partner_organization",
    "gender": "complainant_gender",
    "channel": "channel",
}


def definitions() -> list[tuple[str, str]]:
    """The definitions in plain words, for the page and the export."""
    days = settings.GRIEVANCE_RESOLVE_DAYS
    return [
        (
            _("Period"),
            _(
                "Calendar quarters in Bangladesh time (Asia/Dhaka): from 00:00 on the first day of the "
                "first quarter to 00:00 on the first day of the quarter after the last."
            ),
        ),
        (_("Received"), _("Grievances received within the period.")),
        (
            _("Resolved"),
            _(
                "Grievances whose resolution was proposed within the period, whenever received. A "
                "resolution the complainant appealed is replaced by the next tier's: the case counts when "
                "resolved again."
            ),
        ),
        (
            _("Resolved in time"),
            _("Of those resolved, the ones resolved at most %(days)s days after they were received.")
            % {"days": days},
        ),
        (
            _("Average days to resolve"),
            _("From receipt to resolution, over the grievances resolved in the period."),
        ),
        (
            _("Open at the end"),
            _(
                "Received before the end of the period and not closed by then (including those awaiting "
                "feedback)."
            ),
        ),
        (_("Tier"), _("The grievance's current tier.")),
        (
            _("Confidentiality"),
            _(
                "Counts only: no names or text. SEA/SH cases are counted in their category and in every "
                "breakdown, and never described."
            ),
        ),
    ]


# --- Who may see them -----------------------------------------------------------------------------


def may_see_statistics(user) -> bool:
    """PMU officers, World Bank reviewers, PKSF approvers (the programme-wide roles) and the PMU's
    grievance and SEA/SH focal points. Not PO staff (a PO's own focal point included: the figures span
    every PO), TEC members or verifiers."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.sees_whole_programme:
        return True
    return user.partner_organization_id is None and user.has_role(
        Role.GRIEVANCE_FOCAL_POINT, Role.SEAH_FOCAL_POINT
    )


# --- Quarters and periods -------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1..4

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError("quarter number must be 1..4")

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label(self) -> str:
        return _("Q%(number)s %(year)s") % {"number": self.number, "year": self.year}

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    @property
    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    @property
    def start(self) -> datetime:
        """00:00 local time (settings.TIME_ZONE) on the quarter's first day."""
        return local_midnight(self.first_day)

    @property
    def end(self) -> datetime:
        """Exclusive: the start of the next quarter."""
        return self.next.start

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def current(cls) -> Quarter:
        return cls.of(timezone.localdate())

    @classmethod
    def parse(cls, text: str, what: str = "quarter") -> Quarter:
        """ "2026Q3" (or "2026-Q3", case-insensitive); a clear error naming the field otherwise."""
        match = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text or "")
        if not match:
            raise ValidationError(
                _("%(field)s: enter a quarter as YYYYQn, e.g. 2026Q3.") % {"field": what}, code="invalid"
            )
        year = int(match.group(1))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise ValidationError(
                _("%(field)s: choose a year from %(first)s to %(last)s.")
                % {"field": what, "first": FIRST_YEAR, "last": LAST_YEAR},
                code="invalid",
            )
        return cls(year, int(match.group(2)))


def local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime(day.year, day.month, day.day), timezone.get_default_timezone())


@dataclass(frozen=True)
class Period:
    """One quarter (first == last) or consecutive quarters."""

    first: Quarter
    last: Quarter

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValidationError(_("The last quarter comes before the first."), code="invalid")
        if len(self.quarters) > MAX_QUARTERS:
            raise ValidationError(
                _("Choose at most %(count)s quarters.") % {"count": MAX_QUARTERS}, code="invalid"
            )

    @property
    def quarters(self) -> list[Quarter]:
        quarters: list[Quarter] = []
        quarter = self.first
        while quarter <= self.last and len(quarters) <= MAX_QUARTERS:
            quarters.append(quarter)
            quarter = quarter.next
        return quarters

    @property
    def start(self) -> datetime:
        return self.first.start

    @property
    def end(self) -> datetime:
        return self.last.end

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def label(self) -> str:
        if self.first == self.last:
            return self.first.label
        return _("%(first)s to %(last)s") % {"first": self.first.label, "last": self.last.label}

    @classmethod
    def parse(cls, first: str | None, last: str | None = None) -> Period:
        """The period of `first` (to `last`, if given); the current quarter when `first` is empty."""
        start = Quarter.parse(first, "quarter") if first else Quarter.current()
        return cls(start, Quarter.parse(last, "to") if last else start)


# --- The figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    received: int
    resolved: int
    resolved_in_time: int
    average_days_to_resolve: float | None
    open_at_end: int

    @property
    def resolved_in_time_percent(self) -> float | None:
        return round(100 * self.resolved_in_time / self.resolved, 1) if self.resolved else None

    def as_dict(self) -> dict:
        return {key: getattr(self, key) for key, _label in MEASURES}

    @property
    def cells(self) -> list:
        """The measures in `MEASURES` order (for tables)."""
        return [getattr(self, key) for key, _label in MEASURES]


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    figures: Figures


@dataclass
class Statistics:
    period: Period
    total: Figures
    breakdowns: dict[str, list[Row]] = field(default_factory=dict)


def _aggregates(period: Period, prefix: str = "") -> dict:
    """The five measures as filtered aggregates over grievances received before the period's end
    (every measure needs that: nothing is resolved or open before it is received)."""
    start, end = period.start, period.end
    received = Q(received_at__gte=start, received_at__lt=end)
    resolved = Q(resolved_at__gte=start, resolved_at__lt=end)
    deadline = ExpressionWrapper(
        F("received_at") + timedelta(days=settings.GRIEVANCE_RESOLVE_DAYS), output_field=DateTimeField()
    )
    in_time = resolved & Q(resolved_at__lte=deadline)
    duration = ExpressionWrapper(F("resolved_at") - F("received_at"), output_field=DurationField())
    still_open = Q(received_at__lt=end) & (Q(closed_at__isnull=True) | Q(closed_at__gte=end))
    return {
        f"{prefix}received": Count("pk", filter=received),
        f"{prefix}resolved": Count("pk", filter=resolved),
        f"{prefix}resolved_in_time": Count("pk", filter=in_time),
        f"{prefix}average_duration": Avg(duration, filter=resolved),
        f"{prefix}open_at_end": Count("pk", filter=still_open),
    }


def _base(period: Period) -> QuerySet:
    return Grievance.objects.filter(received_at__lt=period.end).order_by()


def _figures(row: dict, prefix: str = "") -> Figures:
    row = {key.removeprefix(prefix): value for key, value in row.items() if key.startswith(prefix)}
    duration = row.get("average_duration")
    if duration is not None and not isinstance(duration, timedelta):  # some backends give microseconds
        duration = timedelta(microseconds=float(duration))
    return Figures(
        received=row["received"] or 0,
        resolved=row["resolved"] or 0,
        resolved_in_time=row["resolved_in_time"] or 0,
        average_days_to_resolve=round(duration.total_seconds() / 86400, 1) if duration is not None else None,
        open_at_end=row["open_at_end"] or 0,
    )


def totals(period: Period) -> Figures:
    """The programme's figures for the period: one query."""
    return _figures(_base(period).aggregate(**_aggregates(period)))


def _labels(breakdown: str, keys: list) -> dict:
    if breakdown == "category":
        return dict(Category.choices)
    if breakdown == "tier":
        return dict(Tier.choices)
    if breakdown == "gender":
        return dict(ComplainantGender.choices)
    if breakdown == "channel":
        return dict(Channel.choices)
    pos = PartnerOrganization.objects.filter(pk__in=[key for key in keys if key is not None])
    return {po.pk: po.code for po in pos.only("pk", "code")} | {None: _("no PO (lodged with PKSF)")}


def _choices_order(breakdown: str) -> list | None:
    orders: dict[str, list] = {
        "category": Category.values,
        "tier": Tier.values,
        "gender": ComplainantGender.values,
        "channel": Channel.values,
    }
    return orders.get(breakdown)


def breakdown(period: Period, name: str) -> list[Row]:
    """The figures of the period by one breakdown (`BREAKDOWNS`): one GROUP BY query (and one for
    the PO codes). Only groups with a figure other than zero are listed; choice breakdowns in the
    order of their choices, POs by code (no PO last)."""
    column = BREAKDOWN_FIELDS[name]
    rows = list(_base(period).values(column).annotate(**_aggregates(period)).order_by(column))
    labels = _labels(name, [row[column] for row in rows])
    result = []
    for row in rows:
        figures = _figures(row)
        if not (figures.received or figures.resolved or figures.open_at_end):
            continue
        key = row[column]
        result.append(Row("" if key is None else str(key), str(labels.get(key, key)), figures))
    order = _choices_order(name)
    if order is not None:
        position = {str(value): index for index, value in enumerate(order)}
        result.sort(key=lambda r: position.get(r.key, len(position)))
    else:
        result.sort(key=lambda r: (r.key == "", r.label))
    return result


def statistics(period: Period) -> Statistics:
    """Totals and every breakdown of the period: six queries, plus one for PO codes."""
    return Statistics(
        period=period,
        total=totals(period),
        breakdowns={name: breakdown(period, name) for name, _label in BREAKDOWNS},
    )


def by_quarter(period: Period) -> list[tuple[Quarter, Figures]]:
    """The totals of each quarter of the period (one query per quarter, at most MAX_QUARTERS)."""
    return [(quarter, totals(Period(quarter, quarter))) for quarter in period.quarters]


# --- The PMU dashboard ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    quarter: Quarter
    figures: Figures


def overdue_q(now: datetime | None = None) -> Q:
    """Not yet resolved (received or acknowledged, whatever the tier) and past the case's deadline,
    `GRIEVANCE_RESOLVE_DAYS` after receipt."""
    now = now or timezone.now()
    return Q(
        status__in=[GrievanceStatus.RECEIVED, GrievanceStatus.ACKNOWLEDGED],
        received_at__lt=now - timedelta(days=settings.GRIEVANCE_RESOLVE_DAYS),
    )


def dashboard_panel(user) -> dict | None:
    """The PMU dashboard's grievance panel: the current and last quarter's totals and the open
    overdue count, in one query; None for users who may not see grievance statistics."""
    if not may_see_statistics(user):
        return None
    current = Quarter.current()
    quarters = [current, current.previous]
    aggregates = {"open_overdue": Count("pk", filter=overdue_q())}
    for index, quarter in enumerate(quarters):
        aggregates |= _aggregates(Period(quarter, quarter), prefix=f"q{index}_")
    row = Grievance.objects.order_by().aggregate(**aggregates)
    return {
        "quarters": [Headline(q, _figures(row, f"q{index}_")) for index, q in enumerate(quarters)],
        "open_overdue": row["open_overdue"],
        "resolve_days": settings.GRIEVANCE_RESOLVE_DAYS,
    }


# --- Registration ---------------------------------------------------------------------------------

STATISTICS_ROLES = (
    Role.PMU_OFFICER,
    Role.WORLD_BANK,
    Role.PKSF_APPROVER,
    Role.GRIEVANCE_FOCAL_POINT,
    Role.SEAH_FOCAL_POINT,
)


def ready() -> None:
    from core.navigation import NavItem, register

    register(
        NavItem(
            gettext_lazy("Grievance statistics"),
            "grievances:statistics",
            gettext_lazy(
                "Per quarter: grievances received, resolved, resolved in time and open, by category, "
                "tier, PO, gender and channel (counts only), with an XLSX export for missions."
            ),
            roles=STATISTICS_ROLES,
            condition=may_see_statistics,
            order=93,
        ),
        group=gettext_lazy("Grievances"),
    )
