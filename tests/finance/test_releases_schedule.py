"""The PMU edits a release schedule (page, API, service): never above a financier's approved share (the
error names the field), a tranche with an active release stays as it is, a PO never edits; the page
shows when the tranches add up to less."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.errors import ActionRefused, Forbidden
from finance import releases
from finance.models import Milestone, Tranche
from tests.finance.test_releases_fixtures import *  # noqa: F403
from tests.finance.test_releases_fixtures import milestone, request, tranche


def _amounts(sub_project):
    return list(Tranche.objects.filter(sub_project=sub_project).values_list("amount_world_bank", flat=True))


def test_moving_money_between_tranches_in_one_edit(sub_project, pmu):
    t2, t3 = tranche(sub_project, 2), tranche(sub_project, 3)
    releases.edit_schedule(
        pmu,
        sub_project,
        tranches=[
            {"id": t2.pk, "amount_world_bank": Decimal("9000000")},
            {"id": t3.pk, "amount_world_bank": Decimal("5000000"), "title": "Completion and handover"},
        ],
    )
    assert _amounts(sub_project) == [Decimal("6000000"), Decimal("9000000"), Decimal("5000000")]
    assert tranche(sub_project, 3).title == "Completion and handover"


def test_tranches_never_add_up_to_more_than_the_approved_share(sub_project, finance):
    t2 = tranche(sub_project, 2)
    with pytest.raises(ValidationError) as invalid:
        releases.edit_schedule(
            finance, sub_project, tranches=[{"id": t2.pk, "amount_world_bank": Decimal("8000001")}]
        )
    errors = invalid.value.message_dict
    assert list(errors) == ["amount_world_bank"]
    assert "2,00,00,001" in errors["amount_world_bank"][0]
    assert "2,00,00,000" in errors["amount_world_bank"][0]
    assert _amounts(sub_project) == [Decimal("6000000"), Decimal("8000000"), Decimal("6000000")]

    # A new tranche too: nothing is left of the PKSF share.
    with pytest.raises(ValidationError) as invalid:
        releases.edit_schedule(
            finance,
            sub_project,
            tranches=[{"id": None, "title": "Extra", "amount_world_bank": 0, "amount_pksf": 1}],
        )
    assert list(invalid.value.message_dict) == ["amount_pksf"]
    assert Tranche.objects.filter(sub_project=sub_project).count() == 3


def test_less_than_the_share_is_allowed_and_shown(client, sub_project, pmu):
    t3 = tranche(sub_project, 3)
    releases.edit_schedule(
        pmu, sub_project, tranches=[{"id": t3.pk, "amount_world_bank": Decimal("5500000")}]
    )
    gap = next(row for row in releases.financier_rows(sub_project) if row["code"] == "world_bank")["gap"]
    assert gap == Decimal("500000")
    client.force_login(pmu)
    page = client.get(reverse("finance:subproject-finance", args=[sub_project.pk])).content.decode()
    assert 'data-testid="schedule-gap"' in page
    assert "5,00,000.00 BDT less" in page


def test_a_tranche_with_an_active_release_stays_as_it_is(sub_project, po1, pmu):
    request(po1, sub_project, 1)
    t1 = tranche(sub_project, 1)
    with pytest.raises(ActionRefused, match="active release") as refused:
        releases.edit_schedule(pmu, sub_project, tranches=[{"id": t1.pk, "amount_world_bank": Decimal("1")}])
    assert refused.value.code == "tranche_locked"
    with pytest.raises(ActionRefused):
        releases.edit_schedule(pmu, sub_project, tranches=[{"id": t1.pk, "delete": True}])
    assert tranche(sub_project, 1).amount_world_bank == Decimal("6000000")


def test_milestones_added_renamed_and_deleted(sub_project, pmu):
    m2 = milestone(sub_project, 2)
    due = sub_project.end_date - timedelta(days=200)
    releases.edit_schedule(
        pmu,
        sub_project,
        milestones=[
            {"id": m2.pk, "title": "Completion: CSF running", "due_on": due},
            {"id": None, "title": "Baseline done", "due_on": sub_project.start_date + timedelta(days=90)},
        ],
    )
    assert milestone(sub_project, 2).title == "Completion: CSF running"
    new = milestone(sub_project, 3)
    # Named by a tranche: not deleted until the tranche names another.
    with pytest.raises(ValidationError) as invalid:
        releases.edit_schedule(pmu, sub_project, milestones=[{"id": m2.pk, "delete": True}])
    assert "milestone" in invalid.value.message_dict
    t3 = tranche(sub_project, 3)
    releases.edit_schedule(
        pmu,
        sub_project,
        milestones=[{"id": m2.pk, "delete": True}],
        tranches=[{"id": t3.pk, "milestone": new}],
    )
    assert not Milestone.objects.filter(pk=m2.pk).exists()
    assert tranche(sub_project, 3).milestone == new


def test_a_milestone_date_outside_the_implementation_is_refused(sub_project, pmu):
    m1 = milestone(sub_project, 1)
    with pytest.raises(ValidationError) as invalid:
        releases.edit_schedule(
            pmu,
            sub_project,
            milestones=[{"id": m1.pk, "title": "x", "due_on": sub_project.end_date + timedelta(days=1)}],
        )
    assert list(invalid.value.message_dict) == ["due_on"]


def test_another_sub_projects_milestone_is_refused(sub_project, po_one, pmu):
    from tests.finance.test_releases_fixtures import scheduled

    other = scheduled(po_one)
    t2 = tranche(sub_project, 2)
    with pytest.raises(ValidationError) as invalid:
        releases.edit_schedule(
            pmu, sub_project, tranches=[{"id": t2.pk, "milestone": milestone(other, 1).pk}]
        )
    assert list(invalid.value.message_dict) == ["milestone"]


@pytest.mark.parametrize("persona", ["po1", "po_finance", "wb", "approver"])
def test_only_the_pmus_side_edits(request, sub_project, persona):
    user = request.getfixturevalue(persona)
    with pytest.raises(Forbidden):
        releases.edit_schedule(user, sub_project, tranches=[{"id": tranche(sub_project, 2).pk, "title": "x"}])


def _post(client, sub_project, **changes):
    """The schedule page's form as shown, with `changes` ({"tranches-1-amount_world_bank": ...})."""
    page = client.get(reverse("finance:schedule-edit", args=[sub_project.pk]))
    data = {}
    for formset in (page.context["milestone_forms"], page.context["tranche_forms"]):
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        for form in formset.forms:
            for name, _field in form.fields.items():
                value = form.initial.get(name)
                if value is not None and name != "DELETE":
                    data[form.add_prefix(name)] = value
    data.update(changes)
    return client.post(reverse("finance:schedule-edit", args=[sub_project.pk]), data)


def test_the_schedule_page_saves_and_refuses_naming_the_field(client, sub_project, pmu):
    client.force_login(pmu)
    refused = _post(client, sub_project, **{"tranches-1-amount_world_bank": "9000000"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "World Bank share" in body
    assert "2,10,00,000" in body
    assert 'value="9000000"' in body  # as typed
    assert _amounts(sub_project)[1] == Decimal("8000000")

    saved = _post(
        client,
        sub_project,
        **{"tranches-1-amount_world_bank": "7000000", "tranches-2-amount_world_bank": "7000000"},
    )
    assert saved.status_code == 302
    assert _amounts(sub_project) == [Decimal("6000000"), Decimal("7000000"), Decimal("7000000")]


def test_the_schedule_page_is_the_pmus(client, sub_project, po1, po2):
    url = reverse("finance:schedule-edit", args=[sub_project.pk])
    client.force_login(po1)
    assert client.get(url).status_code == 403
    assert client.post(url, {}).status_code == 403


def test_the_pmu_patches_a_tranche_by_the_api(api, sub_project, pmu, po1):
    t2 = tranche(sub_project, 2)
    api.as_user(pmu)
    over = api.patch(f"/api/v1/tranches/{t2.pk}/", {"amount_pksf": "1500001"}, format="json")
    assert over.status_code == 400
    assert "amount_pksf" in over.json()["fields"]
    done = api.patch(
        f"/api/v1/tranches/{t2.pk}/", {"amount_pksf": "1400000", "title": "Mid-term (reduced)"}, format="json"
    )
    assert done.status_code == 200
    assert done.json()["amount_pksf"] == "1400000.00"

    request(po1, sub_project, 1)
    t1 = tranche(sub_project, 1)
    locked = api.patch(f"/api/v1/tranches/{t1.pk}/", {"title": "Advance (paid)"}, format="json")
    assert locked.status_code == 409

    api.as_user(po1)
    assert api.patch(f"/api/v1/tranches/{t2.pk}/", {"title": "mine"}, format="json").status_code == 403
    assert api.get(f"/api/v1/tranches/{t2.pk}/").status_code == 200
