"""The field rules of SPEC 5, in one place: model `clean()`, forms, serializers and the importer all
call these, so a phone number or a KPI value is judged the same way wherever it comes in.

Each check raises a `ValidationError` with a message that names the problem in the user's terms;
callers attach it to the field (forms and serializers) or to the spreadsheet column (importer).
The parsers (`parse_*`) turn what people type into spreadsheets (Bangla digits, lakh-grouped amounts,
day-first dates, "yes"/"হ্যাঁ") into Python values.
"""

from __future__ import annotations

import re
import time
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from core.numbers import group

# Bangladesh's bounding box (Teknaf to Tetulia, Sundarbans to the Sylhet hills), with a small margin.
BD_LATITUDE = (Decimal("20.50"), Decimal("26.70"))
BD_LONGITUDE = (Decimal("88.00"), Decimal("92.70"))

# The programme's oldest plausible ME start year; older entries are almost always typing errors.
EARLIEST_YEAR_STARTED = 1950

# Above this many workers an enterprise is no longer "micro" in any Bangladeshi definition; such a
# figure is almost always a typing error (an extra zero).
MAX_WORKERS = 100

_BANGLA_DIGITS = str.maketrans("০১২৩৪৫৬৭৮৯", "0123456789")


@lru_cache(maxsize=1)
def _localdate(_second: int) -> date:
    return timezone.localdate()


def today() -> date:
    """Today in Dhaka. Asked for once per date field of every imported row, so it is kept for the
    current second: converting the time zone each time was a tenth of an import's time."""
    return _localdate(int(time.monotonic()))


def _programme_setting(name: str, default):
    return getattr(settings, name, default)


# --- Keys used to find the same enterprise across POs --------------------------------------------


def normalise_phone(raw: str) -> str:
    """A Bangladeshi number in +880 form: "01712-345678", "8801712345678" and "1712345678" are all
    "+8801712345678". Raises ValidationError for anything that cannot be a Bangladeshi number."""
    text = str(raw or "").translate(_BANGLA_DIGITS).strip()
    if not text:
        return ""
    if text.endswith(".0") and text[:-2].isdigit():  # a spreadsheet cell read as a float
        text = text[:-2]
    digits = re.sub(r"[\s().\-/]", "", text)
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.startswith("880"):
            raise ValidationError(
                _("%(phone)s is not a Bangladeshi number (it should start with +880 or 0).") % {"phone": raw}
            )
    if not digits.isdigit():
        raise ValidationError(_("%(phone)s is not a phone number: use digits only.") % {"phone": raw})
    if digits.startswith("00880"):  # international prefix dialled from abroad
        digits = digits[2:]
    if digits.startswith("880"):
        national = digits[3:].removeprefix("0")  # "+88 017..." is common
    elif digits.startswith("0"):
        national = digits[1:]
    else:
        national = digits
    if national.startswith("1"):
        # Mobile: 01[3-9] followed by 8 digits.
        if len(national) != 10 or national[1] not in "3456789":
            raise ValidationError(
                _("%(phone)s is not a valid mobile number (11 digits, e.g. 01712345678).") % {"phone": raw}
            )
    elif not 8 <= len(national) <= 10:
        raise ValidationError(
            _("%(phone)s is not a valid Bangladeshi phone number (e.g. 01712345678).") % {"phone": raw}
        )
    return f"+880{national}"


def licence_key(raw: str) -> str:
    """Trade licence numbers are written with slashes, dashes and spaces in every possible way;
    the key keeps letters and digits only, upper-cased."""
    text = unicodedata.normalize("NFKC", str(raw or "")).translate(_BANGLA_DIGITS)
    return re.sub(r"[^0-9A-Za-z]", "", text).upper()


_HONORIFICS = re.compile(r"\b(m/s|ms|mst|md|mohammad|mohammed|muhammad|mrs|mr)\b\.?", re.IGNORECASE)


def name_key(raw: str) -> str:
    """Enterprise names compared loosely: case, punctuation, spacing and "M/S" prefixes ignored."""
    text = unicodedata.normalize("NFKC", str(raw or "")).casefold()
    text = _HONORIFICS.sub(" ", text)
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(text.split())[:200]


# --- Generic checks -------------------------------------------------------------------------------


def check_not_future(value: date | None, what: str) -> None:
    if value is not None and value > today():
        raise ValidationError(
            _("%(what)s cannot be in the future (%(value)s is after today).")
            % {"what": what, "value": value.isoformat()}
        )


def check_action_date(on: date, *, what: str, not_before: date, too_early: str) -> None:
    """A date given with an action (an adoption verified on, a profile validated on): not in the
    future, and not before `not_before`. Refused as the action (409), since no form field holds it."""
    try:
        check_not_future(on, what)
    except ValidationError as exc:
        raise ActionRefused(exc.messages[0], code="invalid") from None
    if on < not_before:
        raise ActionRefused(too_early, code="invalid")


def check_gps(latitude: Decimal | None, longitude: Decimal | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if (latitude is None) != (longitude is None):
        missing = "longitude" if longitude is None else "latitude"
        errors[missing] = _("Give both latitude and longitude, or neither.")
        return errors
    if latitude is None:
        return errors
    if not BD_LATITUDE[0] <= Decimal(latitude) <= BD_LATITUDE[1]:
        errors["latitude"] = _("Latitude %(value)s is outside Bangladesh (%(low)s to %(high)s).") % {
            "value": latitude,
            "low": BD_LATITUDE[0],
            "high": BD_LATITUDE[1],
        }
    if not BD_LONGITUDE[0] <= Decimal(longitude) <= BD_LONGITUDE[1]:
        errors["longitude"] = _("Longitude %(value)s is outside Bangladesh (%(low)s to %(high)s).") % {
            "value": longitude,
            "low": BD_LONGITUDE[0],
            "high": BD_LONGITUDE[1],
        }
    return errors


def check_geography(division, district, upazila) -> dict[str, str]:
    """District in division, upazila in district (objects or None; ids are compared)."""
    errors: dict[str, str] = {}
    if district is not None and division is not None and district.division_id != division.pk:
        errors["district"] = _("%(district)s is not in %(division)s division.") % {
            "district": district.name,
            "division": division.name,
        }
    if upazila is not None and district is not None and upazila.district_id != district.pk:
        errors["upazila"] = _("%(upazila)s is not an upazila of %(district)s district.") % {
            "upazila": upazila.name,
            "district": district.name,
        }
    return errors


def check_sub_sector_fits(sub_project, sub_sector) -> None:
    """An enterprise (or facility) works in the sector its sub-project was awarded for.

    Checked at sector level, not against the proposal's list of sub-sectors: a footwear sub-project
    may also finance a leather-goods workshop of the same cluster."""
    if sub_project is None or sub_sector is None:
        return
    if sub_sector.sector_id != sub_project.sector_id:
        raise ValidationError(
            _("%(sub_sector)s is not in the sector of sub-project %(sub_project)s (%(sector)s).")
            % {
                "sub_sector": sub_sector.name,
                "sub_project": sub_project.agreement_number,
                "sector": sub_project.sector.name,
            }
        )


def check_year_started(year: int | None) -> None:
    if year is None:
        return
    if year > today().year:
        raise ValidationError(_("Year started cannot be in the future (%(year)s).") % {"year": year})
    if year < EARLIEST_YEAR_STARTED:
        raise ValidationError(
            _("Year started %(year)s is before %(earliest)s; check the figure.")
            % {"year": year, "earliest": EARLIEST_YEAR_STARTED}
        )


def check_employment(self_employed: int, wage_male: int, wage_female: int) -> None:
    total = (self_employed or 0) + (wage_male or 0) + (wage_female or 0)
    if total < 1:
        raise ValidationError(_("An enterprise employs at least one person (its owner)."))
    if total > MAX_WORKERS:
        raise ValidationError(
            _("%(total)s people is more than a microenterprise employs (at most %(max)s); check the figures.")
            % {"total": total, "max": MAX_WORKERS}
        )


def check_amount(amount: Decimal | None) -> None:
    if amount is None:
        return
    if amount <= 0:
        raise ValidationError(_("The amount must be more than zero BDT."))
    ceiling = Decimal(_programme_setting("ENTERPRISES_MAX_SUPPORT_BDT", 5_000_000))
    if amount > ceiling:
        raise ValidationError(
            _(
                "%(amount)s BDT is more than one microenterprise can receive (at most %(ceiling)s BDT); "
                "check the figure."
            )
            % {"amount": group(amount), "ceiling": group(ceiling)}
        )


def check_score(score: Decimal | None) -> None:
    if score is not None and not Decimal(0) <= score <= Decimal(100):
        raise ValidationError(_("A test score is between 0 and 100, not %(score)s.") % {"score": score})


def check_period(period: date | None) -> None:
    """A KPI reading covers one calendar month, stored as the month's first day."""
    if period is None:
        return
    if period.day != 1:
        raise ValidationError(_("A reading covers a month: give the month (e.g. 2024-05), not a day."))
    current = today().replace(day=1)
    if period > current:
        raise ValidationError(
            _("The month %(month)s has not started yet.") % {"month": period.strftime("%Y-%m")}
        )


def check_kpi_value(kpi, value: Decimal | None) -> None:
    if kpi is None or value is None:
        return
    low, high = kpi.min_value, kpi.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValidationError(
            _("%(value)s %(unit)s is not plausible for %(kpi)s (expected %(low)s to %(high)s %(unit)s).")
            % {
                "value": plain_number(value),
                "unit": kpi.unit,
                "kpi": kpi.name,
                "low": plain_number(low),
                "high": plain_number(high),
            }
        )


def plain_number(value: Decimal | None) -> str:
    """A figure as people write it: no trailing zeros, no exponent (35, 0.5, 1200); "…" for none."""
    if value is None:
        return "…"
    return f"{value.normalize():f}" if isinstance(value, Decimal) else str(value)


# --- Parsers for spreadsheet cells ----------------------------------------------------------------


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_decimal(value, what: str) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValidationError(_("%(what)s must be a number.") % {"what": what})
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).translate(_BANGLA_DIGITS).strip().replace(",", "").replace("৳", "")
    text = re.sub(r"(?i)\s*(bdt|tk\.?|taka)\s*", "", text)
    if not text:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}) from None
    if not number.is_finite():
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value})
    return number


def parse_int(value, what: str) -> int | None:
    number = parse_decimal(value, what)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise ValidationError(
            _("%(what)s must be a whole number, not %(value)s.") % {"what": what, "value": value}
        )
    return int(number)


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%Y/%m/%d")
_MONTH_FORMATS = ("%Y-%m", "%m/%Y", "%m-%Y", "%b %Y", "%B %Y", "%Y/%m")


def parse_date(value) -> date | None:
    """ISO dates or day-first dates (Bangladesh writes 31/12/2024), or a spreadsheet date cell."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).translate(_BANGLA_DIGITS).strip()
    if not text:
        return None
    if "T" in text or (" " in text and ":" in text):
        text = text.replace("T", " ").split(" ")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValidationError(
        _("“%(value)s” is not a date; write it as YYYY-MM-DD (e.g. 2024-05-31) or DD/MM/YYYY.")
        % {"value": value}
    )


def parse_month(value) -> date | None:
    """A month as its first day: "2024-05", "05/2024", "May 2024", or any date in that month."""
    if value is None or value == "":
        return None
    if isinstance(value, (datetime, date)):
        day = value.date() if isinstance(value, datetime) else value
        return day.replace(day=1)
    text = str(value).translate(_BANGLA_DIGITS).strip()
    for fmt in _MONTH_FORMATS:
        try:
            return datetime.strptime(text, fmt).date().replace(day=1)
        except ValueError:
            continue
    try:
        day = parse_date(text)
    except ValidationError:
        raise ValidationError(
            _("“%(value)s” is not a month; write it as YYYY-MM (e.g. 2024-05).") % {"value": value}
        ) from None
    return day.replace(day=1) if day else None


_TRUE = {"yes", "y", "true", "1", "x", "হ্যাঁ", "হাঁ", "formal"}
_FALSE = {"no", "n", "false", "0", "না", "informal"}


def parse_bool(value, what: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    text = cell_text(value).translate(_BANGLA_DIGITS).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValidationError(_("%(what)s must be yes or no, not “%(value)s”.") % {"what": what, "value": value})


def parse_choice(value, choices, synonyms: dict[str, str] | None = None) -> str:
    """Accept a choice by its stored value, its label, or a synonym; case and spacing ignored."""
    text = " ".join(cell_text(value).replace("_", " ").split()).casefold()
    if not text:
        return ""
    for stored, label in choices:
        if text in {stored.replace("_", " ").casefold(), str(label).casefold()}:
            return stored
    if synonyms and text in synonyms:
        return synonyms[text]
    allowed = ", ".join(stored for stored, _label in choices)
    raise ValidationError(_("“%(value)s” is not one of: %(allowed)s.") % {"value": value, "allowed": allowed})
