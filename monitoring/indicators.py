"""The indicators of SPEC 6, each defined once as a set-based query "as of a date".

Every definition returns grouped rows at the finest grain the breakdowns need (PO, sub-sector,
district, owner gender, climate-vulnerable area): one SQL query per indicator, never a loop over
enterprises. monitoring.aggregation rolls these groups up into each breakdown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

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
)
from monitoring.models import Dimension
from subprojects.models import SubProject, SubProjectStatus, Transition

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
    """How an indicator is counted. Its name, definition text, unit, target and parent are data
    (the Indicator row, seeded by migration 0002 and edited by the PMU)."""

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


def financed(as_of: date) -> QuerySet[Enterprise]:
    """MEs receiving financial support: at least one loan or grant disbursed on or before the date."""
    return _counted(FinancialSupport.objects.filter(disbursed_on__lte=as_of))


def climate_knowledge(as_of: date) -> QuerySet[Enterprise]:
    """MEs with a training attendance whose post-test score is above its pre-test score."""
    return _counted(
        Attendance.objects.filter(session__held_on__lte=as_of, post_test_score__gt=F("pre_test_score"))
    )


def recp_two_plus(as_of: date) -> QuerySet[Enterprise]:
    """MEs with at least two distinct RECP practices verified on or before the date."""
    adopters = (
        Adoption.objects.filter(verified_on__isnull=False, verified_on__lte=as_of)
        .values(me=counted_enterprise())
        .annotate(practices=Count("practice_id", distinct=True))
        .filter(practices__gte=2)
        .values("me")
    )
    return Enterprise.objects.countable().filter(pk__in=adopters)


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
}


def women_led_share(as_of: date) -> list[Group]:
    rows = _grouped(
        registered(as_of),
        ENTERPRISE_KEYS,
        n=Count("id"),
        women=Count("id", filter=Q(owner_gender=Gender.FEMALE)),
    )
    return [Group(keys, Decimal(row["women"]), Decimal(row["n"])) for keys, row in rows]


# --- Facilities and money -------------------------------------------------------------------------


def _facility_groups(as_of: date, kind: str | None) -> list[Group]:
    facilities = CommonServiceFacility.objects.filter(
        status=FacilityStatus.OPERATIONAL, opened_on__isnull=False, opened_on__lte=as_of
    )
    if kind:
        facilities = facilities.filter(kind=kind)
    return [
        Group(keys, Decimal(row["n"])) for keys, row in _grouped(facilities, FACILITY_KEYS, n=Count("id"))
    ]


def bdt_per_usd() -> Decimal:
    from django.conf import settings

    return Decimal(str(settings.BDT_PER_USD))


def money_committed(as_of: date) -> list[Group]:
    """Approved budgets (all shares) of sub-projects awarded by the date and not cancelled by then, in USD."""
    cancelled = Transition.objects.filter(
        content_type=ContentType.objects.get_for_model(SubProject),
        object_id=OuterRef("pk"),
        to_state=SubProjectStatus.CANCELLED,
        at__date__lte=as_of,
    )
    awarded = SubProject.objects.filter(award_date__lte=as_of).exclude(Exists(cancelled))
    rows = _grouped(
        awarded, SUB_PROJECT_KEYS, total=Sum(F("budget_world_bank") + F("budget_pksf") + F("budget_po"))
    )
    rate = bdt_per_usd()
    return [Group(keys, Decimal(row["total"]) / rate) for keys, row in rows]


def money_disbursed(as_of: date) -> list[Group]:
    """Loans and grants disbursed to MEs by the date, in USD."""
    rows = _grouped(
        FinancialSupport.objects.filter(disbursed_on__lte=as_of), RECORD_KEYS, total=Sum("amount")
    )
    rate = bdt_per_usd()
    return [Group(keys, Decimal(row["total"]) / rate) for keys, row in rows]


def _me_indicator(code: str) -> Callable[[date], list[Group]]:
    def groups(as_of: date) -> list[Group]:
        return _enterprise_groups(QUALIFYING[code](as_of))

    groups.__name__ = f"groups_{code.lower()}"
    return groups


DEFINITIONS: list[Definition] = [
    *(Definition(code, _me_indicator(code)) for code in QUALIFYING),
    Definition("CSF_ESTABLISHED", lambda as_of: _facility_groups(as_of, None), FACILITY_DIMENSIONS),
    Definition(
        "CSF_REVENUE", lambda as_of: _facility_groups(as_of, FacilityKind.REVENUE), FACILITY_DIMENSIONS
    ),
    Definition(
        "CSF_NON_REVENUE",
        lambda as_of: _facility_groups(as_of, FacilityKind.NON_REVENUE),
        FACILITY_DIMENSIONS,
    ),
    Definition("MONEY_COMMITTED", money_committed, MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_DISBURSED", money_disbursed),
    Definition("WOMEN_LED_SHARE", women_led_share, is_share=True),
]
