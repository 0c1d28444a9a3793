"""Currency: amounts are kept in BDT; USD figures convert each amount at the rate of its own day, read
from the rate table (finance.models.ExchangeRate, replacing the former single BDT_PER_USD setting), so
past figures keep the rate of their day when a new rate is entered.

- **The rate of a day** (`bdt_per_usd(on)`): the rate with the latest `valid_from` on or before the
  day; a day before the first rate takes the first rate. The table is small and changes rarely: it is
  held per process for RATE_CACHE_SECONDS, dropped at once when a rate is saved or deleted in that
  process, and never used inside a transaction (which may hold rates not yet committed). Other
  processes see a new rate within those seconds; the set-based conversion below, the rates page and
  the API read the table itself, so they see it at once.
- **Set-based conversion** (`rate_on(...)`, `in_usd(...)`): ORM expressions giving, for each row of a
  query, the rate of a date column, and an amount divided by it, so that a sum in USD converts each
  amount at the rate of its own day inside one SQL query (SQLite and PostgreSQL).
- **Keeping the table** (`add_rate`, `update_rate`): the PMU's finance officers and PMU officers (of no
  PO). `valid_from` is unique; the rate is above zero with at most 4 decimals; a rate more than
  RATE_JUMP_WARNING away from the one in force before it is saved with a warning (`jump_warning`),
  never refused. A rate's date or value cannot change, and no rate can be added, for days an IFR
  already finalised or sent covers (`locking_report`): the Bank received those figures. Every change is
  kept in the history (simple_history).
- **Reading it**: the PMU's side (programme-wide readers, the PMU's finance officers) and PO staff (and
  a PO's finance officer).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import DecimalField, Expression, F, Func, OuterRef, Subquery
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core.errors import ActionRefused, Forbidden
from core.integrity import refusing_races
from core.roles import Role
from finance.models import ExchangeRate, FinancialReport
from finance.models.common import is_pmu_money_side, may_read_money

# Seconds a process keeps the rate table before reading it again.
RATE_CACHE_SECONDS = 30
# A rate further than this from the previous one (as a fraction) is saved with a warning.
RATE_JUMP_WARNING = Decimal("0.10")
# Rates are entered with at most this many decimals (the column holds 4).
RATE_DECIMALS = 4
EDITABLE_FIELDS = ("valid_from", "bdt_per_usd", "source")
LOCKING_STATUSES = ("finalised", "sent")

RATE_FIELD: DecimalField = DecimalField(max_digits=10, decimal_places=RATE_DECIMALS)
# A BDT amount divided by a rate: room for any amount, with sub-cent precision.
USD_FIELD: DecimalField = DecimalField(max_digits=28, decimal_places=6)


class NoExchangeRate(LookupError):
    """The rate table is empty: no USD figure can be given."""

    def __str__(self) -> str:
        return _("No BDT/USD exchange rate has been entered: add one on the exchange rates page.")


# --- Who --------------------------------------------------------------------------------------------


# The PMU's side and a PO's staff and finance officers read the rates.
may_read_rates = may_read_money


# The PMU's finance officers and PMU officers, never anyone belonging to a PO.
may_keep_rates = is_pmu_money_side


def _require_keeper(user) -> None:
    if not may_keep_rates(user):
        raise Forbidden(_("Only the PMU's finance officers and PMU officers enter exchange rates."))


# --- The rate of a day -------------------------------------------------------------------------------

_lock = threading.Lock()
_cached: tuple[float, tuple[date, ...], tuple[Decimal, ...]] | None = None


def clear_cache() -> None:
    """Forget this process's copy of the table (done on every save and delete of a rate)."""
    global _cached
    with _lock:
        _cached = None


def _read_table() -> tuple[tuple[date, ...], tuple[Decimal, ...]]:
    rows = list(ExchangeRate.objects.order_by("valid_from").values_list("valid_from", "bdt_per_usd"))
    return tuple(day for day, _rate in rows), tuple(rate for _day, rate in rows)


def _table() -> tuple[tuple[date, ...], tuple[Decimal, ...]]:
    """The table sorted by date: this process's copy while fresh, read again otherwise. Inside a
    transaction it is always read (the transaction may have written rates others cannot see)."""
    global _cached
    if connection.in_atomic_block:
        return _read_table()
    now = time.monotonic()
    with _lock:
        cached = _cached
    if cached is not None and now - cached[0] < RATE_CACHE_SECONDS:
        return cached[1], cached[2]
    days, values = _read_table()
    with _lock:
        _cached = (now, days, values)
    return days, values


def bdt_per_usd(on: date) -> Decimal:
    """BDT per USD on the day: the rate with the latest `valid_from` on or before it; before the first
    rate, the first rate. Raises NoExchangeRate when the table is empty."""
    days, values = _table()
    if not days:
        raise NoExchangeRate
    index = bisect_right(days, on) - 1
    return values[max(index, 0)]


def rate_in_force(on: date) -> ExchangeRate | None:
    """The row whose rate applies on the day (read from the table, never from the cache)."""
    return (
        ExchangeRate.objects.filter(valid_from__lte=on).order_by("-valid_from").first()
        or ExchangeRate.objects.order_by("valid_from").first()
    )


def to_usd(amount: Decimal, on: date) -> Decimal:
    """A BDT amount of a day in USD (unrounded)."""
    return Decimal(amount) / bdt_per_usd(on)


def rates_in_force(start: date | None, end: date) -> list[ExchangeRate]:
    """The rates that apply to some day from `start` (None: from the beginning) to `end`, oldest first:
    the one in force on `start` (or the first) and every later one from on or before `end`."""
    table = ExchangeRate.objects.select_related("created_by").order_by("valid_from")
    if start is not None:
        in_force = table.filter(valid_from__lte=start).order_by("-valid_from").first()
        if in_force is not None:
            table = table.filter(valid_from__gte=in_force.valid_from)
    chosen = list(table.filter(valid_from__lte=end))
    if not chosen:  # every rate starts after `end`: the first one applies
        first = table.first()
        chosen = [first] if first is not None else []
    return chosen


# --- Set-based conversion ----------------------------------------------------------------------------


def _outer(day: Any) -> Any:
    return OuterRef(day) if isinstance(day, str) else day


def rate_on(day: str | Expression | OuterRef) -> Coalesce:
    """The rate of the day named by `day` for each row of the query it is used in: a field name of
    that query's model (e.g. "disbursed_on", "proposal__sub_project__award_date"), or an OuterRef /
    expression. Latest `valid_from` on or before the day, else the first rate; NULL if no rate exists.

    `FinancialSupport.objects.annotate(rate=rate_on("disbursed_on"))`."""
    ref = _outer(day)
    in_force = (
        ExchangeRate.objects.filter(valid_from__lte=ref).order_by("-valid_from").values("bdt_per_usd")[:1]
    )
    first = ExchangeRate.objects.order_by("valid_from").values("bdt_per_usd")[:1]
    return Coalesce(
        Subquery(in_force, output_field=RATE_FIELD),
        Subquery(first, output_field=RATE_FIELD),
        output_field=RATE_FIELD,
    )


class _Divided(Func):
    """`amount / rate` in decimal arithmetic. SQLite stores whole numbers as integers and would divide
    them as integers, so there the amount is made REAL first."""

    arg_joiner = " / "
    template = "(%(expressions)s)"
    output_field = USD_FIELD

    def as_sqlite(self, compiler, connection, **extra_context):
        amount, rate = self.get_source_expressions()
        amount_sql, amount_params = compiler.compile(amount)
        rate_sql, rate_params = compiler.compile(rate)
        return f"(CAST({amount_sql} AS REAL) / {rate_sql})", (*amount_params, *rate_params)


def in_usd(amount: str | Combinable, day: str | Expression | OuterRef) -> Func:
    """A BDT amount (field name or expression) in USD at the rate of its row's day (see `rate_on`):
    `Sum(in_usd("amount", "disbursed_on"))` converts each amount at the rate of its own day."""
    return _Divided(F(amount) if isinstance(amount, str) else amount, rate_on(day))


def rate_on_sql(day: str) -> str:
    """`rate_on` in plain SQL, for statements written by hand (monitoring's snapshot looks up each
    day's rate once, not once per row): the rate of the day the SQL expression `day` names, by the
    same rule; NULL if no rate exists."""
    table = ExchangeRate._meta.db_table
    return (
        f"COALESCE((SELECT x.bdt_per_usd FROM {table} x WHERE x.valid_from <= {day} "  # noqa: S608 - names
        f"ORDER BY x.valid_from DESC LIMIT 1), "
        f"(SELECT x.bdt_per_usd FROM {table} x ORDER BY x.valid_from LIMIT 1))"
    )


def in_usd_sql(amount: str, rate: str) -> str:
    """`in_usd`'s division in plain SQL, as `_Divided` writes it on this database."""
    if connection.vendor == "sqlite":
        return f"(CAST({amount} AS REAL) / {rate})"
    return f"({amount} / {rate})"


def usd_total(value: Decimal | float | None) -> Decimal:
    """A sum of `in_usd(...)` read from the database; None (a sum over rows) means no rate exists."""
    if value is None:
        raise NoExchangeRate
    return Decimal(value)


# --- Keeping the table -------------------------------------------------------------------------------


def rate_text(rate: Decimal) -> str:
    """A rate as people write it: at least 2 decimals, up to 4 (117.00, 109.5 → 109.50, 121.8750)."""
    normalized = Decimal(rate).normalize()
    exponent = normalized.as_tuple().exponent
    decimals = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{Decimal(rate):.{min(decimals, RATE_DECIMALS)}f}"


def locking_report(*days: date) -> FinancialReport | None:
    """The latest IFR already finalised or sent whose quarter ends on or after the earliest of the
    days: its figures used the rates from then on, so those can no longer change."""
    earliest = min(days)
    return (
        FinancialReport.objects.filter(status__in=LOCKING_STATUSES, quarter_end__gte=earliest)
        .order_by("-quarter_end", "-version")
        .first()
    )


def _refuse_if_locked(*days: date) -> None:
    report = locking_report(*days)
    if report is not None:
        raise ActionRefused(
            _(
                "The rates from %(day)s on were used by %(report)s (quarter ending %(end)s), which is "
                "already %(status)s: the Bank has those figures. A rate can be added or changed only "
                "from the day after the last finalised quarter; for an error in a finalised report, "
                "prepare a corrected version of it."
            )
            % {
                "day": min(days).isoformat(),
                "report": report.reference,
                "end": report.quarter_end.isoformat(),
                "status": report.get_status_display(),
            },
            code="locked",
        )


def check_values(data: dict[str, Any]) -> None:
    """The shape of a rate: a date, and above zero with at most 4 decimals (each error names its
    field)."""
    errors: dict[str, str] = {}
    if "valid_from" in data and not isinstance(data["valid_from"], date):
        errors["valid_from"] = _("Enter the date the rate applies from.")
    if "bdt_per_usd" in data:
        rate = data["bdt_per_usd"]
        if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
            errors["bdt_per_usd"] = _("The rate must be above zero (BDT for one USD).")
        elif -int(rate.normalize().as_tuple().exponent) > RATE_DECIMALS:
            errors["bdt_per_usd"] = _("Give the rate with at most %(n)s decimals.") % {"n": RATE_DECIMALS}
        elif rate >= Decimal("1000000"):
            errors["bdt_per_usd"] = _("The rate must be below 1,000,000 BDT for one USD.")
    if errors:
        raise ValidationError(errors)


def _check_date_free(valid_from: date, exclude_pk: int | None = None) -> None:
    taken = ExchangeRate.objects.filter(valid_from=valid_from)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError(
            {
                "valid_from": _("A rate valid from %(day)s is already entered: edit that one instead.")
                % {"day": valid_from.isoformat()}
            }
        )


def previous_rate(valid_from: date, exclude_pk: int | None = None) -> ExchangeRate | None:
    """The rate in force the day before `valid_from` (another row than `exclude_pk`)."""
    rates = ExchangeRate.objects.filter(valid_from__lt=valid_from)
    if exclude_pk is not None:
        rates = rates.exclude(pk=exclude_pk)
    return rates.order_by("-valid_from").first()


def jump_warning(rate: ExchangeRate) -> str | None:
    """A warning (never a refusal) when a rate is more than RATE_JUMP_WARNING away from the one in force
    before it: a rate typed wrong would move every USD figure from its date on."""
    before = previous_rate(rate.valid_from, exclude_pk=rate.pk)
    if before is None or not before.bdt_per_usd:
        return None
    change = (Decimal(rate.bdt_per_usd) - before.bdt_per_usd) / before.bdt_per_usd
    if abs(change) <= RATE_JUMP_WARNING:
        return None
    return _(
        "The rate %(rate)s is %(change)s%% %(direction)s the previous one (%(previous)s from %(day)s): "
        "more than %(limit)s%%. It was saved; check it was typed right."
    ) % {
        "rate": rate_text(rate.bdt_per_usd),
        "change": f"{abs(change) * 100:.1f}",
        "direction": _("above") if change > 0 else _("below"),
        "previous": rate_text(before.bdt_per_usd),
        "day": before.valid_from.isoformat(),
        "limit": f"{RATE_JUMP_WARNING * 100:.0f}",
    }


def add_rate(*, user, data: dict[str, Any]) -> ExchangeRate:
    """Enter a rate valid from a date (PMU finance officers and PMU officers)."""
    _require_keeper(user)
    values = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    for required in ("valid_from", "bdt_per_usd"):
        if values.get(required) in (None, ""):
            raise ValidationError({required: _("This field is required.")})
    values["source"] = (values.get("source") or "").strip()
    check_values(values)
    with transaction.atomic():
        _check_date_free(values["valid_from"])
        _refuse_if_locked(values["valid_from"])
        rate = ExchangeRate(**values, created_by=user)
        rate._history_user = user  # type: ignore[attr-defined]
        rate._change_reason = "added"  # type: ignore[attr-defined]
        with refusing_races(lambda: _check_date_free(values["valid_from"]), where="exchange rate"):
            rate.save()
    return rate


def update_rate(*, user, rate: ExchangeRate, data: dict[str, Any]) -> ExchangeRate:
    """Correct a rate. Its date and value cannot change when an IFR finalised or sent covers the
    days they apply to (from the earlier of the old and new dates); its source always can."""
    _require_keeper(user)
    values = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    if "source" in values:
        values["source"] = (values["source"] or "").strip()
    check_values(values)
    with transaction.atomic():
        locked = ExchangeRate.objects.select_for_update().get(pk=rate.pk)
        changed = [
            name for name in EDITABLE_FIELDS if name in values and getattr(locked, name) != values[name]
        ]
        if not changed:
            return locked
        if "valid_from" in changed:
            _check_date_free(values["valid_from"], exclude_pk=locked.pk)
        if {"valid_from", "bdt_per_usd"} & set(changed):
            _refuse_if_locked(locked.valid_from, values.get("valid_from", locked.valid_from))
        for name in changed:
            setattr(locked, name, values[name])
        locked._history_user = user  # type: ignore[attr-defined]
        locked._change_reason = "edited"  # type: ignore[attr-defined]
        with refusing_races(
            lambda: _check_date_free(locked.valid_from, exclude_pk=locked.pk), where="exchange rate"
        ):
            locked.save(update_fields=changed)
    return locked


@dataclass(frozen=True)
class RateRow:
    """A rate as the list shows it: with the day its period ends (the day before the next rate)."""

    rate: ExchangeRate
    valid_to: date | None
    locked: bool

    @property
    def text(self) -> str:
        return rate_text(self.rate.bdt_per_usd)


def rate_rows(rates: list[ExchangeRate]) -> list[RateRow]:
    """The rates (newest first) with the end of each one's period and whether a finalised IFR covers
    it (two queries whatever the number of rates)."""
    last_locked = (
        FinancialReport.objects.filter(status__in=LOCKING_STATUSES)
        .order_by("-quarter_end")
        .values_list("quarter_end", flat=True)
    ).first()
    rows = []
    next_from: date | None = None
    for rate in sorted(rates, key=lambda r: r.valid_from, reverse=True):
        valid_to = date.fromordinal(next_from.toordinal() - 1) if next_from else None
        rows.append(RateRow(rate, valid_to, bool(last_locked and last_locked >= rate.valid_from)))
        next_from = rate.valid_from
    return rows


# --- Registration ------------------------------------------------------------------------------------


def _forget(**_kwargs: Any) -> None:
    clear_cache()
    transaction.on_commit(clear_cache)


def ready() -> None:
    from core.navigation import NavItem, register

    post_save.connect(_forget, sender=ExchangeRate, dispatch_uid="finance.rates.saved")
    post_delete.connect(_forget, sender=ExchangeRate, dispatch_uid="finance.rates.deleted")
    register(
        NavItem(
            _lazy("Exchange rates"),
            "finance:rate-list",
            _lazy("BDT per USD by date: each USD figure uses the rate of its own day."),
            roles=(Role.FINANCE_OFFICER, Role.PMU_OFFICER),
            condition=may_read_rates,
            order=79,
        ),
        group=_lazy("Money"),
    )
