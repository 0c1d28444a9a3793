"""The same ME must not be financed twice through two POs (SPEC 5).

An ME is suspected to be another if its normalised phone, its trade licence key, or its name key
within the same upazila equals the other's. Matching is set-based on indexed columns
(`phone`, `trade_licence_key`, `(upazila, name_key)`): one `IN (...)` query per key and per chunk of
candidates, then a hash join in memory; never a loop comparing rows.

Suspicions are stored as `DuplicateSuspect` pairs; the PMU confirms (the later ME becomes
`duplicate_of` the earlier one's original and stops counting) or dismisses them. A PO only ever
learns that a match exists in another PO, never which ME or whose data.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from enterprises.models import DuplicateStatus, DuplicateSuspect, Enterprise
from enterprises.permissions import require_pmu

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

    Open suspicions of these MEs are recomputed (an edited phone may clear one); pairs the PMU has
    confirmed or dismissed are left as decided. Runs inside the caller's transaction."""
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
            for match in result.matches.values():
                # A confirmed duplicate stands for its original: the pair is raised with the original.
                mine, theirs = candidate.duplicate_of_id or candidate.pk, match.duplicate_of_id or match.pk
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
        DuplicateSuspect.objects.open().involving_any(chunk).delete()
    # Decided pairs stay as they are (ignore_conflicts keeps the existing row).
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


# --- PMU decisions --------------------------------------------------------------------------------


def _lock_open(suspect: DuplicateSuspect, user) -> DuplicateSuspect:
    require_pmu(user, _("resolve suspected duplicates"))
    locked = DuplicateSuspect.objects.select_for_update().get(pk=suspect.pk)
    if locked.status != DuplicateStatus.SUSPECTED:
        raise ActionRefused(
            _("This pair was already resolved (%(status)s).") % {"status": locked.get_status_display()},
            code="wrong_state",
        )
    return locked


def confirm_duplicate(*, user, suspect: DuplicateSuspect, note: str = "") -> DuplicateSuspect:
    """The later ME is the same as the earlier one: it (and anything counted as it) now counts as
    the earlier ME's original, once."""
    with transaction.atomic():
        locked = _lock_open(suspect, user)
        duplicate = Enterprise.objects.select_for_update().get(pk=locked.enterprise_id)
        original = Enterprise.objects.select_for_update().get(pk=locked.matched_enterprise_id)
        root_id = original.duplicate_of_id or original.pk
        if duplicate.duplicate_of_id and duplicate.duplicate_of_id != root_id:
            raise ActionRefused(
                _(
                    "%(me)s is already confirmed as a duplicate of another enterprise; "
                    "reopen that decision first."
                )
                % {"me": duplicate.po_code},
                code="wrong_state",
            )
        duplicate.duplicate_of_id = root_id
        duplicate.save(update_fields=["duplicate_of", "updated_at"])
        # MEs already counted as this one now count as the root, so no chain of duplicates forms.
        Enterprise.objects.filter(duplicate_of_id=duplicate.pk).update(duplicate_of_id=root_id)
        _resolve(locked, user, DuplicateStatus.CONFIRMED, note)
    return locked


def dismiss_duplicate(*, user, suspect: DuplicateSuspect, note: str = "") -> DuplicateSuspect:
    with transaction.atomic():
        locked = _lock_open(suspect, user)
        _resolve(locked, user, DuplicateStatus.DISMISSED, note)
    return locked


def reopen_duplicate(*, user, suspect: DuplicateSuspect, note: str = "") -> DuplicateSuspect:
    """Undo a decision; a confirmed duplicate counts again on its own."""
    require_pmu(user, _("resolve suspected duplicates"))
    with transaction.atomic():
        locked = DuplicateSuspect.objects.select_for_update().get(pk=suspect.pk)
        if locked.status == DuplicateStatus.SUSPECTED:
            raise ActionRefused(_("This pair is still open."), code="wrong_state")
        if locked.status == DuplicateStatus.CONFIRMED:
            duplicate = Enterprise.objects.select_for_update().get(pk=locked.enterprise_id)
            duplicate.duplicate_of = None
            duplicate.save(update_fields=["duplicate_of", "updated_at"])
        locked.status = DuplicateStatus.SUSPECTED
        locked.resolved_by = None
        locked.resolved_at = None
        locked.resolution_note = note
        locked.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])
    return locked


def _resolve(suspect: DuplicateSuspect, user, status: str, note: str) -> None:
    suspect.status = status
    suspect.resolved_by = user
    suspect.resolved_at = timezone.now()
    suspect.resolution_note = note
    suspect.save(update_fields=["status", "resolved_by", "resolved_at", "resolution_note"])


def recheck_after_commit(enterprise_ids) -> None:
    """Queue a second look for duplicates once the current transaction has committed."""
    from enterprises.tasks import reflag_duplicates

    ids = sorted(set(enterprise_ids))
    if ids:
        transaction.on_commit(lambda: reflag_duplicates.delay(ids))
