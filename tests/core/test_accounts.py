import pytest
from django.contrib.auth.models import Group

from core.admin import PortalUserChangeForm
from core.models import User
from core.roles import GROUP_NAMES, Role
from tests.factories import make_user


@pytest.mark.django_db
def test_migrations_create_one_group_per_role_with_permissions():
    groups = {group.name: group for group in Group.objects.prefetch_related("permissions")}

    assert set(GROUP_NAMES.values()) <= set(groups)
    pmu_perms = {perm.codename for perm in groups["PMU officer"].permissions.all()}
    po_perms = {perm.codename for perm in groups["PO staff"].permissions.all()}
    assert {"add_partnerorganization", "change_partnerorganization", "change_district"} <= pmu_perms
    assert "change_partnerorganization" not in po_perms
    assert "change_district" not in po_perms


def test_login_page_is_what_anonymous_visitors_see(client, db):
    response = client.get("/", follow=True)

    assert response.redirect_chain[-1][0].startswith("/accounts/login/")
    assert b"Sign in" in response.content


def test_signing_in_leads_to_the_home_page(client, po1, password):
    response = client.post("/accounts/login/", {"username": "po1", "password": password}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert po1.partner_organization.name in response.content.decode()


def test_wrong_password_is_refused_and_keeps_the_username(client, po1):
    response = client.post("/accounts/login/", {"username": "po1", "password": "nope"})

    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()
    assert 'value="po1"' in response.content.decode()


def test_inactive_users_cannot_sign_in(client, po1, password):
    po1.is_active = False
    po1.save()

    response = client.post("/accounts/login/", {"username": "po1", "password": password})

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_sign_out_needs_a_post_and_ends_the_session(client, po1):
    client.force_login(po1)

    assert client.get("/accounts/logout/").status_code == 405
    response = client.post("/accounts/logout/")

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_password_change_requires_the_old_password(client, po1, password):
    client.force_login(po1)

    refused = client.post(
        "/accounts/password/",
        {
            "old_password": "wrong",
            "new_password1": "a-new-long-pass-92",
            "new_password2": "a-new-long-pass-92",
        },
    )
    assert refused.status_code == 200
    assert "Your old password was entered incorrectly" in refused.content.decode()

    accepted = client.post(
        "/accounts/password/",
        {
            "old_password": password,
            "new_password1": "a-new-long-pass-92",
            "new_password2": "a-new-long-pass-92",
        },
    )
    assert accepted.status_code == 302
    po1.refresh_from_db()
    assert po1.check_password("a-new-long-pass-92")


def _admin_form_data(user, groups, po):
    return {
        "username": user.username,
        "groups": [group.pk for group in groups],
        "partner_organization": po.pk if po else "",
        "is_active": "on",
        "language": "en",
        "last_login": "",
        "date_joined": user.date_joined.strftime("%Y-%m-%d %H:%M:%S"),
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }


def test_po_staff_account_must_belong_to_a_po(db):
    user = make_user("newcomer")
    po_staff = Group.objects.get(name=GROUP_NAMES[Role.PO_STAFF])

    form = PortalUserChangeForm(data=_admin_form_data(user, [po_staff], None), instance=user)

    assert not form.is_valid()
    assert "PO staff must belong to a Partner Organization." in form.errors["partner_organization"]


def test_only_po_staff_belong_to_a_po(db, po_one):
    user = make_user("officer")
    pmu = Group.objects.get(name=GROUP_NAMES[Role.PMU_OFFICER])

    form = PortalUserChangeForm(data=_admin_form_data(user, [pmu], po_one), instance=user)

    assert not form.is_valid()
    assert "partner_organization" in form.errors


def test_po_staff_with_their_po_is_accepted(db, po_one):
    user = make_user("fieldofficer")
    po_staff = Group.objects.get(name=GROUP_NAMES[Role.PO_STAFF])

    form = PortalUserChangeForm(data=_admin_form_data(user, [po_staff], po_one), instance=user)

    assert form.is_valid(), form.errors


def test_a_person_may_hold_several_roles(db):
    user = make_user("both", Role.PMU_OFFICER, Role.TEC_MEMBER)

    assert user.roles == {Role.PMU_OFFICER, Role.TEC_MEMBER}
    assert user.sees_whole_programme


def test_a_verifier_belongs_to_no_po(db, po_one):
    user = make_user("monitor")
    verifier = Group.objects.get(name=GROUP_NAMES[Role.VERIFIER])

    form = PortalUserChangeForm(data=_admin_form_data(user, [verifier], po_one), instance=user)

    assert not form.is_valid()
    assert form.errors["partner_organization"] == [
        "A verifier belongs to no Partner Organization: leave the PO empty."
    ]
    with pytest.raises(ValueError, match="could not be changed because the data didn't validate"):
        form.save()
    user.refresh_from_db()
    assert user.partner_organization is None


def test_a_verifier_cannot_also_be_po_staff(db, po_one):
    user = make_user("monitor")
    groups = Group.objects.filter(name__in=[GROUP_NAMES[Role.VERIFIER], GROUP_NAMES[Role.PO_STAFF]])

    form = PortalUserChangeForm(data=_admin_form_data(user, list(groups), po_one), instance=user)

    assert not form.is_valid()
    assert "cannot also be PO staff" in form.errors["groups"][0]
    with pytest.raises(ValueError, match="could not be changed because the data didn't validate"):
        form.save()
    user.refresh_from_db()
    assert (user.partner_organization, list(user.groups.all())) == (None, [])


def test_a_verifier_without_po_is_accepted(db):
    user = make_user("monitor")
    verifier = Group.objects.get(name=GROUP_NAMES[Role.VERIFIER])

    form = PortalUserChangeForm(data=_admin_form_data(user, [verifier], None), instance=user)

    assert form.is_valid(), form.errors
    form.save()
    assert User.objects.get(pk=user.pk).roles == {Role.VERIFIER}
