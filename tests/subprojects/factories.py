"""Factories for the lifecycle. They build objects directly in a given state, for test set-up;
state changes under test always go through subprojects.workflow."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from core.models import District, Sector, SubSector
from subprojects.models import (
    BudgetLine,
    Call,
    CallStatus,
    ConceptNote,
    Financier,
    NoteStatus,
    Proposal,
    ProposalStatus,
    SubProject,
)
from tests.factories import PartnerOrganizationFactory, UserFactory


class CallFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Call
        skip_postgeneration_save = True

    reference = factory.Sequence(lambda n: f"SMART/SPCN/T{n:03d}")
    title = "Call for Sub-project Concept Notes"
    description = "POs are invited to submit concept notes for climate-resilient RECP sub-projects."
    opens_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    closes_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=20))
    ceiling_budget = Decimal("50000000.00")
    status = CallStatus.OPEN
    created_by = factory.SubFactory(UserFactory)


class ConceptNoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ConceptNote
        skip_postgeneration_save = True

    call = factory.SubFactory(CallFactory)
    partner_organization = factory.SubFactory(PartnerOrganizationFactory)
    title = factory.Sequence(lambda n: f"Greening the Bhairab footwear cluster {n}")
    sector = factory.LazyFunction(lambda: Sector.objects.get(code="footwear-leather"))
    cluster = "About 400 footwear workshops within 3 km of Bhairab bazar."
    mes_targeted = 400
    women_led_mes_targeted = 120
    problem = "Leather off-cuts and rubber waste are burnt in the open."
    environmental_issues = "Air pollution from burning waste; solvent fumes in workshops."
    proposed_recp_practices = "Waste segregation and recycling into soles; water-based adhesives."
    proposed_csfs = "A recycling unit and a design centre."
    estimated_budget = Decimal("30000000.00")
    status = NoteStatus.DRAFT
    created_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def sub_sectors(self, create, extracted, **kwargs):
        if create:
            self.sub_sectors.set(extracted or [SubSector.objects.get(code="leather-products")])

    @factory.post_generation
    def target_districts(self, create, extracted, **kwargs):
        if create:
            self.target_districts.set(extracted or [District.objects.get(name="Kishoreganj")])


class ProposalFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Proposal
        skip_postgeneration_save = True

    concept_note = factory.SubFactory(ConceptNoteFactory, status=NoteStatus.SHORTLISTED)
    call = factory.SelfAttribute("concept_note.call")
    partner_organization = factory.SelfAttribute("concept_note.partner_organization")
    deadline = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    title = factory.SelfAttribute("concept_note.title")
    sector = factory.SelfAttribute("concept_note.sector")
    mes_targeted = 400
    women_led_mes_targeted = 120
    problem = factory.SelfAttribute("concept_note.problem")
    environmental_issues = factory.SelfAttribute("concept_note.environmental_issues")
    proposed_recp_practices = factory.SelfAttribute("concept_note.proposed_recp_practices")
    proposed_csfs = factory.SelfAttribute("concept_note.proposed_csfs")
    objectives = "Cut open burning of footwear waste in Bhairab by 80%."
    duration_months = 36
    risk_category = "moderate"
    exclusion_list_checked = True
    mitigation_measures = "Ventilation and PPE in the recycling unit; DoE-approved effluent handling."
    doe_clearance_required = True
    status = ProposalStatus.DRAFT
    invited_by = factory.SubFactory(UserFactory)

    @factory.post_generation
    def sub_sectors(self, create, extracted, **kwargs):
        if create:
            self.sub_sectors.set(extracted or self.concept_note.sub_sectors.all())

    @factory.post_generation
    def target_districts(self, create, extracted, **kwargs):
        if create:
            self.target_districts.set(extracted or self.concept_note.target_districts.all())

    @factory.post_generation
    def budget(self, create, extracted, **kwargs):
        """`budget=[(amount, financier), ...]`; by default a 25 M BDT budget split 80/15/5."""
        if not create:
            return
        lines = (
            extracted
            if extracted is not None
            else [
                (Decimal("20000000"), Financier.WORLD_BANK),
                (Decimal("3750000"), Financier.PKSF),
                (Decimal("1250000"), Financier.PO),
            ]
        )
        for amount, financier in lines:
            BudgetLine.objects.create(
                proposal=self, category="csf", description="Recycling", amount=amount, financier=financier
            )


class SubProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SubProject

    proposal = factory.SubFactory(ProposalFactory, status=ProposalStatus.AWARDED)
    partner_organization = factory.SelfAttribute("proposal.partner_organization")
    title = factory.SelfAttribute("proposal.title")
    sector = factory.SelfAttribute("proposal.sector")
    agreement_number = factory.Sequence(lambda n: f"PKSF/SMART/SP/{n:04d}")
    award_date = date(2024, 7, 1)
    start_date = date(2024, 7, 15)
    end_date = date(2027, 6, 30)
    budget_world_bank = Decimal("20000000")
    budget_pksf = Decimal("3750000")
    budget_po = Decimal("1250000")


# A complete concept note as an API client sends it (add "call"): the API tests and the generated
# client's walk create notes from it.
CONCEPT_NOTE_BODY = {
    "title": "Greening the Bhairab footwear cluster",
    "sector": "footwear-leather",
    "sub_sectors": ["leather-products"],
    "target_districts": ["BD3048"],
    "target_upazilas": ["BD30480011"],
    "cluster": "Workshops within 3 km of Bhairab bazar.",
    "mes_targeted": 400,
    "women_led_mes_targeted": 120,
    "problem": "Off-cuts are burnt in the open.",
    "environmental_issues": "Air pollution; solvent fumes.",
    "proposed_recp_practices": "Recycling into soles; water-based adhesives.",
    "proposed_csfs": "A recycling unit.",
    "estimated_budget": "30000000.00",
}
