"""The sampling rule of independent verification: what is drawn each quarter, how many, and how.

The rule, as the rounds page states it (keep `RULE_TEXT` and this docstring in step):

1. **Strata.** Each Partner Organization (PO) is a stratum, sampled separately.
2. **Population of quarter Q**, per PO, read when the round is drawn; a quarter is drawn only once it
   is over (its last day before the day of the draw), so nothing reported for it later is missed:
   - *RECP adoptions* of the PO's enterprises with `adopted_on` on or before the last day of Q
     (verified or not);
   - *RECP profiles* with status "validated" and `validated_on` on or before the last day of Q;
   - *Facilities* with status "operational" and `opened_on` on or before the last day of Q that are
     not yet confirmed operational, plus the operational facilities opened in Q even if confirmed.
   An item sampled in an earlier round is left out: nothing is checked twice. Everything else carries
   over, so an item reported late, dated later in a quarter already drawn, or re-dated into one, is
   in the population of the next round drawn.
3. **Sample size per PO.** Cochran's n0 = z²·p(1-p)/e² with z = 1.96 (95 % confidence), p = 0.5 (the
   most cautious) and e = the policy's margin (5 % by default: n0 = 384.16), corrected for the PO's
   population N: n = n0 / (1 + (n0 - 1)/N), rounded up; at least the policy's floor, or all N items
   when N is below the floor. Exact fractions are used, so no rounding error changes a size.
4. **Spread over the three kinds** in proportion to their counts, by largest remainder: each kind gets
   the whole part of n·Nₖ/N, and the items still to place go to the kinds with the largest fractional
   parts (ties: adoptions, then profiles, then facilities). A kind never gets more than it has.
5. **Draw.** A `random.Random` seeded with the text "<round seed>:<PO id>" (the PO's database id,
   which never changes, unlike its code) picks, kind by kind (adoptions, profiles, facilities), that
   many items from the kind's items sorted by id (`Random.sample`). The same seed and the same
   population always give the same sample; the seed is stored with the round, and so is each kind's
   population fingerprint per PO: the SHA-256 of its ids sorted and joined by commas (`fingerprint`),
   so anyone repeating the draw (`replan`) can tell whether they start from the same items.

The population is read with one SQL query per kind (ids and PO only), whatever the number of items.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from core.models import PartnerOrganization
from enterprises.models import Adoption, CommonServiceFacility, FacilityStatus, ProfileStatus, RecpProfile
from verification.models import CheckKind, VerificationCheck, VerificationRound

Z_95 = Fraction("1.96")
P_MOST_CAUTIOUS = Fraction(1, 2)
# The order in which kinds are allocated, drawn and listed.
KINDS = (CheckKind.ADOPTION, CheckKind.PROFILE, CheckKind.FACILITY)

RULE_TEXT = [
    _("Each Partner Organization (PO) is sampled separately."),
    _(
        "A quarter is drawn once it is over. What is sampled for it, per PO: the RECP adoptions with an "
        "adoption date on or before the quarter's last day (verified or not); the RECP profiles "
        "validated on or before that day; the facilities reported operational with an opening date on "
        "or before that day and not yet confirmed operational, plus those opened in the quarter. "
        "Anything sampled in an earlier round is left out, and everything else carries over: an item "
        "reported late, or dated into a quarter already drawn, enters the next round drawn."
    ),
    _(
        "Sample size per PO: Cochran's n0 = z²·p(1-p)/e² with z = 1.96 (95 % confidence), p = 0.5 and "
        "e = the margin of error of the policy, then n = n0 / (1 + (n0 - 1)/N) for a PO with N items, "
        "rounded up; at least the policy's smallest sample, or all N items when N is smaller."
    ),
    _(
        "The sample is spread over adoptions, profiles and facilities in proportion to their numbers "
        "(largest remainder; ties go to adoptions, then profiles, then facilities)."
    ),
    _(
        "The draw uses Python's random.Random seeded with “round seed:PO id” (the PO's database id, "
        "which never changes) over each kind's items sorted by id: the same seed and population always "
        "give the same sample. The seed is shown with each round, with each kind's population "
        "fingerprint per PO (SHA-256 of its ids sorted and joined by commas), so a repeat of the draw "
        "can be checked."
    ),
]


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    first_month = 3 * (quarter - 1) + 1
    start = date(year, first_month, 1)
    end = date(year + 1, 1, 1) if quarter == 4 else date(year, first_month + 3, 1)
    return start, date.fromordinal(end.toordinal() - 1)


def sample_size(population: int, *, margin_percent: Decimal | float | str, floor: int) -> int:
    """How many of a PO's `population` items are checked (rule point 3)."""
    if population <= 0:
        return 0
    if population <= floor:
        return population
    e = Fraction(str(margin_percent)) / 100
    n0 = Z_95**2 * P_MOST_CAUTIOUS * (1 - P_MOST_CAUTIOUS) / e**2
    n = n0 / (1 + (n0 - 1) / population)
    return min(population, max(math.ceil(n), floor))


def allocate(size: int, counts: dict[str, int]) -> dict[str, int]:
    """Spread `size` over the kinds in proportion to `counts`, by largest remainder (rule point 4)."""
    total = sum(counts.get(kind, 0) for kind in KINDS)
    if total == 0 or size <= 0:
        return dict.fromkeys(KINDS, 0)
    quotas = {kind: Fraction(size * counts.get(kind, 0), total) for kind in KINDS}
    shares = {kind: math.floor(quota) for kind, quota in quotas.items()}
    left = size - sum(shares.values())
    by_remainder = sorted(KINDS, key=lambda kind: (-(quotas[kind] - shares[kind]), KINDS.index(kind)))
    for kind in by_remainder[:left]:
        shares[kind] += 1
    return shares


def draw(seed: int, po_id: int, items: dict[str, list[int]], shares: dict[str, int]) -> dict[str, list[int]]:
    """The sampled ids of one PO, kind by kind (rule point 5). `items` must be sorted by id."""
    rng = random.Random(f"{seed}:{po_id}")  # noqa: S311 - reproducible sampling, not secrecy
    return {kind: sorted(rng.sample(items.get(kind, []), shares.get(kind, 0))) for kind in KINDS}


def fingerprint(ids: list[int]) -> str:
    """SHA-256 (hex) of ids sorted and joined by commas, e.g. of "3,17,42" (rule point 5)."""
    return hashlib.sha256(",".join(str(pk) for pk in sorted(ids)).encode()).hexdigest()


# --- The population, one query per kind ----------------------------------------------------------


def _sampled_before(field_name: str, before: VerificationRound | int | None) -> Exists:
    """Checks of this item in a round drawn before `before` (in any round when None). Rounds are drawn
    one at a time, so an earlier round has a lower id."""
    checks = VerificationCheck.objects.filter(**{field_name: OuterRef("pk")})
    if before is not None:
        checks = checks.filter(round_id__lt=getattr(before, "pk", before))
    return Exists(checks)


def population(
    year: int, quarter: int, *, before: VerificationRound | int | None = None
) -> dict[int, dict[str, list[int]]]:
    """Per PO id, the ids of each kind's items in the quarter's population (rule point 2), sorted.

    Items sampled in a round drawn before `before` (a round or its id) are left out; by default, those
    sampled in any round, as for a new draw. Pass the round itself to read its population again."""
    start, end = quarter_bounds(year, quarter)
    queries = {
        CheckKind.ADOPTION: Adoption.objects.filter(adopted_on__lte=end)
        .exclude(_sampled_before("adoption", before))
        .values_list("enterprise__partner_organization_id", "pk"),
        CheckKind.PROFILE: RecpProfile.objects.filter(status=ProfileStatus.VALIDATED, validated_on__lte=end)
        .exclude(_sampled_before("profile", before))
        .values_list("enterprise__partner_organization_id", "pk"),
        CheckKind.FACILITY: CommonServiceFacility.objects.filter(
            Q(operational_confirmed_on__isnull=True) | Q(opened_on__gte=start),
            status=FacilityStatus.OPERATIONAL,
            opened_on__lte=end,
        )
        .exclude(_sampled_before("facility", before))
        .values_list("partner_organization_id", "pk"),
    }
    found: dict[int, dict[str, list[int]]] = defaultdict(lambda: {kind: [] for kind in KINDS})
    for kind, query in queries.items():
        for po_id, pk in query.order_by("pk"):
            found[po_id][kind].append(pk)
    return dict(found)


@dataclass
class Stratum:
    """One PO's population and sample, before anything is written."""

    po_id: int
    po_code: str
    counts: dict[str, int]
    size: int
    sample: dict[str, list[int]] = field(default_factory=dict)
    # Per kind, the fingerprint of the population's ids (rule point 5).
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def population(self) -> int:
        return sum(self.counts.values())


def plan(
    *,
    year: int,
    quarter: int,
    seed: int,
    margin_percent: Decimal,
    floor: int,
    before: VerificationRound | int | None = None,
) -> list[Stratum]:
    """The whole sample of a quarter, PO by PO (in PO code order), without writing anything.
    `before`: as for `population`."""
    items_by_po = population(year, quarter, before=before)
    codes = dict(PartnerOrganization.objects.filter(pk__in=items_by_po).values_list("pk", "code"))
    strata = []
    for po_id in sorted(items_by_po, key=lambda pk: codes[pk]):
        items = items_by_po[po_id]
        counts = {kind: len(items[kind]) for kind in KINDS}
        size = sample_size(sum(counts.values()), margin_percent=margin_percent, floor=floor)
        stratum = Stratum(po_id, codes[po_id], counts, size)
        stratum.sample = draw(seed, po_id, items, allocate(size, counts))
        stratum.fingerprints = {kind: fingerprint(items[kind]) for kind in KINDS}
        strata.append(stratum)
    return strata


def replan(round_: VerificationRound) -> list[Stratum]:
    """The round's draw repeated on today's data, with its seed and settings and without what earlier
    rounds sampled. Where a stratum's fingerprints equal the stored ones, its sample is the round's."""
    return plan(
        year=round_.year,
        quarter=round_.quarter,
        seed=round_.seed,
        margin_percent=round_.margin_percent,
        floor=round_.floor,
        before=round_,
    )
