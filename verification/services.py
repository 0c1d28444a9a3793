"""Business rules of verification that are not transitions: drawing a round, a round's summary (its
strata, results and rates, for the page and the API alike) and the PMU's policy.

Results of checks are transitions on the shared engine (`core.lifecycle.apply`; the table, its
guard and effect are in verification.checks). Pages, the API and tasks all call these functions; they raise
`ValidationError` by field (400) or `ActionRefused` (403 for the wrong role, 409 otherwise) and write
nothing when they refuse.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from core import lifecycle
from core.errors import ActionRefused
from core.models import PartnerOrganization
from enterprises.models import Adoption, CommonServiceFacility, RecpProfile
from enterprises.permissions import require_pmu
from enterprises.validation import today
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
from verification.rates import Rate, confirmation_rates, overall

MAX_SEED = 2_147_483_647  # the largest value the seed column holds everywhere


def new_seed() -> int:
    return secrets.randbelow(MAX_SEED) + 1


def quarter_problems(year: int, quarter: int, *, on: date | None = None) -> dict[str, str]:
    """Why a sample cannot be drawn for this quarter now (by field), or {}: only a quarter that is
    over (its last day before `on`, today by default) and did not end before the programme started.
    Drawing earlier would leave out what is still reported for the quarter."""
    if quarter not in (1, 2, 3, 4):
        return {"quarter": _("The quarter is 1, 2, 3 or 4.")}
    if year < 2000 or year > 2100:
        return {"year": _("Give the year in four digits, e.g. 2025.")}
    start, end = sampling.quarter_bounds(year, quarter)
    programme_start = settings.PROGRAMME_START
    if end < programme_start:
        return {
            "quarter": _("Q%(quarter)s %(year)s ended before the programme started (%(start)s).")
            % {"quarter": quarter, "year": year, "start": date_format(programme_start, "DATE_FORMAT")}
        }
    on = on or today()
    if start > on:
        return {
            "quarter": _("Q%(quarter)s %(year)s has not started yet: it starts on %(start)s.")
            % {"quarter": quarter, "year": year, "start": date_format(start, "DATE_FORMAT")}
        }
    if end >= on:
        return {
            "quarter": _(
                "Q%(quarter)s %(year)s is not over yet: it ends on %(end)s. Draw its sample from the "
                "next day on, so that everything reported for it can be sampled."
            )
            % {"quarter": quarter, "year": year, "end": date_format(end, "DATE_FORMAT")}
        }
    return {}


def _labels(kind: str, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """What each sampled item is called, and its district: one query per kind. The label is stored
    data (kept if the PO deletes the record): codes and names only, no words of any language; pages
    show it after the kind (`get_kind_display`)."""
    if not ids:
        return {}
    if kind == CheckKind.ADOPTION:
        adoptions = Adoption.objects.filter(pk__in=ids).select_related("enterprise", "practice")
        return {
            a.pk: (
                f"{a.practice.code} · {a.practice.name} — {a.enterprise.po_code} · {a.enterprise.name}",
                a.enterprise.district_id,
            )
            for a in adoptions
        }
    if kind == CheckKind.PROFILE:
        profiles = RecpProfile.objects.filter(pk__in=ids).select_related("enterprise")
        return {
            p.pk: (f"{p.enterprise.po_code} · {p.enterprise.name}", p.enterprise.district_id)
            for p in profiles
        }
    facilities = CommonServiceFacility.objects.filter(pk__in=ids)
    return {f.pk: (f.name, f.district_id) for f in facilities}


def draw_round(*, user, year: int, quarter: int, seed: int | None = None) -> VerificationRound:
    """Draw the quarter's sample (sampling rule in verification.sampling) and create its checks, in
    one transaction. PMU only; one round per quarter (409); the quarter must be over and not have
    ended before the programme started (400). Draws run one at a time (the policy row is locked), so
    two draws at the same moment cannot both sample the same item."""
    require_pmu(user, _("draw verification samples"))
    problems = quarter_problems(year, quarter)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        problems["seed"] = _("The seed is a whole number from 0 to %(max)s.") % {"max": MAX_SEED}
    if problems:
        raise ValidationError(problems)
    seed = new_seed() if seed is None else seed
    try:
        with transaction.atomic():
            policy = VerificationPolicy.current(for_update=True)
            if VerificationRound.objects.filter(year=year, quarter=quarter).exists():
                raise _already_drawn(year, quarter)
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
                    adoptions_sha256=stratum.fingerprints[CheckKind.ADOPTION],
                    profiles_sha256=stratum.fingerprints[CheckKind.PROFILE],
                    facilities_sha256=stratum.fingerprints[CheckKind.FACILITY],
                    sample_size=stratum.size,
                )
                for stratum in strata
            )
            VerificationCheck.objects.bulk_create(_checks(round_, strata), batch_size=1000)
    except IntegrityError as exc:
        if not VerificationRound.objects.filter(year=year, quarter=quarter).exists():
            raise
        raise _already_drawn(year, quarter) from exc
    return round_


def _already_drawn(year: int, quarter: int) -> ActionRefused:
    return ActionRefused(
        _("A sample has already been drawn for Q%(quarter)s %(year)s.") % {"quarter": quarter, "year": year},
        code="exists",
    )


def _checks(round_: VerificationRound, strata: list[sampling.Stratum]) -> list[VerificationCheck]:
    """The round's checks, one per sampled item; as many per PO as its stratum's sample size."""
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
    # True by construction (verification.sampling.allocate and draw); the stored sample size relies on
    # it, so it is kept rather than recounted from the checks.
    drawn = Counter(check.partner_organization_id for check in checks)
    for stratum in strata:
        if drawn[stratum.po_id] != stratum.size:
            raise RuntimeError(
                f"PO {stratum.po_code}: {drawn[stratum.po_id]} checks, sample of {stratum.size}"
            )
    return checks


def update_policy(
    *, user, threshold_percent: Decimal, margin_percent: Decimal, floor: int
) -> VerificationPolicy:
    """The PMU changes the policy; the change is kept in its history. Rounds already drawn keep the
    margin and floor they were drawn with."""
    require_pmu(user, _("change the verification policy"))
    with transaction.atomic():
        policy = VerificationPolicy.current()
        policy.threshold_percent = threshold_percent
        policy.margin_percent = margin_percent
        policy.floor = floor
        policy.full_clean()
        # simple_history's author of the edit: an attribute it reads, not one the model declares.
        setattr(policy, "_history_user", user)  # noqa: B010
        policy.save()
    return policy


@dataclass(frozen=True)
class SummaryLine:
    """One PO's line of a round (or the total line, without a PO): the population as drawn, the
    sample and its results."""

    partner_organization: PartnerOrganization | None
    adoptions: int
    profiles: int
    facilities: int
    sample_size: int
    rate: Rate
    # Per kind, the population fingerprint as drawn (empty on the total line).
    fingerprints: dict[str, str]

    @property
    def population(self) -> int:
        return self.adoptions + self.profiles + self.facilities


@dataclass(frozen=True)
class RoundSummary:
    round: VerificationRound
    threshold: Decimal
    lines: list[SummaryLine]
    total: SummaryLine

    @property
    def flagged(self) -> int:
        return sum(1 for line in self.lines if line.rate.flagged)


def _no_result(po_id: int) -> Rate:
    return Rate(po_id, sampled=0, done=0, confirmed=0, partly=0, not_found=0, rate=None, flagged=False)


def round_summary(round_: VerificationRound) -> RoundSummary:
    """A round's strata (PO code order) with their checks' results and confirmation rates against the
    current policy's threshold, and the total line: three queries, whatever the number of POs."""
    threshold = VerificationPolicy.current().threshold_percent
    rates = confirmation_rates(round=round_, threshold=threshold)
    strata = round_.strata.select_related("partner_organization").order_by("partner_organization__code")
    lines = [
        SummaryLine(
            partner_organization=stratum.partner_organization,
            adoptions=stratum.adoptions,
            profiles=stratum.profiles,
            facilities=stratum.facilities,
            sample_size=stratum.sample_size,
            rate=rates.get(stratum.partner_organization_id) or _no_result(stratum.partner_organization_id),
            fingerprints=stratum.fingerprints,
        )
        for stratum in strata
    ]
    total = SummaryLine(
        partner_organization=None,
        adoptions=sum(line.adoptions for line in lines),
        profiles=sum(line.profiles for line in lines),
        facilities=sum(line.facilities for line in lines),
        sample_size=sum(line.sample_size for line in lines),
        rate=overall(rates, threshold),
        fingerprints={},
    )
    return RoundSummary(round=round_, threshold=threshold, lines=lines, total=total)


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
                "action": lifecycle.action_label(VerificationCheck, t.action),
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
