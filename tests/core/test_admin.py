import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

PORTAL_APPS = ("core", "subprojects", "enterprises", "monitoring", "verification")


def portal_models():
    for app_label in PORTAL_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if not model.__name__.startswith("Historical"):
                yield model


@pytest.mark.parametrize("model", list(portal_models()), ids=lambda model: model._meta.label)
def test_every_model_has_an_admin_page_that_opens(client, db, model):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)

    assert admin.site.is_registered(model), model
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert client.get(url).status_code == 200


@pytest.mark.parametrize("persona", ["po1", "tec1", "wb", "approver"])
def test_only_pmu_and_superusers_enter_the_admin_site_even_with_staff_status(client, request, db, persona):
    user = request.getfixturevalue(persona)
    user.is_staff = True
    user.save()
    client.force_login(user)

    response = client.get("/admin/enterprises/enterprise/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_field_data_is_read_only_in_the_admin(client, pmu):
    client.force_login(pmu)

    assert client.get("/admin/enterprises/enterprise/add/").status_code == 403
    assert client.get("/admin/enterprises/duplicatesuspect/add/").status_code == 403


def _history_admins():
    from simple_history.admin import SimpleHistoryAdmin

    return [
        (model, model_admin)
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, SimpleHistoryAdmin)
    ]


def test_every_history_admin_is_read_only_history():
    from core.history_admin import HistoryAdmin

    plain = [
        model._meta.label
        for model, model_admin in _history_admins()
        if not isinstance(model_admin, HistoryAdmin)
    ]
    assert _history_admins()
    assert not plain, f"admins whose history form can revert old versions: {plain}"


def test_an_old_version_can_be_read_but_not_restored_from_the_admin(client, db):
    """simple_history's revert form saved a POST from anyone who may view the history."""
    from tests.factories import PartnerOrganizationFactory

    po = PartnerOrganizationFactory(name="Original name")
    po.name = "Corrected name"
    po.save()
    old_version = po.history.earliest()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("admin:core_partnerorganization_simple_history", args=[po.pk, old_version.history_id])

    page = client.get(url)
    refused = client.post(url, {"name": "Original name", "code": po.code})

    assert page.status_code == 200
    assert b"Original name" in page.content
    assert b'name="_save"' not in page.content  # no "Revert" button
    assert refused.status_code == 403
    po.refresh_from_db()
    assert po.name == "Corrected name"
