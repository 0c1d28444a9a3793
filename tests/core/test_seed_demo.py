import io

import pytest
from django.core.management import CommandError, call_command

from core.models import PartnerOrganization, User
from core.roles import Role
from demo.core import DEMO_EXTRA_ROLES, DEMO_PASSWORD, DEMO_USERS


def seed():
    out = io.StringIO()
    call_command("seed_demo", "--force", stdout=out)
    return out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db
class TestTheDemoProgramme:
    """On the demo data as `seed_demo` loads them (once per test process: the `demo_data` fixture)."""

    def test_seed_demo_creates_the_demo_logins_with_their_roles(self, demo_data):
        output = demo_data

        for username, role, _first, _last, po_code in DEMO_USERS:
            user = User.objects.get(username=username)
            assert user.check_password(DEMO_PASSWORD)
            assert user.roles == {role, *DEMO_EXTRA_ROLES.get(username, ())}
            assert (user.partner_organization.code if user.partner_organization else None) == po_code
            assert username in output
        assert (
            User.objects.get(username="po1").partner_organization
            != User.objects.get(username="po2").partner_organization
        )

    def test_seed_demo_has_a_verifier_login_outside_every_po(self, demo_data):
        output = demo_data

        verifier = User.objects.get(username="verifier")
        assert verifier.roles == {Role.VERIFIER}
        assert verifier.partner_organization is None
        assert not verifier.sees_whole_programme
        assert "Delta M&E Consultants" in verifier.designation
        assert "verifier" in output

    def test_seed_demo_is_idempotent(self, demo_data):
        counts = (User.objects.count(), PartnerOrganization.objects.count())

        seed()

        assert (User.objects.count(), PartnerOrganization.objects.count()) == counts


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("seed_demo", stdout=io.StringIO())

    assert not User.objects.filter(username="pmu").exists()
