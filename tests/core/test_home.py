import re

import pytest

from core.roles import Role

ROLE_PERSONAS = ["pmu", "approver", "wb", "tec1", "po1"]


@pytest.mark.parametrize("persona", ROLE_PERSONAS)
def test_home_shows_the_section_of_each_role_held(client, db, request, persona):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    page = client.get("/").content.decode()

    for role in Role:
        shown = f'data-testid="role-section-{role.value}"' in page
        assert shown == (role in user.roles), role


@pytest.mark.parametrize("persona", ROLE_PERSONAS)
def test_every_link_on_the_home_page_opens_for_that_user(client, db, request, persona):
    """The navigation offers only pages that exist and that the user may open."""
    client.force_login(request.getfixturevalue(persona))
    page = client.get("/").content.decode()

    links = set(re.findall(r'href="(/[^"#]*)"', page)) - {"/static/"}
    links = {link for link in links if not link.startswith("/static/")}
    assert links, "the home page should link somewhere"
    for link in sorted(links):
        assert client.get(link, follow=True).status_code == 200, link


def test_po_staff_navigation_does_not_offer_programme_wide_pages(client, po1):
    client.force_login(po1)

    page = client.get("/").content.decode()

    assert "/partner-organizations/" not in page
    assert "/my-organization/" in page


def test_a_user_with_two_roles_sees_both_sections(client, db):
    from tests.factories import make_user

    client.force_login(make_user("pmu-tec", Role.PMU_OFFICER, Role.TEC_MEMBER))

    page = client.get("/").content.decode()

    assert 'data-testid="role-section-pmu_officer"' in page
    assert 'data-testid="role-section-tec_member"' in page
