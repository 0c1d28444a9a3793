"""Demo ME loan portfolio: for every demo loan (a financial support of kind loan) a monthly schedule of
12, 18 or 24 instalments with a flat interest, and its repayments up to today. Most loans are repaid
on time; of the loans still being repaid, about 8 % are 31-90 days behind and 3 % more than 90 days;
two of those are written off. Every repayment is an instalment's principal and interest, so what is
repaid never exceeds what was lent.

Safe to run again: a loan that already has a schedule or a repayment is left as it is, and write-offs
are added only while the demo has none. Rows are bulk inserted (the demo has a few thousand loans).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Exists, OuterRef
from django.utils import timezone

from core.models import User
from core.roles import GROUP_NAMES, Role
from enterprises.models import FinancialSupport, SupportKind
from finance.loans import add_months, schedule_rows
from finance.models import Instalment, Repayment, WriteOff

SEED = 1414
TERMS = (12, 18, 24)
FLAT_RATE = Decimal("11")  # % a year on the amount lent
LATE_SHARE = 0.08  # loans 31-90 days behind
VERY_LATE_SHARE = 0.03  # loans more than 90 days behind
WRITE_OFFS = 2
# A late loan paid the instalments due up to this many days ago, none after: the oldest unpaid one
# is then 31-90 (or more than 90) days past due, as long as one fell due in the window.
LATE_CUTOFF = (62, 90)
VERY_LATE_CUTOFF = (122, 240)


def _loans_to_schedule():
    scheduled = Instalment.objects.filter(loan=OuterRef("pk"))
    repaid = Repayment.objects.filter(loan=OuterRef("pk"))
    return (
        FinancialSupport.objects.filter(kind=SupportKind.LOAN)
        .exclude(enterprise__partner_organization__code__startswith="SYN-")
        .exclude(Exists(scheduled))
        .exclude(Exists(repaid))
        .select_related("enterprise__partner_organization")
        .order_by("pk")
    )


def _unpaid_window(instalments: list[Instalment], today: date, cutoff: int, least_late: int) -> bool:
    """Whether some instalment falls due between `cutoff` and `least_late` days ago."""
    return any(
        today - timedelta(days=cutoff) < i.due_on <= today - timedelta(days=least_late) for i in instalments
    )


def seed(stdout) -> None:
    rng = random.Random(SEED)  # noqa: S311 - demo data, not secrets
    today = timezone.localdate()
    loans = list(_loans_to_schedule())
    schedules: dict[int, list[Instalment]] = {}
    for loan in loans:
        schedules[loan.pk] = schedule_rows(
            loan.pk,
            loan.amount,
            term_months=rng.choice(TERMS),
            first_due_on=add_months(loan.disbursed_on, 1),
            annual_interest_rate=FLAT_RATE,
        )
    # Who pays late: chosen among the loans that can be that late (an instalment due in the window),
    # in numbers that make the shares of the loans still being repaid (a loan whose schedule ended
    # long ago and was paid in full can no longer fall behind).
    running = sum(1 for loan in loans if schedules[loan.pk][-1].due_on > today - timedelta(days=31))
    cutoffs: dict[int, int] = {}
    very_late = [loan for loan in loans if _unpaid_window(schedules[loan.pk], today, VERY_LATE_CUTOFF[0], 91)]
    for loan in rng.sample(very_late, min(len(very_late), round(running * VERY_LATE_SHARE))):
        cutoffs[loan.pk] = rng.randint(*VERY_LATE_CUTOFF)
    late = [
        loan
        for loan in loans
        if loan.pk not in cutoffs and _unpaid_window(schedules[loan.pk], today, LATE_CUTOFF[0], 31)
    ]
    for loan in rng.sample(late, min(len(late), round(running * LATE_SHARE))):
        cutoffs[loan.pk] = rng.randint(*LATE_CUTOFF)

    instalments, repayments = [], []
    repaid: dict[int, Decimal] = {}
    for loan in loans:
        last_paid = today - timedelta(days=cutoffs.get(loan.pk, 0))
        for instalment in schedules[loan.pk]:
            instalments.append(instalment)
            if instalment.due_on > last_paid:
                continue
            paid_on = min(instalment.due_on + timedelta(days=rng.choice((0, 0, 1, 2, 3, 5))), last_paid)
            repayments.append(
                Repayment(
                    loan_id=loan.pk,
                    paid_on=max(paid_on, loan.disbursed_on),
                    principal=instalment.principal,
                    interest=instalment.interest,
                    reference=f"RC-{loan.pk}-{instalment.number:02d}",
                )
            )
            repaid[loan.pk] = repaid.get(loan.pk, Decimal("0")) + instalment.principal
    Instalment.objects.bulk_create(instalments, batch_size=2000)
    Repayment.objects.bulk_create(repayments, batch_size=2000)
    written_off = _write_offs(loans, cutoffs, repaid, today)
    very = sum(1 for days in cutoffs.values() if days >= VERY_LATE_CUTOFF[0])
    stdout.write(
        f"  loans: {len(loans)} schedules ({len(instalments)} instalments), {len(repayments)} repayments; "
        f"{len(cutoffs) - very} loans 31-90 days behind, {very} more than 90 days, {written_off} written off"
    )


def _write_offs(
    loans: list[FinancialSupport], cutoffs: dict[int, int], repaid: dict[int, Decimal], today: date
) -> int:
    """Two of the loans longest behind, in POs with a demo staff member (who records the write-off)."""
    if WriteOff.objects.exists():
        return 0
    staff = {
        user.partner_organization_id: user
        for user in User.objects.filter(
            groups__name=GROUP_NAMES[Role.PO_STAFF], partner_organization__isnull=False, is_active=True
        ).order_by("pk")
    }
    candidates = sorted(
        (
            loan
            for loan in loans
            if cutoffs.get(loan.pk, 0) >= VERY_LATE_CUTOFF[0]
            and loan.enterprise.partner_organization_id in staff
            and loan.amount > repaid.get(loan.pk, Decimal("0"))
        ),
        key=lambda loan: (-cutoffs[loan.pk], loan.pk),
    )
    chosen, pos = [], set()
    for loan in candidates:  # one per PO while there are several
        if loan.enterprise.partner_organization_id not in pos:
            chosen.append(loan)
            pos.add(loan.enterprise.partner_organization_id)
        if len(chosen) == WRITE_OFFS:
            break
    for loan in candidates:
        if len(chosen) == WRITE_OFFS:
            break
        if loan not in chosen:
            chosen.append(loan)
    WriteOff.objects.bulk_create(
        WriteOff(
            loan_id=loan.pk,
            written_off_on=today - timedelta(days=20),
            principal=loan.amount - repaid.get(loan.pk, Decimal("0")),
            reason="Enterprise closed after the 2024 floods; the owner has left the district. "
            "Recovery efforts over four months failed.",
            recorded_by=staff[loan.enterprise.partner_organization_id],
        )
        for loan in chosen
    )
    return len(chosen)
