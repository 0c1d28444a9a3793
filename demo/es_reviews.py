"""Demo data of the E&S screening of proposals and the PMU's E&S review (issue 13).

The story, on the proposals of demo/subprojects.py (whose screening said "moderate" everywhere):

- every submitted proposal answered the exclusion list (nothing ticked) and has a risk category:
  low for the Barind crops, substantial for the Cox's Bazar salt works (awarded, with its ESMP),
  high for the Sirajganj dyeing cluster, the haor fish farms and this year's Jashore flower
  courier proposal (pesticide-laden flowers handled by the packers);
- SPP Sirajganj (awarded in 2024): its E&S review was cleared with one condition, met before the
  award;
- SPP haor fish farms (approved): cleared with two conditions, one still open, so its award waits;
- the Jashore flower courier proposal submitted two days ago: its review is pending, waiting on `es`.

Histories go through the engine (core.lifecycle.replay_history), dated with the proposals' own. Safe
to run twice: nothing is done once a demo review exists.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.files.base import ContentFile
from django.utils import timezone

from core import lifecycle
from core.models import User
from demo.subprojects import FIRST_CALL, SECOND_CALL
from safeguards.models import EsmpMeasure, EsReview, EsReviewStatus
from subprojects.models import Attachment, Condition, Proposal, RiskCategory, Transition

PLAN_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] "
    b"/Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)

# (PO code, call) -> risk category, ESMP measures (risk, measure, responsible, timing).
SCREENING = {
    ("PO-003", FIRST_CALL): (
        RiskCategory.HIGH,
        [
            (
                "Untreated dye effluent into the Jamuna's side channels",
                "Shared effluent treatment plant for the dyeing cluster; no dyeing unit discharges directly",
                "PO sub-project engineer",
                "Before the dyeing units are financed",
            ),
            (
                "Workers' exposure to azo dyes and caustic soda",
                "Gloves, aprons and eye protection; banned azo dyes replaced; first-aid training",
                "ME owners, checked by PO field staff",
                "From month 1, checked quarterly",
            ),
        ],
    ),
    ("PO-004", FIRST_CALL): (
        RiskCategory.SUBSTANTIAL,
        [
            (
                "Brine run-off into mangrove and shrimp areas",
                "Lined evaporation beds and a brine return channel",
                "Salt mill owners",
                "Before the first season",
            ),
        ],
    ),
    ("PO-006", FIRST_CALL): (
        RiskCategory.HIGH,
        [
            (
                "Pond embankments narrowing haor wetland and fish migration routes",
                "No embankment inside the ecologically critical area; fish passes kept open",
                "PO sub-project engineer with the Upazila Fisheries Officer",
                "Design stage, before any earthwork",
            ),
            (
                "Feed and antibiotic residues in haor water",
                "Certified feed only; antibiotics on a veterinarian's prescription; water tested twice "
                "a year",
                "Fish farmers, checked by PO field staff",
                "Throughout operation",
            ),
        ],
    ),
    ("PO-007", FIRST_CALL): (RiskCategory.LOW, []),
    ("PO-009", SECOND_CALL): (
        RiskCategory.HIGH,
        [
            (
                "Workers handling flowers sprayed with highly hazardous pesticides",
                "Re-entry intervals respected before packing; gloves and masks; growers trained on the "
                "banned pesticide list",
                "PO field staff with the Department of Agricultural Extension",
                "Before the packing houses open",
            ),
            (
                "Plastic packaging and flower waste dumped in the Bhairab river",
                "Packaging take-back with the courier; flower waste composted at the shared yard",
                "Courier operators",
                "From the first season",
            ),
        ],
    ),
}


def seed(stdout) -> None:
    if EsReview.objects.exists():
        stdout.write("  safeguards: E&S reviews already in place")
        return
    proposals = {
        key: Proposal.objects.filter(call__reference=key[1], partner_organization__code=key[0]).first()
        for key in SCREENING
    }
    if not all(proposals.values()):
        stdout.write("  safeguards: the demo proposals are missing; no E&S reviews seeded")
        return
    es = User.objects.get(username="es")
    pmu = User.objects.get(username="pmu")
    # Every complete proposal answered the exclusion list: nothing on it.
    Proposal.objects.exclude(risk_category="").update(exclusion_list_checked=True)
    for key, (risk, measures) in SCREENING.items():
        _screen(proposals[key], risk, measures)

    sirajganj = proposals[("PO-003", FIRST_CALL)]
    review = _review(
        sirajganj,
        es,
        "clear_with_conditions",
        days_after_submission=12,
        comment="The shared effluent treatment plant makes the dyeing cluster acceptable.",
    )
    _condition(
        review,
        "The DoE environmental clearance of the effluent treatment plant is on file before the award.",
        met_by=pmu,
        evidence="DoE ECC no. 22-0731 of 12 July 2024, copy attached to the PO's file.",
        met_at=timezone.make_aware(timezone.datetime(2024, 7, 26, 11)),
    )

    haor = proposals[("PO-006", FIRST_CALL)]
    review = _review(
        haor,
        es,
        "clear_with_conditions",
        days_after_submission=15,
        comment="Acceptable if nothing is built inside the ecologically critical area.",
    )
    _condition(
        review,
        "The Upazila Fisheries Officer confirms in writing that no pond lies in the haor's critical area.",
        met_by=pmu,
        evidence="Letter of the Upazila Fisheries Officer, Tahirpur, 2 July 2024.",
        met_at=timezone.make_aware(timezone.datetime(2024, 7, 9, 15)),
    )
    _condition(
        review,
        "A grievance box and phone number are posted at each cluster before any earthwork.",
        evidence="",
    )

    jashore = proposals[("PO-009", SECOND_CALL)]
    _review(jashore, es, None)
    stdout.write(
        f"  safeguards: {EsReview.objects.count()} E&S reviews, "
        f"{EsmpMeasure.objects.count()} ESMP measures, "
        f"{Condition.objects.filter(es_review__isnull=False, met=False).count()} open E&S condition(s)"
    )


def _screen(proposal: Proposal, risk: str, measures: list[tuple[str, str, str, str]]) -> None:
    """The risk category, the ESMP's measures and the plan itself, as the PO wrote them."""
    Proposal.objects.filter(pk=proposal.pk).update(risk_category=risk, exclusion_list_checked=True)
    proposal.refresh_from_db()
    for position, (risk_text, measure, responsible, timing) in enumerate(measures):
        EsmpMeasure.objects.create(
            proposal=proposal,
            risk=risk_text,
            measure=measure,
            responsible=responsible,
            timing=timing,
            position=position,
        )
    if risk in {RiskCategory.SUBSTANTIAL, RiskCategory.HIGH}:
        staff = _submitter(proposal) or proposal.invited_by
        attachment = Attachment(
            proposal=proposal,
            original_name=f"ESMP {proposal.reference}.pdf",
            description="Environmental and social management plan",
            is_esmp=True,
            mime_type="application/pdf",
            size=len(PLAN_PDF),
            uploaded_by=staff,
        )
        attachment.file.save("esmp.pdf", ContentFile(PLAN_PDF), save=False)
        attachment.save()


def _submission(proposal: Proposal) -> Transition | None:
    return lifecycle.transitions_of(proposal).filter(action="submit").order_by("-at", "-pk").first()


def _submitter(proposal: Proposal) -> User | None:
    submission = _submission(proposal)
    return submission.actor if submission else None


def _review(
    proposal: Proposal, es: User, decision: str | None, *, days_after_submission: int = 0, comment: str = ""
) -> EsReview:
    """The review opened at the proposal's submission and, if given, its decision."""
    submission = _submission(proposal)
    opened_at = submission.at if submission else proposal.status_changed_at
    review = EsReview.objects.create(proposal=proposal)
    steps = [("open", "", EsReviewStatus.PENDING, submission.actor if submission else None, opened_at, "")]
    decided_at = None
    if decision:
        decided_at = opened_at + timedelta(days=days_after_submission)
        target = lifecycle.get_rule(EsReview, decision).target
        steps.append((decision, EsReviewStatus.PENDING, target, es, decided_at, comment))
    lifecycle.replay_history(review, steps)
    EsReview.objects.filter(pk=review.pk).update(
        created_at=opened_at, decided_by=es if decision else None, decided_at=decided_at
    )
    review.refresh_from_db()
    return review


def _condition(
    review: EsReview, text: str, *, evidence: str, met_by: User | None = None, met_at=None
) -> None:
    decided_at = review.decided_at or timezone.now()
    Condition.objects.create(
        proposal=review.proposal,
        es_review=review,
        text=text,
        position=review.conditions.count(),
        evidence=evidence,
        evidence_at=(met_at - timedelta(days=2))
        if (evidence and met_at)
        else (decided_at if evidence else None),
        met=met_by is not None,
        met_by=met_by,
        met_at=met_at,
        met_note="Checked by the PMU's E&S officer." if met_by else "",
    )
