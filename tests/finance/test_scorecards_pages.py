"""PO scorecard pages and API: who sees what (a PO its own; the PMU's side every PO), the ranking and
its exports, the weights form, "recompute now", and the menu."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from core.models import OutboxMessage
from core.navigation import items_for
from finance import scorecards
from finance.models.scorecards import Scorecard, ScorecardMeasure, ScorecardWeight
from tests.finance.factories import funded_sub_project

Q1 = date(2025, 3, 31)
Q2 = date(2025, 6, 30)
RANKING = reverse("finance:scorecard-ranking")
WEIGHTS = reverse("finance:scorecard-weights")
RECOMPUTE = reverse("finance:scorecard-recompute")
TASK = "finance.tasks.compute_scorecards"


def card(po, quarter=Q2, **scores) -> Scorecard:
    return Scorecard.objects.create(
        partner_organization=po,
        quarter_end=quarter,
        measures={
            measure: {"value": 1, "target": 2, "score": scores.get(measure)}
            for measure in ScorecardMeasure.values
        },
        computed_at=timezone.now(),
    )


def detail(po, **params) -> str:
    url = reverse("finance:scorecard-detail", args=[po.pk])
    return url + ("?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else "")


@pytest.fixture
def cards(po_one, po_two):
    """Two quarters of two POs: PO-T02 leads in Q2 on the default weights, PO-T01 led in Q1."""
    card(po_one, Q1, mes_reached=90.0, fund_utilisation=80.0)
    card(po_two, Q1, mes_reached=50.0, fund_utilisation=40.0)
    card(po_one, Q2, mes_reached=60.0, fund_utilisation=50.0)
    card(po_two, Q2, mes_reached=95.0, fund_utilisation=90.0)


def signed_in(client, user):
    client.force_login(user)
    return client


# --- Ranking ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["pmu", "wb", "approver", "finance"])
def test_the_pmu_side_sees_the_ranking(client, cards, persona, request):
    response = signed_in(client, request.getfixturevalue(persona)).get(RANKING)

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index('data-testid="rank-PO-T02"') < body.index('data-testid="rank-PO-T01"')
    assert "2025 Q2" in body
    assert response.context["rows"][0].rank_change == 1  # PO-T02 was second in Q1


@pytest.mark.parametrize("persona", ["po1", "po_finance", "verifier", "tec1"])
def test_others_are_refused_the_ranking_and_its_export(client, cards, persona, request):
    user = signed_in(client, request.getfixturevalue(persona))
    assert user.get(RANKING).status_code == 403
    assert user.get(RANKING + "?export=csv").status_code == 403
    assert user.get(RANKING + "?export=xlsx").status_code == 403


def test_anonymous_is_sent_to_sign_in(client, cards):
    response = client.get(RANKING)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_quarter_picker(client, cards, pmu):
    response = signed_in(client, pmu).get(RANKING + "?quarter=2025-03-31")
    assert [row.po.code for row in response.context["rows"]] == ["PO-T01", "PO-T02"]
    refused = client.get(RANKING + "?quarter=2024-02-30")
    assert refused.status_code == 400
    assert 'data-testid="quarter-error"' in refused.content.decode()


def test_ranking_export_csv_and_xlsx(client, cards, pmu):
    response = signed_in(client, pmu).get(RANKING + "?quarter=2025-06-30&export=csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:5] == ["Rank", "PO code", "PO", "Quarter ending", "Composite"]
    assert [(row[0], row[1]) for row in rows[1:]] == [("1", "PO-T02"), ("2", "PO-T01")]

    response = client.get(RANKING + "?quarter=2025-06-30&export=xlsx")
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["PO-T02", "PO-T01"]


def test_changed_weights_re_rank_the_page(client, cards, pmu):
    ScorecardWeight.objects.update(weight=0)
    ScorecardWeight.objects.filter(measure="mes_reached").update(weight=10)
    client = signed_in(client, pmu)
    assert [row.po.code for row in client.get(RANKING + "?quarter=2025-03-31").context["rows"]] == [
        "PO-T01",
        "PO-T02",
    ]
    ScorecardWeight.objects.filter(measure="mes_reached").update(weight=0)
    ScorecardWeight.objects.filter(measure="women_led").update(weight=10)
    # Only women-led weighs now, and no PO has that measure: nobody is ranked.
    assert [row.rank for row in client.get(RANKING).context["rows"]] == [None, None]


def test_no_scorecard_yet(client, pmu):
    response = signed_in(client, pmu).get(RANKING)
    assert response.status_code == 200
    assert 'data-testid="no-scorecards"' in response.content.decode()


# --- One PO's scorecard -----------------------------------------------------------------------------


def test_a_po_sees_its_own_scorecard_with_its_trend(client, cards, po1, po_one):
    response = signed_in(client, po1).get(detail(po_one))

    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["quarter"] == Q2
    assert 'data-testid="measure-fund_utilisation"' in body
    assert 'data-testid="trend-2025-03-31"' in body
    assert 'data-testid="trend-2025-06-30"' in body
    assert 'data-testid="sparkline"' in body
    assert response.context["ranked"].rank == 2
    assert "<script" not in body.split('data-testid="sparkline"')[1].split("</svg>")[0]


def test_our_scorecard_goes_to_the_pos_own(client, cards, po1, po_one, pmu):
    assert signed_in(client, po1).get(reverse("finance:scorecard-own"))["Location"] == detail(po_one)
    assert signed_in(client, pmu).get(reverse("finance:scorecard-own"))["Location"] == RANKING


@pytest.mark.parametrize("persona", ["po2", "po_finance"])
def test_another_pos_scorecard_is_a_404_as_a_missing_one(client, cards, po_one, po_two, persona, request):
    user = request.getfixturevalue(persona)
    other = po_one if user.partner_organization_id == po_two.pk else po_two
    client = signed_in(client, user)
    assert client.get(detail(other)).status_code == 404
    assert client.get(detail(other, export="csv")).status_code == 404
    assert client.get(reverse("finance:scorecard-detail", args=[987654])).status_code == 404


def test_the_pmu_side_opens_any_po_and_exports_its_trend(client, cards, wb, po_two):
    response = signed_in(client, wb).get(detail(po_two, quarter="2025-03-31"))
    assert response.status_code == 200
    assert response.context["ranked"].rank == 2

    export = client.get(detail(po_two, export="csv"))
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert [row[0] for row in rows[1:]] == ["2025-03-31", "2025-06-30"]


def test_a_po_exports_its_own_trend(client, cards, po1, po_one):
    export = signed_in(client, po1).get(detail(po_one, export="xlsx"))
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet.max_row == 3


def test_a_reader_without_any_po_scope_is_refused(client, cards, verifier, po_one):
    assert signed_in(client, verifier).get(detail(po_one)).status_code == 403


# --- Weights ----------------------------------------------------------------------------------------


def weights_form(**changes) -> dict:
    return dict.fromkeys(ScorecardMeasure.values, "10") | changes


def test_pmu_saves_the_weights(client, pmu):
    response = signed_in(client, pmu).post(WEIGHTS, weights_form(mes_reached="40"))

    assert response.status_code == 302
    assert scorecards.current_weights()["mes_reached"] == 40
    history = client.get(WEIGHTS)
    assert 'data-testid="weights-history"' in history.content.decode()
    assert history.context["history"][0].history_user == pmu


def test_all_zero_is_refused_and_keeps_what_was_typed(client, pmu):
    before = scorecards.current_weights()
    response = signed_in(client, pmu).post(WEIGHTS, dict.fromkeys(ScorecardMeasure.values, "0"))

    assert response.status_code == 400
    assert "At least one weight must be above 0" in response.content.decode()
    assert scorecards.current_weights() == before


def test_a_bad_weight_is_named_and_kept(client, pmu):
    before = scorecards.current_weights()
    response = signed_in(client, pmu).post(WEIGHTS, weights_form(recp_verified="150", women_led="abc"))

    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"recp_verified", "women_led"}
    assert 'value="150"' in response.content.decode()
    assert 'value="abc"' in response.content.decode()
    assert scorecards.current_weights() == before


@pytest.mark.parametrize("persona", ["po1", "wb", "approver", "finance"])
def test_only_a_pmu_officer_opens_the_weights(db, client, persona, request):
    before = scorecards.current_weights()
    client = signed_in(client, request.getfixturevalue(persona))
    assert client.get(WEIGHTS).status_code == 403
    assert client.post(WEIGHTS, weights_form(mes_reached="99")).status_code == 403
    assert scorecards.current_weights() == before


# --- Recompute now ----------------------------------------------------------------------------------


def test_recompute_now_button(client, pmu, po_one, django_capture_on_commit_callbacks):
    funded_sub_project(po_one)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(client, pmu).post(RECOMPUTE, {"next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == RANKING
    assert OutboxMessage.objects.filter(task=TASK, done_at__isnull=False).count() == 1
    assert Scorecard.objects.filter(partner_organization=po_one).count() == 2


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_recompute_now_is_refused_to_others(db, client, persona, request):
    assert signed_in(client, request.getfixturevalue(persona)).post(RECOMPUTE).status_code == 403
    assert not OutboxMessage.objects.filter(task=TASK).exists()


# --- Menu -------------------------------------------------------------------------------------------


def test_menu(pmu, po1, wb, finance, po_finance):
    def names(user):
        return {item.url_name for item in items_for(user) if item.url_name.startswith("finance:scorecard")}

    assert names(pmu) == {"finance:scorecard-ranking", "finance:scorecard-weights"}
    assert names(wb) == {"finance:scorecard-ranking"}
    assert names(finance) == {"finance:scorecard-ranking"}
    assert names(po1) == {"finance:scorecard-own"}
    assert names(po_finance) == {"finance:scorecard-own"}


# --- API --------------------------------------------------------------------------------------------


def test_api_list_with_composite_and_rank(api, cards, pmu):
    response = api.as_user(pmu).get("/api/v1/scorecards/", {"quarter_end": "2025-06-30"})

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(row["partner_organization"], row["rank"], row["ranked_pos"]) for row in results] == [
        ("PO-T01", 2, 2),
        ("PO-T02", 1, 2),
    ]
    first = results[0]
    assert first["composite"] == scorecards.composite(
        Scorecard.objects.get(partner_organization__code="PO-T01", quarter_end=Q2).measures,
        scorecards.current_weights(),
    )
    assert {measure["measure"] for measure in first["measures"]} == set(ScorecardMeasure.values)
    assert first["quarter"] == "2025 Q2"
    assert first["to_date"] is False


def test_api_a_po_sees_only_its_own(api, cards, po1, po_one, po_two):
    client = api.as_user(po1)
    listed = client.get("/api/v1/scorecards/").json()["results"]
    assert {row["partner_organization"] for row in listed} == {"PO-T01"}
    assert listed[0]["rank"] in (1, 2)
    other = Scorecard.objects.filter(partner_organization=po_two).latest("quarter_end")
    assert client.get(f"/api/v1/scorecards/{other.pk}/").status_code == 404
    assert client.get(f"/api/v1/scorecards/{987654}/").status_code == 404
    # Filtering by another PO is refused as an unknown PO, never answered with its scorecards.
    filtered = client.get("/api/v1/scorecards/", {"partner_organization": "PO-T02"})
    assert filtered.status_code == 400
    assert "partner_organization" in filtered.json()["fields"]
    assert "PO-T02" not in filtered.content.decode()


def test_api_filter_by_po(api, cards, pmu):
    rows = api.as_user(pmu).get("/api/v1/scorecards/", {"partner_organization": "PO-T02"}).json()["results"]
    assert [(row["partner_organization"], row["quarter_end"]) for row in rows] == [
        ("PO-T02", "2025-06-30"),
        ("PO-T02", "2025-03-31"),
    ]


def test_api_weights_read_by_the_pmu_side_changed_by_the_pmu(api, pmu, wb, po1):
    assert len(api.as_user(wb).get("/api/v1/scorecard-weights/").json()) == 8
    assert api.as_user(po1).get("/api/v1/scorecard-weights/").status_code == 403
    assert api.as_user(wb).patch("/api/v1/scorecard-weights/mes_reached/", {"weight": 50}).status_code == 403
    assert api.as_user(po1).patch("/api/v1/scorecard-weights/mes_reached/", {"weight": 50}).status_code == 403

    response = api.as_user(pmu).patch("/api/v1/scorecard-weights/mes_reached/", {"weight": 50})
    assert response.status_code == 200
    assert response.json()["weight"] == 50
    assert response.json()["updated_by"] == "pmu"
    assert ScorecardWeight.history.filter(measure="mes_reached", history_user=pmu).exists()


def test_api_weights_refusals(api, pmu):
    before = scorecards.current_weights()
    client = api.as_user(pmu)
    too_big = client.patch("/api/v1/scorecard-weights/mes_reached/", {"weight": 101})
    assert too_big.status_code == 400
    assert "weight" in too_big.json()["fields"]
    zeros = client.put("/api/v1/scorecard-weights/all/", dict.fromkeys(ScorecardMeasure.values, 0))
    assert zeros.status_code == 400
    assert "At least one weight" in str(zeros.json())
    missing = client.put("/api/v1/scorecard-weights/all/", {"mes_reached": 10})
    assert missing.status_code == 400
    assert "women_led" in missing.json()["fields"]
    assert scorecards.current_weights() == before

    ok = client.put("/api/v1/scorecard-weights/all/", dict.fromkeys(ScorecardMeasure.values, 7))
    assert ok.status_code == 200
    assert set(scorecards.current_weights().values()) == {7}


def test_api_recompute(api, pmu, finance, po1, wb, po_one, django_capture_on_commit_callbacks):
    assert api.as_user(po1).post("/api/v1/scorecards/recompute/").status_code == 403
    assert api.as_user(wb).post("/api/v1/scorecards/recompute/").status_code == 403
    assert not OutboxMessage.objects.filter(task=TASK).exists()
    funded_sub_project(po_one)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.as_user(finance).post("/api/v1/scorecards/recompute/").status_code == 202
    assert Scorecard.objects.filter(partner_organization=po_one).count() == 2
