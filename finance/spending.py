"""Spending against the approved budget lines (issue 14): a PO reports, per sub-project and calendar
quarter, what it paid with which voucher; the PMU accepts the report or returns it for correction.
Business rules live here; pages, API, the spreadsheet import, the demo and the tests call them.

- A report is created by the staff of the sub-project's PO (`create_report`), for an active
  sub-project and a quarter that has started and does not end before the sub-project starts; one per
  quarter. It is logged on the engine as the event "create".
- Its lines (`save_lines`, `add_line`, `update_line`, `delete_line`) change only while it is a draft,
  only by the PO's staff: a budget line among the sub-project's approved ones, spent within the
  quarter and not in the future, an amount above zero, a voucher reference entered once per budget
  line. A line whose budget line would then have spent more than approved is accepted, and warned of.
- SPENDING_REPORT_RULES: the PO submits (at least one line; the quarter has started and is not before
  the sub-project's start); the PMU's side (a PMU officer or a finance officer belonging to no PO)
  accepts it or returns it to draft with a comment. `submitted_at` is the first submission: a report
  returned for correction and submitted again keeps it, so a correction the PMU asked for does not
  make a report late.
- A report is due settings.SPENDING_REPORT_DUE_DAYS after its quarter ends (`due_on`); one first
  submitted after that day is late (`submitted_late`), a draft never submitted past it is overdue.
- Only submitted and accepted reports count as spending (finance.progress).

Contracts others rely on:
    subproject_context(sub_project, user) -> dict
        what the sub-project's money page (finance/subproject_finance.html, owned by the releases part)
        shows of spending, under the one key "spending": included there as
        {% include "finance/_subproject_spending.html" %}.
    timeliness_by_po(quarter_end: date) -> dict[int, tuple[int, int]]
        po_id -> (spending reports due, of them submitted on time); see its docstring for the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    When,
)
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.emails import in_language_of, send_once
from core.errors import ActionRefused, Forbidden
from core.quarters import (  # noqa: F401 - the module's own names for its callers
    last_complete_quarter_end,
    parse_quarter,
    previous_quarter_end,
    quarter_end_of,
    quarter_label,
    quarter_start,
    quarters_between,
)
from core.roles import GROUP_NAMES, Role
from core.waiting import WaitingItem
from finance.models import (
    REPORTED_STATUSES,
    Expenditure,
    SpendingReport,
    SpendingReportStatus,
    sees_all_money,
)
from finance.models.common import belongs_to_no_po as common_belongs_to_no_po
from finance.models.common import is_pmu_money_side, may_read_money
from subprojects.models import BudgetLine, SubProject, SubProjectStatus

DRAFT, SUBMITTED, ACCEPTED = (
    SpendingReportStatus.DRAFT,
    SpendingReportStatus.SUBMITTED,
    SpendingReportStatus.ACCEPTED,
)
# The PMU's side that accepts or returns a report (belonging to no PO).
PMU_SIDE_ROLES = (Role.PMU_OFFICER, Role.FINANCE_OFFICER)
AMOUNT_LIMIT = Decimal("999999999999.99")  # MONEY: 14 digits, 2 decimal places
VOUCHER_MAX, DESCRIPTION_MAX = 60, 250
PER_KIND_LIMIT = 100
# A step written with a past date (replay_history: demo data) is history, not news.
NEWS_WITHIN = timedelta(hours=1)


# --- Quarters -------------------------------------------------------------------------------------


def due_on(quarter_end: date) -> date:
    """The day a quarter's spending report is due."""
    return quarter_end + timedelta(days=settings.SPENDING_REPORT_DUE_DAYS)


def _start_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def submitted_late(report: SpendingReport) -> bool:
    """First submitted after its due day (in Dhaka's calendar)."""
    if report.submitted_at is None:
        return False
    return timezone.localdate(report.submitted_at) > due_on(report.quarter_end)


def overdue(report: SpendingReport, today: date | None = None) -> bool:
    """Never submitted, and its due day has passed."""
    return report.submitted_at is None and (today or timezone.localdate()) > due_on(report.quarter_end)


def timing(report: SpendingReport, today: date | None = None) -> str:
    """ "late" (submitted after the due day), "overdue" (not submitted, past the due day) or ""."""
    if submitted_late(report):
        return "late"
    if overdue(report, today):
        return "overdue"
    return ""


def late_or_overdue_q(quarter_ends: list[date], today: date | None = None) -> Q:
    """Reports first submitted after their due day, or never submitted past it: a condition the
    database evaluates (one term per quarter in view)."""
    today = today or timezone.localdate()
    condition = Q(pk__in=[])
    for quarter_end in set(quarter_ends):
        cutoff = _start_of(due_on(quarter_end) + timedelta(days=1))
        late = Q(submitted_at__gte=cutoff)
        if today > due_on(quarter_end):
            late |= Q(submitted_at__isnull=True)
        condition |= Q(quarter_end=quarter_end) & late
    return condition


# --- Who ------------------------------------------------------------------------------------------


def may_report(user) -> bool:
    """A PO's staff, for their own PO's sub-projects."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.has_role(Role.PO_STAFF)
        and user.partner_organization_id is not None
    )


# A PMU officer or a finance officer belonging to no PO: accepts or returns reports.
is_pmu_side = is_pmu_money_side


may_read = may_read_money


belongs_to_no_po = common_belongs_to_no_po


def may_edit(user, report: SpendingReport) -> bool:
    """The staff of the report's PO, while it is a draft."""
    return (
        may_report(user)
        and user.partner_organization_id == report.partner_organization_id
        and report.status == DRAFT
    )


def visible_sub_projects(user) -> QuerySet:
    """The sub-projects whose money this user sees: all for the PMU's side, a PO its own."""
    if sees_all_money(user):
        return SubProject.objects.all()
    if may_read(user):
        return SubProject.objects.filter(partner_organization_id=user.partner_organization_id)
    return SubProject.objects.none()


# --- Budget lines ---------------------------------------------------------------------------------


def numbered_budget_lines(sub_project: SubProject) -> list[tuple[int, BudgetLine]]:
    """The sub-project's approved budget lines, numbered from 1 in the order they were entered."""
    lines = BudgetLine.objects.filter(proposal_id=sub_project.proposal_id).order_by("pk")
    return list(enumerate(lines, start=1))


def budget_line_label(number: int, line: BudgetLine) -> str:
    """ "<n>. <category> — <description> (<financier>)"."""
    return f"{number}. {line.get_category_display()} — {line.description} ({line.get_financier_display()})"


def with_line_numbers(queryset: QuerySet) -> QuerySet:
    """Expenditures annotated with their budget line's number (`budget_line_number`), in SQL."""
    numbers = (
        BudgetLine.objects.filter(
            proposal_id=OuterRef("budget_line__proposal_id"), pk__lte=OuterRef("budget_line_id")
        )
        .order_by()
        .values("proposal_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(budget_line_number=Subquery(numbers, output_field=IntegerField()))


def budget_line_choices(sub_project: SubProject) -> list[tuple[int, str]]:
    return [(line.pk, budget_line_label(number, line)) for number, line in numbered_budget_lines(sub_project)]


# --- Creating a report ----------------------------------------------------------------------------


def report_problems(user, sub_project: SubProject | None, quarter_end: date | None) -> dict[str, str]:
    """What stops this PO from opening a report of that quarter, by field ("sub_project", "quarter")."""
    problems: dict[str, str] = {}
    if sub_project is None or sub_project.partner_organization_id != user.partner_organization_id:
        # Another PO's sub-project is answered exactly as one that does not exist.
        problems["sub_project"] = _("No sub-project of your PO matches this.")
        return problems
    if sub_project.status != SubProjectStatus.ACTIVE:
        problems["sub_project"] = _(
            "%(ref)s is %(status)s: spending is reported for active sub-projects."
        ) % {"ref": sub_project.agreement_number, "status": sub_project.get_status_display()}
    if quarter_end is None:
        problems["quarter"] = _("Choose the quarter, e.g. 2025-Q3.")
        return problems
    quarter_end = quarter_end_of(quarter_end)
    problem = quarter_problem(sub_project, quarter_end)
    if problem:
        problems["quarter"] = problem
    elif SpendingReport.objects.filter(sub_project=sub_project, quarter_end=quarter_end).exists():
        problems["quarter"] = _("%(ref)s already has a spending report for %(quarter)s.") % {
            "ref": sub_project.agreement_number,
            "quarter": quarter_label(quarter_end),
        }
    return problems


def quarter_problem(sub_project: SubProject, quarter_end: date) -> str:
    """Why a report of this quarter cannot be opened for the sub-project (empty: it can)."""
    label = quarter_label(quarter_end)
    if quarter_start(quarter_end) > timezone.localdate():
        return _("The quarter %(quarter)s has not started yet.") % {"quarter": label}
    if quarter_end < sub_project.start_date:
        return _("%(ref)s started on %(date)s, after the quarter %(quarter)s.") % {
            "ref": sub_project.agreement_number,
            "date": sub_project.start_date.isoformat(),
            "quarter": label,
        }
    return ""


def create_report(*, user, sub_project: SubProject | None, quarter_end: date | None) -> SpendingReport:
    """Open the draft report of a quarter. Forbidden for anyone but a PO's staff; ValidationError by
    field ("sub_project", "quarter"); nothing is written then."""
    if not may_report(user):
        raise Forbidden(_("Only a PO's staff report its spending."))
    problems = report_problems(user, sub_project, quarter_end)
    if problems:
        raise ValidationError(problems)
    if sub_project is None or quarter_end is None:  # said by report_problems already
        raise ValidationError(problems)
    with transaction.atomic():
        report = SpendingReport.objects.create(
            sub_project=sub_project,
            partner_organization_id=sub_project.partner_organization_id,
            quarter_end=quarter_end_of(quarter_end),
            created_by=user,
        )
        lifecycle.record(report, "create", user)
    return report


# --- Lines ----------------------------------------------------------------------------------------


def line_problems(
    report: SpendingReport, values: dict[str, Any], budget_lines: dict[int, BudgetLine]
) -> dict[str, str]:
    """What is wrong with one line's values, by field, without the database (`budget_lines`: the
    sub-project's approved lines by id). The voucher's uniqueness is checked by the callers."""
    problems: dict[str, str] = {}
    budget_line = values.get("budget_line")
    line_id = getattr(budget_line, "pk", budget_line)
    if line_id in (None, ""):
        problems["budget_line"] = _("Choose the budget line.")
    elif line_id not in budget_lines:
        problems["budget_line"] = _("Choose one of the sub-project's approved budget lines.")
    spent_on = values.get("spent_on")
    start, end = quarter_start(report.quarter_end), report.quarter_end
    if spent_on is None:
        problems["spent_on"] = _("Give the date of the payment.")
    elif spent_on > timezone.localdate():
        problems["spent_on"] = _("The payment date cannot be in the future.")
    elif not start <= spent_on <= end:
        problems["spent_on"] = _("%(date)s is outside the quarter %(quarter)s (%(start)s to %(end)s).") % {
            "date": spent_on.isoformat(),
            "quarter": quarter_label(end),
            "start": start.isoformat(),
            "end": end.isoformat(),
        }
    amount = values.get("amount")
    if amount is None:
        problems["amount"] = _("Give the amount in BDT.")
    elif amount <= 0:
        problems["amount"] = _("The amount must be above zero.")
    elif amount > AMOUNT_LIMIT:
        problems["amount"] = _("The amount is too large.")
    elif amount.as_tuple().exponent < -2:
        problems["amount"] = _("At most two decimal places (paisa).")
    voucher = str(values.get("voucher_reference") or "").strip()
    if not voucher:
        problems["voucher_reference"] = _("Give the voucher reference.")
    elif len(voucher) > VOUCHER_MAX:
        problems["voucher_reference"] = _("At most %(max)s characters.") % {"max": VOUCHER_MAX}
    if len(str(values.get("description") or "")) > DESCRIPTION_MAX:
        problems["description"] = _("At most %(max)s characters.") % {"max": DESCRIPTION_MAX}
    return problems


def voucher_taken_message(voucher: str, number: int | None, where: str) -> str:
    return _("The voucher %(voucher)s is already entered against budget line %(number)s (%(where)s).") % {
        "voucher": voucher,
        "number": number or "?",
        "where": where,
    }


@dataclass
class LineChange:
    """One row of a batch: a new line (`line` None), a change of `line`, or its deletion."""

    values: dict[str, Any] = field(default_factory=dict)
    line: Expenditure | None = None
    delete: bool = False


# The key of LinesRefused.rows for a problem of the whole batch rather than of one row.
BATCH = -1


class LinesRefused(ValidationError):
    """Some rows of a batch are wrong: `rows` maps the row's index to its problems by field. Nothing
    was written."""

    def __init__(self, rows: dict[int, dict[str, str]]) -> None:
        self.rows = rows
        messages = [
            f"{field}: {message}" for problems in rows.values() for field, message in problems.items()
        ]
        super().__init__(messages)


@dataclass
class SavedLines:
    created: int = 0
    updated: int = 0
    deleted: int = 0


def check_may_edit(user, report: SpendingReport) -> None:
    """Forbidden (403) for anyone but the staff of the report's PO; 409 when it is no longer a draft."""
    if not may_report(user) or user.partner_organization_id != report.partner_organization_id:
        raise Forbidden(_("Only the staff of the sub-project's PO enter its spending."))
    if report.status != DRAFT:
        raise ActionRefused(
            _("%(ref)s is %(state)s: its lines can no longer change.")
            % {"ref": report.reference, "state": report.get_status_display()},
            code="wrong_state",
        )


def _clean_values(values: dict[str, Any]) -> dict[str, Any]:
    budget_line = values.get("budget_line")
    return {
        "budget_line_id": getattr(budget_line, "pk", budget_line),
        "spent_on": values.get("spent_on"),
        "amount": values.get("amount"),
        "voucher_reference": str(values.get("voucher_reference") or "").strip(),
        "description": str(values.get("description") or "").strip(),
    }


def save_lines(*, user, report: SpendingReport, changes: list[LineChange]) -> SavedLines:
    """Add, change and delete lines of a draft report at once: all of them or none (LinesRefused,
    naming each wrong row and field). Forbidden/ActionRefused as `check_may_edit`."""
    saved = SavedLines()
    with transaction.atomic():
        locked = SpendingReport.objects.select_for_update().select_related("sub_project").get(pk=report.pk)
        check_may_edit(user, locked)
        numbered = numbered_budget_lines(locked.sub_project)
        budget_lines = {line.pk: line for _number, line in numbered}
        numbers = {line.pk: number for number, line in numbered}
        own = {line.pk: line for line in Expenditure.objects.filter(report=locked)}
        touched = {change.line.pk for change in changes if change.line is not None and change.line.pk in own}
        # Vouchers as they will stand: other reports' lines, this report's untouched ones, then the batch.
        taken: dict[tuple[int, str], str] = {}
        for line_id, voucher, quarter in (
            Expenditure.objects.filter(budget_line__in=list(budget_lines))
            .exclude(pk__in=touched)
            .values_list("budget_line_id", "voucher_reference", "report__quarter_end")
        ):
            taken[(line_id, voucher)] = quarter_label(quarter)
        problems: dict[int, dict[str, str]] = {}
        planned: list[tuple[LineChange, dict[str, Any]]] = []
        for index, change in enumerate(changes):
            if change.line is not None and change.line.pk not in own:
                problems[index] = {"": _("This line is not in %(ref)s.") % {"ref": locked.reference}}
                continue
            if change.delete:
                planned.append((change, {}))
                continue
            row = line_problems(locked, change.values, budget_lines)
            values = _clean_values(change.values)
            key = (values["budget_line_id"], values["voucher_reference"])
            if not row and key in taken:
                row["voucher_reference"] = voucher_taken_message(
                    values["voucher_reference"], numbers.get(key[0]), taken[key]
                )
            if row:
                problems[index] = row
                continue
            taken[key] = quarter_label(locked.quarter_end)
            planned.append((change, values))
        if problems:
            raise LinesRefused(problems)
        try:
            # Deletions first, then changes, then new lines: a voucher freed by one is free for the next.
            with transaction.atomic():
                _write(user, locked, own, planned, saved)
        except IntegrityError:
            raise LinesRefused(
                {
                    BATCH: {
                        "": _("Two lines would hold the same voucher at once; save the changes in two steps.")
                    }
                }
            ) from None
    return saved


def _write(user, report: SpendingReport, own: dict, planned: list, saved: SavedLines) -> None:
    for change, _values in planned:
        if change.delete:
            own[change.line.pk].delete()
            saved.deleted += 1
    for change, values in planned:
        if change.delete or change.line is None:
            continue
        line = own[change.line.pk]
        if any(getattr(line, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(line, name, value)
            line.save()
            saved.updated += 1
    for change, values in planned:
        if change.line is None:
            Expenditure.objects.create(
                report=report,
                partner_organization_id=report.partner_organization_id,
                sub_project_id=report.sub_project_id,
                created_by=user,
                **values,
            )
            saved.created += 1


def _single(user, report: SpendingReport, change: LineChange) -> None:
    try:
        save_lines(user=user, report=report, changes=[change])
    except LinesRefused as exc:
        problems = next(iter(exc.rows.values()))
        raise ValidationError(
            {name or NON_FIELD_ERRORS: message for name, message in problems.items()}
        ) from None


def add_line(*, user, report: SpendingReport, data: dict[str, Any]) -> Expenditure:
    """One new line (the API): ValidationError by field, Forbidden, or ActionRefused (not a draft)."""
    _single(user, report, LineChange(values=data))
    return Expenditure.objects.filter(report=report).latest("pk")


LINE_FIELDS = ("budget_line", "spent_on", "amount", "voucher_reference", "description")


def update_line(*, user, line: Expenditure, data: dict[str, Any]) -> Expenditure:
    """Change one line (the API; fields not given keep their value)."""
    values = {
        name: getattr(line, "budget_line_id" if name == "budget_line" else name) for name in LINE_FIELDS
    }
    values.update({name: value for name, value in data.items() if name in LINE_FIELDS})
    _single(user, line.report, LineChange(values=values, line=line))
    line.refresh_from_db()
    return line


def delete_line(*, user, line: Expenditure) -> None:
    _single(user, line.report, LineChange(line=line, delete=True))


def budget_line_totals(report: SpendingReport) -> list[dict[str, Any]]:
    """Per approved budget line of the report's sub-project: its approved amount, this report's lines,
    and the cumulative spending entered in every report of the sub-project (this one included), with
    a warning when that exceeds the approved amount. One grouped query."""
    sums = {
        row["budget_line"]: row
        for row in Expenditure.objects.filter(sub_project_id=report.sub_project_id)
        .values("budget_line")
        .annotate(total=Sum("amount"), this=Sum("amount", filter=Q(report_id=report.pk)))
        .order_by()
    }
    rows = []
    for number, line in numbered_budget_lines(report.sub_project):
        found = sums.get(line.pk, {})
        cumulative = found.get("total") or Decimal("0")
        rows.append(
            {
                "number": number,
                "line": line,
                "label": budget_line_label(number, line),
                "approved": line.amount,
                "this_report": found.get("this") or Decimal("0"),
                "cumulative": cumulative,
                "remaining": line.amount - cumulative,
                "exceeds": cumulative > line.amount,
            }
        )
    return rows


# --- Lifecycle ------------------------------------------------------------------------------------


def may_submit(report: SpendingReport, **context) -> None:
    """GUARD: at least one line; the quarter has started and is not before the sub-project's start."""
    problems = []
    if not Expenditure.objects.filter(report=report).exists():
        problems.append(_("it has no line of spending"))
    if quarter_start(report.quarter_end) > timezone.localdate():
        problems.append(_("its quarter has not started yet"))
    if report.quarter_end < report.sub_project.start_date:
        problems.append(_("its quarter ends before the sub-project's start"))
    if problems:
        raise ActionRefused(
            _("%(ref)s cannot be submitted: %(problems)s.")
            % {"ref": report.reference, "problems": "; ".join(str(p) for p in problems)},
            code="not_ready",
            problems=[str(p) for p in problems],
        )


def stamp_submission(report: SpendingReport, **context) -> list[str]:
    """EFFECT: the first submission's time (kept when a returned report is submitted again)."""
    if report.submitted_at is None:
        report.submitted_at = timezone.now()
    return ["submitted_at"]


SPENDING_REPORT_RULES = [
    lifecycle.rule(
        "submit",
        _lazy("Submit to the PMU"),
        [DRAFT],
        SUBMITTED,
        (Role.PO_STAFF,),
        po_owned=True,
        guards=("may_submit",),
        effect="stamp_submission",
        confirm=_lazy("Submit this report? Its lines can no longer change unless the PMU returns it."),
    ),
    lifecycle.rule("accept", _lazy("Accept"), [SUBMITTED], ACCEPTED, PMU_SIDE_ROLES, who="belongs_to_no_po"),
    lifecycle.rule(
        "return",
        _lazy("Return for correction"),
        [SUBMITTED],
        DRAFT,
        PMU_SIDE_ROLES,
        who="belongs_to_no_po",
        comment_required=True,
        style="danger",
    ),
]


# --- Emails to the next actor ----------------------------------------------------------------------


def transition_recipients(transition) -> list:
    """Who hears of a move: a submitted report goes to the PMU's finance officers (belonging to no PO;
    the PMU officers when there is none); an accepted or returned one to the staff of its PO. Never
    another PO's staff, nor the person who acted."""
    from core.models import User

    report = transition.subject
    users = User.objects.filter(is_active=True).exclude(email="")
    if transition.to_state == SUBMITTED:
        pmu = users.filter(partner_organization__isnull=True)
        audience = pmu.filter(groups__name=GROUP_NAMES[Role.FINANCE_OFFICER])
        if not audience.exists():
            audience = pmu.filter(groups__name=GROUP_NAMES[Role.PMU_OFFICER])
    else:
        audience = users.filter(
            groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization_id=report.partner_organization_id
        )
    if transition.actor is not None:
        audience = audience.exclude(pk=transition.actor.pk)
    return list(audience.distinct().order_by("pk"))


def transition_message(transition, user) -> EmailMessage:
    report = transition.subject
    link = settings.PORTAL_BASE_URL.rstrip("/") + report.get_absolute_url()
    values = {
        "ref": report.reference,
        "state": report.get_status_display(),
        "po": report.partner_organization.code,
        "actor": transition.actor.get_display_name() if transition.actor else _("the portal"),
    }
    lines = [
        _("Dear %(name)s,") % {"name": user.get_display_name()},
        "",
        _("The spending report %(ref)s of %(po)s is now %(state)s (by %(actor)s).") % values,
    ]
    if transition.to_state == SUBMITTED:
        lines.append(_("Please accept it, or return it for correction."))
    elif transition.to_state == DRAFT:
        lines.append(_("Please correct it and submit it again."))
    if transition.comment:
        lines += ["", _("Comment:"), transition.comment]
    lines += ["", _("Open it in the SMART Portal: %(link)s") % {"link": link}, "", _("— SMART Portal, PKSF")]
    title = _("[SMART] Spending report %(ref)s is %(state)s") % values
    return EmailMessage(title, "\n".join(lines), settings.DEFAULT_FROM_EMAIL, [user.email])


def send_transition(transition_id: int) -> int:
    from subprojects.models import Transition

    transition = Transition.objects.select_related("actor", "content_type").get(pk=transition_id)
    return send_once(
        (
            f"transition:{transition.pk}:user:{user.pk}",
            in_language_of(user, partial(transition_message, transition, user)),
        )
        for user in transition_recipients(transition)
    )


@shared_task(
    name="finance.spending.send_spending_transition_emails",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_spending_transition_emails(transition_id: int) -> int:
    return send_transition(transition_id)


def _notify(transition) -> None:
    from core import outbox

    if transition.from_state != transition.to_state and transition.at >= timezone.now() - NEWS_WITHIN:
        outbox.enqueue(send_spending_transition_emails, transition.pk)


SPENDING_REPORT_LIFECYCLE = lifecycle.Lifecycle(
    SpendingReport,
    SPENDING_REPORT_RULES,
    guards={"may_submit": may_submit},
    effects={"stamp_submission": stamp_submission},
    who={"belongs_to_no_po": belongs_to_no_po},
    follow_up=_notify,
    event_labels={"create": _lazy("Created")},
    url_name="finance:spending-report-transition",
)


# --- Waiting on you -------------------------------------------------------------------------------


def reports_waiting(user) -> list[WaitingItem]:
    """PO staff: their PO's drafts, to submit; the PMU's side: submitted reports, to accept or return."""
    if is_pmu_side(user):
        reports = SpendingReport.objects.filter(status=SUBMITTED)
        what = " · ".join(str(rule.label) for rule in SPENDING_REPORT_RULES[1:])
    elif may_report(user):
        reports = SpendingReport.objects.filter(
            status=DRAFT, partner_organization_id=user.partner_organization_id
        )
        what = str(SPENDING_REPORT_RULES[0].label)
    else:
        return []
    rows = reports.select_related("sub_project", "partner_organization").order_by("status_changed_at", "pk")
    return [
        WaitingItem(
            reference=report.reference,
            title=_("Spending report of %(quarter)s") % {"quarter": quarter_label(report.quarter_end)},
            url=report.get_absolute_url(),
            what=what,
            since=report.status_changed_at,
            due=_start_of(due_on(report.quarter_end) + timedelta(days=1)) if report.status == DRAFT else None,
            note=report.partner_organization.code,
        )
        for report in rows[:PER_KIND_LIMIT]
    ]


# --- The sub-project's money page and the scorecards ------------------------------------------------


def reports_with_totals(queryset: QuerySet) -> QuerySet:
    """Each report's total and number of lines, and whether it is late or overdue (`late_or_overdue`)."""
    quarters = list(queryset.order_by().values_list("quarter_end", flat=True).distinct())
    return queryset.annotate(
        total=Sum("lines__amount"),
        line_count=Count("lines"),
        late_or_overdue=Case(
            When(late_or_overdue_q(quarters), then=True), default=False, output_field=BooleanField()
        ),
    )


def subproject_context(sub_project: SubProject, user) -> dict:
    """What the sub-project's money page shows of spending (the caller has checked that the user sees
    the sub-project): its financial progress today, its quarterly reports with their status and
    late flag, and for the PO's staff the button to report spending. All under "spending"."""
    from finance.progress import progress

    today = timezone.localdate()
    rows = progress(today, SubProject.objects.filter(pk=sub_project.pk))
    reports = list(
        reports_with_totals(SpendingReport.objects.visible_to(user).filter(sub_project=sub_project)).order_by(
            "-quarter_end"
        )
    )
    for report in reports:
        report.timing = timing(report, today)
        report.quarter = quarter_label(report.quarter_end)
    own = may_report(user) and user.partner_organization_id == sub_project.partner_organization_id
    return {
        "spending": {
            "progress": rows[0] if rows else None,
            "reports": reports,
            "may_report": own and sub_project.status == SubProjectStatus.ACTIVE,
            "report_url": reverse("finance:spending-report-create") + f"?sub_project={sub_project.pk}",
            "lines_url": reverse("finance:expenditure-list") + f"?sub_project={sub_project.pk}",
            "due_days": settings.SPENDING_REPORT_DUE_DAYS,
        }
    }


def timeliness_by_po(quarter_end: date) -> dict[int, tuple[int, int]]:
    """po_id -> (spending reports due, of them submitted on time), for the scorecards.

    The rule: the four calendar quarters ending with the quarter of `quarter_end` (it and the three
    before). For each of them, every sub-project that is active today and started on or before the
    quarter's last day owes one report. A due report is on time when it is submitted or accepted and
    was first submitted (`submitted_at`, Dhaka's calendar) on or before its due day (quarter end +
    SPENDING_REPORT_DUE_DAYS). Read it once the last quarter's due day has passed: before that, a
    report not yet submitted counts as not on time. POs owing nothing are absent. Two grouped queries.
    """
    quarters = [quarter_end_of(quarter_end)]
    for _i in range(3):
        quarters.append(previous_quarter_end(quarters[-1]))
    due_count = sum(
        (Count("pk", filter=Q(start_date__lte=quarter)) for quarter in quarters[1:]),
        Count("pk", filter=Q(start_date__lte=quarters[0])),
    )
    due = {
        row["partner_organization"]: row["due"]
        for row in SubProject.objects.filter(status=SubProjectStatus.ACTIVE)
        .values("partner_organization")
        .annotate(due=due_count)
        .order_by()
    }
    in_time = Q(pk__in=[])
    for quarter in quarters:
        in_time |= Q(
            quarter_end=quarter,
            sub_project__start_date__lte=quarter,
            submitted_at__lt=_start_of(due_on(quarter) + timedelta(days=1)),
        )
    on_time = {
        row["partner_organization"]: row["n"]
        for row in SpendingReport.objects.filter(
            in_time, status__in=REPORTED_STATUSES, sub_project__status=SubProjectStatus.ACTIVE
        )
        .values("partner_organization")
        .annotate(n=Count("pk"))
        .order_by()
    }
    return {po: (count, on_time.get(po, 0)) for po, count in due.items() if count}


# --- Wiring ---------------------------------------------------------------------------------------


def ready() -> None:
    from core import waiting
    from core.navigation import NavItem, register
    from enterprises.imports import kinds
    from finance.spending_imports import ExpenditureImporter

    lifecycle.register(SPENDING_REPORT_LIFECYCLE)
    kinds.IMPORTERS["expenditures"] = ExpenditureImporter
    readers = (
        Role.PO_STAFF,
        Role.FINANCE_OFFICER,
        Role.PMU_OFFICER,
        Role.WORLD_BANK,
        Role.PKSF_APPROVER,
    )
    register(
        NavItem(
            _lazy("Spending reports"),
            "finance:spending-report-list",
            _lazy("What each sub-project spent per quarter against its approved budget lines."),
            roles=readers,
            condition=may_read,
            order=73,
        ),
        NavItem(
            _lazy("Expenditure lines"),
            "finance:expenditure-list",
            _lazy("Every reported payment, by PO, sub-project, budget category, financier and quarter."),
            roles=readers,
            condition=may_read,
            order=73,
        ),
        NavItem(
            _lazy("Financial progress"),
            "finance:progress-list",
            _lazy("Per sub-project: approved, released, spent, balance and burn rate, with flags."),
            roles=readers,
            condition=may_read,
            order=74,
        ),
        group=_lazy("Money"),
    )
    waiting.register(reports_waiting)
