"""Demo programme for the lifecycle: the call of 31 December 2023 with a dozen POs' concept notes,
ten proposals recommended over the two TEC meetings of the seeds (15 May and 2 June 2024), approvals
and four awarded sub-projects; and a second call open today with notes in every state.

Dates of the first round follow the SMART newsletter (January to June 2024); the deadlines, budgets, texts
and the second round are invented for the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from core import lifecycle
from core.models import District, PartnerOrganization, Sector, SubSector, User
from subprojects import evaluation
from subprojects.models import (
    Activity,
    AgendaItem,
    BudgetCategory,
    BudgetLine,
    Call,
    CallStatus,
    CommittedResult,
    ConceptNote,
    ConflictDeclaration,
    Decision,
    Financier,
    NoteStatus,
    Proposal,
    ProposalStatus,
    ResultIndicator,
    Score,
    ScoreSheet,
    ScoreSheetStatus,
    SubProject,
    TecMeeting,
)

FIRST_CALL = "SMART/SPCN/2023-01"
SECOND_CALL = "SMART/SPCN/2026-02"
TEC_MEETING_DATES = {1: "2024-05-15", 2: "2024-06-02"}
DOE_CONDITION = "Obtain the Department of Environment's site clearance before civil works start."


def at(day: str, hour: int = 11) -> datetime:
    return timezone.make_aware(datetime.fromisoformat(f"{day}T{hour:02d}:00"))


@dataclass(frozen=True)
class Idea:
    po: str
    title: str
    sector: str
    sub_sectors: tuple[str, ...]
    districts: tuple[str, ...]
    mes: int
    women: int
    budget: int  # BDT
    problem: str
    environment: str
    recp: str
    csf: str


FIRST_ROUND = [
    Idea(
        "PO-001",
        "Greening the Bhairab footwear cluster",
        "footwear-leather",
        ("leather-products",),
        ("Kishoreganj", "Narsingdi"),
        2400,
        600,
        285_000_000,
        "About 10,000 footwear workshops around Bhairab burn leather and rubber off-cuts in the open.",
        "Air pollution from burnt waste; solvent fumes; no wastewater handling.",
        "Waste segregation and recycling into soles; water-based adhesives; efficient lighting and motors.",
        "A recycling unit (about 700 t of waste a year) and a design and testing centre.",
    ),
    Idea(
        "PO-002",
        "Climate-resilient dry fish processing on the Sundarbans fringe",
        "food-processing",
        ("dry-fish",),
        ("Satkhira", "Khulna", "Bagerhat"),
        1800,
        900,
        240_000_000,
        "Fish is dried on the ground with pesticides; cyclones and tidal surges destroy stocks.",
        "Pesticide residues, fish waste in canals, losses to storms and salinity.",
        "Solar tunnel dryers, raised drying racks, hygienic salt curing, waste to fish meal.",
        "Raised cyclone-safe drying and storage yards with a solar dryer service.",
    ),
    Idea(
        "PO-003",
        "Cleaner handloom dyeing in Sirajganj",
        "mini-textile",
        ("loom",),
        ("Sirajganj", "Pabna"),
        2000,
        1100,
        210_000_000,
        "Small dyeing units discharge untreated effluent into the Jamuna's channels.",
        "Coloured wastewater, high COD, wood-fired boilers.",
        "Low-liquor dyeing, improved boilers, shared effluent treatment.",
        "A common effluent treatment plant and a dye kitchen.",
    ),
    Idea(
        "PO-004",
        "Cleaner salt processing in Cox's Bazar",
        "food-processing",
        ("salt-processing",),
        ("Cox's Bazar", "Chattogram"),
        1200,
        300,
        190_000_000,
        "Salt is boiled in open furnaces burning wood; storms flood the salt beds.",
        "Deforestation for fuelwood, smoke, brine discharge.",
        "Efficient furnaces, polythene-lined beds, iodisation quality control.",
        "A shared refining and iodisation unit.",
    ),
    Idea(
        "PO-005",
        "Resilient poultry farming on the Teesta char lands",
        "livestock",
        ("poultry",),
        ("Rangpur", "Kurigram", "Lalmonirhat"),
        2600,
        1900,
        230_000_000,
        "Floods drown flocks; litter and dead birds pollute ponds.",
        "Poultry litter, ammonia, disease outbreaks after floods.",
        "Raised sheds, litter composting and biogas, vaccination calendars.",
        "A feed mill and a hatchery run for the cluster.",
    ),
    Idea(
        "PO-006",
        "Flood-proof pisciculture in the haor",
        "aquaculture",
        ("pisciculture",),
        ("Sunamganj", "Sylhet"),
        1500,
        450,
        175_000_000,
        "Flash floods wash out ponds before harvest.",
        "Feed waste and eutrophication; escaped stocks.",
        "Raised pond dykes, net fencing, aerators on solar power, feed management.",
        "A fingerling nursery and an ice plant.",
    ),
    Idea(
        "PO-007",
        "Water-saving high-value crops in the Barind tract",
        "horticulture",
        ("high-value-crops",),
        ("Rajshahi", "Naogaon", "Chapainababganj"),
        3000,
        1200,
        260_000_000,
        "Groundwater is falling; farmers over-irrigate and overuse chemicals.",
        "Groundwater depletion, pesticide runoff.",
        "Drip irrigation, mulching, integrated pest management, solar pumps.",
        "A pack-house with cold storage.",
    ),
    Idea(
        "PO-008",
        "Energy-efficient rice mills in Barishal",
        "food-processing",
        ("rice-mill",),
        ("Barishal", "Patuakhali", "Bhola"),
        900,
        150,
        220_000_000,
        "Husk-fired boilers waste energy and blow ash over villages.",
        "Particulate pollution, inefficient parboiling, husk ash.",
        "Efficient parboiling boilers, husk gasifiers, ash to bricks.",
        "A shared dryer and rice bran oil unit.",
    ),
    Idea(
        "PO-009",
        "Jaggery with efficient furnaces in Jashore",
        "food-processing",
        ("jaggery",),
        ("Jashore", "Narail", "Magura"),
        1400,
        500,
        150_000_000,
        "Date-palm and cane jaggery is boiled in open pans with high fuel use.",
        "Smoke and fuelwood use; adulteration.",
        "Improved furnaces, stainless pans, hygienic packaging.",
        "A testing and packaging centre.",
    ),
    Idea(
        "PO-010",
        "A plastic recycling cluster in Mymensingh",
        "plastic-recycling",
        ("plastic-recycling",),
        ("Mymensingh", "Jamalpur"),
        800,
        200,
        200_000_000,
        "Plastic waste is washed in open drains and burnt when unsold.",
        "Microplastics, wastewater, open burning.",
        "Closed-loop washing, shredders with dust control, sorting by polymer.",
        "A washing and pelletising unit.",
    ),
    Idea(
        "PO-011",
        "High-value handicrafts in Tangail",
        "mini-textile",
        ("handicrafts",),
        ("Tangail",),
        700,
        600,
        90_000_000,
        "Artisans lack markets and use chemical dyes.",
        "Chemical dyes.",
        "Natural dyes.",
        "A showroom.",
    ),
    Idea(
        "PO-012",
        "Light engineering workshops in Kushtia",
        "light-engineering",
        ("metal-products",),
        ("Kushtia",),
        500,
        20,
        120_000_000,
        "Workshops are noisy and unsafe.",
        "Metal dust and noise.",
        "Dust extraction.",
        "A machine pool.",
    ),
]

SECOND_ROUND = [
    # (PO, state, title, sector, sub-sector, districts)
    (
        "PO-005",
        "draft",
        "Cattle fattening with biogas in Kurigram",
        "livestock",
        "cattle-buffalo",
        ("Kurigram",),
    ),
    (
        "PO-006",
        "submitted",
        "Eco-tourism homestays in the Tanguar haor",
        "service",
        "eco-tourism",
        ("Sunamganj",),
    ),
    (
        "PO-007",
        "under_review",
        "Waste-oil recovery for Rajshahi's automobile workshops",
        "service",
        "automobile-workshop",
        ("Rajshahi",),
    ),
    (
        "PO-008",
        "returned",
        "Restaurant and bakery waste management in Barishal city",
        "service",
        "food-service",
        ("Barishal",),
    ),
    (
        "PO-009",
        "shortlisted",
        "Courier and packaging for Jashore's flower growers",
        "service",
        "logistics-it",
        ("Jashore",),
    ),
    (
        "PO-010",
        "rejected",
        "Eco-friendly blocks instead of fired bricks in Mymensingh",
        "light-engineering",
        "eco-construction-materials",
        ("Mymensingh",),
    ),
    (
        "PO-002",
        "shortlisted",
        "Waste management services for Khulna's fish markets",
        "service",
        "waste-management",
        ("Khulna",),
    ),
]

# The PMU's screening of the second round's reviewed notes: state → (action, new state, comment).
SCREENING_OUTCOMES = {
    "returned": (
        "return_for_revision",
        NoteStatus.DRAFT,
        "Please name the markets and restaurants in view and add a waste baseline.",
    ),
    "rejected": (
        "reject",
        NoteStatus.REJECTED,
        "Construction materials are covered by the Light Engineering window of the first round.",
    ),
    "shortlisted": ("shortlist", NoteStatus.SHORTLISTED, ""),
}


class Seeder:
    def __init__(self) -> None:
        self.pos = {po.code: po for po in PartnerOrganization.objects.all()}
        self.districts = {district.name: district for district in District.objects.all()}
        self.pmu = User.objects.get(username="pmu")
        self.wb = User.objects.get(username="wb")
        self.approver = User.objects.get(username="approver")
        self.staff = {code: self._po_staff(po) for code, po in self.pos.items()}

    def _po_staff(self, po: PartnerOrganization) -> User:
        existing = (
            User.objects.filter(partner_organization=po, groups__name="PO staff").order_by("pk").first()
        )
        if existing:
            return existing
        # POs without a demo login still need an author for their notes; it cannot sign in.
        user = User.objects.create(
            username=f"staff-{po.code.lower()}",
            first_name="Field",
            last_name=f"Officer {po.code}",
            partner_organization=po,
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        from django.contrib.auth.models import Group

        user.groups.add(Group.objects.get(name="PO staff"))
        return user

    @property
    def tec(self) -> list[User]:
        return [User.objects.get(username=name) for name in ("tec1", "tec2", "tec3")]

    def meeting(self, number: int, held_on: datetime, attended_by: list[User]) -> TecMeeting:
        chair, *_others = members = self.tec
        meeting = TecMeeting.objects.create(
            number=number,
            held_on=held_on,
            venue="PKSF Bhaban, Agargaon, Dhaka",
            chair=chair,
            created_by=self.pmu,
        )
        meeting.members.set(members)
        meeting.attendees.set(attended_by)
        if attended_by:
            # The chair took the attendance when the meeting opened (issue 15).
            TecMeeting.objects.filter(pk=meeting.pk).update(
                attendance_taken_at=held_on, attendance_taken_by=chair
            )
        return meeting

    def agenda_item(self, meeting: TecMeeting, proposal: Proposal, position: int) -> AgendaItem:
        item = AgendaItem.objects.create(meeting=meeting, proposal=proposal, position=position)
        AgendaItem.objects.filter(pk=item.pk).update(added_at=proposal.status_changed_at)
        return item

    def score(
        self,
        item: AgendaItem,
        quality: Decimal,
        conflicted: dict[User, str] | None = None,
        members: list[User] | None = None,
        submit: bool = True,
        bias: dict[User, Decimal] | None = None,
    ) -> None:
        """Declarations and score sheets: each member's scores vary around the proposal's quality."""
        conflicted = conflicted or {}
        criteria = list(item.proposal.call.rubric.criteria.all())
        moment = item.meeting.held_on - timedelta(hours=2)
        for member_index, member in enumerate(members or item.meeting.members.order_by("username")):
            ConflictDeclaration.objects.create(
                agenda_item=item,
                member=member,
                has_conflict=member in conflicted,
                explanation=conflicted.get(member, ""),
            )
            if member in conflicted:
                continue
            sheet = ScoreSheet.objects.create(agenda_item=item, member=member, comment="")
            for criterion_index, criterion in enumerate(criteria):
                # Deterministic spread of opinions: -1.5 .. +1.5 around the proposal's quality.
                offset = Decimal((member_index * 7 + criterion_index * 3 + item.proposal_id * 5) % 7 - 3) / 2
                # ... and each member is a little stricter or more generous than the others.
                offset += Decimal((member_index + item.proposal_id) % 3 - 1) / 2
                offset += (bias or {}).get(member, Decimal("0"))
                value = min(Decimal(criterion.max_score), max(Decimal("0"), quality + offset))
                Score.objects.create(sheet=sheet, criterion=criterion, value=value)
            if submit:
                # Created as a draft, submitted as of the meeting (the log row carries that date).
                sheet.submitted_at = moment
                submitted = ("submit", ScoreSheetStatus.DRAFT, ScoreSheetStatus.SUBMITTED, member, moment, "")
                lifecycle.replay_history(sheet, [submitted])

    def decide(
        self, item: AgendaItem, action: str, moment: datetime, text: str, conditions: list[str]
    ) -> Decision:
        """The chair's decision, recorded by the rule's own effect and dated to the meeting."""
        evaluation.record_decision(
            item.proposal, _action=action, _user=item.meeting.chair, _comment=text, conditions=conditions
        )
        Decision.objects.filter(agenda_item=item).update(decided_at=moment)
        return Decision.objects.get(agenda_item=item)

    def steps(self, obj, steps: list[tuple[str, str, str, User | None, datetime, str]]) -> None:
        """Record a history of transitions with their real dates and leave obj in the last state."""
        for action, _from, _to, _actor, moment, _comment in steps:
            if action == "submit":
                obj.submitted_at = moment
        lifecycle.replay_history(obj, steps)

    def call(self, reference: str, title: str, opens: datetime, closes: datetime, status: str) -> Call:
        call = Call.objects.create(
            reference=reference,
            title=title,
            opens_at=opens,
            closes_at=closes,
            ceiling_budget=Decimal("300000000"),
            created_by=self.pmu,
            status=CallStatus.DRAFT,
            status_changed_at=opens - timedelta(days=2),
            description=(
                "The SMART PMU invites Partner Organizations to submit Sub-project Concept Notes (SPCN) "
                "for climate-resilient, resource-efficient and cleaner production (RECP) sub-projects "
                "with clusters of microenterprises. Notes are screened by the PMU; shortlisted POs are "
                "invited to submit full Sub-project Proposals (SPP), evaluated by the Technical "
                "Evaluation Committee and the World Bank."
            ),
        )
        steps = [("open", CallStatus.DRAFT, CallStatus.OPEN, self.pmu, opens, "")]
        if status == CallStatus.CLOSED:
            steps.append(("close", CallStatus.OPEN, CallStatus.CLOSED, None, closes, "Deadline passed."))
        self.steps(call, steps)
        return call

    def note(self, call: Call, idea: Idea | None = None, **fields) -> ConceptNote:
        if idea is not None:
            fields = {
                "partner_organization": self.pos[idea.po],
                "title": idea.title,
                "sector_code": idea.sector,
                "sub_sector_codes": idea.sub_sectors,
                "district_names": idea.districts,
                "mes_targeted": idea.mes,
                "women_led_mes_targeted": idea.women,
                "estimated_budget": Decimal(idea.budget),
                "problem": idea.problem,
                "environmental_issues": idea.environment,
                "proposed_recp_practices": idea.recp,
                "proposed_csfs": idea.csf,
            }
        po = fields.pop("partner_organization")
        sub_sectors = SubSector.objects.filter(code__in=fields.pop("sub_sector_codes"))
        districts = [self.districts[name] for name in fields.pop("district_names")]
        note = ConceptNote.objects.create(
            call=call,
            partner_organization=po,
            created_by=self.staff[po.code],
            sector=Sector.objects.get(code=fields.pop("sector_code")),
            cluster=f"Enterprises of the sub-sector within about 5 km in {districts[0].name}.",
            **fields,
        )
        note.sub_sectors.set(sub_sectors)
        note.target_districts.set(districts)
        return note

    def proposal(self, note: ConceptNote, invited: datetime, deadline: datetime) -> Proposal:
        proposal = Proposal.objects.create(
            concept_note=note,
            call=note.call,
            partner_organization=note.partner_organization,
            deadline=deadline,
            title=note.title,
            sector=note.sector,
            cluster=note.cluster,
            mes_targeted=note.mes_targeted,
            women_led_mes_targeted=note.women_led_mes_targeted,
            problem=note.problem,
            environmental_issues=note.environmental_issues,
            proposed_recp_practices=note.proposed_recp_practices,
            proposed_csfs=note.proposed_csfs,
            invited_by=self.pmu,
            status=ProposalStatus.INVITED,
            status_changed_at=invited,
        )
        proposal.sub_sectors.set(note.sub_sectors.all())
        proposal.target_districts.set(note.target_districts.all())
        lifecycle.record(
            proposal,
            "invite",
            self.pmu,
            "Please submit the full proposal with a detailed budget and E&S screening.",
            from_state="",
            to_state=ProposalStatus.INVITED,
            at=invited,
        )
        return proposal

    def complete(self, proposal: Proposal, budget: int) -> None:
        """Fill in a full proposal: objectives, work plan, budget split 70/20/10, results, screening."""
        proposal.objectives = (
            f"Help {proposal.mes_targeted:,} microenterprises ({proposal.women_led_mes_targeted:,} "
            "women-led) adopt climate-resilient RECP practices, track their environmental KPIs and share "
            "common facilities."
        )
        proposal.duration_months = 36
        proposal.risk_category = "moderate"
        proposal.exclusion_list_checked = True
        proposal.mitigation_measures = (
            "ESMP with PPE, waste handling plans and quarterly environmental monitoring."
        )
        proposal.doe_clearance_required = True
        proposal.save()
        total = Decimal(budget)
        lines = [
            (
                BudgetCategory.ME_FINANCE,
                "Loans to microenterprises for RECP investments",
                Financier.WORLD_BANK,
                "0.55",
            ),
            (
                BudgetCategory.CSF,
                "Common service facility: civil works and equipment",
                Financier.WORLD_BANK,
                "0.15",
            ),
            (BudgetCategory.TRAINING, "Climate vulnerability and RECP trainings", Financier.PKSF, "0.08"),
            (BudgetCategory.TECHNICAL_ASSISTANCE, "RECP assessments and profiles", Financier.PKSF, "0.07"),
            (BudgetCategory.MONITORING, "Environmental KPI metering and testing", Financier.PKSF, "0.05"),
            (BudgetCategory.MANAGEMENT, "Sub-project staff and management", Financier.PO, "0.10"),
        ]
        for category, description, financier, share in lines:
            BudgetLine.objects.create(
                proposal=proposal,
                category=category,
                description=description,
                financier=financier,
                amount=(total * Decimal(share)).quantize(Decimal("1")),
            )
        for description, start, end in [
            ("Baseline survey and ME selection", 1, 4),
            ("RECP assessments and profiles", 3, 12),
            ("Financing of MEs", 4, 30),
            ("Trainings on climate vulnerability and RECP", 4, 24),
            ("Common service facility: construction and start", 6, 18),
            ("KPI monitoring and reporting", 6, 36),
        ]:
            Activity.objects.create(
                proposal=proposal, description=description, start_month=start, end_month=end
            )
        mes = proposal.mes_targeted
        for indicator, target in [
            (ResultIndicator.ME_FINANCED, mes),
            (ResultIndicator.ME_CLIMATE_KNOWLEDGE, int(mes * 0.9)),
            (ResultIndicator.ME_RECP_2PLUS, int(mes * 0.8)),
            (ResultIndicator.ME_KPI_TRACKING, int(mes * 0.6)),
            (ResultIndicator.RECP_PROFILES_VALIDATED, int(mes * 0.4)),
            (ResultIndicator.CSF_ESTABLISHED, 1),
        ]:
            CommittedResult.objects.create(proposal=proposal, indicator=indicator, target=target)


def seed(stdout) -> None:
    if Call.objects.filter(reference=FIRST_CALL).exists():
        stdout.write("  subprojects: demo lifecycle already in place")
        return
    seeder = Seeder()
    _first_round(seeder)
    _second_round(seeder)
    stdout.write(
        f"  subprojects: {Call.objects.count()} calls, {ConceptNote.objects.count()} concept notes, "
        f"{Proposal.objects.count()} proposals, {SubProject.objects.count()} sub-projects"
    )


def _first_round(seeder: Seeder) -> None:
    pmu, wb, approver = seeder.pmu, seeder.wb, seeder.approver
    call = seeder.call(
        FIRST_CALL,
        "Sub-project Concept Notes, first round",
        at("2023-12-31", 10),
        at("2024-02-15", 17),
        CallStatus.CLOSED,
    )
    evaluation.seed_default_rubric(call)
    meetings = {
        number: seeder.meeting(number, at(day, 10), attended_by=seeder.tec)
        for number, day in TEC_MEETING_DATES.items()
    }
    for index, idea in enumerate(FIRST_ROUND):
        note = seeder.note(call, idea)
        staff = seeder.staff[idea.po]
        submitted = at("2024-01-20") + timedelta(days=index * 2)
        steps = [
            ("submit", NoteStatus.DRAFT, NoteStatus.SUBMITTED, staff, submitted, ""),
            ("start_review", NoteStatus.SUBMITTED, NoteStatus.UNDER_REVIEW, pmu, at("2024-02-20"), ""),
        ]
        if idea.po in {"PO-011", "PO-012"}:
            steps.append(
                (
                    "reject",
                    NoteStatus.UNDER_REVIEW,
                    NoteStatus.REJECTED,
                    pmu,
                    at("2024-03-05"),
                    "Weak link to RECP and climate resilience; no cluster identified.",
                )
            )
            seeder.steps(note, steps)
            continue
        steps.append(
            ("shortlist", NoteStatus.UNDER_REVIEW, NoteStatus.SHORTLISTED, pmu, at("2024-03-05"), "")
        )
        seeder.steps(note, steps)
        proposal = seeder.proposal(note, at("2024-03-10"), at("2024-04-25", 17))
        seeder.complete(proposal, idea.budget)
        meeting = 1 if index < 5 else 2
        meeting_day = TEC_MEETING_DATES[meeting]
        conditions = idea.po in {"PO-004", "PO-008"}
        decision = "recommend_with_conditions" if conditions else "recommend"
        decided_to = ProposalStatus.RECOMMENDED_WITH_CONDITIONS if conditions else ProposalStatus.RECOMMENDED
        steps = [
            ("start", ProposalStatus.INVITED, ProposalStatus.DRAFT, staff, at("2024-03-12"), ""),
            (
                "submit",
                ProposalStatus.DRAFT,
                ProposalStatus.SUBMITTED,
                staff,
                at("2024-04-20") + timedelta(days=index % 4),
                "",
            ),
            (
                "start_evaluation",
                ProposalStatus.SUBMITTED,
                ProposalStatus.UNDER_EVALUATION,
                pmu,
                at("2024-05-05") if meeting == 1 else at("2024-05-22"),
                f"On the agenda of TEC meeting {meeting}.",
            ),
            (
                decision,
                ProposalStatus.UNDER_EVALUATION,
                decided_to,
                seeder.tec[0],
                at(meeting_day, 16),
                _decision_text(meeting, conditions),
            ),
        ]
        po_number = int(idea.po.split("-")[1])
        if po_number <= 8:
            steps.append(
                (
                    "no_objection",
                    decided_to,
                    ProposalStatus.NO_OBJECTION,
                    wb,
                    at("2024-06-20") + timedelta(days=po_number),
                    "",
                )
            )
        if po_number <= 6:
            steps.append(
                (
                    "approve",
                    ProposalStatus.NO_OBJECTION,
                    ProposalStatus.APPROVED,
                    approver,
                    at("2024-07-10") + timedelta(days=po_number),
                    "",
                )
            )
        if po_number <= 4:
            award_day = at("2024-08-01") + timedelta(days=7 * po_number)
            steps.append(("award", ProposalStatus.APPROVED, ProposalStatus.AWARDED, approver, award_day, ""))
        seeder.steps(proposal, steps)
        if po_number <= 8:
            # The Bank's no-objection letter, as the World Bank records it (issue 15).
            Proposal.objects.filter(pk=proposal.pk).update(
                no_objection_reference=f"WB/SMART/NOL/2024/{po_number:03d}",
                no_objection_date=(at("2024-06-20") + timedelta(days=po_number)).date(),
            )
        item = seeder.agenda_item(meetings[meeting], proposal, index % 5 + 1)
        # tec3 sat on the board of the PO behind SPP 8 (invented for the demo).
        conflicted = {seeder.tec[2]: "Former board member of the PO."} if idea.po == "PO-008" else {}
        # tec2 judged the Barind proposal much more harshly: the spread is flagged for discussion.
        bias = {seeder.tec[1]: Decimal("-3")} if idea.po == "PO-007" else {}
        seeder.score(item, quality=Decimal("6.5") + Decimal(index % 4) / 2, conflicted=conflicted, bias=bias)
        recorded = seeder.decide(
            item,
            decision,
            at(meeting_day, 16),
            _decision_text(meeting, conditions),
            [DOE_CONDITION] if conditions else [],
        )
        if conditions and po_number <= 4:  # awarded: the condition was met before the award
            for condition in recorded.conditions.all():
                condition.evidence = "DoE site clearance certificate of 18 July 2024."
                condition.evidence_at = at("2024-07-20")
                condition.met, condition.met_by, condition.met_at = True, pmu, at("2024-07-25")
                condition.met_note = "Certificate checked against the DoE register."
                condition.save()
        if po_number <= 4:
            totals = proposal.budget_totals()
            award_date = (award_day).date()
            SubProject.objects.create(
                proposal=proposal,
                partner_organization=proposal.partner_organization,
                title=proposal.title,
                sector=proposal.sector,
                agreement_number=f"PKSF/SMART/SP-2024/{po_number:03d}",
                award_date=award_date,
                start_date=award_date + timedelta(days=14),
                end_date=award_date + timedelta(days=14 + 3 * 365),
                budget_world_bank=totals["world_bank"],
                budget_pksf=totals["pksf"],
                budget_po=totals["po"],
                status_changed_at=award_day,
            )


def _decision_text(meeting: int, conditions: bool) -> str:
    if conditions:
        return f"Recommended by TEC meeting {meeting}, on condition of DoE site clearance."
    return f"Recommended by TEC meeting {meeting}."


def _second_round(seeder: Seeder) -> None:
    pmu = seeder.pmu
    now = timezone.now()
    call = seeder.call(
        SECOND_CALL,
        "Sub-project Concept Notes, second round",
        now - timedelta(days=21),
        now + timedelta(days=60),
        CallStatus.OPEN,
    )
    evaluation.seed_default_rubric(call)
    upcoming = seeder.meeting(3, now + timedelta(days=5), attended_by=[])
    for index, (po_code, state, title, sector, sub_sector, districts) in enumerate(SECOND_ROUND):
        po = seeder.pos[po_code]
        staff = seeder.staff[po_code]
        note = seeder.note(
            call,
            partner_organization=po,
            title=title,
            sector_code=sector,
            sub_sector_codes=(sub_sector,),
            district_names=districts,
            mes_targeted=600 + 100 * index,
            women_led_mes_targeted=250 + 40 * index,
            estimated_budget=Decimal(120_000_000 + 10_000_000 * index),
            problem="Enterprises of the cluster lose income to floods and waste valuable materials.",
            environmental_issues="Untreated waste, high energy use, exposure to floods and heat.",
            proposed_recp_practices="Waste segregation and reuse, efficient equipment, flood-proofing.",
            proposed_csfs="A shared service centre for the cluster.",
        )
        submitted = now - timedelta(days=14 - index)
        reviewing = now - timedelta(days=7 - index)
        steps = []
        if state != "draft":
            steps.append(("submit", NoteStatus.DRAFT, NoteStatus.SUBMITTED, staff, submitted, ""))
        if state in {"under_review", *SCREENING_OUTCOMES}:
            steps.append(("start_review", NoteStatus.SUBMITTED, NoteStatus.UNDER_REVIEW, pmu, reviewing, ""))
        if state in SCREENING_OUTCOMES:
            action, outcome, comment = SCREENING_OUTCOMES[state]
            steps.append(
                (action, NoteStatus.UNDER_REVIEW, outcome, pmu, reviewing + timedelta(hours=3), comment)
            )
        if steps:
            seeder.steps(note, steps)
        if state == "shortlisted":
            invited = reviewing + timedelta(hours=4)
            proposal = seeder.proposal(note, invited, now + timedelta(days=25 + index))
            if po_code == "PO-009":
                # Submitted early and on the agenda of the coming TEC meeting: tec2 has scored,
                # tec3 has a draft, tec1 (the chair) has yet to declare and score.
                seeder.complete(proposal, 160_000_000)
                seeder.steps(
                    proposal,
                    [
                        (
                            "start",
                            ProposalStatus.INVITED,
                            ProposalStatus.DRAFT,
                            staff,
                            invited + timedelta(hours=20),
                            "",
                        ),
                        (
                            "submit",
                            ProposalStatus.DRAFT,
                            ProposalStatus.SUBMITTED,
                            staff,
                            now - timedelta(days=2),
                            "",
                        ),
                        (
                            "start_evaluation",
                            ProposalStatus.SUBMITTED,
                            ProposalStatus.UNDER_EVALUATION,
                            pmu,
                            now - timedelta(days=1),
                            "On the agenda of TEC meeting 3.",
                        ),
                    ],
                )
                item = seeder.agenda_item(upcoming, proposal, 1)
                seeder.score(item, quality=Decimal("7"), members=[seeder.tec[1]])
                seeder.score(item, quality=Decimal("6"), members=[seeder.tec[2]], submit=False)
            if po_code == "PO-002":
                # po2 has started writing: the proposal is a draft with part of its budget.
                seeder.steps(
                    proposal,
                    [
                        (
                            "start",
                            ProposalStatus.INVITED,
                            ProposalStatus.DRAFT,
                            staff,
                            invited + timedelta(days=1),
                            "",
                        )
                    ],
                )
                BudgetLine.objects.create(
                    proposal=proposal,
                    category=BudgetCategory.CSF,
                    description="Waste sorting yard",
                    amount=Decimal("25000000"),
                    financier=Financier.WORLD_BANK,
                )
