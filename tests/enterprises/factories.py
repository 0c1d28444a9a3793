"""Factories for field data. Enterprises need a sub-project: pass `sub_project=` (the fixtures
`sp_one` / `sp_two` belong to the personas' POs) so no stray PO is created."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory

from core.models import Upazila
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FacilityKind,
    FacilityStatus,
    FinancialSupport,
    Gender,
    Kpi,
    KpiReading,
    ReadingSource,
    RecpPractice,
    RecpProfile,
    SupportKind,
    TrainingModule,
    TrainingSession,
)
from tests.factories import district, sub_sector
from tests.subprojects.factories import SubProjectFactory


def upazila(name: str = "Bhairab", district_name: str = "Kishoreganj") -> Upazila:
    return Upazila.objects.get(name=name, district__name=district_name)


def sub_project_for(po, **kwargs):
    """An active footwear sub-project of this PO."""
    return SubProjectFactory(proposal__concept_note__partner_organization=po, **kwargs)


class EnterpriseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enterprise
        skip_postgeneration_save = True

    sub_project = factory.SubFactory(SubProjectFactory)
    partner_organization = factory.SelfAttribute("sub_project.partner_organization")
    po_code = factory.Sequence(lambda n: f"ME-{n:05d}")
    name = factory.Sequence(lambda n: f"Bhairab Shoe Works {n}")
    owner_name = factory.Sequence(lambda n: f"Rahima Begum {n}")
    owner_gender = Gender.FEMALE
    phone = factory.Sequence(lambda n: f"+88017{n:08d}")
    sub_sector = factory.LazyFunction(lambda: sub_sector("leather-products"))
    district = factory.LazyFunction(lambda: district("Kishoreganj"))
    upazila = factory.LazyAttribute(
        lambda me: (
            Upazila.objects.filter(district=me.district, name="Bhairab").first()
            or Upazila.objects.filter(district=me.district).order_by("name").first()
        )
    )
    division = factory.SelfAttribute("district.division")
    self_employed = 1
    wage_employed_male = 2
    wage_employed_female = 1
    year_started = 2015
    registered_on = date(2024, 9, 1)


class FinancialSupportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FinancialSupport

    enterprise = factory.SubFactory(EnterpriseFactory)
    kind = SupportKind.LOAN
    amount = Decimal("150000")
    financier = "world_bank"
    disbursed_on = date(2024, 10, 1)


def training_module(code: str = "CV-01") -> TrainingModule:
    """A module of the catalogue seeded by the migrations (CV-01..03 are tagged climate vulnerability)."""
    return TrainingModule.objects.get(code=code)


class TrainingSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TrainingSession

    sub_project = factory.SubFactory(SubProjectFactory)
    partner_organization = factory.SelfAttribute("sub_project.partner_organization")
    po_code = factory.Sequence(lambda n: f"TR-{n:04d}")
    module = factory.LazyFunction(training_module)
    topic = "Climate risks for footwear workshops"
    held_on = date(2024, 11, 5)
    place = "Bhairab CSF training room"


class AttendanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Attendance

    session = factory.SubFactory(TrainingSessionFactory)
    enterprise = factory.SubFactory(EnterpriseFactory)
    pre_test_score = Decimal("40")
    post_test_score = Decimal("70")


def practice(code: str = "AQ-04") -> RecpPractice:
    return RecpPractice.objects.get(code=code)


def kpi(code: str = "ELECTRICITY") -> Kpi:
    return Kpi.objects.get(code=code)


class AdoptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Adoption

    enterprise = factory.SubFactory(EnterpriseFactory)
    practice = factory.LazyFunction(practice)
    adopted_on = date(2024, 12, 1)


class RecpProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RecpProfile
        skip_postgeneration_save = True

    enterprise = factory.SubFactory(EnterpriseFactory)
    assessment_date = date(2024, 11, 20)
    baseline = "Hand-cut uppers; off-cuts burnt behind the workshop; 2 fans, 6 tube lights."
    climate_risks = "Workshop floods in heavy monsoon; heat stress in summer."
    opportunities = "Sell off-cuts to the CSF recycling unit; LED lights; raise the storage shelf."

    @factory.post_generation
    def recommended_practices(self, create, extracted, **kwargs):
        if create:
            self.recommended_practices.set(
                extracted if extracted is not None else [practice("AQ-04"), practice("EE-01")]
            )


class KpiReadingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KpiReading

    enterprise = factory.SubFactory(EnterpriseFactory)
    kpi = factory.LazyFunction(kpi)
    period = date(2024, 9, 1)
    value = Decimal("420")
    is_baseline = False
    source = ReadingSource.METER


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommonServiceFacility
        skip_postgeneration_save = True

    sub_project = factory.SubFactory(SubProjectFactory)
    partner_organization = factory.SelfAttribute("sub_project.partner_organization")
    name = factory.Sequence(lambda n: f"Bhairab Footwear CSF {n}")
    kind = FacilityKind.REVENUE
    sub_sector = factory.LazyFunction(lambda: sub_sector("leather-products"))
    district = factory.LazyFunction(lambda: district("Kishoreganj"))
    status = FacilityStatus.OPERATIONAL
    opened_on = date(2025, 1, 20)
