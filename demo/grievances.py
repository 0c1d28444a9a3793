"""Demo grievances (issue 13): twenty cases over the last four quarters at PO-001, PO-002 and PKSF,
received by every channel, a few at each stage: just received, acknowledged, resolved and awaiting the
complainant's feedback, closed (satisfied, or out of scope), one appealed to the PMU, one escalated by
the portal because nobody acknowledged it in time, one lodged anonymously through the public page, one
lodged with PKSF by the PMU (no PO) and one SEA/SH case that only the SEA/SH focal point (`seah`) sees.

Rows are written with their fields as the lifecycle (grievances.handling) would have left them, and
their history through the engine (core.lifecycle.replay_history): "lodge" then each step, dated.
Dates are relative to today, so the story stays "recent" whenever the demo is loaded. Idempotent:
a case already there (same subject) is left alone. Names and stories are invented."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from core import lifecycle
from core.models import District, PartnerOrganization, User
from grievances.models import (
    Category,
    Channel,
    ComplainantGender,
    ComplainantKind,
    Feedback,
    Grievance,
    GrievanceStatus,
    Tier,
)

RECEIVED = GrievanceStatus.RECEIVED
ACKNOWLEDGED = GrievanceStatus.ACKNOWLEDGED
RESOLVED = GrievanceStatus.RESOLVED
CLOSED = GrievanceStatus.CLOSED

# The table of grievances.handling: action -> (from states, to state).
STEPS = {
    "acknowledge": ((RECEIVED,), ACKNOWLEDGED),
    "resolve": ((ACKNOWLEDGED,), RESOLVED),
    "record_feedback_satisfied": ((RESOLVED,), CLOSED),
    "appeal": ((RESOLVED,), RECEIVED),
    "escalate": ((RECEIVED, ACKNOWLEDGED), RECEIVED),
    "close_out_of_scope": ((RECEIVED, ACKNOWLEDGED), CLOSED),
}


@dataclass(frozen=True)
class Step:
    action: str
    # Days (and hours) after the grievance was received.
    days: float
    actor: str | None  # username; None: the portal
    comment: str = ""


@dataclass(frozen=True)
class Case:
    subject: str
    po: str | None
    category: str
    channel: str
    gender: str
    kind: str
    days_ago: int
    description: str
    logged_by: str | None
    district: str | None = None
    name: str = ""
    phone: str = ""
    anonymous: bool = False
    steps: tuple[Step, ...] = field(default_factory=tuple)


CASES = [
    # --- Closed, the complainant satisfied (three to ten months ago) ---
    Case(
        "Dust and noise from the stone-crushing unit at night",
        "PO-001",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.IN_PERSON,
        ComplainantGender.MALE,
        ComplainantKind.COMMUNITY,
        320,
        "The crushing machine financed under the sub-project runs until 2 am; dust covers our houses.",
        "grm1",
        "Kishoreganj",
        "Zakir Hossain",
        "+8801711000101",
        steps=(
            Step("acknowledge", 3, "grm1"),
            Step(
                "resolve", 18, "grm1", "The owner agreed to stop work at 10 pm and to install a water spray."
            ),
            Step("record_feedback_satisfied", 25, "grm1", "Confirmed by phone: the machine stops at 10 pm."),
        ),
    ),
    Case(
        "Loan instalment deducted twice in March",
        "PO-001",
        Category.FINANCIAL,
        Channel.PHONE,
        ComplainantGender.FEMALE,
        ComplainantKind.ME_OWNER,
        290,
        "My March instalment was taken twice from my savings account at the branch.",
        "po1",
        "Narsingdi",
        "Ayesha Siddika",
        "+8801711000102",
        steps=(
            Step("acknowledge", 2, "grm1"),
            Step("resolve", 9, "grm1", "The branch refunded the second deduction; the ledger is corrected."),
            Step("record_feedback_satisfied", 14, "grm1"),
        ),
    ),
    Case(
        "Promised training on solar fish driers never held",
        "PO-002",
        Category.SERVICE,
        Channel.LETTER,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        270,
        "We were told in January that a training on solar driers would be held; nobody came.",
        "po2",
        "Satkhira",
        "Motaleb Sarkar",
        "+8801711000103",
        steps=(
            Step("acknowledge", 5, "grm"),
            Step("resolve", 40, "grm", "The training was held at the Shyamnagar CSF on the date agreed."),
            Step("record_feedback_satisfied", 47, "grm"),
        ),
    ),
    Case(
        "No gloves or masks in the dyeing shed",
        "PO-002",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.CSF,
        ComplainantGender.FEMALE,
        ComplainantKind.WORKER,
        240,
        "Workers mix dyes by hand without gloves or masks; two of us have skin rashes.",
        "po2",
        "Khulna",
        "Konika Das",
        "+8801711000104",
        steps=(
            Step("acknowledge", 1, "grm"),
            Step("resolve", 12, "grm", "Protective equipment supplied; the PO's E&S officer checks monthly."),
            Step("record_feedback_satisfied", 20, "grm"),
        ),
    ),
    Case(
        "Supplier of the effluent treatment plant chosen without quotations",
        "PO-001",
        Category.PROCUREMENT,
        Channel.EMAIL,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        210,
        "The cluster's effluent plant was ordered from one supplier without asking anyone else for a price.",
        "grm1",
        "Gazipur",
        "Idris Ali",
        "+8801711000105",
        steps=(
            Step("acknowledge", 4, "grm1"),
            Step(
                "resolve",
                28,
                "grm1",
                "Three quotations were on file; the comparison was shown to the cluster.",
            ),
            Step("record_feedback_satisfied", 35, "grm1"),
        ),
    ),
    Case(
        "Electricity bill of the rural board disputed",
        "PO-002",
        Category.OTHER,
        Channel.PHONE,
        ComplainantGender.NOT_STATED,
        ComplainantKind.COMMUNITY,
        190,
        "The electricity bill for my shop doubled since the meter was changed.",
        "po2",
        "Bagerhat",
        "Lokman Hakim",
        "+8801711000106",
        steps=(
            Step(
                "close_out_of_scope",
                6,
                "grm",
                "A matter for the Palli Bidyut Samity, not the project; the caller was given its number.",
            ),
        ),
    ),
    Case(
        "Inspection of the new boiler postponed three times",
        "PO-001",
        Category.SERVICE,
        Channel.IN_PERSON,
        ComplainantGender.FEMALE,
        ComplainantKind.ME_OWNER,
        160,
        "I cannot start the new boiler until it is inspected, and the visit keeps being postponed.",
        "grm1",
        "Dhaka",
        "Tahera Begum",
        "+8801711000107",
        steps=(
            Step("acknowledge", 3, "grm1"),
            Step("resolve", 15, "grm1", "Inspected on a fixed date; the certificate was handed over."),
            Step("record_feedback_satisfied", 22, "grm1"),
        ),
    ),
    Case(
        "Grant share missing from my loan statement",
        "PO-002",
        Category.FINANCIAL,
        Channel.CSF,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        130,
        "The matching grant for my solar pump does not show in the loan statement.",
        "po2",
        "Satkhira",
        "Kawsar Ahmed",
        "+8801711000108",
        steps=(
            Step("acknowledge", 6, "grm"),
            Step("resolve", 33, "grm", "The grant was booked to the wrong account; corrected and explained."),
            Step("record_feedback_satisfied", 40, "grm"),
        ),
    ),
    Case(
        "Generator noise from the cold store at night",
        "PO-002",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.EMAIL,
        ComplainantGender.FEMALE,
        ComplainantKind.COMMUNITY,
        100,
        "The cold store's diesel generator runs all night next to our homes.",
        "po2",
        "Khulna",
        "Jharna Akter",
        "+8801711000109",
        steps=(
            Step("acknowledge", 2, "grm"),
            Step("resolve", 10, "grm", "A silencer was fitted and the generator moved behind the store."),
            Step("record_feedback_satisfied", 15, "grm"),
        ),
    ),
    Case(
        "Field officer asked for a fee to fill in the form",
        "PO-001",
        Category.FINANCIAL,
        Channel.IN_PERSON,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        70,
        "A field officer asked for 500 taka to fill in my registration form.",
        "grm1",
        "Kishoreganj",
        "Sirajul Islam",
        "+8801711000110",
        steps=(
            Step("acknowledge", 1, "grm1"),
            Step("resolve", 7, "grm1", "The money was returned; the officer was warned in writing."),
            Step("record_feedback_satisfied", 12, "grm1"),
        ),
    ),
    # --- Appealed to the PMU: the complainant was not satisfied with the PO's answer ---
    Case(
        "Wastewater from the dyeing cluster floods our pond",
        "PO-001",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.PHONE,
        ComplainantGender.FEMALE,
        ComplainantKind.COMMUNITY,
        55,
        "Coloured water from the dyeing units runs into our fish pond every time it rains.",
        "po1",
        "Narsingdi",
        "Champa Khatun",
        "+8801711000111",
        steps=(
            Step("acknowledge", 3, "grm1"),
            Step("resolve", 20, "grm1", "The units were asked to dig a soak pit."),
            Step(
                "appeal", 30, "grm1", "Not satisfied: the soak pit overflows and the pond is still coloured."
            ),
            Step("acknowledge", 31, "grm"),
        ),
    ),
    # --- Resolved, awaiting the complainant's feedback ---
    Case(
        "Energy audit report never shared with me",
        "PO-002",
        Category.SERVICE,
        Channel.PHONE,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        25,
        "The energy audit of my rice mill was done in spring but I never received the report.",
        "po2",
        "Bagerhat",
        "Ruhul Amin",
        "+8801711000112",
        steps=(
            Step("acknowledge", 2, "grm"),
            Step("resolve", 20, "grm", "The report was sent by email and explained at the CSF."),
        ),
    ),
    Case(
        "Interest charged above the agreed rate",
        "PO-001",
        Category.FINANCIAL,
        Channel.LETTER,
        ComplainantGender.FEMALE,
        ComplainantKind.ME_OWNER,
        35,
        "My loan agreement says 11 % but the statement shows more.",
        "grm1",
        "Gazipur",
        "Lucky Akter",
        "+8801711000113",
        steps=(
            Step("acknowledge", 5, "grm1"),
            Step(
                "resolve",
                22,
                "grm1",
                "The difference was a late-payment charge; the statement was explained.",
            ),
        ),
    ),
    # --- Acknowledged, being looked into ---
    Case(
        "Fumes in the leather finishing room",
        "PO-002",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.IN_PERSON,
        ComplainantGender.FEMALE,
        ComplainantKind.WORKER,
        12,
        "There is no ventilation fan in the finishing room; the solvent smell gives us headaches.",
        "po2",
        "Khulna",
        "Runa Rani",
        "+8801711000114",
        steps=(Step("acknowledge", 2, "grm"),),
    ),
    Case(
        "Rude behaviour of staff at the common service facility",
        "PO-001",
        Category.OTHER,
        Channel.PHONE,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        9,
        "The person at the CSF desk shouted at me when I asked about my application.",
        "grm1",
        "Kishoreganj",
        "Bashir Mia",
        "+8801711000115",
        steps=(Step("acknowledge", 1, "grm1"),),
    ),
    # --- Sent to PKSF, logged by the PMU: no PO named, handled by the PMU from tier 2 ---
    Case(
        "Letter to PKSF: no answer about a cancelled training",
        None,
        Category.SERVICE,
        Channel.PKSF,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        20,
        "I wrote to PKSF because nobody answers me about the cancelled training on efficient kilns.",
        "grm",
        None,
        "Enamul Haque",
        "+8801711000116",
        steps=(Step("acknowledge", 3, "grm"),),
    ),
    # --- SEA/SH: only the SEA/SH focal point sees it (PO-001 has none of its own: the PMU's handles it) ---
    Case(
        "Harassment by a supervisor",
        "PO-001",
        Category.SEAH,
        Channel.PHONE,
        ComplainantGender.FEMALE,
        ComplainantKind.WORKER,
        15,
        "A worker reported unwanted advances by a supervisor; details kept by the SEA/SH focal point.",
        "seah",
        "Dhaka",
        "Beauty Akter",
        "+8801711000117",
        steps=(Step("acknowledge", 1, "seah", "Called back the same day; referred to support services."),),
    ),
    # --- Just received ---
    Case(
        "Waiting three weeks for the solar pump installation",
        "PO-001",
        Category.SERVICE,
        Channel.CSF,
        ComplainantGender.FEMALE,
        ComplainantKind.ME_OWNER,
        2,
        "The solar pump was paid for three weeks ago and is still not installed.",
        "grm1",
        "Kishoreganj",
        "Hasina Parvin",
        "+8801711000118",
    ),
    Case(
        "Ash from the rice mill boiler dumped in the canal",
        "PO-002",
        Category.ENVIRONMENTAL_SOCIAL,
        Channel.WEB,
        ComplainantGender.NOT_STATED,
        ComplainantKind.COMMUNITY,
        3,
        "Every evening the rice mill by the canal dumps boiler ash into the water.",
        None,  # the public page
        "Satkhira",
        anonymous=True,
    ),
    # --- Escalated by the portal: nobody acknowledged it within the deadline ---
    Case(
        "Second disbursement delayed after all papers were submitted",
        "PO-002",
        Category.FINANCIAL,
        Channel.PHONE,
        ComplainantGender.MALE,
        ComplainantKind.ME_OWNER,
        10,
        "All papers for the second disbursement were submitted two months ago and nothing has come.",
        "po2",
        "Bagerhat",
        "Golam Mostafa",
        "+8801711000120",
        steps=(Step("escalate", settings.GRIEVANCE_ACKNOWLEDGE_DAYS + 0.05, None, "portal"),),
    ),
]


def _received_at(days_ago: int, index: int) -> datetime:
    """Office hours, local time, `days_ago` days before today."""
    day = timezone.localdate() - timedelta(days=days_ago)
    return timezone.make_aware(datetime(day.year, day.month, day.day, 10 + index % 6, 7 * index % 60))


def _deadlines(since: datetime) -> tuple[datetime, datetime]:
    return (
        since + timedelta(days=settings.GRIEVANCE_ACKNOWLEDGE_DAYS),
        since + timedelta(days=settings.GRIEVANCE_RESOLVE_DAYS),
    )


def _escalation_comment(tier: int, deadline: datetime) -> str:
    # The words of grievances.handling.escalate_overdue.
    date = timezone.localtime(deadline).strftime("%Y-%m-%d %H:%M")
    return f"Escalated by the portal: tier {tier} missed the deadline to acknowledge it ({date})."


def _play(case: Case, grievance: Grievance, users: dict[str, User]) -> list[tuple]:
    """Set the fields each step's effect sets (grievances.handling) and return the log rows."""
    g = grievance
    rows = [("lodge", "", RECEIVED, users.get(case.logged_by or ""), g.received_at, "")]
    state = RECEIVED
    for step in case.steps:
        sources, target = STEPS[step.action]
        if state not in sources:
            raise ValueError(f"{case.subject}: {step.action} does not lead from {state}")
        at = g.received_at + timedelta(days=step.days)
        comment = step.comment
        if step.action == "acknowledge":
            g.acknowledged_at = at
        elif step.action == "resolve":
            g.resolution, g.resolved_at = comment, at
        elif step.action == "record_feedback_satisfied":
            g.feedback, g.closed_at = Feedback.SATISFIED, at
        elif step.action == "close_out_of_scope":
            g.closed_at = at
        elif step.action in ("appeal", "escalate"):
            if step.action == "escalate" and step.actor is None:
                comment = _escalation_comment(g.tier, g.acknowledge_by)
            if step.action == "appeal":
                g.feedback = Feedback.NOT_SATISFIED
            g.tier += 1
            g.tier_received_at = at
            g.acknowledge_by, g.resolve_by = _deadlines(at)
            g.acknowledged_at = g.resolved_at = None
            g.resolution = ""
        rows.append((step.action, state, target, users.get(step.actor or ""), at, comment))
        state = target
    g.status_changed_at = rows[-1][4]
    return rows


def seed(stdout) -> None:
    pos = {po.code: po for po in PartnerOrganization.objects.filter(code__in=["PO-001", "PO-002"])}
    users = {
        user.username: user
        for user in User.objects.filter(username__in=["grm", "grm1", "seah", "po1", "po2"])
    }
    districts = {
        d.name: d for d in District.objects.filter(name__in={c.district for c in CASES if c.district})
    }
    existing = set(
        Grievance.objects.filter(subject__in=[c.subject for c in CASES]).values_list("subject", flat=True)
    )
    created = 0
    for index, case in enumerate(CASES):
        if case.subject in existing:
            continue
        po = pos.get(case.po or "")
        received_at = _received_at(case.days_ago, index)
        acknowledge_by, resolve_by = _deadlines(received_at)
        grievance = Grievance(
            partner_organization=po,
            category=case.category,
            channel=case.channel,
            tier=Tier.PO if po else Tier.PMU,
            subject=case.subject,
            description=case.description,
            district=districts.get(case.district or ""),
            anonymous=case.anonymous,
            complainant_name="" if case.anonymous else case.name,
            complainant_phone="" if case.anonymous else case.phone,
            complainant_gender=case.gender,
            complainant_kind=case.kind,
            received_at=received_at,
            tier_received_at=received_at,
            acknowledge_by=acknowledge_by,
            resolve_by=resolve_by,
            status=RECEIVED,
            status_changed_at=received_at,
            logged_by=users.get(case.logged_by or ""),
        )
        steps = _play(case, grievance, users)
        grievance.save()
        Grievance.objects.filter(pk=grievance.pk).update(created_at=received_at)
        lifecycle.replay_history(grievance, steps)
        created += 1
    stdout.write(f"  grievances: {Grievance.objects.count()} grievances ({created} new)")
