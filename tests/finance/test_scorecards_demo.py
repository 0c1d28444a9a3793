"""The demo's PO scorecards: the last four complete quarters and the current one, for every PO with an
awarded sub-project, and a seeder that can run again."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from demo import finance_scorecards
from finance import scorecards
from finance.models.scorecards import Scorecard

pytestmark = pytest.mark.slow


@pytest.mark.django_db
class TestDemoScorecards:
    def test_five_quarters_for_every_po_with_a_sub_project(self, demo_data):
        today = timezone.localdate()
        quarters = finance_scorecards.quarters(today)
        assert len(quarters) == 5
        assert quarters[-1] == scorecards.quarter_end_of(today)
        assert set(Scorecard.objects.values_list("quarter_end", flat=True)) >= set(quarters)
        from monitoring.indicators import committed_sub_projects

        pos = set(committed_sub_projects(today).values_list("partner_organization_id", flat=True))
        assert pos
        current = Scorecard.objects.filter(quarter_end=quarters[-1])
        assert set(current.values_list("partner_organization_id", flat=True)) == pos
        ranked = scorecards.ranking(quarters[-1])
        assert any(row.composite is not None for row in ranked)
        assert all(row.composite is None or 0 <= row.composite <= 100 for row in ranked)

    def test_seeding_again_changes_nothing(self, demo_data):
        before = {
            (card.partner_organization_id, card.quarter_end): card.measures
            for card in Scorecard.objects.all()
        }
        finance_scorecards.seed(io.StringIO())
        after = {
            (card.partner_organization_id, card.quarter_end): card.measures
            for card in Scorecard.objects.all()
        }
        assert after == before

    def test_the_ranking_page_opens_on_the_demo(self, demo_data, client, pmu):
        client.force_login(pmu)
        response = client.get("/finance/scorecards/")
        assert response.status_code == 200
        assert response.context["rows"]
