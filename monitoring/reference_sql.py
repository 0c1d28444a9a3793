"""The results framework restated in hand-written SQL, independent of the ORM definitions.

The tests compare every programme total the aggregation stores with these queries, on SQLite and
PostgreSQL (PO-scoped rows are roll-ups of the same groups, checked to add up); `make bench` times
the six headline counts as the floor the aggregation is measured against. Each query follows the
seed documents' wording (see the Indicator rows' definitions):
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
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection

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
