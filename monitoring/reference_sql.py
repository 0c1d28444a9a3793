"""The results framework restated in hand-written SQL, independent of the ORM definitions.

The tests compare every value and environmental outcome the aggregation stores (every breakdown, for
the programme and within each PO: `every_value`, `every_outcome`) with these queries, on SQLite and
PostgreSQL; `make bench` does at scale, and times them as the floor of the same work the aggregation is
measured against (and the six headline counts, `headline_counts`, as the floor of its first figures).
Each query follows the seed documents' wording (see the Indicator rows' definitions):
- financing counts only from the programme start;
- climate knowledge only sessions of a module tagged climate vulnerability, post-test above pre-test;
- RECP adoption only practices verified by a user who belongs to no PO (PMU or verifier);
- a CSF only once its operation is confirmed;
- the USD 300 M compares World Bank + PKSF money; women-led share is among financed MEs;
- money in USD converts each amount at the BDT/USD rate of its own day (a disbursement at its date, a
  budget at its sub-project's award date): the rate table's period that contains the day, the first
  period for a day before it (finance_exchangerate, read here as periods, not as a latest-row lookup).
A confirmed duplicate's records count for its original, and the duplicate itself is not counted.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction

from monitoring.facts import tune_for_aggregation

# The MEs that count, and which ME each enterprise record counts as.
_COMMON = """
WITH me AS (SELECT id, owner_gender, registered_on, wage_employed_female, wage_employed_male,
                   wage_employed_female_at_registration, wage_employed_male_at_registration
            FROM enterprises_enterprise WHERE duplicate_of_id IS NULL),
counted AS (SELECT e.id, COALESCE(e.duplicate_of_id, e.id) AS me FROM enterprises_enterprise e),
financed AS (SELECT DISTINCT c.me FROM enterprises_financialsupport s JOIN counted c ON c.id = s.enterprise_id
             WHERE s.disbursed_on >= %(start)s AND s.disbursed_on <= %(d)s),
verified AS (SELECT a.* FROM enterprises_adoption a JOIN core_user u ON u.id = a.verified_by_id
             WHERE u.partner_organization_id IS NULL
               AND a.verified_on IS NOT NULL AND a.verified_on <= %(d)s),
established AS (SELECT f.* FROM enterprises_commonservicefacility f
             WHERE f.status = 'operational' AND f.opened_on <= %(d)s
               AND f.operational_confirmed_on IS NOT NULL AND f.operational_confirmed_on <= %(d)s)
"""

FLOOR_SQL = (
    _COMMON  # noqa: S608 - constant text; dates are query parameters
    + """
SELECT
 (SELECT COUNT(*) FROM me WHERE me.id IN (SELECT me FROM financed)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_attendance a JOIN counted c ON c.id = a.enterprise_id
    JOIN enterprises_trainingsession t ON t.id = a.session_id
    JOIN enterprises_trainingmodule m ON m.id = t.module_id
    WHERE m.climate_vulnerability AND t.held_on <= %(d)s AND a.post_test_score > a.pre_test_score)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM verified a JOIN counted c ON c.id = a.enterprise_id
    GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_kpireading b JOIN counted c ON c.id = b.enterprise_id
    WHERE b.is_baseline AND b.period <= %(d)s AND EXISTS (
      SELECT 1 FROM enterprises_kpireading r WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
      AND r.period > b.period AND r.period <= %(d)s))),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_recpprofile p JOIN counted c ON c.id = p.enterprise_id
    WHERE p.status = 'validated' AND p.validated_on <= %(d)s)),
 (SELECT COUNT(*) FROM established)
"""
)
HEADLINE = [
    "ME_FINANCED",
    "ME_CLIMATE_KNOWLEDGE",
    "ME_RECP_2PLUS",
    "ME_KPI_TRACKING",
    "RECP_PROFILES_VALIDATED",
    "CSF_ESTABLISHED",
]

# The other figures of the framework: facility kinds, money (BDT, then USD), women-led shares, pending
# adoptions and jobs.
OTHER_SQL = (
    _COMMON  # noqa: S608 - constant text; dates are query parameters
    + """,
committed AS (SELECT sp.* FROM subprojects_subproject sp
    WHERE sp.award_date <= %(d)s AND sp.id NOT IN (
      SELECT tr.object_id FROM subprojects_transition tr
      JOIN django_content_type ct ON ct.id = tr.content_type_id
      WHERE ct.app_label = 'subprojects' AND ct.model = 'subproject' AND tr.to_state = 'cancelled'
        AND tr.at < %(next_midnight)s)),
project_financing AS (SELECT s.* FROM enterprises_financialsupport s
    WHERE s.disbursed_on >= %(start)s AND s.disbursed_on <= %(d)s),
financed_me AS (SELECT * FROM me WHERE me.id IN (SELECT me FROM financed)),
rate_period AS (SELECT r.valid_from AS starts_on, r.bdt_per_usd AS rate,
      (SELECT MIN(n.valid_from) FROM finance_exchangerate n WHERE n.valid_from > r.valid_from) AS ends_before,
      r.valid_from = (SELECT MIN(f.valid_from) FROM finance_exchangerate f) AS is_first
    FROM finance_exchangerate r),
committed_usd AS (SELECT sp.budget_world_bank * 1.0 / p.rate AS world_bank,
      sp.budget_pksf * 1.0 / p.rate AS pksf, sp.budget_po * 1.0 / p.rate AS po
    FROM committed sp JOIN rate_period p ON (sp.award_date >= p.starts_on OR p.is_first)
      AND (p.ends_before IS NULL OR sp.award_date < p.ends_before)),
financing_usd AS (SELECT s.financier, s.amount * 1.0 / p.rate AS usd
    FROM project_financing s JOIN rate_period p ON (s.disbursed_on >= p.starts_on OR p.is_first)
      AND (p.ends_before IS NULL OR s.disbursed_on < p.ends_before))
SELECT
 (SELECT COUNT(*) FROM established WHERE kind = 'revenue'),
 (SELECT COUNT(*) FROM established WHERE kind = 'non_revenue'),
 (SELECT COUNT(*) FROM enterprises_commonservicefacility f
    WHERE f.status = 'operational' AND f.opened_on <= %(d)s
      AND (f.operational_confirmed_on IS NULL OR f.operational_confirmed_on > %(d)s)),
 (SELECT COALESCE(SUM(budget_world_bank), 0) FROM committed),
 (SELECT COALESCE(SUM(budget_pksf), 0) FROM committed),
 (SELECT COALESCE(SUM(budget_po), 0) FROM committed),
 (SELECT COALESCE(SUM(amount), 0) FROM project_financing),
 (SELECT COALESCE(SUM(amount), 0) FROM project_financing WHERE financier = 'world_bank'),
 (SELECT COALESCE(SUM(amount), 0) FROM project_financing WHERE financier = 'pksf'),
 (SELECT COALESCE(SUM(amount), 0) FROM project_financing WHERE financier = 'po'),
 (SELECT COUNT(*) FROM financed_me WHERE owner_gender = 'female'),
 (SELECT COUNT(*) FROM me WHERE registered_on <= %(d)s),
 (SELECT COUNT(*) FROM me WHERE registered_on <= %(d)s AND owner_gender = 'female'),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_adoption a JOIN counted c ON c.id = a.enterprise_id
    WHERE a.adopted_on <= %(d)s
    GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2)
  AND me.id NOT IN (
    SELECT c.me FROM verified a JOIN counted c ON c.id = a.enterprise_id
    GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2)),
 (SELECT COALESCE(SUM(wage_employed_female), 0) FROM financed_me),
 (SELECT COALESCE(SUM(wage_employed_male), 0) FROM financed_me),
 (SELECT COALESCE(SUM(
    wage_employed_female - COALESCE(wage_employed_female_at_registration, wage_employed_female)), 0)
    FROM financed_me),
 (SELECT COALESCE(SUM(
    wage_employed_male - COALESCE(wage_employed_male_at_registration, wage_employed_male)), 0)
    FROM financed_me),
 (SELECT COALESCE(SUM(world_bank), 0) FROM committed_usd),
 (SELECT COALESCE(SUM(pksf), 0) FROM committed_usd),
 (SELECT COALESCE(SUM(po), 0) FROM committed_usd),
 (SELECT COALESCE(SUM(usd), 0) FROM financing_usd),
 (SELECT COALESCE(SUM(usd), 0) FROM financing_usd WHERE financier = 'world_bank'),
 (SELECT COALESCE(SUM(usd), 0) FROM financing_usd WHERE financier = 'pksf'),
 (SELECT COALESCE(SUM(usd), 0) FROM financing_usd WHERE financier = 'po')
"""
)
OTHER = [
    "CSF_REVENUE",
    "CSF_NON_REVENUE",
    "CSF_UNCONFIRMED",
    "COMMITTED_WORLD_BANK_BDT",
    "COMMITTED_PKSF_BDT",
    "COMMITTED_PO_BDT",
    "DISBURSED_BDT",
    "DISBURSED_WORLD_BANK_BDT",
    "DISBURSED_PKSF_BDT",
    "DISBURSED_PO_BDT",
    "FINANCED_WOMEN_LED",
    "REGISTERED",
    "REGISTERED_WOMEN_LED",
    "ME_RECP_2PLUS_PENDING",
    "WAGE_JOBS_WOMEN",
    "WAGE_JOBS_MEN",
    "WAGE_JOBS_WOMEN_ADDED",
    "WAGE_JOBS_MEN_ADDED",
    "COMMITTED_WORLD_BANK_USD",
    "COMMITTED_PKSF_USD",
    "COMMITTED_PO_USD",
    "DISBURSED_USD",
    "DISBURSED_WORLD_BANK_USD",
    "DISBURSED_PKSF_USD",
    "DISBURSED_PO_USD",
]


def _params(as_of: date) -> dict:
    # The end of the date in Asia/Dhaka, computed here without the portal's helpers, as a plain UTC
    # timestamp: the form moments are stored in (SQLite compares them as text).
    midnight = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=ZoneInfo(settings.TIME_ZONE))
    next_midnight = midnight.astimezone(UTC).replace(tzinfo=None)
    return {"d": as_of, "start": settings.PROGRAMME_START, "next_midnight": next_midnight}


def headline_counts(as_of: date) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, _params(as_of))
        return dict(zip(HEADLINE, cursor.fetchone(), strict=True))


def other_figures(as_of: date) -> dict[str, Decimal]:
    with connection.cursor() as cursor:
        cursor.execute(OTHER_SQL, _params(as_of))
        return {code: Decimal(str(value)) for code, value in zip(OTHER, cursor.fetchone(), strict=True)}


# --- Every stored value -----------------------------------------------------------------------------
# The snapshot's every value (each indicator in total and by every breakdown, for the programme and
# within each PO), restated from the records as the programme totals above are: which MEs qualify, read
# from the records themselves (not from the per-ME facts), then grouped by the natural keys the
# snapshot names its groups by. `make bench` checks every stored value against it at scale and times
# it as the floor of the same work.

_EVERY_COMMON = (
    _COMMON  # noqa: S608 - constant text; dates are query parameters, {names} this module's SQL
    + """,
recp_verified AS (SELECT c.me FROM verified a JOIN counted c ON c.id = a.enterprise_id
    GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2),
recp_reported AS (SELECT c.me FROM enterprises_adoption a JOIN counted c ON c.id = a.enterprise_id
    WHERE a.adopted_on <= %(d)s GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2),
climate_trained AS (SELECT DISTINCT c.me FROM enterprises_attendance a
    JOIN counted c ON c.id = a.enterprise_id
    JOIN enterprises_trainingsession t ON t.id = a.session_id
    JOIN enterprises_trainingmodule m ON m.id = t.module_id
    WHERE m.climate_vulnerability AND t.held_on <= %(d)s AND a.post_test_score > a.pre_test_score),
tracking AS (SELECT DISTINCT c.me FROM enterprises_kpireading b JOIN counted c ON c.id = b.enterprise_id
    WHERE b.is_baseline AND b.period <= %(d)s AND EXISTS (
      SELECT 1 FROM enterprises_kpireading r WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
      AND r.period > b.period AND r.period <= %(d)s)),
validated AS (SELECT DISTINCT c.me FROM enterprises_recpprofile p JOIN counted c ON c.id = p.enterprise_id
    WHERE p.status = 'validated' AND p.validated_on <= %(d)s),
rate_period AS (SELECT r.valid_from AS starts_on, r.bdt_per_usd AS rate,
      (SELECT MIN(n.valid_from) FROM finance_exchangerate n WHERE n.valid_from > r.valid_from) AS ends_before,
      r.valid_from = (SELECT MIN(f.valid_from) FROM finance_exchangerate f) AS is_first
    FROM finance_exchangerate r),
me_rows AS (
  SELECT e.partner_organization_id AS po, e.sub_sector_id AS sub_sector, ss.sector_id AS sector,
         e.district_id AS district, e.owner_gender AS gender, e.climate_vulnerable AS climate,
         CASE WHEN f.me IS NOT NULL THEN 1 ELSE 0 END AS financed,
         CASE WHEN e.registered_on <= %(d)s THEN 1 ELSE 0 END AS registered,
         CASE WHEN ct.me IS NOT NULL THEN 1 ELSE 0 END AS trained,
         CASE WHEN rv.me IS NOT NULL THEN 1 ELSE 0 END AS recp,
         CASE WHEN rr.me IS NOT NULL AND rv.me IS NULL THEN 1 ELSE 0 END AS recp_pending,
         CASE WHEN tr.me IS NOT NULL THEN 1 ELSE 0 END AS tracking,
         CASE WHEN va.me IS NOT NULL THEN 1 ELSE 0 END AS validated,
         CASE WHEN e.owner_gender = 'female' THEN 1 ELSE 0 END AS woman,
         COALESCE(e.wage_employed_female, 0) AS jobs_women, COALESCE(e.wage_employed_male, 0) AS jobs_men,
         COALESCE(e.wage_employed_female
                  - COALESCE(e.wage_employed_female_at_registration, e.wage_employed_female), 0)
           AS jobs_women_added,
         COALESCE(e.wage_employed_male
                  - COALESCE(e.wage_employed_male_at_registration, e.wage_employed_male), 0)
           AS jobs_men_added
  FROM enterprises_enterprise e
  LEFT JOIN core_subsector ss ON ss.id = e.sub_sector_id
  LEFT JOIN financed f ON f.me = e.id
  LEFT JOIN climate_trained ct ON ct.me = e.id
  LEFT JOIN recp_verified rv ON rv.me = e.id
  LEFT JOIN recp_reported rr ON rr.me = e.id
  LEFT JOIN tracking tr ON tr.me = e.id
  LEFT JOIN validated va ON va.me = e.id
  WHERE e.duplicate_of_id IS NULL),
financing_rows AS (
  SELECT e.partner_organization_id AS po, e.sub_sector_id AS sub_sector, ss.sector_id AS sector,
         e.district_id AS district, e.owner_gender AS gender, e.climate_vulnerable AS climate,
         s.financier, {usd_of_support} AS usd
  FROM enterprises_financialsupport s JOIN enterprises_enterprise e ON e.id = s.enterprise_id
  LEFT JOIN core_subsector ss ON ss.id = e.sub_sector_id
  JOIN rate_period p ON (s.disbursed_on >= p.starts_on OR p.is_first)
    AND (p.ends_before IS NULL OR s.disbursed_on < p.ends_before)
  WHERE s.disbursed_on >= %(start)s AND s.disbursed_on <= %(d)s),
committed_rows AS (
  SELECT sp.partner_organization_id AS po, CAST(NULL AS INTEGER) AS sub_sector, sp.sector_id AS sector,
         CAST(NULL AS INTEGER) AS district, CAST(NULL AS VARCHAR(20)) AS gender,
         CAST(NULL AS BOOLEAN) AS climate,
         {usd_of_world_bank} AS usd_world_bank, {usd_of_pksf} AS usd_pksf, {usd_of_po} AS usd_po,
         {usd_of_committed} AS usd_committed
  FROM subprojects_subproject sp
  JOIN rate_period p ON (sp.award_date >= p.starts_on OR p.is_first)
    AND (p.ends_before IS NULL OR sp.award_date < p.ends_before)
  WHERE sp.award_date <= %(d)s AND sp.id NOT IN (
      SELECT tr.object_id FROM subprojects_transition tr
      JOIN django_content_type ct ON ct.id = tr.content_type_id
      WHERE ct.app_label = 'subprojects' AND ct.model = 'subproject' AND tr.to_state = 'cancelled'
        AND tr.at < %(next_midnight)s)),
facility_rows AS (
  SELECT f.partner_organization_id AS po, f.sub_sector_id AS sub_sector, ss.sector_id AS sector,
         f.district_id AS district, CAST(NULL AS VARCHAR(20)) AS gender, d.climate_vulnerable AS climate,
         CASE WHEN f.operational_confirmed_on IS NOT NULL AND f.operational_confirmed_on <= %(d)s
              THEN 1 ELSE 0 END AS confirmed,
         f.kind
  FROM enterprises_commonservicefacility f
  LEFT JOIN core_subsector ss ON ss.id = f.sub_sector_id
  LEFT JOIN core_district d ON d.id = f.district_id
  WHERE f.status = 'operational' AND f.opened_on IS NOT NULL AND f.opened_on <= %(d)s),
pair AS ({pair}),
outcome_rows AS (
  SELECT k.code AS quantity, k.unit AS unit, k.adds_up AS adds_up, k.direction = 'higher' AS higher,
         p.po, p.sub_sector, ss.sector_id AS sector, p.district, 1 AS mes,
         CASE WHEN (k.direction = 'lower' AND p.latest < p.baseline)
                OR (k.direction = 'higher' AND p.latest > p.baseline) THEN 1 ELSE 0 END AS improved,
         p.baseline, p.latest
  FROM pair p JOIN enterprises_kpi k ON k.id = p.kpi_id LEFT JOIN core_subsector ss ON ss.id = p.sub_sector
  UNION ALL
  SELECT %(emissions)s, %(emissions_unit)s, TRUE, FALSE, p.po, p.sub_sector, ss.sector_id, p.district, 1,
         MAX(CASE WHEN p.latest < p.baseline THEN 1 ELSE 0 END),
         SUM(p.baseline * k.co2e_kg_per_unit), SUM(p.latest * k.co2e_kg_per_unit)
  FROM pair p JOIN enterprises_kpi k ON k.id = p.kpi_id LEFT JOIN core_subsector ss ON ss.id = p.sub_sector
  WHERE k.co2e_kg_per_unit IS NOT NULL
  GROUP BY p.enterprise_id, p.po, p.sub_sector, ss.sector_id, p.district)"""
)

# Each baseline reading (of an ME not a duplicate) with the latest reading of its ME and KPI by the date,
# when that one is later. PostgreSQL steps back along the readings' (enterprise, kpi, period) index.
_PAIR = """SELECT b.enterprise_id, b.kpi_id, b.value AS baseline, l.value AS latest,
         e.partner_organization_id AS po, e.sub_sector_id AS sub_sector, e.district_id AS district
    FROM enterprises_kpireading b
    JOIN enterprises_enterprise e ON e.id = b.enterprise_id AND e.duplicate_of_id IS NULL
    {latest}
    WHERE b.is_baseline AND b.period <= %(d)s AND l.period > b.period"""
_LATEST = {
    "postgresql": """CROSS JOIN LATERAL (SELECT r.period, r.value FROM enterprises_kpireading r
      WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id AND r.period <= %(d)s
      ORDER BY r.period DESC LIMIT 1) l""",
    "sqlite": """JOIN enterprises_kpireading l ON l.enterprise_id = b.enterprise_id AND l.kpi_id = b.kpi_id
      AND l.period = (SELECT MAX(r.period) FROM enterprises_kpireading r
                      WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
                        AND r.period <= %(d)s)""",
}

# Each breakdown: the natural key a group is named by, read from a row's ids.
_BREAKDOWN_KEYS = {
    "business_area": "area.code",
    "sector": "sec.code",
    "sub_sector": "ss.code",
    "division": "division.pcode",
    "district": "district.pcode",
    "po": "po.code",
    "gender": "r.gender",
    "climate": "CASE WHEN r.climate THEN 'true' WHEN NOT r.climate THEN 'false' END",
}
# The names' tables, joined to a row's ids.
_NAMES = """LEFT JOIN core_sector sec ON sec.id = r.sector
LEFT JOIN core_businessarea area ON area.id = sec.business_area_id
LEFT JOIN core_subsector ss ON ss.id = r.sub_sector
LEFT JOIN core_district district ON district.id = r.district
LEFT JOIN core_division division ON division.id = district.division_id
LEFT JOIN core_partnerorganization po ON po.id = r.po"""
_ALL_BREAKDOWNS = ("total", *_BREAKDOWN_KEYS)
# The breakdowns of each kind of rows: facilities have no owner, sub-projects only a PO and a sector.
_ROWS_BREAKDOWNS = {
    "me_rows": _ALL_BREAKDOWNS,
    "financing_rows": _ALL_BREAKDOWNS,
    "committed_rows": ("total", "po", "sector", "business_area"),
    "facility_rows": tuple(b for b in _ALL_BREAKDOWNS if b != "gender"),
    "outcome_rows": ("total", "business_area", "sector", "district", "po"),
}


def _kind(kind: str) -> str:
    return f"CASE WHEN kind = '{kind}' THEN confirmed ELSE 0 END"


def _paid_by(financier: str, figure: str) -> str:
    return f"CASE WHEN financier = '{financier}' THEN {figure} ELSE 0 END"


# Each indicator: its rows, the figure summed into its value, the figure saying a group counts (a group
# with none has no value), and a share's denominator (the value is then the numerator's percentage).
_EVERY = {
    "ME_FINANCED": ("me_rows", "financed", "financed", None),
    "ME_CLIMATE_KNOWLEDGE": ("me_rows", "trained", "trained", None),
    "ME_RECP_2PLUS": ("me_rows", "recp", "recp", None),
    "ME_KPI_TRACKING": ("me_rows", "tracking", "tracking", None),
    "RECP_PROFILES_VALIDATED": ("me_rows", "validated", "validated", None),
    "ME_RECP_2PLUS_PENDING": ("me_rows", "recp_pending", "recp_pending", None),
    "WOMEN_LED_SHARE": ("me_rows", "financed * woman", "financed", "financed"),
    "WOMEN_LED_SHARE_REGISTERED": ("me_rows", "registered * woman", "registered", "registered"),
    "WAGE_JOBS_WOMEN": ("me_rows", "financed * jobs_women", "financed", None),
    "WAGE_JOBS_MEN": ("me_rows", "financed * jobs_men", "financed", None),
    "WAGE_JOBS_WOMEN_ADDED": ("me_rows", "financed * jobs_women_added", "financed", None),
    "WAGE_JOBS_MEN_ADDED": ("me_rows", "financed * jobs_men_added", "financed", None),
    "CSF_ESTABLISHED": ("facility_rows", "confirmed", "confirmed", None),
    "CSF_REVENUE": ("facility_rows", _kind("revenue"), _kind("revenue"), None),
    "CSF_NON_REVENUE": ("facility_rows", _kind("non_revenue"), _kind("non_revenue"), None),
    "CSF_UNCONFIRMED": ("facility_rows", "1 - confirmed", "1 - confirmed", None),
    "MONEY_COMMITTED": ("committed_rows", "usd_committed", "1", None),
    "MONEY_COMMITTED_WORLD_BANK": ("committed_rows", "usd_world_bank", "1", None),
    "MONEY_COMMITTED_PKSF": ("committed_rows", "usd_pksf", "1", None),
    "MONEY_COMMITTED_PO": ("committed_rows", "usd_po", "1", None),
    "MONEY_DISBURSED": ("financing_rows", "usd", "1", None),
    **{
        f"MONEY_DISBURSED_{name}": (
            "financing_rows",
            _paid_by(financier, "usd"),
            _paid_by(financier, "1"),
            None,
        )
        for name, financier in (("WORLD_BANK", "world_bank"), ("PKSF", "pksf"), ("PO", "po"))
    },
}


def _common() -> str:
    vendor = "postgresql" if connection.vendor == "postgresql" else "sqlite"
    return _EVERY_COMMON.format(
        usd_of_support=_usd("s.amount"),
        usd_of_world_bank=_usd("sp.budget_world_bank"),
        usd_of_pksf=_usd("sp.budget_pksf"),
        usd_of_po=_usd("sp.budget_po"),
        usd_of_committed=_usd("(sp.budget_world_bank + sp.budget_pksf)"),
        pair=_PAIR.format(latest=_LATEST[vendor]),
    )


def _usd(amount: str) -> str:
    if connection.vendor == "sqlite":
        return f"(CAST({amount} AS REAL) / p.rate)"
    return f"({amount} / p.rate)"


def _grouped(rows: str, figures: list[str], by: tuple[str, ...] = ()) -> str:
    """`rows` summed into every group (the programme and each PO, by each breakdown of the rows):
    scope_po, breakdown, group_key and the sums f0, f1... of `figures` (each group also by the columns
    `by`). GROUPING SETS on PostgreSQL, one GROUP BY per set elsewhere."""
    breakdowns = _ROWS_BREAKDOWNS[rows]
    keyed = ", ".join(f"{_BREAKDOWN_KEYS[b]} AS k_{b}" for b in breakdowns if b != "total")
    source = f"(SELECT r.*, {keyed} FROM {rows} r {_NAMES}) g"  # noqa: S608 - names
    sums = ", ".join(f"SUM({figure}) AS f{i}" for i, figure in enumerate(figures))
    sets = [
        (within_po, b) for within_po in (False, True) for b in breakdowns if not (within_po and b == "po")
    ]
    columns = "".join(f"{column}, " for column in by)
    if connection.vendor == "postgresql":
        grouped = ", ".join(
            "("
            + ", ".join([*by, *(["po"] if within_po else []), *([f"k_{b}"] if b != "total" else [])])
            + ")"
            for within_po, b in sets
        )
        which = " ".join(f"WHEN GROUPING(k_{b}) = 0 THEN '{b}'" for b in breakdowns if b != "total")
        key = " ".join(f"WHEN GROUPING(k_{b}) = 0 THEN k_{b}" for b in breakdowns if b != "total")
        known = " AND ".join(
            f"NOT (GROUPING(k_{b}) = 0 AND k_{b} IS NULL)" for b in breakdowns if b != "total"
        )
        return (
            f"SELECT {columns}CASE WHEN GROUPING(po) = 0 THEN po END AS scope_po, "  # noqa: S608
            f"CASE {which} ELSE 'total' END AS breakdown, COALESCE(CASE {key} END, '') AS group_key, "
            f"{sums} FROM {source}"
            f" GROUP BY GROUPING SETS ({grouped}) HAVING {known}"
        )
    selects = []
    for within_po, b in sets:
        key = f"k_{b}" if b != "total" else "''"
        grouped = [*by, *(["po"] if within_po else []), *([key] if b != "total" else [])]
        selects.append(
            f"SELECT {columns}{'po' if within_po else 'NULL'} AS scope_po, '{b}' AS breakdown, "  # noqa: S608
            f"{key} AS group_key, {sums} FROM {source}"
            + (f" WHERE {key} IS NOT NULL" if b != "total" else "")
            + (f" GROUP BY {', '.join(grouped)}" if grouped else "")
        )
    return " UNION ALL ".join(selects)


def every_value_sql() -> str:
    """One statement: (indicator code, scope PO, breakdown, key, value, numerator, denominator) of every
    group the snapshot stores a value for."""
    common = _common()
    ctes, branches = [], []
    for rows in _ROWS_BREAKDOWNS:
        if rows == "outcome_rows":
            continue
        figures: list[str] = []
        for code, (of_rows, value, present, denominator) in _EVERY.items():
            if of_rows != rows:
                continue
            v, p = len(figures), len(figures) + 1
            figures += [value, present]
            if denominator:
                figures.append(denominator)
                d = f"f{len(figures) - 1}"
                figure = (
                    f"CASE WHEN {d} <> 0 THEN ROUND(CAST(f{v} AS NUMERIC) * 100.0 / {d}, 4) ELSE 0 END,"
                    f" CAST(f{v} AS NUMERIC), CAST({d} AS NUMERIC)"
                )
            else:
                figure = f"ROUND(CAST(f{v} AS NUMERIC), 4), CAST(NULL AS NUMERIC), CAST(NULL AS NUMERIC)"
            branches.append(
                f"SELECT '{code}', scope_po, breakdown, group_key, {figure} FROM g_{rows} WHERE f{p} > 0"  # noqa: S608
            )
        ctes.append(f"g_{rows} AS ({_grouped(rows, figures)})")
    return common + ",\n" + ",\n".join(ctes) + "\n" + "\nUNION ALL ".join(branches)


def every_value(as_of: date) -> dict[tuple, tuple]:
    """{(indicator code, scope PO id, breakdown, key): (value, numerator, denominator)} of every group
    of the snapshot of `as_of`, as monitoring.models.IndicatorValue stores them (4 decimal places)."""
    places = Decimal("0.0001")

    def stored(figure) -> Decimal | None:
        return None if figure is None else Decimal(str(figure)).quantize(places)

    with transaction.atomic(), connection.cursor() as cursor:
        tune_for_aggregation(cursor)  # the settings the aggregation runs with
        cursor.execute(every_value_sql(), {**_params(as_of), **OUTCOME_NAMES})
        values = {tuple(row[:4]): tuple(stored(figure) for figure in row[4:]) for row in cursor.fetchall()}
    # Every indicator has a programme total: zero (of zero, for a share) while nothing counts.
    for code, (_rows, _value, _present, denominator) in _EVERY.items():
        zero = Decimal(0) if denominator else None
        values.setdefault((code, None, "total", ""), (Decimal(0), zero, zero))
    return values


# The environmental outcomes (monitoring.outcomes): per KPI and for emissions avoided, MEs with a pair,
# MEs improved, and the baseline and latest sums.
_OUTCOME_BY = ("quantity", "unit", "adds_up", "higher")
# Emissions avoided are stored under this quantity and unit.
OUTCOME_NAMES = {"emissions": "CO2E", "emissions_unit": "kg CO2e/month"}
OUTCOMES_SQL_TAIL = f"""
SELECT {", ".join(_OUTCOME_BY)}, scope_po, breakdown, group_key, f0, f1, f2, f3 FROM g_outcome_rows"""  # noqa: S608


def every_outcome_sql() -> str:
    """One statement: each outcome group's figures (see `every_outcome`)."""
    common = _common()
    grouped = _grouped("outcome_rows", ["mes", "improved", "baseline", "latest"], by=_OUTCOME_BY)
    return f"{common},\ng_outcome_rows AS ({grouped})\n{OUTCOMES_SQL_TAIL}"


def every_outcome(as_of: date) -> dict[tuple, tuple]:
    """{(quantity, unit, scope PO id, breakdown, key): (MEs, MEs improved, baseline, latest, improvement)}
    of every outcome group of the snapshot of `as_of`, as monitoring.models.OutcomeValue stores them
    (sums to 3 places, half to even; none for a quantity that does not add up)."""
    places = Decimal("0.001")

    def rounded(figure) -> Decimal:
        return Decimal(str(figure)).quantize(places, rounding=ROUND_HALF_EVEN)

    values = {}
    with transaction.atomic(), connection.cursor() as cursor:
        tune_for_aggregation(cursor)  # the settings the aggregation runs with
        cursor.execute(every_outcome_sql(), {**_params(as_of), **OUTCOME_NAMES})
        for quantity, unit, adds_up, higher, scope, breakdown, key, mes, improved, baseline, latest in cursor:
            figures = (None, None, None)
            if adds_up:
                change = (Decimal(str(latest)) - Decimal(str(baseline))) * (1 if higher else -1)
                figures = (rounded(baseline), rounded(latest), rounded(change))
            values[(quantity, unit, scope, breakdown, key)] = (int(mes), int(improved), *figures)
    return values


# --- What is stored, in the same shape -------------------------------------------------------------


def stored_values(as_of: date) -> dict[tuple, tuple]:
    """The date's stored indicator values, keyed and valued as `every_value` gives them."""
    from monitoring.models import IndicatorValue

    rows = IndicatorValue.objects.filter(as_of=as_of).values_list(
        "indicator__code", "scope_po_id", "dimension", "key", "value", "numerator", "denominator"
    )
    return {row[:4]: row[4:] for row in rows}


def stored_outcomes(as_of: date) -> dict[tuple, tuple]:
    """The date's stored environmental outcomes, keyed and valued as `every_outcome` gives them."""
    from monitoring.models import OutcomeValue

    keys = ("quantity", "unit", "scope_po_id", "dimension", "key")
    figures = ("mes", "mes_improved", "baseline_total", "latest_total", "improvement")
    rows = OutcomeValue.objects.filter(as_of=as_of).values_list(*keys, *figures)
    return {row[: len(keys)]: row[len(keys) :] for row in rows}
