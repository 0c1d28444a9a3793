"""Confirmation rates of verification checks, per PO: a stable contract for other panels.

    confirmation_rates(*, round=None, po_id=None, threshold=None) -> dict[int, Rate]

Keys are PO ids (`PartnerOrganization.pk`); only POs with at least one sampled check appear.
- `round`: a `VerificationRound` or its id, to count only that round's checks; all rounds by default.
- `po_id`: only that PO.
- `threshold`: the rate (percent) below which a PO is flagged; by default the policy's
  (`VerificationPolicy.current().threshold_percent`).

A `Rate` counts the PO's sampled checks, those done (a result recorded) and each result. Its rate is
the score of the done checks in percent: confirmed = 1, partly confirmed = 0.5, not found = 0, i.e.
`100 * (confirmed + 0.5 * partly) / done`, rounded to one decimal; `None` while nothing is done. A PO
is flagged when its exact rate is below the threshold (never while nothing is done).

One grouped SQL query (plus one for the policy when no threshold is given), whatever the number of
checks or POs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q

from verification.models import CheckStatus, VerificationCheck, VerificationPolicy, VerificationRound

CONFIRMED_WEIGHT = Decimal(1)
PARTLY_WEIGHT = Decimal("0.5")


@dataclass(frozen=True)
class Rate:
    po_id: int
    sampled: int
    done: int
    confirmed: int
    partly: int
    not_found: int
    # Percent, one decimal; None while no check is done.
    rate: Decimal | None
    flagged: bool

    @property
    def pending(self) -> int:
        return self.sampled - self.done


def score(confirmed: int, partly: int) -> Decimal:
    return confirmed * CONFIRMED_WEIGHT + partly * PARTLY_WEIGHT


def rate_of(confirmed: int, partly: int, done: int) -> Decimal | None:
    """The confirmation rate in percent (exact), or None when nothing is done."""
    if not done:
        return None
    return score(confirmed, partly) * 100 / done


def confirmation_rates(
    *,
    round: VerificationRound | int | None = None,
    po_id: int | None = None,
    threshold: Decimal | None = None,
) -> dict[int, Rate]:
    """Per PO id, its checks' results and confirmation rate (see the module docstring)."""
    if threshold is None:
        threshold = VerificationPolicy.current().threshold_percent
    checks = VerificationCheck.objects.all()
    if round is not None:
        checks = checks.filter(round_id=getattr(round, "pk", round))
    if po_id is not None:
        checks = checks.filter(partner_organization_id=po_id)
    rows = (
        checks.order_by()
        .values("partner_organization_id")
        .annotate(
            sampled=Count("pk"),
            done=Count("pk", filter=~Q(status=CheckStatus.PENDING)),
            confirmed=Count("pk", filter=Q(status=CheckStatus.CONFIRMED)),
            partly=Count("pk", filter=Q(status=CheckStatus.PARTLY)),
            not_found=Count("pk", filter=Q(status=CheckStatus.NOT_FOUND)),
        )
    )
    rates = {}
    for row in rows:
        exact = rate_of(row["confirmed"], row["partly"], row["done"])
        rates[row["partner_organization_id"]] = Rate(
            po_id=row["partner_organization_id"],
            sampled=row["sampled"],
            done=row["done"],
            confirmed=row["confirmed"],
            partly=row["partly"],
            not_found=row["not_found"],
            rate=None if exact is None else exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
            flagged=exact is not None and exact < Decimal(threshold),
        )
    return rates


def overall(rates: dict[int, Rate], threshold: Decimal) -> Rate:
    """The rates of several POs added up (e.g. a round's total line); `po_id` is 0."""
    totals = {
        name: sum(getattr(rate, name) for rate in rates.values())
        for name in ("sampled", "done", "confirmed", "partly", "not_found")
    }
    exact = rate_of(totals["confirmed"], totals["partly"], totals["done"])
    return Rate(
        po_id=0,
        **totals,
        rate=None if exact is None else exact.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP),
        flagged=exact is not None and exact < Decimal(threshold),
    )
