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
from monitoring.facts import FACT_COLUMNS
from monitoring.models import Dimension, EnterpriseFacts
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


# The ME sources read units: one row per counted ME (`me_units_sql`) or per disbursement of project
# financing (`financing_units_sql`), with the keys of its group, what its figures read and a sign.
# The snapshot counts every current unit once (sign 1); the live roll-up on PostgreSQL
# (monitoring.live) keeps a copy of the units it last counted and re-reads only the changed ones, the
# copies with sign -1 and the current ones with sign 1, so that the same statement gives what the
# changes add and take away.
ME_UNIT_COLUMNS = (
    "enterprise_id",
    *ENTERPRISE_KEYS,
    "registered_on",
    "jobs_women",
    "jobs_men",
    "jobs_women_added",
    "jobs_men_added",
    *FACT_COLUMNS,
)
FINANCING_UNIT_COLUMNS = (
    "support_id",
    "enterprise_id",
    *ENTERPRISE_KEYS,
    "financier",
    "amount",
    "disbursed_on",
)


def me_units_sql(scope: str = "") -> str:
    """Each counted ME (`scope` may restrict them: a condition on `e`), in ME_UNIT_COLUMNS: its keys,
    its registration date and wage jobs ("added": minus those at registration; a registration
    figure never recorded counts as no change), and its facts (monitoring.facts)."""
    added = "e.{field} - COALESCE(e.{field}_at_registration, e.{field})"
    return f"""SELECT e.id AS enterprise_id, e.partner_organization_id AS po, e.sub_sector_id AS sub_sector,
       e.district_id AS district, e.owner_gender AS gender, e.climate_vulnerable AS climate,
       e.registered_on, e.wage_employed_female AS jobs_women, e.wage_employed_male AS jobs_men,
       {added.format(field="wage_employed_female")} AS jobs_women_added,
       {added.format(field="wage_employed_male")} AS jobs_men_added,
       {", ".join(f"f.{column}" for column in FACT_COLUMNS)}
FROM enterprises_enterprise e LEFT JOIN {EnterpriseFacts._meta.db_table} f ON f.enterprise_id = e.id
WHERE e.duplicate_of_id IS NULL {scope}"""  # noqa: S608 - names


def financing_units_sql(scope: str = "") -> tuple[str, list]:
    """Each disbursement of project financing from the programme start (`scope` may restrict them: a
    condition on `s`), in FINANCING_UNIT_COLUMNS, keyed by its own ME (a duplicate's included)."""
    sql = f"""SELECT s.id AS support_id, s.enterprise_id, e.partner_organization_id AS po,
       e.sub_sector_id AS sub_sector, e.district_id AS district, e.owner_gender AS gender,
       e.climate_vulnerable AS climate, s.financier, s.amount, s.disbursed_on
FROM enterprises_financialsupport s JOIN enterprises_enterprise e ON e.id = s.enterprise_id
WHERE s.disbursed_on >= %s {scope}"""  # noqa: S608 - names
    return sql, [programme_start()]


def counted_units(units: str) -> str:
    """Every unit of `units` counted once."""
    return f"SELECT 1 AS sign, u.* FROM ({units}) u"  # noqa: S608 - SQL of this module


# Each ME figure: (the condition on a unit as of the date, "{day}"; what it adds when it holds).
_FEMALE = f"'{Gender.FEMALE}'"
ME_FIGURES = {
    "n_financed": ("u.financed_on <= {day}", "1"),
    "n_financed_women": (f"u.financed_on <= {{day}} AND u.gender = {_FEMALE}", "1"),
    "n_climate": ("u.climate_trained_on <= {day}", "1"),
    "n_recp": ("u.recp_verified_two_on <= {day}", "1"),
    "n_recp_pending": (
        "u.recp_reported_two_on <= {day} "
        "AND (u.recp_verified_two_on IS NULL OR u.recp_verified_two_on > {day})",
        "1",
    ),
    "n_kpi": ("u.kpi_tracking_on <= {day}", "1"),
    "n_profiles": ("u.profile_validated_on <= {day}", "1"),
    "n_registered": ("u.registered_on <= {day}", "1"),
    "n_registered_women": (f"u.registered_on <= {{day}} AND u.gender = {_FEMALE}", "1"),
    "jobs_women": ("u.financed_on <= {day}", "COALESCE(u.jobs_women, 0)"),
    "jobs_men": ("u.financed_on <= {day}", "COALESCE(u.jobs_men, 0)"),
    "jobs_women_added": ("u.financed_on <= {day}", "COALESCE(u.jobs_women_added, 0)"),
    "jobs_men_added": ("u.financed_on <= {day}", "COALESCE(u.jobs_men_added, 0)"),
}


def me_source(as_of: date, units: str | None = None, params: list | None = None) -> tuple[str, list]:
    """Counted MEs by group: how many qualify for each ME indicator by the date (their facts), the
    women among the financed and the registered, and the jobs of the financed. `units` (signed ME
    units, with their `params`) defaults to every counted ME once."""
    figures, figure_params = [], []
    for name, (condition, adds) in ME_FIGURES.items():
        figures.append(
            f"SUM(CASE WHEN {condition.format(day='%s')} THEN u.sign * {adds} ELSE 0 END) AS {name}"
        )
        figure_params += [as_of] * condition.count("{day}")
    keys = ", ".join(f"u.{key} AS k_{key}" for key in ENTERPRISE_KEYS)
    grouped = ", ".join(f"u.{key}" for key in ENTERPRISE_KEYS)
    units = units or counted_units(me_units_sql())
    sql = f"SELECT {keys}, {', '.join(figures)} FROM ({units}) u GROUP BY {grouped}"  # noqa: S608
    return sql, [*figure_params, *(params or [])]


def financing_source(as_of: date, units: str | None = None, params: list | None = None) -> tuple[str, list]:
    """Project financing disbursed by the date, by group: rows and USD (each at its day's rate),
    in all and per financier. The same sums as `Sum(in_usd("amount", "disbursed_on"))`, but each day's
    rate is looked up once and joined, not once per disbursement (95,000 at 80,000 MEs). `units`
    (signed financing units, with their `params`) defaults to every disbursement once."""
    if units is None:
        rows, params = financing_units_sql()
        units = counted_units(rows)
    params = [*(params or []), as_of]
    usd = in_usd_sql("f.amount", "r.rate")
    figures = ["SUM(f.sign) AS n_all", f"SUM(f.sign * {usd}) AS usd_all"]
    for financier in (Financier.WORLD_BANK, Financier.PKSF, Financier.PO):
        figures.append(f"SUM(CASE WHEN f.financier = %s THEN f.sign ELSE 0 END) AS n_{financier}")
        figures.append(f"SUM(CASE WHEN f.financier = %s THEN f.sign * {usd} ELSE 0 END) AS usd_{financier}")
        params += [financier, financier]
    keys = ", ".join(f"f.{key} AS k_{key}" for key in ENTERPRISE_KEYS)
    grouped = ", ".join(f"f.{key}" for key in ENTERPRISE_KEYS)
    # Materialized: PostgreSQL would otherwise fold the CTE into the join and look the rate up per row.
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    sql = f"""WITH financing AS (SELECT * FROM ({units}) u WHERE u.disbursed_on <= %s),
day_rate AS {materialized}(
    SELECT d.day, {rate_on_sql("d.day")} AS rate
    FROM (SELECT DISTINCT disbursed_on AS day FROM financing) d
)
SELECT {keys}, {", ".join(figures)}
FROM financing f JOIN day_rate r ON r.day = f.disbursed_on
GROUP BY {grouped}"""  # noqa: S608 - names and placeholders
    return sql, params


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
