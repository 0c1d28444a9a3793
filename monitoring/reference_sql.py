"""The six headline counts of the results framework in one hand-written SQL query.

It restates the indicator definitions without the ORM: the tests compare the aggregation with it,
and `make bench` times it as the floor the aggregation is measured against.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

# The portal's definitions: a confirmed duplicate's records count for its original, and the duplicate
# itself is not counted.
FLOOR_SQL = """
WITH me AS (SELECT id FROM enterprises_enterprise WHERE duplicate_of_id IS NULL),
counted AS (SELECT e.id, COALESCE(e.duplicate_of_id, e.id) AS me FROM enterprises_enterprise e)
SELECT
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_financialsupport s JOIN counted c ON c.id = s.enterprise_id
    WHERE s.disbursed_on <= %(d)s)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_attendance a JOIN counted c ON c.id = a.enterprise_id
    JOIN enterprises_trainingsession t ON t.id = a.session_id
    WHERE t.held_on <= %(d)s AND a.post_test_score > a.pre_test_score)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_adoption a JOIN counted c ON c.id = a.enterprise_id
    WHERE a.verified_on IS NOT NULL AND a.verified_on <= %(d)s
    GROUP BY c.me HAVING COUNT(DISTINCT a.practice_id) >= 2)),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_kpireading b JOIN counted c ON c.id = b.enterprise_id
    WHERE b.is_baseline AND b.period <= %(d)s AND EXISTS (
      SELECT 1 FROM enterprises_kpireading r WHERE r.enterprise_id = b.enterprise_id AND r.kpi_id = b.kpi_id
      AND r.period > b.period AND r.period <= %(d)s))),
 (SELECT COUNT(*) FROM me WHERE me.id IN (
    SELECT c.me FROM enterprises_recpprofile p JOIN counted c ON c.id = p.enterprise_id
    WHERE p.status = 'validated' AND p.validated_on <= %(d)s)),
 (SELECT COUNT(*) FROM enterprises_commonservicefacility f
    WHERE f.status = 'operational' AND f.opened_on <= %(d)s)
"""
HEADLINE = [
    "ME_FINANCED",
    "ME_CLIMATE_KNOWLEDGE",
    "ME_RECP_2PLUS",
    "ME_KPI_TRACKING",
    "RECP_PROFILES_VALIDATED",
    "CSF_ESTABLISHED",
]


def headline_counts(as_of: date) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_SQL, {"d": as_of})
        return dict(zip(HEADLINE, cursor.fetchone(), strict=True))
