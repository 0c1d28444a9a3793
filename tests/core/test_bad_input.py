"""Bad input: "as of" dates kept to the programme's span by every entry point, a plausible range on
every date field, and SQLite keeping its safe options when named by DATABASE_URL."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import models
from django.db.utils import ConnectionHandler
from django.utils import timezone
from simple_history.models import HistoricalChanges

from core.models import PartnerOrganization
from core.validators import DateRange
from monitoring import aggregation
from monitoring.models import AggregationRun, RunTrigger
from smart_portal.settings import SQLITE_OPTIONS, database_settings
from subprojects.validation import award_date_rules
from tests.core.test_partner_organizations import PO_FORM

FUTURE = "The “as of” date (2999-01-01) is after today"


# --- "As of" dates: the page, the button, the API, the service and the command --------------------


@pytest.mark.django_db
def test_the_aggregation_command_refuses_2999_naming_the_date_and_runs_nothing():
    with pytest.raises(CommandError, match=re.escape(FUTURE)):
        call_command("aggregate_indicators", "--as-of", "2999-01-01")
    with pytest.raises(CommandError, match="is too early: the programme began on 2023-08-01"):
        call_command("aggregate_indicators", "--as-of", "0001-01-01")

    assert not AggregationRun.objects.exists()


@pytest.mark.django_db
def test_the_aggregation_services_refuse_a_date_outside_the_programme(pmu):
    with pytest.raises(ValidationError, match=re.escape(FUTURE)):
        aggregation.request_run(as_of=date(2999, 1, 1), trigger=RunTrigger.BUTTON, user=pmu)
    with pytest.raises(ValidationError, match=re.escape(FUTURE)):
        aggregation.run_now(as_of=date(2999, 1, 1))

    assert not AggregationRun.objects.exists()


def test_the_button_and_the_dashboard_refuse_2999_and_name_the_field(client, pmu):
    client.force_login(pmu)

    button = client.post("/dashboard/runs/new/", {"as_of": "2999-01-01"}, follow=True).content.decode()
    page = client.get("/dashboard/", {"as_of": "2999-01-01"}).content.decode()

    assert FUTURE in button
    assert FUTURE in page
    assert "2999" not in page.replace("2999-01-01", "")  # no figure is shown as of the year 2999
    assert not AggregationRun.objects.exists()


@pytest.mark.django_db
def test_today_is_still_a_valid_as_of_date():
    run = aggregation.run_now(as_of=timezone.localdate())

    assert run.as_of == timezone.localdate()


# --- Date fields: each has its plausible range ------------------------------------------------------

# Dates the portal sets itself from an "as of" date that core.validators.check_in_programme_span
# already checked.
AS_OF_FIELDS = {
    ("monitoring", "aggregationrun", "as_of"),
    ("monitoring", "indicatorvalue", "as_of"),
    ("monitoring", "snapshot", "as_of"),
    ("monitoring", "outcomevalue", "as_of"),
    ("monitoring", "reportjob", "as_of"),
    ("monitoring", "reportjob", "previous_as_of"),
}
# Dates the aggregation copies from records whose own fields are checked (monitoring.facts): never
# typed by anyone.
COPIED_FIELDS = {
    ("monitoring", "enterprisefacts", field)
    for field in (
        "financed_on",
        "climate_trained_on",
        "recp_verified_two_on",
        "recp_reported_two_on",
        "kpi_tracking_on",
        "profile_validated_on",
    )
} | {("monitoring", "outcomepair", field) for field in ("baseline_period", "latest_period")}
PORTAL_APPS = {"core", "subprojects", "enterprises", "monitoring", "verification"}


def test_every_date_field_has_a_plausible_range():
    """A new date field must say which dates are plausible (core.validators), or be an "as of" date."""
    missing = []
    for model in apps.get_models():
        if model._meta.app_label not in PORTAL_APPS or issubclass(model, HistoricalChanges):
            continue
        for field in model._meta.concrete_fields:
            if type(field) is not models.DateField:
                continue
            key = (model._meta.app_label, model._meta.model_name, field.name)
            if key in AS_OF_FIELDS or key in COPIED_FIELDS:
                continue
            if not any(isinstance(validator, DateRange) for validator in field.validators):
                missing.append(".".join(key))
    assert missing == []


def test_the_as_of_exceptions_are_real_fields():
    for app_label, model_name, field_name in AS_OF_FIELDS:
        assert isinstance(apps.get_model(app_label, model_name)._meta.get_field(field_name), models.DateField)


def test_a_partner_organization_registered_in_1900_is_refused(client, pmu):
    client.force_login(pmu)

    response = client.post("/partner-organizations/new/", {**PO_FORM, "registered_on": "1900-01-01"})

    assert response.context["form"].errors["registered_on"] == [
        "The registration date (1900-01-01) cannot be before 1 Jan 1950: check the year."
    ]
    assert not PartnerOrganization.objects.filter(code=PO_FORM["code"]).exists()


def test_an_award_dated_before_the_programme_or_ending_decades_ahead_is_refused():
    today = timezone.localdate()

    broken = award_date_rules(date(2001, 1, 1), date(2023, 9, 1), date(2026, 1, 1))
    far = award_date_rules(today, today + timedelta(days=10), date(today.year + 40, 1, 1))

    assert [(field, error) for field, error, _problem in broken] == [
        (
            "award_date",
            "The award date (2001-01-01) cannot be before the programme start (1 Aug 2023): check the year.",
        )
    ]
    assert [field for field, _error, _problem in far] == ["end_date"]
    assert "is more than 20 years ahead" in far[0][1]


# --- SQLite through DATABASE_URL keeps the safe options -------------------------------------------


def test_sqlite_named_by_url_gets_the_same_safe_options_as_the_default():
    default = database_settings("")
    by_url = database_settings("sqlite:////srv/smart/db.sqlite3")

    assert default["OPTIONS"] == SQLITE_OPTIONS
    assert by_url["OPTIONS"] == SQLITE_OPTIONS
    assert by_url["NAME"] == "/srv/smart/db.sqlite3"
    assert SQLITE_OPTIONS["transaction_mode"] == "IMMEDIATE"
    assert SQLITE_OPTIONS["timeout"] >= 20
    assert "journal_mode=WAL" in SQLITE_OPTIONS["init_command"]


def test_options_in_the_url_win_and_other_databases_get_none_of_them():
    assert database_settings("sqlite:////srv/db.sqlite3?timeout=60")["OPTIONS"]["timeout"] == 60
    assert (
        database_settings("sqlite:////srv/db.sqlite3?timeout=60")["OPTIONS"]["transaction_mode"]
        == "IMMEDIATE"
    )
    postgres = database_settings("postgres://smart:secret@db:5432/smart", conn_max_age=30)
    assert "OPTIONS" not in postgres or "transaction_mode" not in postgres["OPTIONS"]
    assert postgres["CONN_MAX_AGE"] == 30


def test_a_connection_made_from_the_url_is_in_wal_mode_waits_for_locks_and_starts_immediate(
    tmp_path: Path, django_db_blocker
):
    handler = ConnectionHandler({"default": database_settings(f"sqlite:///{tmp_path / 'db.sqlite3'}")})
    connection = handler["default"]
    with django_db_blocker.unblock():  # a database of its own, not the test database
        try:
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA journal_mode")
                journal = cursor.fetchone()[0]
                cursor.execute("PRAGMA busy_timeout")
                timeout_ms = cursor.fetchone()[0]
        finally:
            handler.close_all()
    assert (journal, timeout_ms) == ("wal", 20_000)
    assert connection.transaction_mode == "IMMEDIATE"
