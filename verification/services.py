"""Business rules of verification that are not transitions: drawing a round and the PMU's policy.

Results of checks are transitions on the shared engine (`subprojects.workflow.apply`, rules in its
table, hooks in verification.checks). Pages, the API and tasks all call these functions; they raise
`ValidationError` by field (400) or `ActionRefused` (403 for the wrong role, 409 otherwise) and write
nothing when they refuse.
"""

from __future__ import annotations

import secrets
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.errors import ActionRefused
from core.permissions import is_pmu
from enterprises.models import Adoption, CommonServiceFacility, RecpProfile
from enterprises.validation import today
from subprojects import workflow
from subprojects.timeline import TimelineEntry
from verification import sampling
from verification.models import (
    CheckKind,
    CheckStatus,
    RoundStratum,
    VerificationCheck,
    VerificationPolicy,
    VerificationRound,
)

MAX_SEED = 2_147_483_647  # the largest value the seed column holds everywhere


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED) + 1


def _require_pmu(user, what: str) -> None:
    if not is_pmu(user):
        raise ActionRefused(_("Only PMU officers %(what)s.") % {"what": what}, code="forbidden")


def quarter_problems(year: int, quarter: int, *, on: date | None = None) -> dict[str, str]:
    """Why a sample cannot be drawn for this quarter now (by field), or {}."""
    if quarter not in (1, 2, 3, 4):
        return {"quarter": _("The quarter is 1, 2, 3 or 4.")}
    if year < 2000 or year > 2100:
        return {"year": _("Give the year in four digits, e.g. 2025.")}
    start, end = sampling.quarter_bounds(year, quarter)
    programme_start = settings.PROGRAMME_START
    if end < programme_start:
        return {
            "quarter": _("Q%(quarter)s %(year)s ended before the programme started (%(start)s).")
            % {"quarter": quarter, "year": year, "start": programme_start.strftime("%d %b %Y")}
        }
    if start > (on or today()):
        return {
            "quarter": _("Q%(quarter)s %(year)s has not started yet: it starts on %(start)s.")
            % {"quarter": quarter, "year": year, "start": start.strftime("%d %b %Y")}
        }
    return {}


def _labels(kind: str, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """What each sampled item is called, and its district: one query per kind. The label is stored
    data (kept if the PO deletes the record), so it is not translated."""
    if not ids:
        return {}
    if kind == CheckKind.ADOPTION:
        rows = Adoption.objects.filter(pk__in=ids).select_related("enterprise", "practice")
        return {
            a.pk: (
                f"{a.practice.code} · {a.practice.name} — {a.enterprise.po_code} · {a.enterprise.name}",
                a.enterprise.district_id,
            )
            for a in rows
        }
    if kind == CheckKind.PROFILE:
        rows = RecpProfile.objects.filter(pk__in=ids).select_related("enterprise")
        return {
            p.pk: (
                f"RECP profile — {p.enterprise.po_code} · {p.enterprise.name}",
                p.enterprise.district_id,
            )
            for p in rows
        }
    rows = CommonServiceFacility.objects.filter(pk__in=ids)
    return {f.pk: (f.name, f.district_id) for f in rows}


def draw_round(*, user, year: int, quarter: int, seed: int | None = None) -> VerificationRound:
    """Draw the quarter's sample (sampling rule in verification.sampling) and create its checks, in
    one transaction. PMU only; one round per quarter (409); the quarter must have started and not
    have ended before the programme started (400)."""
    _require_pmu(user, _("draw verification samples"))
    problems = quarter_problems(year, quarter)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        problems["seed"] = _("The seed is a whole number from 0 to %(max)s.") % {"max": MAX_SEED}
    if problems:
        raise ValidationError(problems)
    if VerificationRound.objects.filter(year=year, quarter=quarter).exists():
        raise ActionRefused(
            _("A sample has already been drawn for Q%(quarter)s %(year)s.")
            % {"quarter": quarter, "year": year},
            code="exists",
        )
    policy = VerificationPolicy.current()
    seed = new_seed() if seed is None else seed
    try:
        with transaction.atomic():
            round_ = VerificationRound.objects.create(
                year=year,
                quarter=quarter,
                seed=seed,
                margin_percent=policy.margin_percent,
                floor=policy.floor,
                drawn_by=user,
                drawn_at=timezone.now(),
            )
            strata = sampling.plan(
                year=year,
                quarter=quarter,
                seed=seed,
                margin_percent=policy.margin_percent,
                floor=policy.floor,
            )
            RoundStratum.objects.bulk_create(
                RoundStratum(
                    round=round_,
                    partner_organization_id=stratum.po_id,
                    adoptions=stratum.counts[CheckKind.ADOPTION],
                    profiles=stratum.counts[CheckKind.PROFILE],
                    facilities=stratum.counts[CheckKind.FACILITY],
                    sample_size=stratum.size,
                )
                for stratum in strata
            )
            checks = []
            for kind in sampling.KINDS:
                sampled = {pk: stratum.po_id for stratum in strata for pk in stratum.sample[kind]}
                labels = _labels(kind, list(sampled))
                for pk, po_id in sampled.items():
                    label, district_id = labels[pk]
                    checks.append(
                        VerificationCheck(
                            round=round_,
                            partner_organization_id=po_id,
                            kind=kind,
                            subject_label=label[:250],
                            district_id=district_id,
                            status_changed_at=round_.drawn_at,
                            **{f"{kind}_id": pk},
                        )
                    )
            VerificationCheck.objects.bulk_create(checks, batch_size=1000)
    except IntegrityError as exc:
        if not VerificationRound.objects.filter(year=year, quarter=quarter).exists():
            raise
        # Another PMU officer drew the same quarter at the same moment.
        raise ActionRefused(
            _("A sample has already been drawn for Q%(quarter)s %(year)s.")
            % {"quarter": quarter, "year": year},
            code="exists",
        ) from exc
    return round_


def update_policy(
    *, user, threshold_percent: Decimal, margin_percent: Decimal, floor: int
) -> VerificationPolicy:
    """The PMU changes the policy; the change is kept in its history. Rounds already drawn keep the
    margin and floor they were drawn with."""
    _require_pmu(user, _("change the verification policy"))
    with transaction.atomic():
        policy = VerificationPolicy.current()
        policy.threshold_percent = threshold_percent
        policy.margin_percent = margin_percent
        policy.floor = floor
        policy.full_clean()
        policy._history_user = user
        policy.save()
    return policy


def check_timeline(check: VerificationCheck) -> list[TimelineEntry]:
    """The check's audit trail: its transitions, newest first (results are only ever recorded by one)."""
    states = dict(CheckStatus.choices)
    entries = [
        TimelineEntry(
            t.at,
            t.actor.get_display_name() if t.actor else _("the portal"),
            "transition",
            _("%(action)s: %(from)s → %(to)s")
            % {
                "action": workflow.action_label(VerificationCheck, t.action),
                "from": states.get(t.from_state, t.from_state),
                "to": states.get(t.to_state, t.to_state),
            },
            comment=t.comment,
            action=t.action,
            from_state=t.from_state,
            to_state=t.to_state,
        )
        for t in check.transitions.select_related("actor")
    ]
    return sorted(entries, key=lambda entry: entry.at, reverse=True)
