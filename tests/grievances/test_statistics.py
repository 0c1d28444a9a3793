"""Grievance statistics (grievances.statistics): equal to an independent SQL count on the demo data,
right at quarter boundaries (Asia/Dhaka: a quarter runs from 00:00 local time on its first day to
00:00 local time on the first day of the next, end excluded), the same in the XLSX export and the API,
shown only to those who may see them, and never a name or a text."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone
from openpyxl import load_workbook

from core.models import PartnerOrganization
from core.roles import Role
from demo import core as demo_core
from demo import grievances as demo_grievances
from grievances import statistics
from grievances.models import Category, Channel, Grievance, GrievanceStatus, Tier
from grievances.statistics import BREAKDOWN_FIELDS, Period, Quarter
from subprojects.models import Transition
from tests.factories import make_user

PAGE = "/grievances/statistics/"
EXPORT = "/grievances/statistics/export/"
API = "/api/v1/grievance-statistics/"


def _seed() -> None:
    with override_settings(
        SIMPLE_HISTORY_ENABLED=False, EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend"
    ):
        demo_core.seed(io.StringIO())
        demo_grievances.seed(io.StringIO())


@pytest.fixture
def demo(db, django_capture_on_commit_callbacks):
    """Only what the grievances need: POs and logins (demo.core), then the grievances."""
    with django_capture_on_commit_callbacks(execute=True):
        _seed()


def _user(username):
    from core.models import User

    return User.objects.get(username=username)


# --- The independent count ------------------------------------------------------------------------


def _sql_params(moment: datetime):
    """How the database stores a moment: SQLite as UTC text, PostgreSQL as timestamptz."""
    if connection.vendor == "sqlite":
        return timezone.localtime(moment, UTC).strftime("%Y-%m-%d %H:%M:%S")
    return moment


def _sql_figures(start: datetime, end: datetime, column: str | None) -> dict:
    """Received, resolved, in time, average days and open at the end, straight from the table."""
    if connection.vendor == "sqlite":
        days = "(julianday(resolved_at) - julianday(received_at))"
    else:
        days = "(EXTRACT(EPOCH FROM (resolved_at - received_at)) / 86400.0)"
    key = column or "'all'"
    # One group for the totals (PostgreSQL refuses to group by a constant).
    group_by = f"GROUP BY {column}" if column else ""
    sql = f"""
        SELECT {key},
          SUM(CASE WHEN received_at >= %(start)s AND received_at < %(end)s THEN 1 ELSE 0 END),
          SUM(CASE WHEN resolved_at >= %(start)s AND resolved_at < %(end)s THEN 1 ELSE 0 END),
          SUM(CASE WHEN resolved_at >= %(start)s AND resolved_at < %(end)s AND {days} <= %(limit)s
              THEN 1 ELSE 0 END),
          AVG(CASE WHEN resolved_at >= %(start)s AND resolved_at < %(end)s THEN {days} END),
          SUM(CASE WHEN received_at < %(end)s AND (closed_at IS NULL OR closed_at >= %(end)s)
              THEN 1 ELSE 0 END)
        FROM grievances_grievance
        {group_by}
    """  # noqa: S608 (the column and expression are this test's own constants)
    from django.conf import settings

    params = {"start": _sql_params(start), "end": _sql_params(end), "limit": settings.GRIEVANCE_RESOLVE_DAYS}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {}
    for group, received, resolved, in_time, average, open_at_end in rows:
        figures = (
            int(received or 0),
            int(resolved or 0),
            int(in_time or 0),
            None if average is None else round(float(average), 1),
            int(open_at_end or 0),
        )
        if figures[0] or figures[1] or figures[4]:
            result["" if group is None else str(group)] = figures
    return result


def _orm(figures: statistics.Figures) -> tuple:
    return (
        figures.received,
        figures.resolved,
        figures.resolved_in_time,
        figures.average_days_to_resolve,
        figures.open_at_end,
    )


def _periods() -> list[Period]:
    current = Quarter.current()
    quarters = [current]
    for _ in range(4):
        quarters.append(quarters[-1].previous)
    return [Period(q, q) for q in quarters] + [Period(quarters[-1], current)]


def test_the_demo_statistics_equal_an_independent_sql_count(demo):
    seen_any = False
    for period in _periods():
        stats = statistics.statistics(period)
        expected = _sql_figures(period.start, period.end, None)
        assert _orm(stats.total) == expected.get("all", (0, 0, 0, None, 0)), str(period)
        seen_any = seen_any or stats.total.received > 0
        for name, column in BREAKDOWN_FIELDS.items():
            column_sql = "partner_organization_id" if column == "partner_organization" else column
            got = {row.key: _orm(row.figures) for row in stats.breakdowns[name]}
            assert got == _sql_figures(period.start, period.end, column_sql), (str(period), name)
    assert seen_any


def test_the_demo_statistics_have_a_figure_in_every_measure(demo):
    """The demo tells a story worth counting: over the last four quarters something was received,
    resolved (in time and late), and some cases are open."""
    current = Quarter.current()
    first = current.previous.previous.previous.previous
    total = statistics.totals(Period(first, current))
    assert total.received >= 15
    assert 0 < total.resolved_in_time < total.resolved
    assert total.open_at_end >= 5
    assert total.average_days_to_resolve is not None


# --- Quarter boundaries ---------------------------------------------------------------------------


def _grievance(received_at, **fields) -> Grievance:
    defaults = {
        "category": Category.SERVICE,
        "channel": Channel.PHONE,
        "subject": "A subject",
        "description": "A text",
        "acknowledge_by": received_at + timedelta(days=7),
        "resolve_by": received_at + timedelta(days=30),
        "tier_received_at": received_at,
    }
    return Grievance.objects.create(received_at=received_at, **(defaults | fields))


def _dhaka(*args) -> datetime:
    return timezone.make_aware(datetime(*args), timezone.get_default_timezone())


@pytest.mark.django_db
def test_a_quarter_runs_from_midnight_in_dhaka(settings):
    assert settings.TIME_ZONE == "Asia/Dhaka"
    q3 = Quarter(2026, 3)
    assert q3.start == _dhaka(2026, 7, 1)
    assert q3.start.astimezone(UTC) == datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
    assert q3.end == _dhaka(2026, 10, 1)
    assert Quarter(2026, 4).end == _dhaka(2027, 1, 1)

    _grievance(_dhaka(2026, 6, 30, 23, 59, 59))  # 17:59:59 UTC on 30 June: Q2
    _grievance(_dhaka(2026, 7, 1, 0, 0, 0))  # 18:00 UTC on 30 June: Q3

    assert statistics.totals(Period(Quarter(2026, 2), Quarter(2026, 2))).received == 1
    assert statistics.totals(Period(q3, q3)).received == 1
    assert statistics.totals(Period(Quarter(2026, 2), q3)).received == 2


@pytest.mark.django_db
def test_resolved_in_time_is_at_most_the_deadline_after_receipt(settings):
    settings.GRIEVANCE_RESOLVE_DAYS = 30
    received = _dhaka(2026, 7, 10, 9)
    _grievance(received, resolved_at=received + timedelta(days=30), status=GrievanceStatus.RESOLVED)
    _grievance(
        received, resolved_at=received + timedelta(days=30, seconds=1), status=GrievanceStatus.RESOLVED
    )

    figures = statistics.totals(Period(Quarter(2026, 3), Quarter(2026, 3)))

    assert (figures.received, figures.resolved, figures.resolved_in_time) == (2, 2, 1)
    assert figures.resolved_in_time_percent == 50.0
    assert figures.average_days_to_resolve == 30.0


@pytest.mark.django_db
def test_open_at_the_end_counts_what_was_not_closed_before_the_end():
    q2, q3 = Quarter(2026, 2), Quarter(2026, 3)
    received = _dhaka(2026, 6, 1, 10)
    # Closed on the last second of Q2: not open at its end.
    _grievance(received, closed_at=_dhaka(2026, 6, 30, 23, 59, 59), status=GrievanceStatus.CLOSED)
    # Closed at 00:00 on 1 July: still open at the end of Q2, closed in Q3.
    _grievance(received, closed_at=_dhaka(2026, 7, 1), status=GrievanceStatus.CLOSED)
    # Never closed.
    _grievance(received)
    # Resolved in Q3 of a grievance received in Q2: resolved in Q3, received in Q2.
    _grievance(received, resolved_at=_dhaka(2026, 7, 1, 0, 0, 1), status=GrievanceStatus.RESOLVED)

    second, third = (statistics.totals(Period(q, q)) for q in (q2, q3))

    assert (second.received, second.resolved, second.open_at_end) == (4, 0, 3)
    assert (third.received, third.resolved, third.open_at_end) == (0, 1, 2)


@pytest.mark.parametrize("text", ["2026q3", "2026-Q3", " 2026Q3 "])
def test_a_quarter_is_written_yyyyqn(text):
    assert Quarter.parse(text) == Quarter(2026, 3)


@pytest.mark.parametrize("text", ["2026Q5", "Q3 2026", "2026", "soon", "0000Q1", "9999Q4", "a\x00b"])
def test_a_badly_written_quarter_is_refused_naming_the_field(text):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="quarter"):
        Quarter.parse(text)


# --- Who sees them --------------------------------------------------------------------------------

ALLOWED = ["pmu", "wb", "approver", "grm", "seah"]
REFUSED = ["po1", "po2", "grm1", "tec1", "verifier"]


@pytest.mark.parametrize("username", ALLOWED)
def test_the_programme_roles_and_the_pmu_focal_points_see_the_statistics(demo, client, api, username):
    user = _user(username)
    client.force_login(user)
    quarter = Quarter.current()

    page = client.get(PAGE, {"quarter": str(quarter)})
    export = client.get(EXPORT, {"quarter": str(quarter)})
    answer = api.as_user(user).get(API, {"quarter": str(quarter)})

    assert page.status_code == 200
    assert export.status_code == 200
    assert answer.status_code == 200
    assert answer.json()["totals"]["received"] == statistics.totals(Period(quarter, quarter)).received


@pytest.mark.parametrize("username", REFUSED)
def test_po_staff_tec_members_and_verifiers_are_refused(demo, client, api, username):
    user = _user(username) if username != "tec1" else make_user("tec-x", Role.TEC_MEMBER)
    client.force_login(user)

    assert client.get(PAGE).status_code == 403
    assert client.get(EXPORT).status_code == 403
    assert api.as_user(user).get(API).status_code == 403


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_sign_in(client, api):
    assert client.get(PAGE).status_code == 302
    assert client.get(EXPORT).status_code == 302
    assert api.get(API).status_code in (401, 403)


def test_the_statistics_show_no_name_and_no_text(demo, client, api):
    client.force_login(_user("seah"))
    current = Quarter.current()
    first = current.previous.previous.previous.previous
    query = {"quarter": str(first), "to": str(current)}

    page = client.get(PAGE, query).content.decode()
    data = api.as_user(_user("seah")).get(API, query).content.decode()
    workbook = load_workbook(io.BytesIO(client.get(EXPORT, query).content))
    cells = " ".join(
        str(value)
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    )

    words = set()
    for grievance in Grievance.objects.all():
        words |= {grievance.subject, grievance.description, grievance.resolution}
        words |= {grievance.complainant_name, grievance.complainant_phone, grievance.tracking_code}
    words.discard("")
    for shown in (page, data, cells):
        assert not [word for word in words if word in shown]
    assert "sexual exploitation" in page.lower()  # SEA/SH counted, as a category


# --- Page, export and API agree -------------------------------------------------------------------


def test_the_xlsx_export_has_a_sheet_per_breakdown_matching_the_page(demo, client):
    client.force_login(_user("pmu"))
    current = Quarter.current()
    first = current.previous.previous.previous
    period = Period(first, current)

    response = client.get(EXPORT, {"quarter": str(first), "to": str(current)})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Totals",
        "Category",
        "Tier (current)",
        "PO",
        "Complainant's gender",
        "Channel",
        "Definitions",
    ]
    stats = statistics.statistics(period)
    totals = list(workbook["Totals"].iter_rows(values_only=True))
    assert totals[3][1:] == tuple("" if v is None else v for v in stats.total.cells) or totals[3][
        1:
    ] == tuple(stats.total.cells)
    assert len(totals) == 4 + len(period.quarters)
    po_rows = {row[0]: row[1] for row in list(workbook["PO"].iter_rows(values_only=True))[1:]}
    assert po_rows == {row.label: row.figures.received for row in stats.breakdowns["po"]}
    category_rows = {row[0]: row[1] for row in list(workbook["Category"].iter_rows(values_only=True))[1:]}
    assert sum(category_rows.values()) == stats.total.received


def test_the_api_answers_the_figures_of_the_quarter(demo, api):
    quarter = Quarter.current().previous
    api.as_user(_user("wb"))

    data = api.get(API, {"quarter": str(quarter)}).json()

    stats = statistics.statistics(Period(quarter, quarter))
    assert data["period"] == str(quarter)
    assert data["totals"] == stats.total.as_dict()
    assert data["by_po"] == [
        {"key": row.key, "label": row.label, "figures": row.figures.as_dict()}
        for row in stats.breakdowns["po"]
    ]
    assert data["quarters"] == []


def test_the_api_refuses_a_badly_written_quarter(db, api, pmu):
    answer = api.as_user(pmu).get(API, {"quarter": "2026Q9"})

    assert answer.status_code == 400
    assert "quarter" in answer.json()["fields"]


def test_the_page_shows_a_badly_written_quarter_back_with_the_problem(client, pmu):
    client.force_login(pmu)

    response = client.get(PAGE, {"quarter": "next"})

    assert response.status_code == 400
    assert "YYYYQn" in response.content.decode()
    assert 'value="next"' in response.content.decode()


# --- The demo story -------------------------------------------------------------------------------


def test_the_demo_tells_the_grievance_story(demo):
    grievances = Grievance.objects.all()
    statuses = {status: grievances.filter(status=status).count() for status in GrievanceStatus.values}
    assert all(count >= 2 for count in statuses.values()), statuses
    po_one, po_two = (PartnerOrganization.objects.get(code=code) for code in ("PO-001", "PO-002"))
    assert grievances.filter(partner_organization=po_one).exists()
    assert grievances.filter(partner_organization=po_two).exists()
    assert len(set(grievances.values_list("channel", flat=True))) >= 5
    assert len(set(grievances.values_list("complainant_gender", flat=True))) >= 3

    anonymous = grievances.get(anonymous=True)
    assert (anonymous.channel, anonymous.logged_by, anonymous.complainant_name) == (Channel.WEB, None, "")

    pksf = grievances.get(partner_organization=None)
    assert (pksf.channel, pksf.tier, pksf.logged_by.username) == (Channel.PKSF, Tier.PMU, "grm")

    appealed = grievances.get(feedback="not_satisfied")
    assert appealed.tier == Tier.PMU
    assert list(appealed.transitions.order_by("at").values_list("action", flat=True)) == [
        "lodge",
        "acknowledge",
        "resolve",
        "appeal",
        "acknowledge",
    ]


def test_the_demo_escalation_was_the_portals(demo):
    escalation = Transition.objects.get(action="escalate")
    grievance = escalation.subject

    assert escalation.actor is None
    assert escalation.comment.startswith("Escalated by the portal")
    assert escalation.at > grievance.received_at + timedelta(days=7)
    assert (grievance.tier, grievance.status, grievance.acknowledged_at) == (Tier.PMU, "received", None)
    assert grievance.tier_received_at == escalation.at
    assert grievance.acknowledge_by > timezone.now()  # not due to be escalated again today


def test_the_demo_seah_case_is_seen_by_the_seah_focal_point_only(demo):
    seah_case = Grievance.objects.get(category=Category.SEAH)
    assert seah_case.partner_organization.code == "PO-001"

    seen = {
        username: Grievance.objects.visible_to(_user(username)).filter(pk=seah_case.pk).exists()
        for username in ("seah", "grm", "grm1", "pmu", "po1", "wb")
    }

    assert seen == {"seah": True, "grm": False, "grm1": False, "pmu": False, "po1": False, "wb": False}


def test_the_demo_histories_follow_the_table_and_end_in_each_state(demo):
    from core import lifecycle

    for grievance in Grievance.objects.all():
        rows = list(grievance.transitions.order_by("at", "pk"))
        assert rows[0].action == "lodge"
        assert rows[-1].to_state == grievance.status
        for row in rows[1:]:
            rule = lifecycle.get_rule(Grievance, row.action)
            assert row.from_state in rule.sources


def test_the_demo_is_idempotent(demo):
    counts = (Grievance.objects.count(), Transition.objects.count())

    _seed()

    assert (Grievance.objects.count(), Transition.objects.count()) == counts


# --- The PMU dashboard ----------------------------------------------------------------------------


def test_the_dashboard_shows_the_current_and_last_quarter(demo, client):
    client.force_login(_user("pmu"))

    page = client.get("/dashboard/").content.decode()

    assert 'data-testid="grievance-panel"' in page
    current = Quarter.current()
    assert current.label in page
    assert current.previous.label in page


def test_the_dashboard_of_a_po_shows_no_grievance_panel(demo, client):
    client.force_login(_user("po1"))

    page = client.get("/dashboard/").content.decode()

    assert 'data-testid="grievance-panel"' not in page
