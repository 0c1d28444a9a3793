"""The same ME must not be financed twice through two POs (SPEC 5).

An ME is suspected to be another if its normalised phone, its trade licence key, or its name key
within the same upazila equals the other's. The rule is written once (MATCH_ON) and applied by one
SQL statement on indexed columns (`phone`, `trade_licence_key`, `(upazila, name_key)`) whatever the
number of candidates, never by a loop comparing rows: saved MEs by their ids (`flag_duplicates`,
after a save or an import's write), rows not saved yet by their keys (`find_matches`, an import's
check).

Suspicions are stored as `DuplicateSuspect` pairs; the PMU confirms (the later ME becomes
`duplicate_of` the earlier one's original and stops counting) or dismisses them, and may reopen a
decision: a rule table on core.lifecycle (DUPLICATE_RULES below), so each decision is logged with
who, when, from, to and the note. A PO only ever learns that a match exists in another PO, never which
ME or whose data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
from core.planner import id_set, local_settings
from core.roles import Role
from enterprises.models import DuplicateStatus, DuplicateSuspect, Enterprise

CHUNK = 500


@dataclass(frozen=True)
class MatchKeys:
    """What identifies an enterprise for matching; `pk` is None for a row not yet saved."""

    pk: int | None
    partner_organization_id: int
    phone: str
    trade_licence_key: str
    upazila_id: int | None
    name_key: str


@dataclass
class Match:
    pk: int
    partner_organization_id: int
    duplicate_of_id: int | None
    same_phone: bool = False
    same_trade_licence: bool = False
    same_name_and_upazila: bool = False


@dataclass
class MatchResult:
    matches: dict[int, Match] = field(default_factory=dict)


# What a stored pair says about why it was raised, recomputed for open pairs.
REASON_FIELDS = ["same_phone", "same_trade_licence", "same_name_and_upazila", "cross_po"]
# The matching rule, once: when a candidate `c` and another ME `o` share a key. An empty key
# matches nothing; `c.pk` is NULL for a row not saved yet. The empty key is excluded on both sides,
# though one would do: most MEs have no licence, and PostgreSQL's estimates count them otherwise.
MATCH_ON = {
    "same_phone": "o.phone = c.phone AND c.phone <> '' AND o.phone <> ''",
    "same_trade_licence": (
        "o.trade_licence_key = c.trade_licence_key "
        "AND c.trade_licence_key <> '' AND o.trade_licence_key <> ''"
    ),
    "same_name_and_upazila": (
        "o.upazila_id = c.upazila_id AND o.name_key = c.name_key AND c.name_key <> '' AND o.name_key <> ''"
    ),
}


def _matched_sql(columns: str) -> str:
    """A row per candidate (the CTE `candidates c`) and other ME (`o`: its id, PO and original)
    sharing a key, with these columns and one 0/1 column per reason (MATCH_ON's names)."""
    me = Enterprise._meta.db_table
    joins = []
    for reason, condition in MATCH_ON.items():
        match = f"{condition} AND (c.pk IS NULL OR o.id <> c.pk)"
        if connection.vendor == "postgresql":
            # Each candidate's own index lookups, whatever PostgreSQL estimates: a few thousand
            # candidates each matching a few MEs, where a join plan would sort or hash the whole
            # table (0.3 s at 800,000 MEs). OFFSET 0 keeps the subquery from being merged into a join.
            found = f"SELECT o.id, o.partner_organization_id, o.duplicate_of_id FROM {me} o WHERE {match}"  # noqa: S608
            source = f"CROSS JOIN LATERAL ({found} OFFSET 0) o"
        else:  # SQLite looks each candidate up in the index anyway
            source = f"JOIN {me} o ON {match}"
        flags = ", ".join(f"{int(name == reason)} AS {name}" for name in MATCH_ON)
        joins.append(f"SELECT {columns}, {flags} FROM candidates c {source}")  # noqa: S608 (names)
    return " UNION ALL ".join(joins)


def _keys_table(candidates: Sequence[MatchKeys]) -> tuple[str, list[Any]]:
    """The candidates as a table (number in the list, pk, phone, licence key, upazila, name key),
    with one parameter per column (PostgreSQL) or one in all (SQLite)."""
    columns = [
        list(range(len(candidates))),
        [c.pk for c in candidates],
        [c.phone or "" for c in candidates],
        [c.trade_licence_key or "" for c in candidates],
        [c.upazila_id for c in candidates],
        [c.name_key or "" for c in candidates],
    ]
    names = ["number", "pk", "phone", "trade_licence_key", "upazila_id", "name_key"]
    if connection.vendor == "postgresql":
        types = ["int", "bigint", "text", "text", "bigint", "text"]
        arrays = ", ".join(f"CAST(%s AS {type_}[])" for type_ in types)
        return f"SELECT * FROM unnest({arrays}) AS t({', '.join(names)})", columns  # noqa: S608 (names)
    fields = ", ".join(f"json_extract(value, '$[{n}]') AS {name}" for n, name in enumerate(names))
    rows = json.dumps(list(zip(*columns, strict=True)))
    return f"SELECT {fields} FROM json_each(%s)", [rows]  # noqa: S608 (names)


def _matching(cursor, sql: str, params: list[Any]) -> list[tuple]:
    """Run a matching statement and return its rows. On PostgreSQL without JIT compilation: the
    planner prices a few thousand index lookups (estimated, not real, matches) above the JIT
    thresholds and spent 0.5 s compiling a statement that runs in 30 ms."""
    with local_settings(cursor, jit="off"):
        cursor.execute(sql, params)
        return cursor.fetchall()


def find_matches(candidates: Sequence[MatchKeys]) -> list[MatchResult]:
    """For each candidate, the existing MEs (any PO, itself excluded) that share one of its keys:
    one query for all of them (an import's chunk, or a form's one row)."""
    results = [MatchResult() for _candidate in candidates]
    if not candidates:
        return results
    table, params = _keys_table(candidates)
    reasons = ", ".join(f"MAX({name})" for name in MATCH_ON)
    matched = _matched_sql("c.number, o.id, o.partner_organization_id, o.duplicate_of_id")
    sql = f"""WITH candidates AS ({table}), matched AS ({matched})
               SELECT number, id, partner_organization_id, duplicate_of_id, {reasons}
                 FROM matched GROUP BY 1, 2, 3, 4 ORDER BY 1, 2"""  # noqa: S608 (names)
    with connection.cursor() as cursor:
        for number, pk, po_id, duplicate_of_id, *flags in _matching(cursor, sql, params):
            results[number].matches[pk] = Match(pk, po_id, duplicate_of_id, *map(bool, flags))
    return results


def _pairs_sql(ids_sql: str) -> str:
    """Every pair (later, earlier) these saved MEs form with another ME sharing one of their keys,
    each side standing for its original if it is a confirmed duplicate, with why it was raised and
    whether the pair's two MEs are in different POs. The two POs are looked up per pair (a few
    pairs per import): joined, PostgreSQL expected thousands of pairs and read the whole table."""
    me = Enterprise._meta.db_table
    reasons = ", ".join(f"MAX({name}) AS {name}" for name in MATCH_ON)
    return f"""
        WITH candidates AS (
            SELECT id AS pk, phone, trade_licence_key, upazila_id, name_key,
                   COALESCE(duplicate_of_id, id) AS root
              FROM {me} WHERE id IN ({ids_sql})
        ),
        found AS ({_matched_sql("c.root AS mine, COALESCE(o.duplicate_of_id, o.id) AS theirs")}),
        pairs AS (
            SELECT CASE WHEN mine > theirs THEN mine ELSE theirs END AS later,
                   CASE WHEN mine > theirs THEN theirs ELSE mine END AS earlier,
                   {reasons}
              FROM found
             WHERE mine <> theirs
             GROUP BY 1, 2
        )
        SELECT p.later, p.earlier, {", ".join(f"p.{name}" for name in MATCH_ON)},
               CASE WHEN (SELECT partner_organization_id FROM {me} WHERE id = p.later)
                         <> (SELECT partner_organization_id FROM {me} WHERE id = p.earlier)
                    THEN 1 ELSE 0 END
          FROM pairs p"""  # noqa: S608 (names)


def flag_duplicates(enterprise_ids: Iterable[int]) -> int:
    """Record suspected pairs for these (saved) MEs; return how many open suspicions involve them.

    The pairs are found by one set-based query, however many MEs (an import's 10,000 alike). Open
    suspicions of these MEs are recomputed (an edited phone may clear one; one that still matches
    keeps its row and its history); pairs the PMU has confirmed or dismissed are left as decided.
    Runs inside the caller's transaction."""
    ids = sorted(set(enterprise_ids))
    if not ids:
        return 0
    ids_sql, ids_params = id_set(ids)
    with connection.cursor() as cursor:
        pairs = {
            (later, earlier): DuplicateSuspect(
                enterprise_id=later,
                matched_enterprise_id=earlier,
                cross_po=bool(cross_po),
                **{name: bool(flag) for name, flag in zip(MATCH_ON, flags, strict=True)},
            )
            for later, earlier, *flags, cross_po in _matching(cursor, _pairs_sql(ids_sql), ids_params)
        }
    involved = RawSQL(ids_sql, ids_params)  # noqa: S611 (the ids are a parameter)
    # An open pair that still matches keeps its row, and so its decisions history (a pair the PMU
    # reopened); its reasons are brought up to date. One that no longer matches goes.
    stale: list[int] = []
    changed: list[DuplicateSuspect] = []
    for existing in DuplicateSuspect.objects.open().involving_any(involved):
        fresh = pairs.get((existing.enterprise_id, existing.matched_enterprise_id))
        if fresh is None:
            stale.append(existing.pk)
        elif any(getattr(existing, name) != getattr(fresh, name) for name in REASON_FIELDS):
            for name in REASON_FIELDS:
                setattr(existing, name, getattr(fresh, name))
            changed.append(existing)
    if stale:  # through the ORM: each deletion leaves its tombstone for synchronising clients
        DuplicateSuspect.objects.filter(pk__in=stale).delete()
    # The table's trigger moves updated_at (core.updated_at): synchronising clients see new reasons.
    DuplicateSuspect.objects.bulk_update(changed, REASON_FIELDS, batch_size=CHUNK)
    # Pairs already stored, open or decided, stay as they are (ignore_conflicts keeps the row).
    DuplicateSuspect.objects.bulk_create(pairs.values(), batch_size=CHUNK, ignore_conflicts=True)
    return DuplicateSuspect.objects.open().involving_any(involved).count()


# --- What a user may learn ------------------------------------------------------------------------


@dataclass(frozen=True)
class Suspicion:
    """What the entering PO is told: a match in another PO (no detail), and matches in its own PO."""

    in_other_po: bool
    own_matches: list[Enterprise]

    def __bool__(self) -> bool:
        return self.in_other_po or bool(self.own_matches)


def suspicion_for(enterprise: Enterprise) -> Suspicion:
    """Open suspicions of one ME, told from the point of view of the ME's own PO."""
    open_pairs = DuplicateSuspect.objects.open().involving(enterprise)
    other_ids = {
        matched if mine == enterprise.pk else mine
        for mine, matched in open_pairs.values_list("enterprise_id", "matched_enterprise_id")
    }
    if not other_ids:
        return Suspicion(False, [])
    others = Enterprise.objects.filter(pk__in=other_ids)
    own = list(others.filter(partner_organization_id=enterprise.partner_organization_id).order_by("po_code"))
    return Suspicion(in_other_po=len(own) < len(other_ids), own_matches=own)


# --- PMU decisions, on the portal's one engine (core.lifecycle) ----------------------------------
#
# A PMU officer confirms a suspected pair (the later ME then counts as the earlier one's original) or
# dismisses it, and may reopen either decision. Each goes through
# `lifecycle.apply(suspect, action, user, comment=...)`, which logs who, when, from, to and the note.
# The row keeps the *current* decision (`resolved_by`, `resolved_at`, `resolution_note`): a reopened
# pair is open again, so these are cleared (the note becomes the reopening's), while the log keeps who
# decided what before.


def not_counted_as_another(suspect: DuplicateSuspect, **context: Any) -> None:
    """GUARD: a ME already confirmed as the duplicate of another enterprise is not confirmed as a
    duplicate of a third one; that decision is reopened first."""
    duplicate = Enterprise.objects.select_for_update().get(pk=suspect.enterprise_id)
    original = Enterprise.objects.select_for_update().get(pk=suspect.matched_enterprise_id)
    root_id = original.duplicate_of_id or original.pk
    if duplicate.duplicate_of_id and duplicate.duplicate_of_id != root_id:
        raise ActionRefused(
            _("%(me)s is already confirmed as a duplicate of another enterprise; reopen that decision first.")
            % {"me": duplicate.po_code},
            code="wrong_state",
        )


def _decided(suspect: DuplicateSuspect, context: dict[str, Any]) -> list[str]:
    suspect.resolved_by = context["_user"]
    suspect.resolved_at = timezone.now()
    suspect.resolution_note = context["_comment"]
    return ["resolved_by", "resolved_at", "resolution_note"]


def count_as_original(suspect: DuplicateSuspect, **context: Any) -> list[str]:
    """EFFECT: the later ME is the same as the earlier one: it (and anything counted as it) now
    counts as the earlier ME's original, once."""
    duplicate = Enterprise.objects.select_for_update().get(pk=suspect.enterprise_id)
    original = Enterprise.objects.get(pk=suspect.matched_enterprise_id)
    root_id = original.duplicate_of_id or original.pk
    duplicate.duplicate_of_id = root_id
    duplicate.save(update_fields=["duplicate_of", "updated_at"])
    # MEs already counted as this one now count as the root, so no chain of duplicates forms.
    Enterprise.objects.filter(duplicate_of_id=duplicate.pk).update(duplicate_of_id=root_id)
    return _decided(suspect, context)


def keep_both(suspect: DuplicateSuspect, **context: Any) -> list[str]:
    """EFFECT: two different enterprises; the pair is not raised again."""
    return _decided(suspect, context)


def undo_decision(suspect: DuplicateSuspect, **context: Any) -> list[str]:
    """EFFECT: the pair is open again; a confirmed duplicate counts again on its own."""
    if suspect.status == DuplicateStatus.CONFIRMED:
        duplicate = Enterprise.objects.select_for_update().get(pk=suspect.enterprise_id)
        duplicate.duplicate_of = None
        duplicate.save(update_fields=["duplicate_of", "updated_at"])
    suspect.resolved_by = None
    suspect.resolved_at = None
    suspect.resolution_note = context["_comment"]
    return ["resolved_by", "resolved_at", "resolution_note"]


PMU = {Role.PMU_OFFICER}
DUPLICATE_RULES = [
    lifecycle.rule(
        "confirm",
        _lazy("Confirm the duplicate"),
        [DuplicateStatus.SUSPECTED],
        DuplicateStatus.CONFIRMED,
        PMU,
        guards=("not_counted_as_another",),
        effect="count_as_original",
        style="danger",
    ),
    lifecycle.rule(
        "dismiss",
        _lazy("Dismiss: different enterprises"),
        [DuplicateStatus.SUSPECTED],
        DuplicateStatus.DISMISSED,
        PMU,
        effect="keep_both",
        style="secondary",
    ),
    lifecycle.rule(
        "reopen",
        _lazy("Reopen"),
        [DuplicateStatus.CONFIRMED, DuplicateStatus.DISMISSED],
        DuplicateStatus.SUSPECTED,
        PMU,
        effect="undo_decision",
        style="secondary",
        waits=False,
    ),
]

DUPLICATE_LIFECYCLE = lifecycle.register(
    lifecycle.Lifecycle(
        DuplicateSuspect,
        DUPLICATE_RULES,
        guards={"not_counted_as_another": not_counted_as_another},
        effects={
            "count_as_original": count_as_original,
            "keep_both": keep_both,
            "undo_decision": undo_decision,
        },
    )
)


def recheck_after_commit(enterprise_ids) -> None:
    """Queue a second look for duplicates once the current transaction has committed."""
    from core import outbox
    from enterprises.tasks import reflag_duplicates

    ids = sorted(set(enterprise_ids))
    if ids:
        outbox.enqueue(reflag_duplicates, ids)
