"""Demo ME screenings and clearances for `seed_demo`.

A handful of PO-001 and PO-002 enterprises are screened by their PO's staff (po1, po2) or by the PMU's
E&S officer (es): most pass; one fails for child labour, so any new disbursement to it is refused (its
earlier ones stay); one in the orange ECR category passes thanks to a valid DoE environmental clearance
certificate. Clearances include one expiring within 30 days and one already expired. History is written
through the engine (core.lifecycle.replay_history). Safe to run again: what exists is left as it is.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from core.lifecycle import replay_history
from core.models import User
from enterprises.models import CommonServiceFacility, Enterprise
from safeguards import screenings
from safeguards.models import (
    Clearance,
    ClearanceKind,
    EcrCategory,
    ExclusionItem,
    MeScreening,
    MeScreeningOutcome,
    MeScreeningStatus,
)

DEMO_NOTE = "Demo screening."

# (PO code, index of the ME in the PO's list, screener, days ago, checklist, category, exclusions, note)
PLAN = [
    ("PO-001", 0, "po1", 40, (True, True, False), EcrCategory.GREEN, (), "Small workshop, well kept."),
    ("PO-001", 1, "po1", 35, (True, True, False), EcrCategory.YELLOW, (), "Ventilation improved last year."),
    (
        "PO-001",
        2,
        "po1",
        20,
        (True, True, True),
        EcrCategory.GREEN,
        (),
        "Two boys of about 12 seen working at the cutting table.",
    ),
    ("PO-001", 3, "es", 15, (True, True, False), EcrCategory.ORANGE, (), "Tannery effluent treated on site."),
    ("PO-002", 0, "po2", 30, (True, True, False), EcrCategory.GREEN, (), "No issues found."),
    ("PO-002", 1, "po2", 10, (True, True, False), EcrCategory.YELLOW, (), ""),
]


def _enterprises(po_code: str) -> list[Enterprise]:
    return list(Enterprise.objects.filter(partner_organization__code=po_code).order_by("pk")[:5])


def seed(stdout) -> None:
    users = {u.username: u for u in User.objects.filter(username__in=["po1", "po2", "es", "pmu"])}
    by_po = {code: _enterprises(code) for code in ("PO-001", "PO-002")}
    if not by_po["PO-001"] or not users:
        stdout.write("  ME screenings: no demo enterprises yet, nothing screened")
        return
    today = timezone.localdate()
    with transaction.atomic():
        clearances = _clearances(by_po, users, today)
        screened = 0
        for po_code, index, who, days_ago, answers, category, exclusions, note in PLAN:
            mes = by_po.get(po_code) or []
            if index >= len(mes):
                continue
            enterprise = mes[index]
            if MeScreening.objects.filter(enterprise=enterprise, notes__startswith=DEMO_NOTE).exists():
                continue
            actor = users.get(who) or users.get("pmu")
            if actor is None:
                continue
            _screen(enterprise, actor, today - timedelta(days=days_ago), answers, category, exclusions, note)
            screened += 1
    failed = screenings.failed_latest().count()
    stdout.write(
        f"  ME screenings: {screened} new ({MeScreening.objects.count()} in all, {failed} ME(s) barred from "
        f"financing); clearances: {clearances} new ({Clearance.objects.count()} in all)"
    )


def _screen(enterprise, actor, screened_on, answers, category, exclusions, note) -> MeScreening:
    safe, controlled, child_labour = answers
    started = timezone.make_aware(
        timezone.datetime.combine(screened_on, timezone.datetime.min.time()) + timedelta(hours=10)
    )
    screening = MeScreening.objects.create(
        partner_organization_id=enterprise.partner_organization_id,
        enterprise=enterprise,
        screened_on=screened_on,
        safe_working_conditions=safe,
        pollution_controlled=controlled,
        child_labour_found=child_labour,
        clearance_category=category,
        notes=f"{DEMO_NOTE} {note}".strip(),
        screened_by=actor,
    )
    if exclusions:
        screening.exclusions_found.set(ExclusionItem.objects.filter(code__in=exclusions))
    reasons = screenings.failure_reasons(screening)
    completed = started + timedelta(hours=2)
    screening.outcome = MeScreeningOutcome.FAILED if reasons else MeScreeningOutcome.PASSED
    screening.failure_reasons = "; ".join(reasons)
    screening.completed_at = completed
    replay_history(
        screening,
        [("complete", MeScreeningStatus.DRAFT, MeScreeningStatus.COMPLETED, actor, completed, "")],
    )
    return screening


def _clearance(number: str, **fields) -> bool:
    _obj, created = Clearance.objects.get_or_create(kind=fields.pop("kind"), number=number, defaults=fields)
    return created


def _clearances(by_po, users, today) -> int:
    po1_mes, po2_mes = by_po["PO-001"], by_po.get("PO-002") or []
    created = 0
    by = users.get("po1")
    if len(po1_mes) > 3:
        orange = po1_mes[3]
        # The orange-category ME's DoE certificate: valid for the screening, expiring within 30 days.
        created += _clearance(
            "DOE/ECC/KHU/2025/0412",
            kind=ClearanceKind.DOE_ECC,
            partner_organization_id=orange.partner_organization_id,
            enterprise=orange,
            category=EcrCategory.ORANGE,
            issued_on=today - timedelta(days=365 - 21),
            expires_on=today + timedelta(days=21),
            created_by=by,
        )
    if po1_mes:
        created += _clearance(
            "BSTI/CM/2024/1187",
            kind=ClearanceKind.BSTI,
            partner_organization_id=po1_mes[0].partner_organization_id,
            enterprise=po1_mes[0],
            scope="Leather footwear, BDS 1052",
            issued_on=today - timedelta(days=400),
            expires_on=today + timedelta(days=330),
            created_by=by,
        )
    if len(po1_mes) > 1:
        # Expired last month: on PO-001's list of expired clearances.
        created += _clearance(
            "DOE/ECC/KHU/2023/0977",
            kind=ClearanceKind.DOE_ECC,
            partner_organization_id=po1_mes[1].partner_organization_id,
            enterprise=po1_mes[1],
            category=EcrCategory.YELLOW,
            issued_on=today - timedelta(days=395),
            expires_on=today - timedelta(days=30),
            created_by=by,
        )
    if po2_mes:
        created += _clearance(
            "DOE/ECC/SAT/2025/0058",
            kind=ClearanceKind.DOE_ECC,
            partner_organization_id=po2_mes[0].partner_organization_id,
            enterprise=po2_mes[0],
            category=EcrCategory.GREEN,
            issued_on=today - timedelta(days=100),
            expires_on=today + timedelta(days=265),
            created_by=users.get("po2"),
        )
    facility = (
        CommonServiceFacility.objects.filter(partner_organization__code="PO-002").order_by("pk").first()
    )
    if facility is not None:
        created += _clearance(
            "DOE/SITE/SAT/2024/0031",
            kind=ClearanceKind.DOE_SITE,
            partner_organization_id=facility.partner_organization_id,
            facility=facility,
            category=EcrCategory.ORANGE,
            issued_on=today - timedelta(days=420),
            expires_on=today - timedelta(days=55),
            created_by=users.get("po2"),
        )
    return created
