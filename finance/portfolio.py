"""The ME loan portfolio as of any date: per loan, and summed per PO, per owner gender and for the
programme, set-based.

Contract others rely on:
    portfolio_by_po(as_of: date) -> dict[int, Figures]
        po_id -> figures with at least `.outstanding` (Decimal), `.par30` (Decimal: outstanding of loans
        more than 30 days past due), `.par30_percent` (Decimal | None), `.loans` (int, active loans).
        POs without loans are absent.

Per loan disbursed by the date (`with_figures`, ORM annotations, one correlated subquery each):
- principal repaid to date: its repayments paid by then;
- written off: the write-off's principal if it is dated by then (the loan is then closed);
- outstanding: amount - repaid, or 0 once written off;
- principal due to date: `principal_due_to_date` of its last instalment due by then (0 without one);
- arrears: max(0, due - repaid);
- overdue since: the due date of the oldest instalment due by then that repayments to date do not
  cover (the first whose `principal_due_to_date` exceeds the principal repaid); days past due are the
  days from it to the date (0 when there is none, or the loan is closed).

Figures (`Figures`): loans disbursed and active (outstanding > 0), active borrowers (distinct MEs with an
active loan; a confirmed duplicate counts as its original, as the indicators count MEs, and the original's
owner gender counts), portfolio outstanding, PAR>30 and PAR>90 (outstanding of the loans more than 30 /
90 days past due), repayment rate (Σ min(repaid, due) ÷ Σ due over every loan disbursed by then,
written off or not: a write-off is a failure to repay), arrears of the loans not written off, write-offs
(count and principal) by the date.

How it is computed: the per-loan values come from one ORM queryset, whose correlated subqueries the
database evaluates once per loan; the sums per group are one `GROUP BY` over that queryset's SQL (plain,
portable SQL: `SUM(CASE ...)`, `COUNT(DISTINCT ...)`). Grouping annotations in the ORM itself would
repeat each loan's subqueries once per figure that uses them (a dozen times); the wrapped form reads
each loan's repayments once. Days past due are never computed in SQL: "more than 30 days past due" is
"overdue since before the date less 30 days", i.e. the principal due by then exceeds the principal
repaid (`par30_due` > `repaid`). Works the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    DecimalField,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Round

from enterprises.models import FinancialSupport, Gender, SupportKind
from finance.models import Instalment, Repayment

CENT = Decimal("0.01")
ZERO = Decimal("0")
MONEY_FIELD: DecimalField = DecimalField(max_digits=14, decimal_places=2)

# Days-past-due buckets of the loan list and the API (key, lowest, highest days).
BUCKETS = {
    "current": (0, 0),
    "1-30": (1, 30),
    "31-90": (31, 90),
    "over-90": (91, None),
}


# --- Per loan -----------------------------------------------------------------------------------------


def _repaid(as_of: date) -> Coalesce:
    # A plain SUM over the loan's rows (no GROUP BY: one loan's repayments are one group anyway),
    # rounded to paisa: SQLite sums decimals as floats, and 7708.33 x 3 would fall short of the
    # 23124.99 due by a hair.
    paid = (
        Repayment.objects.filter(loan=OuterRef("pk"), paid_on__lte=as_of)
        .order_by()
        .values(total=Round(Func(F("principal"), function="SUM", output_field=MONEY_FIELD), 2))
    )
    return Coalesce(Subquery(paid, output_field=MONEY_FIELD), Value(ZERO), output_field=MONEY_FIELD)


def _due_by(day: date) -> Coalesce:
    """Principal due on the instalments falling due by `day` (0 before the first)."""
    last = Instalment.objects.filter(loan=OuterRef("pk"), due_on__lte=day).order_by("-due_on")
    return Coalesce(
        Subquery(last.values("principal_due_to_date")[:1], output_field=MONEY_FIELD),
        Value(ZERO),
        output_field=MONEY_FIELD,
    )


def _written_off_by(as_of: date) -> Q:
    return Q(write_off__written_off_on__lte=as_of)


def disbursed_loans(
    as_of: date, loans: QuerySet[FinancialSupport] | None = None
) -> QuerySet[FinancialSupport]:
    base = loans if loans is not None else FinancialSupport.objects.all()
    return base.filter(kind=SupportKind.LOAN, disbursed_on__lte=as_of)


def with_figures(loans: QuerySet[FinancialSupport], as_of: date) -> QuerySet[FinancialSupport]:
    """The loans disbursed by `as_of`, each annotated with its figures of that day: `repaid`,
    `written_off` (principal, None if not written off by then), `written_off_on`, `due`, `outstanding`,
    `arrears` and `overdue_since` (None when nothing is past due). `days_past_due(loan, as_of)` reads
    the days from them."""
    written_off = _written_off_by(as_of)
    overdue = Instalment.objects.filter(
        loan=OuterRef("pk"), due_on__lte=as_of, principal_due_to_date__gt=OuterRef("repaid")
    ).order_by("due_on")
    return (
        disbursed_loans(as_of, loans)
        .annotate(
            repaid=_repaid(as_of),
            due=_due_by(as_of),
            written_off=Case(
                When(written_off, then=F("write_off__principal")), default=None, output_field=MONEY_FIELD
            ),
            written_off_on=Case(When(written_off, then=F("write_off__written_off_on")), default=None),
        )
        .annotate(
            outstanding=Case(
                When(written_off, then=Value(ZERO)),
                When(amount__gt=F("repaid"), then=Round(F("amount") - F("repaid"), 2)),
                default=Value(ZERO),
                output_field=MONEY_FIELD,
            ),
            arrears=Case(
                When(written_off, then=Value(ZERO)),
                When(due__gt=F("repaid"), then=Round(F("due") - F("repaid"), 2)),
                default=Value(ZERO),
                output_field=MONEY_FIELD,
            ),
            overdue_since=Case(When(written_off, then=None), default=Subquery(overdue.values("due_on")[:1])),
        )
    )


def days_past_due(loan: Any, as_of: date) -> int:
    """Days from the oldest instalment not covered by repayments to `as_of` (a loan of `with_figures`)."""
    since = getattr(loan, "overdue_since", None)
    return (as_of - since).days if since else 0


def bucket_of(days: int) -> str:
    for key, (low, high) in BUCKETS.items():
        if days >= low and (high is None or days <= high):
            return key
    return "current"


def in_bucket(loans: QuerySet, bucket: str, as_of: date) -> QuerySet:
    """Loans of `with_figures` in a days-past-due bucket ("current": active, nothing past due)."""
    low, high = BUCKETS[bucket]
    active = loans.filter(outstanding__gt=0)
    if bucket == "current":
        return active.filter(Q(overdue_since__isnull=True) | Q(overdue_since__gte=as_of))
    condition = Q(overdue_since__lte=as_of - timedelta(days=low))
    if high is not None:
        condition &= Q(overdue_since__gte=as_of - timedelta(days=high))
    return active.filter(condition)


# --- Sums -----------------------------------------------------------------------------------------------


def _percent(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(CENT)


@dataclass(frozen=True)
class Figures:
    """The portfolio of a PO, of an owner gender or of the programme, as of a date."""

    loans_disbursed: int = 0
    disbursed: Decimal = ZERO
    loans: int = 0  # active: outstanding > 0
    borrowers: int = 0
    women_borrowers: int = 0
    men_borrowers: int = 0
    outstanding: Decimal = ZERO
    par30: Decimal = ZERO
    par90: Decimal = ZERO
    par30_loans: int = 0
    par90_loans: int = 0
    due: Decimal = ZERO
    repaid: Decimal = ZERO
    repaid_against_due: Decimal = ZERO
    arrears: Decimal = ZERO
    write_offs: int = 0
    written_off: Decimal = ZERO

    @property
    def par30_percent(self) -> Decimal | None:
        return _percent(self.par30, self.outstanding)

    @property
    def par90_percent(self) -> Decimal | None:
        return _percent(self.par90, self.outstanding)

    @property
    def repayment_rate(self) -> Decimal | None:
        """Σ min(repaid, due) ÷ Σ due, in %: None while nothing is due."""
        return _percent(self.repaid_against_due, self.due)

    def as_dict(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(
            par30_percent=self.par30_percent,
            par90_percent=self.par90_percent,
            repayment_rate=self.repayment_rate,
        )
        return values


# The per-loan columns the sums read (aliases of the inner query).
_ACTIVE = "written_off IS NULL AND loan_amount > repaid"
_MEASURES: dict[str, str] = {
    "loans_disbursed": "COUNT(*)",
    "disbursed": "SUM(loan_amount)",
    "loans": f"SUM(CASE WHEN {_ACTIVE} THEN 1 ELSE 0 END)",
    "borrowers": f"COUNT(DISTINCT CASE WHEN {_ACTIVE} THEN me END)",
    "women_borrowers": f"COUNT(DISTINCT CASE WHEN {_ACTIVE} AND gender = %s THEN me END)",
    "men_borrowers": f"COUNT(DISTINCT CASE WHEN {_ACTIVE} AND gender = %s THEN me END)",
    "outstanding": f"SUM(CASE WHEN {_ACTIVE} THEN loan_amount - repaid ELSE 0 END)",
    "par30": f"SUM(CASE WHEN {_ACTIVE} AND par30_due > repaid THEN loan_amount - repaid ELSE 0 END)",
    "par90": f"SUM(CASE WHEN {_ACTIVE} AND par90_due > repaid THEN loan_amount - repaid ELSE 0 END)",
    "par30_loans": f"SUM(CASE WHEN {_ACTIVE} AND par30_due > repaid THEN 1 ELSE 0 END)",
    "par90_loans": f"SUM(CASE WHEN {_ACTIVE} AND par90_due > repaid THEN 1 ELSE 0 END)",
    "due": "SUM(due)",
    "repaid": "SUM(repaid)",
    "repaid_against_due": "SUM(CASE WHEN repaid < due THEN repaid ELSE due END)",
    "arrears": "SUM(CASE WHEN written_off IS NULL AND due > repaid THEN due - repaid ELSE 0 END)",
    "write_offs": "SUM(CASE WHEN written_off IS NOT NULL THEN 1 ELSE 0 END)",
    "written_off": "SUM(COALESCE(written_off, 0))",
}
_MEASURE_PARAMS = {"women_borrowers": [Gender.FEMALE.value], "men_borrowers": [Gender.MALE.value]}
_COUNTS = {f.name for f in fields(Figures) if f.type in ("int", int)}
_GROUPS = {"po": "po", "gender": "gender", None: None}


def _per_loan(as_of: date, loans: QuerySet[FinancialSupport] | None) -> QuerySet:
    """One row per loan disbursed by `as_of`: what the sums read, each subquery once."""
    written_off = _written_off_by(as_of)
    return (
        disbursed_loans(as_of, loans)
        .order_by()
        .annotate(
            po=F("enterprise__partner_organization_id"),
            me=Coalesce("enterprise__duplicate_of_id", "enterprise_id"),
            gender=Coalesce("enterprise__duplicate_of__owner_gender", "enterprise__owner_gender"),
            loan_amount=F("amount"),
            repaid=_repaid(as_of),
            due=_due_by(as_of),
            # Principal due by 31 and 91 days ago: more than that unpaid is more than 30 / 90 days late.
            par30_due=_due_by(as_of - timedelta(days=31)),
            par90_due=_due_by(as_of - timedelta(days=91)),
            written_off=Case(
                When(written_off, then=F("write_off__principal")), default=None, output_field=MONEY_FIELD
            ),
        )
        .values("po", "me", "gender", "loan_amount", "repaid", "due", "par30_due", "par90_due", "written_off")
    )


def _number(value: Any, integer: bool) -> Any:
    if integer:
        return int(value or 0)
    if value is None:
        return ZERO
    # SQLite answers sums of decimals as floats: back to paisa.
    return (value if isinstance(value, Decimal) else Decimal(str(value))).quantize(CENT)


def _sums(as_of: date, loans: QuerySet[FinancialSupport] | None, group: str | None) -> dict[Any, Figures]:
    inner_sql, inner_params = _per_loan(as_of, loans).query.sql_with_params()
    if connection.vendor == "postgresql":
        # A fence: PostgreSQL would otherwise pull the per-loan query up into the sums and evaluate
        # each loan's subqueries once per figure using them (five times slower at 80,000 loans).
        inner_sql += " OFFSET 0"
    names = list(_MEASURES)
    selected = ", ".join(_MEASURES[name] for name in names)
    params: list[Any] = []
    for name in names:
        params.extend(_MEASURE_PARAMS.get(name, []))
    key = f"{group}, " if group else ""
    sql = f"SELECT {key}{selected} FROM ({inner_sql}) loan_figures"  # noqa: S608 - no user input
    if group:
        sql += f" GROUP BY {group}"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        rows = cursor.fetchall()
    result: dict[Any, Figures] = {}
    for row in rows:
        values = row[1:] if group else row
        if not group and not values[0]:
            continue  # no loan at all: the ungrouped query still answers one row of nothing
        figures = Figures(
            **{name: _number(value, name in _COUNTS) for name, value in zip(names, values, strict=True)}
        )
        result[row[0] if group else None] = figures
    return result


def portfolio_by_po(as_of: date, loans: QuerySet[FinancialSupport] | None = None) -> dict[int, Figures]:
    """Each PO's portfolio (POs with a loan disbursed by `as_of`): one query."""
    return _sums(as_of, loans, "po")


def portfolio_by_gender(as_of: date, loans: QuerySet[FinancialSupport] | None = None) -> dict[str, Figures]:
    """The portfolio by the owner gender of the borrowing ME (its original's, for a confirmed duplicate)."""
    return _sums(as_of, loans, "gender")


def portfolio_totals(as_of: date, loans: QuerySet[FinancialSupport] | None = None) -> Figures:
    """The programme's portfolio (or that of `loans`, e.g. one PO's): one query. Each ME counts once
    among the borrowers, whichever PO it borrows from."""
    return _sums(as_of, loans, None).get(None, Figures())


# --- Registration -----------------------------------------------------------------------------------------


def ready() -> None:
    """Menu entries of the portfolio pages, and the repayment and schedule imports on the import engine."""
    from django.utils.translation import gettext_lazy as _lazy

    from core.navigation import NavItem, register
    from core.roles import Role
    from finance import loan_imports, loans

    readers = (Role.PO_STAFF, Role.FINANCE_OFFICER, Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER)
    register(
        NavItem(
            _lazy("Loan portfolio"),
            "finance:portfolio",
            _lazy(
                "The ME loans' outstanding principal, portfolio at risk, repayment rate and write-offs, "
                "as of any date."
            ),
            roles=readers,
            condition=loans.may_read,
            order=75,
            group=_lazy("Money"),
        ),
        NavItem(
            _lazy("Loans"),
            "finance:loan-list",
            _lazy("Each ME loan with its schedule, repayments, days past due and write-off."),
            roles=readers,
            condition=loans.may_read,
            order=76,
            group=_lazy("Money"),
        ),
    )
    loan_imports.register()
