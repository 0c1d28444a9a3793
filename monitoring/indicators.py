"""The indicators of the results framework (SPEC 6), each defined once as a set-based query "as of a date",
in the seed documents' words. The rule in words is the Indicator row's `definition` (migration 0005),
shown on the indicator page; monitoring.reference_sql restates the same rules in plain SQL.

Every indicator is one column of a source (SOURCES, below): a grouped query at the finest grain the
breakdowns need (PO, sub-sector, district, owner gender, climate-vulnerable area), the ME sources
reading the per-ME facts (monitoring.facts); never a loop over enterprises. monitoring.rollup sums
these groups into every breakdown in one INSERT ... SELECT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import connection
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
from finance.rates import in_usd, in_usd_sql, rate_on_sql
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
class Definition:
    """How an indicator is counted: which column of which source (SOURCES, below) holds its figure,
    and which column says a group has any row at all (a group with none has no value). Its name,
    rule in words, unit, targets and framework columns are data (the Indicator row, seeded by
    migrations and edited by the PMU)."""

    code: str
    source: str
    value: str
    present: str
    dimensions: frozenset[str] = ME_DIMENSIONS
    # Shares are recomputed from summed numerators and denominators, never summed themselves.
    denominator: str | None = None
    is_share: bool = False


# --- Enterprise-based indicators ------------------------------------------------------------------

# The finest-grain keys of a group (see monitoring.rollup, which names them) → the field they are read
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


# --- Sources of the snapshot ----------------------------------------------------------------------
#
# The snapshot (monitoring.aggregation) reads four grouped queries as of the date, each at the finest
# grain its indicators are broken down by, with one column per figure; each indicator is one of these
# columns. The ME figures come from the per-ME facts (monitoring.facts: the first day each rule above
# held for the ME), the others from their records. Columns are named k_<key> (the group's keys, as in
# ENTERPRISE_KEYS) and n_* / usd_* / jobs_* (the figures).


def _keyed(queryset: QuerySet, keys: dict[str, str]) -> QuerySet:
    return queryset.values(**{f"k_{key}": F(field) for key, field in keys.items()}).order_by()


def me_source(as_of: date) -> QuerySet:
    """Counted MEs by group: how many qualify for each ME indicator by the date (their facts), the
    women among the financed and the registered, and the jobs of the financed."""
    financed_q = Q(facts__financed_on__lte=as_of)
    registered_q = Q(registered_on__lte=as_of)
    women = Q(owner_gender=Gender.FEMALE)
    verified_two = Q(facts__recp_verified_two_on__lte=as_of)
    return _keyed(Enterprise.objects.countable(), ENTERPRISE_KEYS).annotate(
        n_financed=Count("pk", filter=financed_q),
        n_financed_women=Count("pk", filter=financed_q & women),
        n_climate=Count("pk", filter=Q(facts__climate_trained_on__lte=as_of)),
        n_recp=Count("pk", filter=verified_two),
        n_recp_pending=Count(
            "pk",
            filter=Q(facts__recp_reported_two_on__lte=as_of)
            & (Q(facts__recp_verified_two_on__isnull=True) | Q(facts__recp_verified_two_on__gt=as_of)),
        ),
        n_kpi=Count("pk", filter=Q(facts__kpi_tracking_on__lte=as_of)),
        n_profiles=Count("pk", filter=Q(facts__profile_validated_on__lte=as_of)),
        n_registered=Count("pk", filter=registered_q),
        n_registered_women=Count("pk", filter=registered_q & women),
        jobs_women=Coalesce(Sum("wage_employed_female", filter=financed_q), 0),
        jobs_men=Coalesce(Sum("wage_employed_male", filter=financed_q), 0),
        jobs_women_added=Coalesce(Sum(_added("wage_employed_female"), filter=financed_q), 0),
        jobs_men_added=Coalesce(Sum(_added("wage_employed_male"), filter=financed_q), 0),
    )


def financing_source(as_of: date) -> tuple[str, list]:
    """Project financing disbursed by the date, by group: rows and USD (each at its day's rate),
    in all and per financier. The same sums as `Sum(in_usd("amount", "disbursed_on"))`, but each day's
    rate is looked up once and joined, not once per disbursement (95,000 at 80,000 MEs): SQL and its
    parameters, as `QuerySet.query.sql_with_params()` gives them."""
    keys = [f"k_{key}" for key in RECORD_KEYS]
    rows, params = (
        _keyed(project_financing(as_of), RECORD_KEYS)
        .values(*keys, "financier", "amount", "disbursed_on")
        .query.sql_with_params()
    )
    usd = in_usd_sql("f.amount", "r.rate")
    figures = ["COUNT(*) AS n_all", f"SUM({usd}) AS usd_all"]
    for financier in (Financier.WORLD_BANK, Financier.PKSF, Financier.PO):
        figures.append(f"SUM(CASE WHEN f.financier = %s THEN 1 ELSE 0 END) AS n_{financier}")
        figures.append(f"SUM(CASE WHEN f.financier = %s THEN {usd} END) AS usd_{financier}")
        params = (*params, financier, financier)
    grouped = ", ".join(f"f.{key}" for key in keys)
    # Materialized: PostgreSQL would otherwise fold the CTE into the join and look the rate up per row.
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    sql = f"""WITH financing AS ({rows}),
day_rate AS {materialized}(
    SELECT d.day, {rate_on_sql("d.day")} AS rate
    FROM (SELECT DISTINCT disbursed_on AS day FROM financing) d
)
SELECT {grouped}, {", ".join(figures)}
FROM financing f JOIN day_rate r ON r.day = f.disbursed_on
GROUP BY {grouped}"""  # noqa: S608 - names and placeholders
    return sql, list(params)


def committed_source(as_of: date) -> QuerySet:
    """Sub-projects committed by the date, by group: how many and their budgets in USD (at the rate
    of the award date), World Bank + PKSF and per financier."""
    return _keyed(committed_sub_projects(as_of), SUB_PROJECT_KEYS).annotate(
        n_all=Count("pk"),
        usd_committed=Sum(
            in_usd(BUDGET_SHARES[Financier.WORLD_BANK] + BUDGET_SHARES[Financier.PKSF], "award_date")
        ),
        **{
            f"usd_{financier}": Sum(in_usd(BUDGET_SHARES[financier], "award_date"))
            for financier in (Financier.WORLD_BANK, Financier.PKSF, Financier.PO)
        },
    )


def facility_source(as_of: date) -> QuerySet:
    """Facilities reported operational by the date, by group: established (confirmed by the date),
    of each kind, and unconfirmed."""
    confirmed = Q(operational_confirmed_on__isnull=False, operational_confirmed_on__lte=as_of)
    return _keyed(_operational(as_of), FACILITY_KEYS).annotate(
        n_established=Count("pk", filter=confirmed),
        n_revenue=Count("pk", filter=confirmed & Q(kind=FacilityKind.REVENUE)),
        n_non_revenue=Count("pk", filter=confirmed & Q(kind=FacilityKind.NON_REVENUE)),
        n_unconfirmed=Count("pk", filter=~confirmed),
    )


# Each returns a QuerySet, or SQL and its parameters where the ORM cannot say it as fast.
SOURCES: dict[str, Callable[[date], QuerySet | tuple[str, list]]] = {
    "me": me_source,
    "financing": financing_source,
    "committed": committed_source,
    "facility": facility_source,
}
# The keys each source groups by (the others are NULL in its rows).
SOURCE_KEYS = {
    "me": ENTERPRISE_KEYS,
    "financing": RECORD_KEYS,
    "committed": SUB_PROJECT_KEYS,
    "facility": FACILITY_KEYS,
}


WB, PKSF, PO = Financier.WORLD_BANK, Financier.PKSF, Financier.PO

DEFINITIONS: list[Definition] = [
    Definition("ME_FINANCED", "me", "n_financed", "n_financed"),
    Definition("ME_CLIMATE_KNOWLEDGE", "me", "n_climate", "n_climate"),
    Definition("ME_RECP_2PLUS", "me", "n_recp", "n_recp"),
    Definition("ME_KPI_TRACKING", "me", "n_kpi", "n_kpi"),
    Definition("RECP_PROFILES_VALIDATED", "me", "n_profiles", "n_profiles"),
    Definition("ME_RECP_2PLUS_PENDING", "me", "n_recp_pending", "n_recp_pending"),
    Definition("CSF_ESTABLISHED", "facility", "n_established", "n_established", FACILITY_DIMENSIONS),
    Definition("CSF_REVENUE", "facility", "n_revenue", "n_revenue", FACILITY_DIMENSIONS),
    Definition("CSF_NON_REVENUE", "facility", "n_non_revenue", "n_non_revenue", FACILITY_DIMENSIONS),
    Definition("CSF_UNCONFIRMED", "facility", "n_unconfirmed", "n_unconfirmed", FACILITY_DIMENSIONS),
    Definition("MONEY_COMMITTED", "committed", "usd_committed", "n_all", MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_COMMITTED_WORLD_BANK", "committed", f"usd_{WB}", "n_all", MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_COMMITTED_PKSF", "committed", f"usd_{PKSF}", "n_all", MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_COMMITTED_PO", "committed", f"usd_{PO}", "n_all", MONEY_COMMITTED_DIMENSIONS),
    Definition("MONEY_DISBURSED", "financing", "usd_all", "n_all"),
    Definition("MONEY_DISBURSED_WORLD_BANK", "financing", f"usd_{WB}", f"n_{WB}"),
    Definition("MONEY_DISBURSED_PKSF", "financing", f"usd_{PKSF}", f"n_{PKSF}"),
    Definition("MONEY_DISBURSED_PO", "financing", f"usd_{PO}", f"n_{PO}"),
    # Women-led MEs as a share of the MEs financed / registered by the date.
    Definition(
        "WOMEN_LED_SHARE", "me", "n_financed_women", "n_financed", denominator="n_financed", is_share=True
    ),
    Definition(
        "WOMEN_LED_SHARE_REGISTERED",
        "me",
        "n_registered_women",
        "n_registered",
        denominator="n_registered",
        is_share=True,
    ),
    # Wage jobs in the MEs financed by the date, summed from the registry (as last reported); "added":
    # minus those at registration.
    Definition("WAGE_JOBS_WOMEN", "me", "jobs_women", "n_financed"),
    Definition("WAGE_JOBS_MEN", "me", "jobs_men", "n_financed"),
    Definition("WAGE_JOBS_WOMEN_ADDED", "me", "jobs_women_added", "n_financed"),
    Definition("WAGE_JOBS_MEN_ADDED", "me", "jobs_men_added", "n_financed"),
]
