"""The indicators of the results framework (SPEC 6), each defined once as a set-based query "as of a date",
in the seed documents' words. The rule in words is the Indicator row's `definition` (migration 0005),
shown on the indicator page; monitoring.reference_sql restates the same rules in plain SQL.

Every definition returns grouped rows at the finest grain the breakdowns need (PO, sub-sector,
district, owner gender, climate-vulnerable area): one SQL query per indicator, never a loop over
enterprises. monitoring.aggregation rolls these groups up into each breakdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, F, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FacilityKind,
    FacilityStatus,
    FinancialSupport,
    Gender,
    KpiReading,
    ProfileStatus,
    RecpProfile,
    counted_enterprise,
    programme_start,
)
from finance.rates import in_usd, usd_total
from monitoring.models import Dimension
from subprojects.models import Financier, SubProject, SubProjectStatus, Transition

# Groups are at the finest grain: one combination of PO, sub-sector (or sector), district, owner
# gender and climate flag (None where a key does not apply).

ME_DIMENSIONS = frozenset(Dimension.values)
FACILITY_DIMENSIONS = ME_DIMENSIONS - {Dimension.GENDER}
MONEY_COMMITTED_DIMENSIONS = frozenset(
    {Dimension.TOTAL, Dimension.PARTNER_ORGANIZATION, Dimension.SECTOR, Dimension.BUSINESS_AREA}
)


@dataclass(frozen=True)
class Group:
    keys: dict[str, object]
    value: Decimal
    denominator: Decimal | None = None


@dataclass(frozen=True)
class Definition:
    """How an indicator is counted. Its name, rule in words, unit, targets and framework columns are
    data (the Indicator row, seeded by migrations and edited by the PMU)."""

    code: str
    groups: Callable[[date], list[Group]]
    dimensions: frozenset[str] = ME_DIMENSIONS
    # Shares are recomputed from summed numerators and denominators, never summed themselves.
    is_share: bool = False


# --- Enterprise-based indicators ------------------------------------------------------------------

# The finest-grain keys of a group (see monitoring.aggregation.Labels.key_of) → the field they are read
# from, for enterprises and for records of an enterprise.
ENTERPRISE_KEYS = {
    "po": "partner_organization_id",
    "sub_sector": "sub_sector_id",
    "district": "district_id",
    "gender": "owner_gender",
    "climate": "climate_vulnerable",
}
RECORD_KEYS = {key: f"enterprise__{field}" for key, field in ENTERPRISE_KEYS.items()}
FACILITY_KEYS = {
    "po": "partner_organization_id",
    "sub_sector": "sub_sector_id",
    "district": "district_id",
    "climate": "district__climate_vulnerable",
}
SUB_PROJECT_KEYS = {"po": "partner_organization_id", "sector": "sector_id"}


def _grouped(queryset: QuerySet, keys: dict[str, str], **totals) -> list[tuple[dict[str, object], dict]]:
    """One GROUP BY query: each group's keys (named as in `keys`) with its row of `totals`."""
    rows = queryset.values(*keys.values()).annotate(**totals).order_by()
    return [({key: row[field] for key, field in keys.items()}, row) for row in rows]


def _enterprise_groups(queryset: QuerySet[Enterprise]) -> list[Group]:
    return [
        Group(keys, Decimal(row["n"])) for keys, row in _grouped(queryset, ENTERPRISE_KEYS, n=Count("id"))
    ]


# A confirmed duplicate counts once: its records count for its original (enterprises.counted_enterprise),
# and the duplicate itself is left out (Enterprise.objects.countable()).


def _counted(records: QuerySet) -> QuerySet[Enterprise]:
    return Enterprise.objects.countable().filter(pk__in=records.values(me=counted_enterprise()))


def project_financing(as_of: date) -> QuerySet[FinancialSupport]:
    """Loans and grants disbursed from the programme start to the date: the only project financing."""
    return FinancialSupport.objects.project_financing(as_of)


def financing_before_start() -> QuerySet[FinancialSupport]:
    """Disbursements dated before the programme began: recorded, shown, never counted."""
    return FinancialSupport.objects.before_programme()


# Indicators whose rule leaves out disbursements dated before the programme start.
EXCLUDES_EARLY_FINANCING = frozenset(
    {
        "ME_FINANCED",
        "MONEY_DISBURSED",
        "MONEY_DISBURSED_WORLD_BANK",
        "MONEY_DISBURSED_PKSF",
        "MONEY_DISBURSED_PO",
    }
)


def excluded_financing(po_id: int | None = None) -> dict:
    """What the programme-start rule leaves out, for the programme or one PO: how many disbursements,
    how much (BDT), the earliest, and the start date (one query)."""
    supports = financing_before_start()
    if po_id is not None:
        supports = supports.filter(enterprise__partner_organization_id=po_id)
    totals = supports.aggregate(n=Count("pk"), amount=Sum("amount"), first=Min("disbursed_on"))
    return {**totals, "start": programme_start()}


def financed(as_of: date) -> QuerySet[Enterprise]:
    """MEs receiving financial support: at least one loan or grant of project financing by the date."""
    return _counted(project_financing(as_of))


def climate_knowledge(as_of: date) -> QuerySet[Enterprise]:
    """MEs that attended a session of a module tagged climate vulnerability, held by the date, with a
    post-test score above the pre-test score."""
    return _counted(
        Attendance.objects.filter(
            session__held_on__lte=as_of,
            session__module__climate_vulnerability=True,
            post_test_score__gt=F("pre_test_score"),
        )
    )


def _two_practices(adoptions: QuerySet[Adoption]) -> QuerySet:
    """The counted MEs (ids) with at least two distinct practices among `adoptions`."""
    return (
        adoptions.values(me=counted_enterprise())
        .annotate(practices=Count("practice_id", distinct=True))
        .filter(practices__gte=2)
        .values("me")
    )


def recp_two_plus(as_of: date) -> QuerySet[Enterprise]:
    """MEs with at least two distinct RECP practices verified independently (PMU or a verifier, never
    the reporting PO) on or before the date."""
    verified = Adoption.objects.verified_independently(as_of)
    return Enterprise.objects.countable().filter(pk__in=_two_practices(verified))


def recp_two_plus_pending(as_of: date) -> QuerySet[Enterprise]:
    """MEs with at least two distinct practices reported by the date that do not yet count in
    recp_two_plus: "reported, not yet verified"."""
    reported = Adoption.objects.filter(adopted_on__lte=as_of)
    return (
        Enterprise.objects.countable()
        .filter(pk__in=_two_practices(reported))
        .exclude(pk__in=_two_practices(Adoption.objects.verified_independently(as_of)))
    )


def kpi_tracking(as_of: date) -> QuerySet[Enterprise]:
    """MEs with, for some KPI, a baseline reading and at least one later reading (both by the date).

    Baseline and later reading must belong to the same enterprise record (a duplicate's own pair
    counts for its original)."""
    later = KpiReading.objects.filter(
        enterprise=OuterRef("enterprise"),
        kpi=OuterRef("kpi"),
        period__gt=OuterRef("period"),
        period__lte=as_of,
    )
    return _counted(KpiReading.objects.filter(is_baseline=True, period__lte=as_of).filter(Exists(later)))


def profiles_validated(as_of: date) -> QuerySet[Enterprise]:
    """MEs whose climate-resilient RECP profile was validated on or before the date."""
    return _counted(RecpProfile.objects.filter(status=ProfileStatus.VALIDATED, validated_on__lte=as_of))


def registered(as_of: date) -> QuerySet[Enterprise]:
    return Enterprise.objects.countable().filter(registered_on__lte=as_of)


QUALIFYING: dict[str, Callable[[date], QuerySet[Enterprise]]] = {
    "ME_FINANCED": financed,
    "ME_CLIMATE_KNOWLEDGE": climate_knowledge,
    "ME_RECP_2PLUS": recp_two_plus,
    "ME_KPI_TRACKING": kpi_tracking,
    "RECP_PROFILES_VALIDATED": profiles_validated,
    "ME_RECP_2PLUS_PENDING": recp_two_plus_pending,
}


def _women_share(enterprises: QuerySet[Enterprise]) -> list[Group]:
    rows = _grouped(
        enterprises, ENTERPRISE_KEYS, n=Count("id"), women=Count("id", filter=Q(owner_gender=Gender.FEMALE))
    )
    return [Group(keys, Decimal(row["women"]), Decimal(row["n"])) for keys, row in rows]


def women_led_share(as_of: date) -> list[Group]:
    """Women-led MEs as a share of the MEs financed by the date."""
    return _women_share(financed(as_of))


def women_led_share_registered(as_of: date) -> list[Group]:
    """Women-led MEs as a share of all MEs registered by the date."""
    return _women_share(registered(as_of))


def _jobs(expression) -> Callable[[date], list[Group]]:
    """Wage jobs in the MEs financed by the date, summed from the registry (as last reported)."""

    def groups(as_of: date) -> list[Group]:
        rows = _grouped(financed(as_of), ENTERPRISE_KEYS, total=Sum(expression))
        return [Group(keys, Decimal(row["total"] or 0)) for keys, row in rows]

    return groups


def _added(field: str):
    """Jobs as last reported minus those at registration (a registration figure never recorded counts
    as no change)."""
    return F(field) - Coalesce(F(f"{field}_at_registration"), F(field))


# --- Facilities and money -------------------------------------------------------------------------


def _operational(as_of: date) -> QuerySet[CommonServiceFacility]:
    return CommonServiceFacility.objects.filter(
        status=FacilityStatus.OPERATIONAL, opened_on__isnull=False, opened_on__lte=as_of
    )


def established_facilities(as_of: date) -> QuerySet[CommonServiceFacility]:
    """Facilities reported operational, opened by the date, whose operation the PMU or a verifier
    confirmed by the date."""
    return _operational(as_of).filter(
        operational_confirmed_on__isnull=False, operational_confirmed_on__lte=as_of
    )


def unconfirmed_facilities(as_of: date) -> QuerySet[CommonServiceFacility]:
    """Facilities reported operational by the date whose operation nobody independent had confirmed."""
    return _operational(as_of).exclude(operational_confirmed_on__lte=as_of)


def _facility_groups(facilities: QuerySet[CommonServiceFacility]) -> list[Group]:
    return [
        Group(keys, Decimal(row["n"])) for keys, row in _grouped(facilities, FACILITY_KEYS, n=Count("id"))
    ]


def end_of_day(as_of: date) -> datetime:
    """The first moment after the date, in the portal's time zone (Asia/Dhaka): what happened at a
    moment before it happened "by" the date."""
    return timezone.make_aware(datetime.combine(as_of + timedelta(days=1), time.min))


def committed_sub_projects(as_of: date) -> QuerySet[SubProject]:
    """Sub-projects awarded by the date and not cancelled by then."""
    cancelled = Transition.objects.filter(
        content_type=ContentType.objects.get_for_model(SubProject),
        object_id=OuterRef("pk"),
        to_state=SubProjectStatus.CANCELLED,
        at__lt=end_of_day(as_of),
    )
    return SubProject.objects.filter(award_date__lte=as_of).exclude(Exists(cancelled))


# The approved budget's share of each financier; the programme's USD 300 M is World Bank + PKSF.
BUDGET_SHARES = {
    Financier.WORLD_BANK: F("budget_world_bank"),
    Financier.PKSF: F("budget_pksf"),
    Financier.PO: F("budget_po"),
}


def _committed(*financiers: Financier) -> Callable[[date], list[Group]]:
    def groups(as_of: date) -> list[Group]:
        amount = sum((BUDGET_SHARES[financier] for financier in financiers[1:]), BUDGET_SHARES[financiers[0]])
        # Each sub-project's budget at the rate of its award date (finance.rates).
        rows = _grouped(
            committed_sub_projects(as_of), SUB_PROJECT_KEYS, total=Sum(in_usd(amount, "award_date"))
        )
        return [Group(keys, usd_total(row["total"])) for keys, row in rows]

    return groups


def _disbursed(financier: str | None = None) -> Callable[[date], list[Group]]:
    """Project financing disbursed to MEs by the date (of one financier), in USD: each disbursement
    at the rate of its own day (finance.rates)."""

    def groups(as_of: date) -> list[Group]:
        supports = project_financing(as_of)
        if financier:
            supports = supports.filter(financier=financier)
        rows = _grouped(supports, RECORD_KEYS, total=Sum(in_usd("amount", "disbursed_on")))
        return [Group(keys, usd_total(row["total"])) for keys, row in rows]

    return groups


def _me_indicator(code: str) -> Callable[[date], list[Group]]:
    def groups(as_of: date) -> list[Group]:
        return _enterprise_groups(QUALIFYING[code](as_of))

    groups.__name__ = f"groups_{code.lower()}"
    return groups


def _facilities(kind: str | None = None, *, confirmed: bool = True) -> Callable[[date], list[Group]]:
    def groups(as_of: date) -> list[Group]:
        facilities = established_facilities(as_of) if confirmed else unconfirmed_facilities(as_of)
        return _facility_groups(facilities.filter(kind=kind) if kind else facilities)

    return groups


DEFINITIONS: list[Definition] = [
    *(Definition(code, _me_indicator(code)) for code in QUALIFYING),
    Definition("CSF_ESTABLISHED", _facilities(), FACILITY_DIMENSIONS),
    Definition("CSF_REVENUE", _facilities(FacilityKind.REVENUE), FACILITY_DIMENSIONS),
    Definition("CSF_NON_REVENUE", _facilities(FacilityKind.NON_REVENUE), FACILITY_DIMENSIONS),
    Definition("CSF_UNCONFIRMED", _facilities(confirmed=False), FACILITY_DIMENSIONS),
    Definition(
        "MONEY_COMMITTED", _committed(Financier.WORLD_BANK, Financier.PKSF), MONEY_COMMITTED_DIMENSIONS
    ),
    Definition("MONEY_COMMITTED_WORLD_BANK", _committed(Financier.WORLD_BANK), MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_COMMITTED_PKSF", _committed(Financier.PKSF), MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_COMMITTED_PO", _committed(Financier.PO), MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_DISBURSED", _disbursed()),
    Definition("MONEY_DISBURSED_WORLD_BANK", _disbursed(Financier.WORLD_BANK)),
    Definition("MONEY_DISBURSED_PKSF", _disbursed(Financier.PKSF)),
    Definition("MONEY_DISBURSED_PO", _disbursed(Financier.PO)),
    Definition("WOMEN_LED_SHARE", women_led_share, is_share=True),
    Definition("WOMEN_LED_SHARE_REGISTERED", women_led_share_registered, is_share=True),
    Definition("WAGE_JOBS_WOMEN", _jobs(F("wage_employed_female"))),
    Definition("WAGE_JOBS_MEN", _jobs(F("wage_employed_male"))),
    Definition("WAGE_JOBS_WOMEN_ADDED", _jobs(_added("wage_employed_female"))),
    Definition("WAGE_JOBS_MEN_ADDED", _jobs(_added("wage_employed_male"))),
]
