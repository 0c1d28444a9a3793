"""The same ME must not be financed twice through two POs (SPEC 5).

An ME is suspected to be another if its normalised phone, its trade licence key, or its name key
within the same upazila equals the other's. Matching is set-based on indexed columns
(`phone`, `trade_licence_key`, `(upazila, name_key)`): one `IN (...)` query per key and per chunk of
candidates, then a hash join in memory; never a loop comparing rows.

Suspicions are stored as `DuplicateSuspect` pairs; the PMU confirms (the later ME becomes
`duplicate_of` the earlier one's original and stops counting) or dismisses them, and may reopen a
decision: a rule table on core.lifecycle (DUPLICATE_RULES below), so each decision is logged with
who, when, from, to and the note. A PO only ever learns that a match exists in another PO, never which
ME or whose data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from core import lifecycle
from core.errors import ActionRefused
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
    duplicate_of_id: int | None = None


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

    def add(self, row: tuple, reason: str) -> None:
        pk, po_id, duplicate_of_id = row[0], row[1], row[2]
        match = self.matches.setdefault(pk, Match(pk, po_id, duplicate_of_id))
        setattr(match, reason, True)


def _chunks(values: Sequence, size: int = CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


_FIELDS = ("pk", "partner_organization_id", "duplicate_of_id")
# What a stored pair says about why it was raised, recomputed for open pairs.
REASON_FIELDS = ["same_phone", "same_trade_licence", "same_name_and_upazila", "cross_po"]


def find_matches(candidates: Sequence[MatchKeys]) -> list[MatchResult]:
    """For each candidate, the existing MEs (any PO, itself excluded) that share one of its keys."""
    by_phone: dict[str, list[tuple]] = defaultdict(list)
    by_licence: dict[str, list[tuple]] = defaultdict(list)
    by_name: dict[tuple[int, str], list[tuple]] = defaultdict(list)

    phones = sorted({c.phone for c in candidates if c.phone})
    for chunk in _chunks(phones):
        for row in Enterprise.objects.filter(phone__in=chunk).values_list(*_FIELDS, "phone"):
            by_phone[row[3]].append(row)
    licences = sorted({c.trade_licence_key for c in candidates if c.trade_licence_key})
    for chunk in _chunks(licences):
        for row in Enterprise.objects.filter(trade_licence_key__in=chunk).values_list(
            *_FIELDS, "trade_licence_key"
        ):
            by_licence[row[3]].append(row)
    names = sorted({(c.upazila_id, c.name_key) for c in candidates if c.name_key and c.upazila_id})
    for chunk in _chunks(names):
        # One query per chunk: the index on (upazila, name_key) serves the pair of IN lists; rows of
        # other (upazila, name) combinations are dropped by the exact-pair lookup below.
        queryset = Enterprise.objects.filter(
            upazila_id__in={u for u, _n in chunk}, name_key__in={n for _u, n in chunk}
        ).values_list(*_FIELDS, "upazila_id", "name_key")
        for row in queryset:
            by_name[(row[3], row[4])].append(row)

    results = []
    for candidate in candidates:
        result = MatchResult()
        for row in by_phone.get(candidate.phone, ()) if candidate.phone else ():
            result.add(row, "same_phone")
        for row in by_licence.get(candidate.trade_licence_key, ()) if candidate.trade_licence_key else ():
            result.add(row, "same_trade_licence")
        if candidate.name_key and candidate.upazila_id:
            for row in by_name.get((candidate.upazila_id, candidate.name_key), ()):
                result.add(row, "same_name_and_upazila")
        if candidate.pk is not None:
            result.matches.pop(candidate.pk, None)
        results.append(result)
    return results


def keys_of(enterprise: Enterprise) -> MatchKeys:
    return MatchKeys(
        pk=enterprise.pk,
        partner_organization_id=enterprise.partner_organization_id,
        phone=enterprise.phone,
        trade_licence_key=enterprise.trade_licence_key,
        upazila_id=enterprise.upazila_id,
        name_key=enterprise.name_key,
        duplicate_of_id=enterprise.duplicate_of_id,
    )


def flag_duplicates(enterprise_ids: Iterable[int]) -> int:
    """Record suspected pairs for these (saved) MEs; return how many open suspicions involve them.

    Open suspicions of these MEs are recomputed (an edited phone may clear one; one that still matches
    keeps its row and its history); pairs the PMU has confirmed or dismissed are left as decided.
    Runs inside the caller's transaction."""
    ids = sorted(set(enterprise_ids))
    if not ids:
        return 0
    pairs: dict[tuple[int, int], DuplicateSuspect] = {}
    for chunk in _chunks(ids):
        keys = [
            MatchKeys(*row)
            for row in Enterprise.objects.filter(pk__in=chunk).values_list(
                "pk",
                "partner_organization_id",
                "phone",
                "trade_licence_key",
                "upazila_id",
                "name_key",
                "duplicate_of_id",
            )
        ]
        for candidate, result in zip(keys, find_matches(keys), strict=True):
            own_pk = candidate.pk
            if own_pk is None:  # never: the keys were read from saved rows
                raise ValueError("flag_duplicates takes saved enterprises only")
            for match in result.matches.values():
                # A confirmed duplicate stands for its original: the pair is raised with the original.
                mine, theirs = candidate.duplicate_of_id or own_pk, match.duplicate_of_id or match.pk
                if mine == theirs:
                    continue
                later, earlier = max(mine, theirs), min(mine, theirs)
                pair = pairs.get((later, earlier))
                if pair is None:
                    pair = pairs[(later, earlier)] = DuplicateSuspect(
                        enterprise_id=later,
                        matched_enterprise_id=earlier,
                        cross_po=candidate.partner_organization_id != match.partner_organization_id,
                    )
                pair.same_phone |= match.same_phone
                pair.same_trade_licence |= match.same_trade_licence
                pair.same_name_and_upazila |= match.same_name_and_upazila
    # An open pair that still matches keeps its row, and so its decisions history (a pair the PMU
    # reopened); its reasons are brought up to date. One that no longer matches goes.
    stale: set[int] = set()
    changed: dict[int, DuplicateSuspect] = {}
    for chunk in _chunks(ids):
        for existing in DuplicateSuspect.objects.open().involving_any(chunk):
            fresh = pairs.get((existing.enterprise_id, existing.matched_enterprise_id))
            if fresh is None:
                stale.add(existing.pk)
            elif any(getattr(existing, name) != getattr(fresh, name) for name in REASON_FIELDS):
                for name in REASON_FIELDS:
                    setattr(existing, name, getattr(fresh, name))
                changed[existing.pk] = existing
    for chunk in _chunks(sorted(stale)):
        DuplicateSuspect.objects.filter(pk__in=chunk).delete()
    DuplicateSuspect.objects.bulk_update(changed.values(), REASON_FIELDS, batch_size=CHUNK)
    # Pairs already stored, open or decided, stay as they are (ignore_conflicts keeps the row).
    DuplicateSuspect.objects.bulk_create(pairs.values(), batch_size=CHUNK, ignore_conflicts=True)
    open_ids: set[int] = set()
    for chunk in _chunks(ids):
        open_ids.update(DuplicateSuspect.objects.open().involving_any(chunk).values_list("pk", flat=True))
    return len(open_ids)


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
