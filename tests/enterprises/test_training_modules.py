"""Training modules: the PMU's catalogue, sessions that pick a module, and the PMU mapping the
sessions recorded before the catalogue ("Sessions to map")."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest

from core.errors import ActionRefused
from enterprises import services
from enterprises.models import TrainingModule, TrainingSession
from subprojects.models import Transition
from tests.assertions import field_errors
from tests.enterprises.factories import AttendanceFactory, TrainingSessionFactory, training_module

pytestmark = pytest.mark.django_db

NEW_MODULE = {
    "code": "CV-04",
    "name": "Heat stress at work",
    "description": "Shade, water, rest and work hours in the hot months.",
    "climate_vulnerability": "on",
    "is_active": "on",
    "position": "9",
}


def legacy_session(sp, **kwargs) -> TrainingSession:
    """A session recorded before the catalogue, whose topic matched no module."""
    session = TrainingSessionFactory(sub_project=sp, **kwargs)
    TrainingSession.objects.filter(pk=session.pk).update(module=None)
    session.refresh_from_db()
    return session


# --- The catalogue --------------------------------------------------------------------------------


def test_pmu_adds_and_edits_a_module_and_its_history_shows_who_changed_what(client, pmu):
    client.force_login(pmu)

    created = client.post("/training-modules/new/", NEW_MODULE)
    module = TrainingModule.objects.get(code="CV-04")
    client.post(f"/training-modules/{module.pk}/edit/", {**NEW_MODULE, "name": "Heat stress in the workshop"})
    page = client.get(f"/training-modules/{module.pk}/").content.decode()

    assert created.status_code == 302
    module.refresh_from_db()
    assert (module.name, module.climate_vulnerability) == ("Heat stress in the workshop", True)
    assert [record.history_user for record in module.history.all()] == [pmu, pmu]
    assert "Heat stress at work → Heat stress in the workshop" in page
    assert pmu.get_display_name() in page


def test_a_refused_module_keeps_what_was_typed(client, pmu):
    client.force_login(pmu)

    response = client.post("/training-modules/new/", {**NEW_MODULE, "code": "CV-01"})

    page = response.content.decode()
    assert response.status_code == 200
    assert "Training module with this Code already exists." in page
    assert 'value="Heat stress at work"' in page
    assert TrainingModule.objects.filter(code="CV-01").get().name != "Heat stress at work"


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_adds_or_edits_modules_on_the_pages(db, client, request, persona):
    module = training_module("CV-01")
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/training-modules/").status_code == 200  # field-data readers read it
    assert client.post("/training-modules/new/", NEW_MODULE).status_code == 403
    assert (
        client.post(f"/training-modules/{module.pk}/edit/", {**NEW_MODULE, "code": "CV-01"}).status_code
        == 403
    )
    assert not TrainingModule.objects.filter(code="CV-04").exists()
    module.refresh_from_db()
    assert module.name == "Climate risks and the vulnerability of your enterprise"


@pytest.mark.parametrize("persona", ["tec1", "verifier"])
def test_roles_that_read_no_field_data_do_not_see_the_catalogue_pages(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/training-modules/").status_code == 403
    assert client.get(f"/training-modules/{training_module().pk}/").status_code == 403


def test_the_catalogue_lists_and_exports_the_modules_with_their_tag(client, po1):
    client.force_login(po1)

    page = client.get("/training-modules/", {"climate_vulnerability": "true"}).content.decode()
    export = client.get("/training-modules/", {"export": "csv"})

    assert "CV-01" in page
    assert "CV-03" in page
    assert "RE-01" not in page
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Code", "Name", "Climate vulnerability"]
    assert rows[1][:3] == ["CV-01", "Climate risks and the vulnerability of your enterprise", "yes"]


def test_the_module_api_reads_for_field_data_readers_and_writes_for_the_pmu(api, pmu, po1, verifier, tec1):
    payload = {"code": "CV-04", "name": "Heat stress at work", "climate_vulnerability": True}

    assert api.as_user(po1).get("/api/v1/training-modules/CV-01/").json()["climate_vulnerability"] is True
    assert api.as_user(po1).post("/api/v1/training-modules/", payload).status_code == 403
    assert api.as_user(po1).patch("/api/v1/training-modules/CV-01/", {"name": "x"}).status_code == 403
    assert api.as_user(verifier).get("/api/v1/training-modules/").status_code == 403
    assert api.as_user(tec1).get("/api/v1/training-modules/").status_code == 403
    assert not TrainingModule.objects.filter(code="CV-04").exists()

    created = api.as_user(pmu).post("/api/v1/training-modules/", payload)
    retired = api.as_user(pmu).patch("/api/v1/training-modules/CV-04/", {"is_active": False})

    assert created.status_code == 201, created.json()
    assert retired.json()["is_active"] is False
    assert TrainingModule.objects.get(code="CV-04").history.first().history_user == pmu
    assert api.as_user(pmu).delete("/api/v1/training-modules/CV-04/").status_code == 405


# --- Sessions pick a module -----------------------------------------------------------------------


def test_the_session_form_requires_a_module_and_keeps_what_was_typed(client, po1, sp_one):
    client.force_login(po1)
    data = {"po_code": "TR-1", "sub_project": sp_one.pk, "held_on": "2024-10-10", "place": "Bhairab Bazar"}

    refused = client.post("/trainings/new/", data)
    client.post("/trainings/new/", {**data, "module": training_module("RE-01").pk})

    page = refused.content.decode()
    assert "This field is required." in page
    assert 'value="Bhairab Bazar"' in page
    session = TrainingSession.objects.get()
    assert (session.module.code, session.topic) == ("RE-01", "")  # the title is optional


def test_a_retired_module_is_not_offered_but_a_session_keeps_it(client, po1, sp_one):
    session = TrainingSessionFactory(sub_project=sp_one, module=training_module("BUS-01"), place="Bhairab")
    TrainingModule.objects.filter(code="BUS-01").update(is_active=False)
    client.force_login(po1)

    new_form = client.get("/trainings/new/").content.decode()
    refused = client.post(
        "/trainings/new/",
        {
            "po_code": "TR-NEW",
            "sub_project": sp_one.pk,
            "module": training_module("BUS-01").pk,
            "held_on": "2024-10-10",
            "place": "x",
        },
    )
    client.post(
        f"/trainings/{session.pk}/edit/",
        {
            "po_code": session.po_code,
            "sub_project": sp_one.pk,
            "module": training_module("BUS-01").pk,
            "held_on": "2024-11-05",
            "place": "Bhairab Bazar",
        },
    )

    assert "BUS-01" not in new_form
    assert "Select a valid choice." in refused.content.decode()
    assert not TrainingSession.objects.filter(po_code="TR-NEW").exists()
    session.refresh_from_db()
    assert (session.place, session.module.code) == ("Bhairab Bazar", "BUS-01")


def test_the_service_refuses_a_retired_module_for_a_new_or_changed_session(po1, sp_one):
    TrainingModule.objects.filter(code="BUS-01").update(is_active=False)
    data = {
        "po_code": "TR-1",
        "sub_project": sp_one,
        "module": training_module("BUS-01"),
        "held_on": date(2024, 10, 10),
        "place": "Bhairab",
    }

    with pytest.raises(services.ValidationError) as refused:
        services.save_training_session(user=po1, data=data)

    assert refused.value.message_dict["module"] == [
        "The module BUS-01 is no longer offered: choose an active one."
    ]
    assert not TrainingSession.objects.exists()


def test_the_api_takes_the_module_code_and_names_a_bad_one(api, po1, sp_one):
    api.as_user(po1)
    data = {"po_code": "TR-API", "sub_project": sp_one.pk, "held_on": "2024-10-10", "place": "Bhairab"}
    TrainingModule.objects.filter(code="BUS-01").update(is_active=False)

    missing = api.post("/api/v1/trainings/", data)
    unknown = api.post("/api/v1/trainings/", {**data, "module": "XX-9"})
    retired = api.post("/api/v1/trainings/", {**data, "module": "BUS-01"})
    created = api.post("/api/v1/trainings/", {**data, "module": "CV-02"})

    assert (missing.status_code, list(missing.json()["fields"])) == (400, ["module"])
    assert field_errors(unknown) == {
        "module": ["“XX-9” is not a training module code (see training-modules)."]
    }
    assert field_errors(retired) == {
        "module": ["The module BUS-01 is no longer offered: choose an active one."]
    }
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["module"], body["climate_vulnerability"], body["topic"]) == ("CV-02", True, "")
    assert TrainingSession.objects.get().module.code == "CV-02"


def test_a_session_not_mapped_must_be_given_a_module_when_its_po_edits_it(api, po1, sp_one):
    session = legacy_session(sp_one, place="Bhairab")

    refused = api.as_user(po1).patch(f"/api/v1/trainings/{session.pk}/", {"place": "Bhairab Bazar"})

    assert refused.status_code == 400
    assert field_errors(refused)["module"] == [
        "Choose the training module of the session (see the catalogue)."
    ]
    session.refresh_from_db()
    assert session.place == "Bhairab"


def test_sessions_show_their_module_and_the_unmapped_ones_are_marked_to_po_and_pmu(
    client, po1, pmu, sp_one, me_one
):
    mapped = TrainingSessionFactory(sub_project=sp_one, module=training_module("CV-01"), topic="Batch 1")
    unmapped = legacy_session(sp_one, topic="Shoe upper stitching")
    AttendanceFactory(session=unmapped, enterprise=me_one)
    for user in (po1, pmu):
        client.force_login(user)

        listing = client.get("/trainings/").content.decode()
        detail = client.get(f"/trainings/{unmapped.pk}/").content.decode()
        me_page = client.get(f"/enterprises/{me_one.pk}/").content.decode()

        assert "not mapped to a module: counts for no indicator" in listing
        assert "climate vulnerability" in listing
        assert 'data-testid="unmapped-alert"' in detail
        assert "not mapped to a module: counts for no indicator" in me_page
        assert 'data-testid="unmapped-alert"' not in client.get(f"/trainings/{mapped.pk}/").content.decode()
    client.force_login(po1)
    only_unmapped = client.get("/trainings/", {"mapped": "false"}).content.decode()
    assert unmapped.po_code in only_unmapped
    assert mapped.po_code not in only_unmapped


def test_the_session_export_has_the_module_and_its_tag(client, pmu, sp_one):
    TrainingSessionFactory(sub_project=sp_one, po_code="TR-A", module=training_module("CV-01"))
    TrainingSessionFactory(sub_project=sp_one, po_code="TR-B", module=training_module("RE-01"))
    legacy_session(sp_one, po_code="TR-C")
    client.force_login(pmu)

    export = client.get("/trainings/", {"export": "csv"})

    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    by_code = {row["Session code"]: row for row in rows}
    assert (by_code["TR-A"]["Module code"], by_code["TR-A"]["Climate vulnerability module"]) == (
        "CV-01",
        "yes",
    )
    assert (by_code["TR-B"]["Module code"], by_code["TR-B"]["Climate vulnerability module"]) == (
        "RE-01",
        "no",
    )
    assert (by_code["TR-C"]["Module code"], by_code["TR-C"]["Climate vulnerability module"]) == (
        "not mapped to a module",
        "",
    )


# --- The PMU maps sessions ------------------------------------------------------------------------


def test_sessions_to_map_lists_the_unmapped_oldest_first_with_po_topic_and_date(client, pmu, sp_one, sp_two):
    newer = legacy_session(sp_one, held_on=date(2024, 6, 1), topic="Shoe stitching")
    older = legacy_session(sp_two, held_on=date(2023, 11, 2), topic="Leather tanning")
    TrainingSessionFactory(sub_project=sp_one, topic="Mapped already")
    client.force_login(pmu)

    page = client.get("/trainings/to-map/").content.decode()

    assert page.index("Leather tanning") < page.index("Shoe stitching")
    assert "Mapped already" not in page
    for shown in ("2 Nov 2023", "PO-T02", newer.po_code, older.po_code):
        assert shown in page


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_opens_sessions_to_map(db, client, request, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/trainings/to-map/").status_code == 403


def test_the_pmu_maps_a_session_from_the_list_and_it_is_recorded(client, pmu, sp_one):
    session = legacy_session(sp_one)
    client.force_login(pmu)

    response = client.post(
        f"/trainings/{session.pk}/assign-module/",
        {"module": training_module("CV-02").pk, "next": "/trainings/to-map/"},
    )

    assert response["Location"] == "/trainings/to-map/"
    session.refresh_from_db()
    assert session.module.code == "CV-02"
    row = Transition.objects.get()
    assert (row.subject, row.action, row.from_state, row.to_state, row.actor) == (
        session,
        "assign_module",
        "",
        "CV-02",
        pmu,
    )
    assert "Every session is mapped to a module." in client.get("/trainings/to-map/").content.decode()


def test_mapping_to_the_same_module_again_is_refused(pmu, sp_one):
    session = legacy_session(sp_one)
    services.assign_training_module(user=pmu, session=session, module=training_module("CV-02"))

    with pytest.raises(ActionRefused) as refused:
        services.assign_training_module(user=pmu, session=session, module=training_module("CV-02"))

    assert refused.value.code == "wrong_state"
    assert Transition.objects.count() == 1


@pytest.mark.parametrize("persona", ["po1", "wb", "approver"])
def test_only_the_pmu_maps_a_session_and_a_refusal_changes_nothing(client, api, request, sp_one, persona):
    session = legacy_session(sp_one)
    user = request.getfixturevalue(persona)
    client.force_login(user)

    page = client.post(f"/trainings/{session.pk}/assign-module/", {"module": training_module("CV-02").pk})
    through_api = api.as_user(user).post(
        f"/api/v1/trainings/{session.pk}/assign-module/", {"module": "CV-02"}
    )

    assert (page.status_code, through_api.status_code) == (403, 403)
    session.refresh_from_db()
    assert session.module is None
    assert not Transition.objects.exists()


def test_another_po_does_not_even_find_the_session_to_map(client, po2, sp_one):
    session = legacy_session(sp_one)
    client.force_login(po2)

    assert (
        client.post(f"/trainings/{session.pk}/assign-module/", {"module": training_module().pk}).status_code
        == 404
    )


def test_the_pmu_maps_a_session_through_the_api_by_module_code(api, pmu, sp_one):
    session = legacy_session(sp_one)
    api.as_user(pmu)

    unknown = api.post(f"/api/v1/trainings/{session.pk}/assign-module/", {"module": "XX-9"})
    # Any case, as in imports (the importer reads "cv-02" as CV-02).
    mapped = api.post(f"/api/v1/trainings/{session.pk}/assign-module/", {"module": "cv-03"})

    assert field_errors(unknown) == {
        "module": ["“XX-9” is not a training module code (see training-modules)."]
    }
    assert mapped.status_code == 200
    assert (mapped.json()["module"], mapped.json()["climate_vulnerability"]) == ("CV-03", True)
    session.refresh_from_db()
    assert session.module.code == "CV-03"


def _badge_after(page: str, testid: str) -> str:
    """The number in the badge of the element carrying this test id."""
    found = re.search(rf'data-testid="{testid}".*?<span class="badge[^"]*">([^<]*)</span>', page, re.DOTALL)
    assert found, f"no {testid} with a badge"
    return found.group(1).strip()


def test_the_pmu_home_and_the_field_data_hub_count_the_sessions_to_map(client, pmu, po1, sp_one, sp_two):
    legacy_session(sp_one)
    legacy_session(sp_two)
    TrainingSessionFactory(sub_project=sp_one)  # mapped: not counted
    client.force_login(pmu)

    assert _badge_after(client.get("/").content.decode(), "sessions-to-map-count") == "2"
    hub = client.get("/field-data/").content.decode()
    assert "Sessions to map" in hub
    assert _badge_after(hub, "unmapped-card") == "2"
    client.force_login(po1)
    own = client.get("/field-data/").content.decode()
    assert "Sessions not mapped to a module" in own
    assert _badge_after(own, "unmapped-card") == "1"  # its own PO's only


def test_the_api_and_the_catalogue_take_module_codes_in_any_case(api, po1, sp_one):
    api.as_user(po1)
    data = {"po_code": "TR-API", "sub_project": sp_one.pk, "held_on": "2024-10-10", "place": "Bhairab"}

    created = api.post("/api/v1/trainings/", {**data, "module": "cv-02"})
    module = api.get("/api/v1/training-modules/cv-01/")

    assert created.status_code == 201, created.json()
    assert created.json()["module"] == "CV-02"
    assert TrainingSession.objects.get().module.code == "CV-02"
    assert (module.status_code, module.json()["code"]) == (200, "CV-01")


# --- A module the PMU mapped stays; a PO's change of module is recorded ---------------------------


def _session_form(session: TrainingSession, **changes) -> dict:
    data = {
        "po_code": session.po_code,
        "sub_project": session.sub_project_id,
        "module": session.module_id,
        "topic": session.topic,
        "held_on": session.held_on.isoformat(),
        "place": session.place,
    }
    return {**data, **changes}


def _mapped_by_pmu(pmu, sp, code: str = "CV-02") -> TrainingSession:
    session = legacy_session(sp, place="Bhairab")
    return services.assign_training_module(user=pmu, session=session, module=training_module(code))


def test_po_staff_cannot_change_a_module_the_pmu_mapped_on_the_page(client, po1, pmu, sp_one):
    session = _mapped_by_pmu(pmu, sp_one)
    client.force_login(po1)

    form = client.get(f"/trainings/{session.pk}/edit/").content.decode()
    refused = client.post(
        f"/trainings/{session.pk}/edit/",
        _session_form(session, module=training_module("RE-01").pk, place="Bhairab Bazar"),
    )

    assert "The PMU mapped this session to its module: only the PMU changes it now" in form
    page = refused.content.decode()
    assert refused.status_code == 403
    assert (
        f"The training module (“module”) of session {session.po_code} cannot be changed: the PMU mapped it."
        in page
    )
    assert 'value="Bhairab Bazar"' in page  # what was typed is kept
    session.refresh_from_db()
    assert (session.module.code, session.place) == ("CV-02", "Bhairab")
    assert list(Transition.objects.values_list("action", flat=True)) == ["assign_module"]

    # The rest of the session stays the PO's to edit.
    kept = client.post(f"/trainings/{session.pk}/edit/", _session_form(session, place="Bhairab Bazar"))
    assert kept.status_code == 302
    session.refresh_from_db()
    assert (session.module.code, session.place) == ("CV-02", "Bhairab Bazar")


def test_po_staff_cannot_change_a_module_the_pmu_mapped_through_the_api(api, po1, pmu, sp_one):
    session = _mapped_by_pmu(pmu, sp_one)
    api.as_user(po1)

    refused = api.patch(f"/api/v1/trainings/{session.pk}/", {"module": "RE-01", "place": "Bhairab Bazar"})
    same = api.patch(f"/api/v1/trainings/{session.pk}/", {"module": "cv-02", "place": "Bhairab Bazar"})

    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    assert "(“module”)" in refused.json()["detail"]
    assert "the PMU mapped it" in refused.json()["detail"]
    assert same.status_code == 200, same.json()
    session.refresh_from_db()
    assert (session.module.code, session.place) == ("CV-02", "Bhairab Bazar")
    # The PMU may still correct its own mapping.
    services.assign_training_module(user=pmu, session=session, module=training_module("RE-01"))
    session.refresh_from_db()
    assert session.module.code == "RE-01"


def test_an_import_cannot_change_a_module_the_pmu_mapped_and_names_the_column(po_one, po1, pmu, sp_one):
    from tests.enterprises.test_imports import as_csv, run, session_row

    session = _mapped_by_pmu(pmu, sp_one)
    row = session_row(session.po_code, sp_one, module="RE-01", held_on="2024-11-05", place="Bhairab Bazar")

    refused = run("trainings", as_csv([row]), po_one, po1)
    kept = run("trainings", as_csv([{**row, "module": "cv-02"}]), po_one, po1)

    assert not refused.committed
    assert [(e.row, e.column) for e in refused.errors] == [(2, "module")]
    assert "the PMU mapped it" in refused.errors[0].message
    assert (kept.committed, kept.updated) == (True, 1)
    session.refresh_from_db()
    assert (session.module.code, session.place) == ("CV-02", "Bhairab Bazar")
    assert list(Transition.objects.values_list("action", flat=True)) == ["assign_module"]


def test_a_po_changing_its_sessions_module_is_kept_in_the_audit_trail(client, api, po1, sp_one):
    by_page = TrainingSessionFactory(sub_project=sp_one, module=training_module("CV-01"))
    by_api = TrainingSessionFactory(sub_project=sp_one, module=training_module("CV-01"))
    client.force_login(po1)

    client.post(f"/trainings/{by_page.pk}/edit/", _session_form(by_page, module=training_module("RE-01").pk))
    api.as_user(po1).patch(f"/api/v1/trainings/{by_api.pk}/", {"module": "CV-03"})
    page = client.get(f"/trainings/{by_page.pk}/").content.decode()

    rows = {
        row.object_id: (row.action, row.from_state, row.to_state, row.actor)
        for row in Transition.objects.all()
    }
    assert rows == {
        by_page.pk: ("change_module", "CV-01", "RE-01", po1),
        by_api.pk: ("change_module", "CV-01", "CV-03", po1),
    }
    assert f"{po1.get_display_name()} changed the module from CV-01 to RE-01" in page


def test_a_po_changing_a_module_by_import_is_kept_and_giving_a_first_module_is_not_a_change(
    po_one, po1, sp_one
):
    from tests.enterprises.test_imports import as_csv, run, session_row

    had = TrainingSessionFactory(
        sub_project=sp_one, module=training_module("CV-01"), held_on=date(2024, 10, 12)
    )
    had_none = legacy_session(sp_one, held_on=date(2024, 10, 12))
    rows = [
        session_row(had.po_code, sp_one, module="RE-01", topic=had.topic, place=had.place, district=""),
        session_row(had_none.po_code, sp_one, module="CV-02", topic=had_none.topic, place=had_none.place),
    ]

    report = run("trainings", as_csv(rows), po_one, po1)

    assert (report.committed, report.updated) == (True, 2), report.errors
    row = Transition.objects.get()
    assert (row.subject, row.action, row.from_state, row.to_state, row.actor) == (
        had,
        "change_module",
        "CV-01",
        "RE-01",
        po1,
    )


def test_the_session_page_shows_a_first_mapping_as_from_no_module(client, pmu, sp_one):
    session = _mapped_by_pmu(pmu, sp_one)
    client.force_login(pmu)

    page = client.get(f"/trainings/{session.pk}/").content.decode()

    assert f"{pmu.get_display_name()} mapped the session from no module to CV-02" in page


# --- Pages that stay fast -------------------------------------------------------------------------


def test_sessions_to_map_reads_the_catalogue_once_whatever_the_number_of_rows(client, pmu, sp_one):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    legacy_session(sp_one)
    client.force_login(pmu)
    with CaptureQueriesContext(connection) as one_row:
        client.get("/trainings/to-map/")
    for _ in range(6):
        legacy_session(sp_one)

    with CaptureQueriesContext(connection) as seven_rows:
        page = client.get("/trainings/to-map/").content.decode()

    assert len(seven_rows) == len(one_row)
    # Each row offers every module of the catalogue, after its "choose…".
    table = page.split('data-testid="sessions-to-map"')[1].split("</table>")[0]
    assert table.count('<option value="') == 7 * (TrainingModule.objects.count() + 1)


def test_the_module_history_pairs_versions_in_one_query_and_shows_values_as_words(client, pmu):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(pmu)
    client.post("/training-modules/new/", NEW_MODULE)
    module = TrainingModule.objects.get(code="CV-04")
    edit = f"/training-modules/{module.pk}/edit/"
    client.post(edit, {key: value for key, value in NEW_MODULE.items() if key != "climate_vulnerability"})
    with CaptureQueriesContext(connection) as two_versions:
        client.get(f"/training-modules/{module.pk}/")
    for position in range(10, 15):
        client.post(edit, {**NEW_MODULE, "position": str(position)})

    with CaptureQueriesContext(connection) as seven_versions:
        page = client.get(f"/training-modules/{module.pk}/").content.decode()

    assert len(seven_versions) == len(two_versions)
    assert "tagged: climate vulnerability: yes → no" in page
    assert "tagged: climate vulnerability: no → yes" in page
    assert "position: 13 → 14" in page
    assert "True" not in page.split('data-testid="module-history"')[1]
