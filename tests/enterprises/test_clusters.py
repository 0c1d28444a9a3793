"""Cluster suggestion on hand-made points, and the PMU accepting, editing or dismissing it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core import lifecycle
from core.errors import ActionRefused
from core.lifecycle import transitions_of
from enterprises import clusters
from enterprises.clusters import KM_PER_DEGREE, Point, find_groups
from enterprises.models import Cluster, ClusterSuggestion, Enterprise, SuggestionStatus
from tests.enterprises.factories import EnterpriseFactory
from tests.factories import sub_sector

BHAIRAB = (24.0524, 90.9764)


def around(pk0: int, centre: tuple[float, float], n: int, spread_km: float, sub: int = 1) -> list[Point]:
    """n points on a small spiral around the centre, at most `spread_km` from it."""
    points = []
    for i in range(n):
        radius = spread_km * (i + 1) / n
        dlat = radius / KM_PER_DEGREE * (1 if i % 2 else -1)
        dlon = radius / KM_PER_DEGREE * (1 if i % 3 else -1) * 0.3
        points.append(Point(pk0 + i, sub, 1, centre[0] + dlat, centre[1] + dlon))
    return points


def test_two_dense_groups_10_km_apart_make_two_suggestions():
    north = (BHAIRAB[0] + 10 / KM_PER_DEGREE, BHAIRAB[1])
    points = around(1, BHAIRAB, 12, 1.5) + around(100, north, 11, 1.5)

    groups = find_groups(points, radius=2.5, minimum=10)

    assert sorted(len(g.points) for g in groups) == [11, 12]
    assert {p.pk for p in groups[0].points} in ({p.pk for p in points[:12]}, {p.pk for p in points[12:]})


def test_enterprises_of_different_sub_sectors_at_the_same_spot_are_not_one_cluster():
    points = around(1, BHAIRAB, 6, 1.0, sub=1) + around(100, BHAIRAB, 6, 1.0, sub=2)

    assert find_groups(points, radius=2.5, minimum=10) == []
    assert sorted(len(g.points) for g in find_groups(points, radius=2.5, minimum=5)) == [6, 6]


def test_scattered_enterprises_make_no_cluster():
    points = [Point(i, 1, 1, BHAIRAB[0] + i * 6 / KM_PER_DEGREE, BHAIRAB[1]) for i in range(20)]

    assert find_groups(points, radius=2.5, minimum=3) == []


def test_members_lie_within_the_radius_of_the_centre_and_outliers_stay_out():
    points = [*around(1, BHAIRAB, 15, 2.0), Point(999, 1, 1, BHAIRAB[0] + 3.5 / KM_PER_DEGREE, BHAIRAB[1])]

    (group,) = find_groups(points, radius=2.5, minimum=10)

    assert 999 not in {p.pk for p in group.points}
    assert all(clusters.distance_km(group.lat, group.lon, p.lat, p.lon) <= 2.5 for p in group.points)


def test_a_group_across_a_grid_line_is_found_whole():
    # A point exactly on a cell boundary: the 3x3 neighbourhood still gathers both sides.
    side = 5.0
    boundary = (int(BHAIRAB[0] * KM_PER_DEGREE / side) + 1) * side / KM_PER_DEGREE
    points = around(1, (boundary, BHAIRAB[1]), 12, 1.2)

    (group,) = find_groups(points, radius=2.5, minimum=10)

    assert len(group.points) == 12


@pytest.fixture
def bhairab_group(sp_one):
    """Twelve footwear MEs of po1 within about a kilometre of Bhairab bazar."""
    return [
        EnterpriseFactory(
            sub_project=sp_one,
            latitude=Decimal(f"{p.lat:.6f}"),
            longitude=Decimal(f"{p.lon:.6f}"),
        )
        for p in around(1, BHAIRAB, 12, 1.0)
    ]


@pytest.mark.django_db
def test_suggest_stores_the_group_and_a_dismissed_group_is_not_proposed_again(bhairab_group, pmu):
    assert clusters.suggest() == 1
    suggestion = ClusterSuggestion.objects.get()
    assert suggestion.member_count == 12
    assert suggestion.sub_sector == sub_sector("leather-products")

    lifecycle.apply(suggestion, "dismiss", pmu)

    assert clusters.suggest() == 0


@pytest.mark.django_db
def test_pmu_accepts_a_suggestion_leaving_out_some_members(client, pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    kept = [me.pk for me in bhairab_group[:10]]
    client.force_login(pmu)

    response = client.post(
        f"/clusters/suggestions/{suggestion.pk}/", {"name": "Bhairab footwear cluster", "members": kept}
    )

    cluster = Cluster.objects.get()
    assert response["Location"] == f"/clusters/{cluster.pk}/"
    assert set(cluster.members.values_list("pk", flat=True)) == set(kept)
    assert Enterprise.objects.get(pk=bhairab_group[11].pk).cluster is None
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.cluster, suggestion.resolved_by) == (
        SuggestionStatus.ACCEPTED,
        cluster,
        pmu,
    )


@pytest.mark.django_db
def test_accepting_twice_is_refused(pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    clusters.accept_suggestion(user=pmu, suggestion=suggestion, name="Bhairab")

    with pytest.raises(ActionRefused, match="is accepted") as refused:
        clusters.accept_suggestion(user=pmu, suggestion=suggestion, name="Bhairab 2")

    assert refused.value.code == "wrong_state"
    assert Cluster.objects.count() == 1
    assert [row.action for row in transitions_of(suggestion)] == ["accept"]


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["po1", "wb"])
def test_only_the_pmu_manages_clusters(client, request, db, bhairab_group, persona):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/clusters/suggestions/").status_code == 403
    assert client.post(f"/clusters/suggestions/{suggestion.pk}/", {"name": "X"}).status_code == 403
    assert client.post("/clusters/suggestions/refresh/").status_code == 403
    assert not Cluster.objects.exists()


@pytest.mark.django_db
def test_po_staff_see_the_cluster_of_their_enterprises_but_only_their_own_members(
    client, pmu, po1, po2, bhairab_group, sp_two
):
    other = EnterpriseFactory(
        sub_project=sp_two, name="Other PO Shoes", latitude=Decimal("24.0525"), longitude=Decimal("90.9765")
    )
    clusters.suggest()
    cluster = clusters.accept_suggestion(user=pmu, suggestion=ClusterSuggestion.objects.get(), name="Bhairab")
    assert other.pk in set(cluster.members.values_list("pk", flat=True))

    client.force_login(po1)
    page = client.get(f"/clusters/{cluster.pk}/").content.decode()
    assert "13 member enterprises, 12 of them yours" in page
    assert "Other PO Shoes" not in page

    client.force_login(po2)
    assert "Bhairab" in client.get("/clusters/").content.decode()


@pytest.mark.django_db
def test_a_po_without_members_does_not_see_the_cluster(client, pmu, po2, bhairab_group):
    clusters.suggest()
    cluster = clusters.accept_suggestion(user=pmu, suggestion=ClusterSuggestion.objects.get(), name="Bhairab")
    client.force_login(po2)

    assert client.get(f"/clusters/{cluster.pk}/").status_code == 404


@pytest.mark.django_db
def test_pmu_removes_members_and_dissolves_a_cluster(client, pmu, bhairab_group):
    clusters.suggest()
    cluster = clusters.accept_suggestion(user=pmu, suggestion=ClusterSuggestion.objects.get(), name="Bhairab")
    client.force_login(pmu)

    client.post(f"/clusters/{cluster.pk}/", {"remove": [bhairab_group[0].pk]})
    assert cluster.members.count() == 11
    client.post(f"/clusters/{cluster.pk}/dissolve/")

    assert not Cluster.objects.exists()
    assert not Enterprise.objects.filter(cluster__isnull=False).exists()


@pytest.mark.django_db
def test_cluster_api(api, pmu, po1, bhairab_group, django_capture_on_commit_callbacks):
    api.as_user(pmu)
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post("/api/v1/cluster-suggestions/refresh/").status_code == 202
    suggestion = api.get("/api/v1/cluster-suggestions/").json()["results"][0]

    created = api.post(
        f"/api/v1/cluster-suggestions/{suggestion['id']}/accept/", {"name": "Bhairab footwear"}
    )

    assert created.status_code == 201
    assert created.json()["member_count"] == 12
    assert api.as_user(po1).get("/api/v1/clusters/").json()["count"] == 1
    assert (
        api.as_user(po1).patch(f"/api/v1/clusters/{created.json()['id']}/", {"name": "Mine"}).status_code
        == 403
    )
    assert api.as_user(po1).get("/api/v1/cluster-suggestions/").status_code == 403


# --- Decisions on the engine: one log row each, shown on the page and in the API ------------------


@pytest.mark.django_db
def test_accepting_on_the_page_writes_one_log_row_with_the_comment(client, pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    client.force_login(pmu)

    client.post(
        f"/clusters/suggestions/{suggestion.pk}/",
        {
            "name": "Bhairab footwear cluster",
            "members": [me.pk for me in bhairab_group],
            "comment": "Agreed with the SME Foundation.",
        },
    )

    assert [
        (row.action, row.from_state, row.to_state, row.actor, row.comment)
        for row in transitions_of(suggestion)
    ] == [("accept", "proposed", "accepted", pmu, "Agreed with the SME Foundation.")]
    page = client.get(f"/clusters/suggestions/{suggestion.pk}/").content.decode()
    assert "Create the cluster: proposed → accepted" in page
    assert "Agreed with the SME Foundation." in page
    assert "Bhairab footwear cluster" in page


@pytest.mark.django_db
def test_a_refused_acceptance_changes_nothing_and_logs_nothing(client, pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    client.force_login(pmu)

    response = client.post(
        f"/clusters/suggestions/{suggestion.pk}/", {"name": "Tiny", "members": [bhairab_group[0].pk]}
    )

    assert "A cluster needs at least two enterprises not yet in a cluster." in response.content.decode()
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.resolved_by) == (SuggestionStatus.PROPOSED, None)
    assert not Cluster.objects.exists()
    assert not transitions_of(suggestion).exists()


@pytest.mark.django_db
def test_dismissing_through_the_api_logs_it_and_the_history_shows_it(api, pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    api.as_user(pmu)

    dismissed = api.post(
        f"/api/v1/cluster-suggestions/{suggestion.pk}/dismiss/", {"comment": "A market, not a cluster."}
    )
    history = api.get(f"/api/v1/cluster-suggestions/{suggestion.pk}/history/").json()

    assert (dismissed.status_code, dismissed.json()["status"]) == (200, "dismissed")
    assert [(e["action"], e["from_state"], e["to_state"], e["who"], e["comment"]) for e in history] == [
        ("dismiss", "proposed", "dismissed", pmu.get_display_name(), "A market, not a cluster.")
    ]
    suggestion.refresh_from_db()
    assert suggestion.resolved_by == pmu


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "action", "data", "answer"),
    [
        ("wb", "accept", {"name": "Bhairab"}, 403),
        ("wb", "dismiss", {}, 403),
        ("pmu", "accept", {}, 400),
        ("pmu", "accept", {"name": "Bhairab", "members": [1]}, 409),
    ],
)
def test_api_refusals_change_nothing_and_log_nothing(
    api, request, bhairab_group, persona, action, data, answer
):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()

    response = api.as_user(request.getfixturevalue(persona)).post(
        f"/api/v1/cluster-suggestions/{suggestion.pk}/{action}/", data, format="json"
    )

    assert response.status_code == answer
    suggestion.refresh_from_db()
    assert suggestion.status == SuggestionStatus.PROPOSED
    assert not transitions_of(suggestion).exists()
    assert not Cluster.objects.exists()


@pytest.mark.django_db
def test_a_decided_suggestion_answers_409_in_the_api(api, pmu, bhairab_group):
    clusters.suggest()
    suggestion = ClusterSuggestion.objects.get()
    lifecycle.apply(suggestion, "dismiss", pmu)
    api.as_user(pmu)

    accepted = api.post(f"/api/v1/cluster-suggestions/{suggestion.pk}/accept/", {"name": "Bhairab"})
    dismissed = api.post(f"/api/v1/cluster-suggestions/{suggestion.pk}/dismiss/", {})

    assert (accepted.status_code, accepted.json()["code"]) == (409, "wrong_state")
    assert dismissed.status_code == 409
    assert [row.action for row in transitions_of(suggestion)] == ["dismiss"]
