"""Plausible dates, stated once for every way data comes in.

`DateRange` is a field validator: attached to a model's DateField it runs in ModelForms, in DRF
ModelSerializers (which copy model validators), in `full_clean()` (the services) and in the
spreadsheet imports (which call `clean_fields()`), so a disbursement dated 0001-01-01 or a KPI month
of 1900 is refused the same way everywhere, with a message naming the field.

Bounds are symbolic ("programme_start", "today") and read when a value is checked, so they follow
the PROGRAMME_START setting and the calendar, and migrations store the symbol, not a date.

`check_in_programme_span` is the rule of "as of" dates (results, aggregation runs, reports): from
the programme start to today.
"""

from __future__ import annotations

import time
from datetime import date, datetime
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

PROGRAMME_START = "programme_start"
PROGRAMME_START_MONTH = "programme_start_month"
TODAY = "today"
# Enterprises, facilities and partner organisations: anything earlier is a typing error.
EARLIEST_ENTERPRISE_DATE = date(1990, 1, 1)
EARLIEST_ORGANISATION_DATE = date(1950, 1, 1)


@lru_cache(maxsize=1)
def _localdate(_second: int) -> date:
    return timezone.localdate()


def today() -> date:
    """Today in Dhaka, kept for the current second: imports ask once per date cell of every row."""
    return _localdate(int(time.monotonic()))


def programme_start() -> date:
    return settings.PROGRAMME_START


def _shown(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _as_date(value: date | datetime) -> date:
    if isinstance(value, datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


@deconstructible
class DateRange:
    """A date no earlier than `earliest` and no later than `latest`.

    earliest: a date, "programme_start" or "programme_start_month" (the first day of its month, for
    monthly periods); latest: "today" (a past event), None (no upper bound) or a number of years
    after today (e.g. 10, for a planned end date). `what` names the field in messages ("The
    disbursement date")."""

    def __init__(
        self,
        what: str | Promise,
        earliest: date | str = EARLIEST_ENTERPRISE_DATE,
        latest: str | int | None = TODAY,
    ) -> None:
        self.what = what
        self.earliest = earliest
        self.latest = latest

    def lower_bound(self) -> date:
        if self.earliest == PROGRAMME_START:
            return programme_start()
        if self.earliest == PROGRAMME_START_MONTH:
            return programme_start().replace(day=1)
        if not isinstance(self.earliest, date):
            raise TypeError(f"DateRange: unknown earliest bound {self.earliest!r}")
        return self.earliest

    def upper_bound(self) -> date | None:
        if self.latest is None:
            return None
        current = today()
        if self.latest == TODAY:
            return current
        if not isinstance(self.latest, int):
            raise TypeError(f"DateRange: unknown latest bound {self.latest!r}")
        try:
            return current.replace(year=current.year + self.latest)
        except ValueError:  # 29 February
            return current.replace(year=current.year + self.latest, day=28)

    def __call__(self, value: date | datetime | None) -> None:
        if value is None:
            return
        day = _as_date(value)
        params = {"what": self.what, "value": day.isoformat()}
        earliest = self.lower_bound()
        if day < earliest:
            if self.earliest in (PROGRAMME_START, PROGRAMME_START_MONTH):
                message = _(
                    "%(what)s (%(value)s) cannot be before the programme start (%(start)s): check the year."
                ) % {**params, "start": _shown(programme_start())}
            else:
                message = _("%(what)s (%(value)s) cannot be before %(earliest)s: check the year.") % {
                    **params,
                    "earliest": _shown(earliest),
                }
            raise ValidationError(message, code="too_early")
        latest = self.upper_bound()
        if latest is not None and day > latest:
            if self.latest == TODAY:
                message = _("%(what)s cannot be in the future (%(value)s is after today).") % params
            else:
                message = _("%(what)s (%(value)s) is more than %(years)s years ahead: check the year.") % {
                    **params,
                    "years": self.latest,
                }
            raise ValidationError(message, code="too_late")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DateRange)
            and str(self.what) == str(other.what)
            and self.earliest == other.earliest
            and self.latest == other.latest
        )

    def __hash__(self) -> int:
        return hash((str(self.what), self.earliest, self.latest))


def past_event(what: str | Promise, earliest: date | str = EARLIEST_ENTERPRISE_DATE) -> DateRange:
    """A date something happened: not before `earliest`, not after today."""
    return DateRange(what, earliest, TODAY)


def programme_event(what: str | Promise) -> DateRange:
    """A date something of the programme happened (a disbursement, a training, a verification)."""
    return DateRange(what, PROGRAMME_START, TODAY)


# --- "As of" dates --------------------------------------------------------------------------------

AS_OF = gettext_lazy("The “as of” date")


def check_in_programme_span(value: date, what: str | Promise = AS_OF) -> None:
    """Results exist from the programme start to today: a date outside is refused with the reason,
    naming the field (dashboard, API, aggregation runs from the button, the API and the command,
    reports). A future date would store a snapshot that then passes for the latest figures."""
    start, current = programme_start(), timezone.localdate()
    if value < start:
        raise ValidationError(
            _(
                "%(what)s (%(value)s) is too early: the programme began on %(start)s and there are "
                "no results before that date."
            )
            % {"what": what, "value": value.isoformat(), "start": start.isoformat()},
            code="too_early",
        )
    if value > current:
        raise ValidationError(
            _("%(what)s (%(value)s) is after today (%(today)s): results are known up to today only.")
            % {"what": what, "value": value.isoformat(), "today": current.isoformat()},
            code="too_late",
        )
