"""Issue 17: the incremental aggregation (per-ME facts caught up from the changes the database
triggers record) stores exactly what a full recount stores, after any mix of edits, made through the
models or straight through queryset updates and deletes; and both equal the ORM rules and the
independent SQL."""

from __future__ import annotations

import io
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from core.models import District, PartnerOrganization, SubSector, User
from enterprises.models import (
    Adoption,
    Enterprise,
    FinancialSupport,
    Gender,
    Kpi,
    KpiReading,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from monitoring import aggregation, facts, live, reference_sql
from monitoring.indicators import QUALIFYING
from monitoring.models import (
    AggregationRun,
    Dimension,
    EnterpriseFacts,
    FactChange,
    IndicatorValue,
    OutcomePair,
    OutcomeValue,
    RunTrigger,
    Snapshot,
)
from monitoring.reference_sql import HEADLINE, headline_counts
from tests.enterprises.factories import EnterpriseFactory, FinancialSupportFactory, KpiReadingFactory
from tests.monitoring.test_runs import AS_OF, exact_totals, programme  # noqa: F401 - the fixture

SNAPSHOT_FIELDS = [
    "indicator_id",
    "scope_po_id",
    "dimension",
    "key",
    "label",
    "value",
    "numerator",
    "denominator",
]


def snapshot(as_of: date = AS_OF) -> list[tuple]:
    return sorted(IndicatorValue.objects.filter(as_of=as_of).values_list(*SNAPSHOT_FIELDS), key=repr)


def stored_facts() -> list[tuple]:
    """The ME facts and the outcome pairs (without their ids, which a recount renumbers)."""
    pairs = OutcomePair.objects.values_list(
        "enterprise_id", "kpi_id", "baseline_period", "baseline_value", "latest_period", "latest_value"
    )
    return sorted([*EnterpriseFacts.objects.values_list(), *pairs], key=repr)


def stored_outcomes(as_of: date = AS_OF) -> list[tuple]:
    return sorted(
        OutcomeValue.objects.filter(as_of=as_of).values_list(
            "quantity",
            "scope_po_id",
            "dimension",
            "key",
            "mes",
            "mes_improved",
            "baseline_total",
            "latest_total",
            "improvement",
        ),
        key=repr,
    )


def random_day(rng: random.Random) -> date:
    return date(2024, 1, 1) + timedelta(days=rng.randrange(0, 700))


def edit(rng: random.Random, pmu: User, verifier: User) -> str:
    """One random change of what the ME indicators read; returns what it did (for the failure message)."""
    originals = list(Enterprise.objects.filter(duplicate_of=None).values_list("pk", flat=True))
    enterprise = Enterprise.objects.get(pk=rng.choice(originals))
    match rng.randrange(18):
        case 0:
            FinancialSupportFactory(enterprise=enterprise, disbursed_on=random_day(rng))
            return f"financing added to {enterprise.pk}"
        case 1:
            support = FinancialSupport.objects.order_by("?").first()
            FinancialSupport.objects.filter(pk=support.pk).delete()
            return f"financing {support.pk} deleted"
        case 2:
            support = FinancialSupport.objects.order_by("?").first()
            FinancialSupport.objects.filter(pk=support.pk).update(disbursed_on=random_day(rng))
            return f"financing {support.pk} redated"
        case 3:
            other = rng.choice([pk for pk in originals if pk != enterprise.pk])
            Enterprise.objects.filter(pk=enterprise.pk).update(duplicate_of=other)
            Enterprise.objects.filter(duplicate_of=enterprise.pk).update(duplicate_of=other)
            return f"{enterprise.pk} confirmed a duplicate of {other}"
        case 4:
            duplicate = Enterprise.objects.exclude(duplicate_of=None).order_by("?").first()
            if duplicate is None:
                return "no duplicate to release"
            Enterprise.objects.filter(pk=duplicate.pk).update(duplicate_of=None)
            return f"{duplicate.pk} no longer a duplicate"
        case 5:
            adoption = Adoption.objects.order_by("?").first()
            Adoption.objects.filter(pk=adoption.pk).update(
                verification="verified",
                verified_by=rng.choice([pmu, verifier]),
                verified_on=adoption.adopted_on + timedelta(days=rng.randrange(0, 200)),
            )
            return f"adoption {adoption.pk} verified"
        case 6:
            verifier.partner_organization = (
                None if verifier.partner_organization_id else enterprise.partner_organization
            )
            verifier.save()
            return "the verifier moved"
        case 7:
            session = TrainingSession.objects.order_by("?").first()
            TrainingSession.objects.filter(pk=session.pk).update(held_on=random_day(rng))
            return f"session {session.pk} redated"
        case 8:
            module = TrainingModule.objects.get(code="CV-01")
            TrainingModule.objects.filter(pk=module.pk).update(
                climate_vulnerability=not module.climate_vulnerability
            )
            return "CV-01's climate flag toggled"
        case 9:
            baseline = KpiReading.objects.filter(is_baseline=True).order_by("?").first()
            period = (baseline.period + timedelta(days=31 * rng.randrange(1, 12))).replace(day=1)
            if KpiReading.objects.filter(
                enterprise=baseline.enterprise, kpi=baseline.kpi, period=period
            ).exists():
                return "that month's reading exists"
            KpiReadingFactory(enterprise=baseline.enterprise, kpi=baseline.kpi, period=period)
            return f"reading added after baseline {baseline.pk}"
        case 10:
            reading = KpiReading.objects.filter(is_baseline=False).order_by("?").first()
            if reading is None:
                return "no reading to delete"
            reading.delete()
            return f"reading {reading.pk} deleted"
        case 11:
            reading = KpiReading.objects.order_by("?").first()
            KpiReading.objects.filter(pk=reading.pk).update(value=reading.value + rng.randrange(-5, 6))
            return f"reading {reading.pk} revalued"
        case 12:
            # What the counting reads of the ME itself: its district (and the climate flag that
            # comes with it), its sub-sector, owner, jobs and registration.
            other = District.objects.exclude(pk=enterprise.district_id).order_by("?").first()
            Enterprise.objects.filter(pk=enterprise.pk).update(
                district=other, division=other.division, climate_vulnerable=other.climate_vulnerable
            )
            return f"{enterprise.pk} moved to {other.pcode}"
        case 13:
            other = SubSector.objects.exclude(pk=enterprise.sub_sector_id).order_by("?").first()
            Enterprise.objects.filter(pk=enterprise.pk).update(sub_sector=other)
            return f"{enterprise.pk} now in {other.code}"
        case 14:
            Enterprise.objects.filter(pk=enterprise.pk).update(
                owner_gender=Gender.MALE if enterprise.owner_gender == Gender.FEMALE else Gender.FEMALE,
                wage_employed_female=rng.randrange(0, 9),
                wage_employed_male_at_registration=rng.choice([None, rng.randrange(0, 5)]),
                registered_on=random_day(rng),
            )
            return f"{enterprise.pk}'s owner, jobs and registration changed"
        case 15:
            newcomer = EnterpriseFactory(
                sub_project=enterprise.sub_project, registered_on=random_day(rng), owner_gender=Gender.MALE
            )
            FinancialSupportFactory(enterprise=newcomer, disbursed_on=random_day(rng))
            return f"{newcomer.pk} registered and financed"
        case 16:
            other_po = (
                PartnerOrganization.objects.exclude(pk=enterprise.partner_organization_id)
                .order_by("?")
                .first()
            )
            Enterprise.objects.filter(pk=enterprise.pk).update(partner_organization=other_po)
            return f"{enterprise.pk} moved to {other_po.code}"
        case _:
            profile = RecpProfile.objects.order_by("?").first()
            validated = profile.status != "validated"
            RecpProfile.objects.filter(pk=profile.pk).update(
                status="validated" if validated else "draft",
                validated_by=pmu if validated else None,
                validated_on=random_day(rng) if validated else None,
            )
            return f"profile {profile.pk} {'validated' if validated else 'back to draft'}"


@pytest.fixture
def rebuilds(monkeypatch) -> list[str]:
    """The live roll-up's full roll-ups (PostgreSQL), listed as they happen; and changes applied
    however many MEs changed (the test programme is small: its few edits are a large share)."""
    done: list[str] = []
    for name in ("_rebuild_values", "_rebuild_outcomes"):
        rebuild = getattr(live, name)
        monkeypatch.setattr(
            live, name, lambda *args, rebuild=rebuild, name=name: done.append(name) or rebuild(*args)
        )
    monkeypatch.setattr(live, "REBUILD_SHARE", 1.0)
    return done


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_runs_store_what_a_full_recount_stores_after_random_edits(programme, pmu, seed, rebuilds):  # noqa: F811
    verifier = User.objects.get(username="verifier")
    rng = random.Random(seed)
    call_command("aggregate_indicators", "--full", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())
    for round_ in range(5):
        done = [edit(rng, pmu, verifier) for _edit in range(6)]
        rebuilds.clear()
        aggregation.refresh_snapshot(AS_OF)
        assert rebuilds == [], (round_, done)  # on PostgreSQL, the changes alone were applied
        incremental, incremental_facts, incremental_outcomes = snapshot(), stored_facts(), stored_outcomes()
        # The full recount is undone afterwards: the next round's run builds on the incremental ones.
        with transaction.atomic():
            aggregation.refresh_snapshot(AS_OF, full=True)
            assert stored_facts() == incremental_facts, (round_, done)
            assert snapshot() == incremental, (round_, done)
            assert stored_outcomes() == incremental_outcomes, (round_, done)
            # ...and both count what the ORM rules and the independent SQL count.
            totals = exact_totals()
            assert {code: int(totals[code]) for code in HEADLINE} == headline_counts(AS_OF), (round_, done)
            # every value of every breakdown, for the programme and each PO, and every outcome
            assert reference_sql.stored_values(AS_OF) == reference_sql.every_value(AS_OF), (round_, done)
            assert reference_sql.stored_outcomes(AS_OF) == reference_sql.every_outcome(AS_OF), (round_, done)
            for code, rule in QUALIFYING.items():
                assert int(totals[code]) == rule(AS_OF).count(), (code, round_, done)
            transaction.set_rollback(True)


def test_a_run_recomputes_only_the_mes_whose_records_changed(programme):  # noqa: F811
    facts.recount()
    assert facts.catch_up() == 0  # nothing changed since: nothing recomputed
    FinancialSupportFactory(enterprise=programme[3], disbursed_on=date(2025, 2, 1))
    assert FactChange.objects.count() >= 1
    assert facts.catch_up() == 1
    assert FactChange.objects.count() == 0
    assert EnterpriseFacts.objects.get(enterprise=programme[3]).financed_on <= date(2025, 2, 1)


def test_a_change_recomputes_only_the_facts_read_from_its_table(programme):  # noqa: F811
    """A KPI reading marks the ME's KPI tracking and outcome pairs, not its financing: the catch-up
    recomputes those and keeps the rest as stored (seen here by a financing date falsified in the
    stored facts, which only a change of the ME's disbursements, or a recount, puts right)."""
    facts.recount()
    me = next(me for me in programme if me.duplicate_of_id is None and me.financial_supports.exists())
    true_financed = EnterpriseFacts.objects.get(enterprise=me).financed_on
    EnterpriseFacts.objects.filter(enterprise=me).update(financed_on=date(2020, 1, 1))

    kpi = Kpi.objects.exclude(pk__in=KpiReading.objects.filter(enterprise=me).values("kpi")).first()
    KpiReadingFactory(enterprise=me, kpi=kpi, period=date(2025, 1, 1), is_baseline=True)
    KpiReadingFactory(enterprise=me, kpi=kpi, period=date(2025, 4, 1))
    assert set(FactChange.objects.values_list("facts", flat=True)) == {FactChange.READINGS}
    assert facts.catch_up() == 1
    recomputed = EnterpriseFacts.objects.get(enterprise=me)
    assert recomputed.financed_on == date(2020, 1, 1)  # kept: no disbursement changed
    assert recomputed.kpi_tracking_on is not None
    assert OutcomePair.objects.filter(enterprise=me, baseline_period=date(2025, 1, 1)).exists()

    FinancialSupportFactory(enterprise=me, disbursed_on=date(2026, 1, 5))
    assert set(FactChange.objects.values_list("facts", flat=True)) == {FactChange.FINANCED}
    facts.catch_up()
    assert EnterpriseFacts.objects.get(enterprise=me).financed_on == true_financed
    caught_up = stored_facts()
    facts.recount()
    assert stored_facts() == caught_up


def test_an_original_recomputed_keeps_what_its_confirmed_duplicate_brings(programme):  # noqa: F811
    """The catch-up reads the records of a changed ME's confirmed duplicates too: the original's
    facts, recomputed for a change of its own, still count its duplicate's disbursement."""
    original, duplicate = [
        me for me in programme if me.duplicate_of_id is None and not me.financial_supports.exists()
    ][:2]
    Enterprise.objects.filter(pk=duplicate.pk).update(duplicate_of=original)
    FinancialSupportFactory(enterprise=duplicate, disbursed_on=date(2024, 3, 5))
    facts.catch_up()
    assert EnterpriseFacts.objects.get(enterprise=original).financed_on == date(2024, 3, 5)
    assert not EnterpriseFacts.objects.filter(enterprise=duplicate).exists()

    # A later disbursement of the original's own: only the original is recomputed, and its first
    # financing is still the duplicate's.
    FinancialSupportFactory(enterprise=original, disbursed_on=date(2025, 6, 1))
    assert facts.catch_up() == 1
    assert EnterpriseFacts.objects.get(enterprise=original).financed_on == date(2024, 3, 5)
    recomputed = stored_facts()
    facts.recount()
    assert stored_facts() == recomputed


def test_changes_written_by_raw_sql_are_seen(programme):  # noqa: F811
    """Imports write through COPY and INSERT ... SELECT: the triggers see raw statements too."""
    aggregation.refresh_snapshot(AS_OF)
    unfinanced = next(
        me for me in programme if not me.financial_supports.exists() and me.duplicate_of_id is None
    )
    support = FinancialSupport.objects.filter(disbursed_on__range=(date(2024, 1, 1), AS_OF)).first()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE enterprises_financialsupport SET enterprise_id = %s WHERE id = %s",
            [unfinanced.pk, support.pk],
        )
    aggregation.refresh_snapshot(AS_OF)
    assert EnterpriseFacts.objects.get(enterprise=unfinanced).financed_on == support.disbursed_on
    assert int(exact_totals()["ME_FINANCED"]) == QUALIFYING["ME_FINANCED"](AS_OF).count()
    incremental = snapshot()
    aggregation.refresh_snapshot(AS_OF, full=True)
    assert snapshot() == incremental


def test_the_command_recounts_in_full_on_request(programme):  # noqa: F811
    facts.recount()
    EnterpriseFacts.objects.all().delete()  # facts lost: only a full recount brings them back
    call_command("aggregate_indicators", "--as-of", AS_OF.isoformat(), stdout=io.StringIO())
    assert exact_totals()["ME_FINANCED"] == 0 < QUALIFYING["ME_FINANCED"](AS_OF).count()
    out = io.StringIO()
    call_command("aggregate_indicators", "--full", "--as-of", AS_OF.isoformat(), stdout=out)
    assert "recounted in full" in out.getvalue()
    assert int(exact_totals()["ME_FINANCED"]) == QUALIFYING["ME_FINANCED"](AS_OF).count()
    assert Snapshot.objects.filter(as_of=AS_OF).exists()


# --- Environmental outcomes: the rule counted reading by reading -----------------------------------


def expected_outcomes(as_of: date) -> dict[tuple, tuple]:
    """monitoring.outcomes.RULE in plain Python over every reading: (quantity, PO code or None) ->
    (MEs, MEs improved, baseline total, latest total) for the programme and each PO."""
    series: dict[tuple, list[tuple]] = {}
    by_pair: dict[tuple, list[KpiReading]] = {}
    for reading in KpiReading.objects.select_related("enterprise__partner_organization", "kpi").filter(
        period__lte=as_of
    ):
        by_pair.setdefault((reading.enterprise_id, reading.kpi_id), []).append(reading)
    for readings in by_pair.values():
        me, kpi = readings[0].enterprise, readings[0].kpi
        baseline = next((r for r in readings if r.is_baseline), None)
        latest = max(readings, key=lambda r: r.period)
        if me.duplicate_of_id or baseline is None or latest.period <= baseline.period:
            continue
        better = latest.value < baseline.value if kpi.direction == "lower" else latest.value > baseline.value
        pair = (me.pk, better, baseline.value, latest.value)
        for scope in (None, me.partner_organization.code):
            series.setdefault((kpi.code, scope), []).append(pair)
            if kpi.co2e_kg_per_unit is not None:
                factor = kpi.co2e_kg_per_unit
                emitted = (
                    me.pk,
                    latest.value < baseline.value,
                    baseline.value * factor,
                    latest.value * factor,
                )
                series.setdefault(("CO2E", scope), []).append(emitted)
    return {
        key: (
            len({me for me, *_ in pairs}),
            len({me for me, better, *_ in pairs if better}),
            sum(b for *_, b, _l in pairs).quantize(Decimal("0.001")),
            sum(latest for *_, latest in pairs).quantize(Decimal("0.001")),
        )
        for key, pairs in series.items()
    }


@pytest.mark.parametrize("seed", [7, 8])
def test_outcomes_equal_the_rule_counted_reading_by_reading(programme, seed):  # noqa: F811
    rng = random.Random(seed)
    kpis = list(Kpi.objects.filter(code__in=["ELECTRICITY", "WATER", "DIESEL", "WASTE_RECYCLED", "PM25"]))
    assert len(kpis) == 5
    taken = set(KpiReading.objects.values_list("enterprise_id", "kpi_id"))
    for me in Enterprise.objects.all():  # the confirmed duplicate too, whose readings must not count
        for kpi in rng.sample(kpis, 3):
            if (me.pk, kpi.pk) in taken:
                continue
            months = sorted(rng.sample(range(30), rng.randrange(1, 5)))
            for n, month in enumerate(months):
                KpiReadingFactory(
                    enterprise=me,
                    kpi=kpi,
                    period=date(2024 + month // 12, month % 12 + 1, 1),
                    is_baseline=n == 0 and rng.random() < 0.8,
                    value=Decimal(rng.randrange(0, 100_000)) / 1000,
                )
    for as_of in (date(2025, 3, 31), AS_OF):
        aggregation.refresh_snapshot(as_of)
        kpis_by_code = {kpi.code: kpi for kpi in Kpi.objects.all()}
        stored = {}
        for row in OutcomeValue.objects.filter(as_of=as_of, scope_po=None, dimension=Dimension.TOTAL):
            adds_up = row.quantity == "CO2E" or kpis_by_code[row.quantity].adds_up
            stored[(row.quantity, None)] = (row.mes, row.mes_improved, row.baseline_total, row.latest_total)
            assert (row.baseline_total is not None) == adds_up, row.quantity
        for row in OutcomeValue.objects.filter(
            as_of=as_of, scope_po=None, dimension=Dimension.PARTNER_ORGANIZATION
        ):
            stored[(row.quantity, row.key)] = (
                row.mes,
                row.mes_improved,
                row.baseline_total,
                row.latest_total,
            )
        expected = expected_outcomes(as_of)
        for key, (mes, improved, baseline, latest) in expected.items():
            adds_up = key[0] == "CO2E" or kpis_by_code[key[0]].adds_up
            expected[key] = (mes, improved, baseline if adds_up else None, latest if adds_up else None)
        assert stored == expected, as_of


def test_a_rerun_rewrites_only_the_values_that_changed(programme):  # noqa: F811
    """The snapshot of a date computed again keeps the rows whose figures did not move (the nightly
    rerun of a day rewrites a fifth of it, not all of it): they still name the run that wrote them.
    A value that moved is updated in place (the same row, now naming the run that moved it), and
    the snapshot equals what a full recount stores."""
    figures = ("value", "numerator", "denominator", "label")

    def stored_figures() -> dict[int, tuple]:
        return {pk: rest for pk, *rest in stored.values_list("pk", *figures)}

    stored = IndicatorValue.objects.filter(as_of=AS_OF)
    first = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.COMMAND)
    aggregation.refresh_snapshot(AS_OF, first)
    before = stored_figures()
    again = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.COMMAND)
    aggregation.refresh_snapshot(AS_OF, again)
    assert stored_figures() == before
    assert set(stored.values_list("run", flat=True)) == {first.pk}  # nothing moved, nothing rewritten

    unfinanced = next(
        me for me in programme if not me.financial_supports.exists() and me.duplicate_of_id is None
    )
    FinancialSupportFactory(enterprise=unfinanced, disbursed_on=date(2025, 2, 1))
    moving = AggregationRun.objects.create(as_of=AS_OF, trigger=RunTrigger.COMMAND)
    aggregation.refresh_snapshot(AS_OF, moving)
    after = stored_figures()
    assert before.keys() <= after.keys()  # a financed ME adds to groups; none goes
    moved = {pk for pk in before if after[pk] != before[pk]}
    assert 0 < len(moved) < len(before)  # the financed counts moved; most other figures did not
    rewritten = set(stored.filter(run=moving).values_list("pk", flat=True))
    assert rewritten == moved | (after.keys() - before.keys())
    assert int(exact_totals()["ME_FINANCED"]) == QUALIFYING["ME_FINANCED"](AS_OF).count()
    incremental = snapshot()
    aggregation.refresh_snapshot(AS_OF, full=True)
    assert snapshot() == incremental
