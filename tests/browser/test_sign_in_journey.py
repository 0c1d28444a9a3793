import pytest
from playwright.sync_api import expect

from demo.core import DEMO_PASSWORD, DEMO_POS, DEMO_USERS

PO_NAMES = {code: name for code, name, *_rest in DEMO_POS}

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def demo_data(demo_data_committed):
    """The demo programme (tests/conftest.py: on SQLite a copy of the one seeded once per process)."""
    return demo_data_committed


def test_every_demo_login_lands_on_its_role_home_page(demo_data, sign_in, live_server):
    for username, role, first_name, _last_name, po_code in DEMO_USERS:
        page = sign_in(username, DEMO_PASSWORD)
        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.get_by_role("heading", name=f"Welcome, {first_name}")).to_be_visible()
        expect(page.get_by_test_id(f"role-section-{role.value}")).to_be_visible()
        if po_code:
            expect(page.get_by_test_id("home-roles")).to_contain_text(PO_NAMES[po_code])
        page.get_by_test_id("user-menu").click()
        page.get_by_role("button", name="Sign out").click()
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_keeps_the_username_and_says_why(demo_data, sign_in):
    page = sign_in("po1", "not-the-password")
    expect(page.get_by_text("Please enter a correct username and password")).to_be_visible()
    expect(page.get_by_label("Username")).to_have_value("po1")
