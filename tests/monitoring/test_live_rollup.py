"""Issue 17: the live roll-up (monitoring.live, PostgreSQL) adds only what changed to the sums it keeps,
and rolls everything up again whenever those sums cannot be trusted: another date, a renamed group,
a new exchange rate, stored values changed behind its back, sums that contradict themselves, or more
changes than a full roll-up costs. Whichever way a run goes, it stores what a full recount stores.
(tests.monitoring.test_incremental_aggregation checks the changes applied after random edits.)"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from core.models import District, Sector
from enterprises.models import Enterprise
from finance.models import ExchangeRate
from monitoring import aggregation, live
from monitoring.models import Dimension, IndicatorValue, OutcomeValue
from tests.enterprises.factories import FinancialSupportFactory, KpiReadingFactory
from tests.monitoring.test_incremental_aggregation import rebuilds, snapshot, stored_outcomes  # noqa: F401
from tests.monitoring.test_runs import AS_OF, exact_totals, programme  # noqa: F401

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the live roll-up is PostgreSQL's")


def full_recount(as_of: date = AS_OF) -> tuple[list, list]:
    """What a full recount stores for the date, undone afterwards (the live state stays as it was)."""
    with transaction.atomic():
        aggregation.refresh_snapshot(as_of, full=True)
        stored = snapshot(as_of), stored_outcomes(as_of)
        transaction.set_rollback(True)
    return stored


def counted(programme):  # noqa: F811
    return [me for me in programme if me.duplicate_of_id is None]


def test_a_run_of_the_same_date_applies_only_the_changes(programme, rebuilds):  # noqa: F811
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]  # nothing kept yet
    rebuilds.clear()
    FinancialSupportFactory(enterprise=counted(programme)[1], disbursed_on=date(2025, 5, 2))
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == []
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_another_date_rolls_everything_up(programme, rebuilds):  # noqa: F811
    """From the copies kept, the changed MEs' brought up to date (the nightly run's new day)."""
    aggregation.refresh_snapshot(AS_OF)
    financed, other = counted(programme)[:2]
    FinancialSupportFactory(enterprise=other, disbursed_on=date(2025, 3, 2))
    Enterprise.objects.filter(pk=financed.pk).update(
        district=District.objects.exclude(pk=financed.district_id).first(), owner_gender="male"
    )
    rebuilds.clear()
    aggregation.refresh_snapshot(date(2025, 3, 31))
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]
    assert (snapshot(date(2025, 3, 31)), stored_outcomes(date(2025, 3, 31))) == full_recount(
        date(2025, 3, 31)
    )
    FinancialSupportFactory(enterprise=financed, disbursed_on=date(2025, 3, 3))
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)  # back: the sums kept are the other date's
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_a_renamed_sector_is_named_anew_everywhere(programme, rebuilds):  # noqa: F811
    aggregation.refresh_snapshot(AS_OF)
    sector = Sector.objects.get(pk=counted(programme)[0].sub_sector.sector_id)
    Sector.objects.filter(pk=sector.pk).update(name="Footwear and leather goods")
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]  # both name groups by sector
    labels = set(
        IndicatorValue.objects.filter(as_of=AS_OF, dimension=Dimension.SECTOR, key=sector.code).values_list(
            "label", flat=True
        )
    )
    assert labels == {"Footwear and leather goods"}
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_a_new_exchange_rate_converts_every_disbursement_again(programme, rebuilds):  # noqa: F811
    aggregation.refresh_snapshot(AS_OF)
    before = exact_totals()["MONEY_DISBURSED"]
    ExchangeRate.objects.create(valid_from=date(2024, 1, 1), bdt_per_usd=Decimal("110"))
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)
    assert "_rebuild_values" in rebuilds
    assert exact_totals()["MONEY_DISBURSED"] != before
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_stored_values_removed_behind_its_back_come_back(programme, rebuilds):  # noqa: F811
    aggregation.refresh_snapshot(AS_OF)
    IndicatorValue.objects.filter(as_of=AS_OF, dimension=Dimension.DISTRICT).delete()
    OutcomeValue.objects.filter(as_of=AS_OF, dimension=Dimension.DISTRICT).delete()
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]
    assert IndicatorValue.objects.filter(as_of=AS_OF, dimension=Dimension.DISTRICT).exists()
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_sums_that_contradict_themselves_are_not_trusted(programme, rebuilds, caplog):  # noqa: F811
    """A kept copy that says an ME was counted in a district nobody is in: taking it away would leave
    that district fewer than no MEs. The run notices, warns and rolls everything up."""
    aggregation.refresh_snapshot(AS_OF)
    me = next(me for me in counted(programme) if me.financial_supports.exists())
    elsewhere = District.objects.exclude(pk__in=Enterprise.objects.values("district")).first()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {live.LIVE_ME} SET district = %s WHERE enterprise_id = %s",  # noqa: S608
            [elsewhere.pk, me.pk],
        )
    KpiReadingFactory(enterprise=me, period=date(2025, 6, 1))  # marks the ME changed
    rebuilds.clear()
    with caplog.at_level(logging.WARNING, logger="monitoring.live"):
        aggregation.refresh_snapshot(AS_OF)
    assert "contradict themselves" in caplog.text
    assert "_rebuild_values" in rebuilds
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_many_changes_are_rolled_up_in_full(programme, rebuilds, monkeypatch):  # noqa: F811
    monkeypatch.setattr(live, "REBUILD_SHARE", 0.2)
    aggregation.refresh_snapshot(AS_OF)
    for me in counted(programme)[:6]:  # more than a fifth of the MEs
        FinancialSupportFactory(enterprise=me, disbursed_on=date(2025, 6, 2))
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]
    assert (snapshot(), stored_outcomes()) == full_recount()


def test_a_full_recount_of_the_facts_rolls_everything_up(programme, rebuilds):  # noqa: F811
    aggregation.refresh_snapshot(AS_OF)
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF, full=True)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]


def test_after_a_crash_empties_the_live_tables_everything_is_rolled_up_again(programme, rebuilds):  # noqa: F811
    """The live tables are UNLOGGED (migration 0017): a crash leaves them empty, the live state with
    them. The next run, whatever changed meanwhile, rolls everything up and stores a full recount."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relpersistence = 'u'",
            [list(live.TABLES)],
        )
        assert {name for (name,) in cursor.fetchall()} == set(live.TABLES)
    aggregation.refresh_snapshot(AS_OF)
    FinancialSupportFactory(enterprise=counted(programme)[1], disbursed_on=date(2025, 5, 2))
    KpiReadingFactory(enterprise=counted(programme)[2], period=date(2025, 5, 1))
    with connection.cursor() as cursor:  # what crash recovery does to unlogged tables
        cursor.execute(f"TRUNCATE {', '.join(live.TABLES)}")
    rebuilds.clear()
    aggregation.refresh_snapshot(AS_OF)
    assert rebuilds == ["_rebuild_values", "_rebuild_outcomes"]
    assert (snapshot(), stored_outcomes()) == full_recount()
