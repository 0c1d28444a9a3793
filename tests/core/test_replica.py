"""The read replica (issue 17): with DATABASE_REPLICA_URL set (here: a mirror of the test database,
as CI sets it to the primary), the dashboard, the data-quality report and list downloads read through
the "replica" alias and never write there; unset, there is no such alias and one database serves all."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from django.db import OperationalError, connections
from django.test.utils import CaptureQueriesContext, override_settings

from core.models import ExportJob, ExportStatus
from smart_portal import db_routers
from tests.enterprises.factories import EnterpriseFactory, KpiReadingFactory, sub_project_for

SETTINGS = Path(__file__).resolve().parents[2] / "smart_portal" / "settings.py"
WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP")
# Committed rows (the replica is another connection); the reference data restored after each test.
replica = pytest.mark.django_db(transaction=True, serialized_rollback=True, databases=["default", "replica"])


@pytest.fixture(scope="module", autouse=True)
def _replica_alias():
    """A "replica" alias mirroring the test database, unless DATABASE_REPLICA_URL already made one."""
    added = db_routers.REPLICA not in connections.settings
    if added:
        connections.settings[db_routers.REPLICA] = {
            **connections.settings["default"],
            "TEST": {**connections.settings["default"].get("TEST", {}), "MIRROR": "default"},
        }
    yield
    if added:
        connections[db_routers.REPLICA].close()
        del connections[db_routers.REPLICA]
        del connections.settings[db_routers.REPLICA]


@pytest.fixture
def routed():
    """The router on, and the replica pointing at the test database (as Django's mirrors do)."""
    connections[db_routers.REPLICA].creation.set_as_test_mirror(connections["default"].settings_dict)
    with override_settings(DATABASE_ROUTERS=["smart_portal.db_routers.ReplicaRouter"]):
        yield


def sql(context: CaptureQueriesContext) -> list[str]:
    return [query["sql"].lstrip().upper() for query in context.captured_queries]


def assert_reads_only(statements: list[str]) -> None:
    assert statements, "nothing was read from the replica"
    assert not [s for s in statements if s.startswith(WRITES)]
    # Who is signed in is read from the primary (a session just made may not have reached the replica).
    assert not [s for s in statements if 'FROM "DJANGO_SESSION"' in s or 'FROM "CORE_USER" WHERE' in s]


@replica
@pytest.mark.parametrize("url", ["/dashboard/", "/dashboard/data-quality/"])
def test_the_dashboard_and_the_data_quality_report_read_from_the_replica(client, pmu, routed, url):
    client.force_login(pmu)

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get(url)

    assert response.status_code == 200
    assert_reads_only(sql(on_replica))


@replica
def test_a_replica_that_does_not_answer_leaves_the_reads_on_the_primary_for_a_while(
    client, pmu, routed, monkeypatch
):
    """Refused connection: the dashboard answers from the primary, and the replica is not asked again
    until RETRY_AFTER_SECONDS have passed."""
    client.force_login(pmu)
    attempts = []

    def refuse():
        attempts.append(1)
        raise OperationalError("could not connect to the replica")

    monkeypatch.setattr(db_routers, "_down_until", 0.0)
    monkeypatch.setattr(connections[db_routers.REPLICA], "ensure_connection", refuse)

    with CaptureQueriesContext(connections["default"]) as on_primary:
        assert client.get("/dashboard/").status_code == 200
        assert client.get("/dashboard/").status_code == 200

    assert any("MONITORING_SNAPSHOT" in statement for statement in sql(on_primary))
    assert len(attempts) == 1  # the second request did not wait for the replica again
    monkeypatch.setattr(db_routers, "_down_until", 0.0)  # the pause is over: asked again
    with db_routers.reading_from_replica() as on:
        assert on is False
    assert len(attempts) == 2


@replica
def test_a_page_that_follows_its_own_form_reads_from_the_primary(client, pmu, routed):
    client.force_login(pmu)

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        assert client.get("/dashboard/reports/").status_code == 200

    assert on_replica.captured_queries == []


@pytest.fixture
def readings(po_one, po_two, settings, tmp_path):
    settings.EXPORT_INLINE_ROWS = 2
    settings.MEDIA_ROOT = tmp_path / "media"
    own = sub_project_for(po_one, agreement_number="PKSF/SMART/SP/R001")
    other = sub_project_for(po_two, agreement_number="PKSF/SMART/SP/R002")
    for i in range(3):
        KpiReadingFactory(enterprise=EnterpriseFactory(sub_project=own, po_code=f"ME-OWN-{i}"))
    KpiReadingFactory(enterprise=EnterpriseFactory(sub_project=other, po_code="ME-OTHER-0"))


@replica
def test_a_streamed_csv_reads_its_rows_from_the_replica(client, po1, readings, routed):
    client.force_login(po1)

    with CaptureQueriesContext(connections["replica"]) as on_replica:
        response = client.get("/kpi-readings/", {"export": "csv"})
        text = b"".join(response.streaming_content).decode("utf-8-sig")

    assert text.count("ME-OWN-") == 3
    assert "ME-OTHER" not in text
    statements = sql(on_replica)
    assert_reads_only(statements)
    assert any("ENTERPRISES_KPIREADING" in s for s in statements)


@replica
def test_an_export_written_in_the_background_reads_the_replica_and_writes_the_primary(
    client, po1, readings, routed, django_capture_on_commit_callbacks
):
    client.force_login(po1)

    with (
        CaptureQueriesContext(connections["replica"]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.get("/kpi-readings/", {"export": "xlsx"})

    job = ExportJob.objects.get()
    assert (job.status, job.rows_written) == (ExportStatus.READY, 3)
    assert_reads_only(sql(on_replica))
    assert any("ENTERPRISES_KPIREADING" in s for s in sql(on_replica))
    assert any(s.startswith("UPDATE") and "CORE_EXPORTJOB" in s for s in sql(on_primary))


@replica
def test_reads_inside_a_transaction_on_the_primary_stay_there(routed):
    from django.db import transaction

    from core.models import District

    with db_routers.reading_from_replica() as on:
        assert on
        assert District.objects.all().db == "replica"
        with transaction.atomic():
            assert District.objects.all().db == "default"
        assert ExportJob.objects.all().db == "default"
    assert District.objects.all().db == "default"


# --- Settings -----------------------------------------------------------------------------------------


def settings_with(monkeypatch, **env) -> dict:
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS))


def test_without_a_replica_url_there_is_one_database_and_no_router(monkeypatch):
    values = settings_with(monkeypatch)

    assert set(values["DATABASES"]) == {"default"}
    assert values["DATABASE_ROUTERS"] == []


def test_a_replica_url_adds_the_replica_as_a_test_mirror_with_the_router(monkeypatch):
    values = settings_with(monkeypatch, DATABASE_REPLICA_URL="postgres://reader@replica-host:5432/smart")

    assert values["DATABASES"]["replica"]["HOST"] == "replica-host"
    assert values["DATABASES"]["replica"]["TEST"] == {"MIRROR": "default"}
    assert values["DATABASE_ROUTERS"] == ["smart_portal.db_routers.ReplicaRouter"]


def test_the_router_never_writes_or_migrates_on_the_replica():
    router = db_routers.ReplicaRouter()

    assert router.db_for_write(ExportJob) == "default"
    assert router.allow_migrate("default", "core") is True
    assert router.allow_migrate("replica", "core") is False
    # Outside a block, Django's own choice (None): the one database.
    assert router.db_for_read(ExportJob) is None
