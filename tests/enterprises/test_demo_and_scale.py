"""Demo data (`seed_demo`) and programme-scale synthetic data (`generate_scale`)."""

from __future__ import annotations

import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db.models import F

from core.models import PartnerOrganization
from core.roles import Role
from demo import enterprises as enterprise_demo
from enterprises.models import (
    Adoption,
    Cluster,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    Gender,
    KpiReading,
    RecpProfile,
    TrainingSession,
)
from subprojects.models import SubProject, Transition
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_demo_without_sub_projects_says_so_and_creates_nothing():
    out = io.StringIO()

    enterprise_demo.seed(out)

    assert "no active sub-project yet" in out.getvalue()
    assert not Enterprise.objects.exists()


def test_demo_gives_each_active_sub_project_believable_field_data_and_is_idempotent(sp_one, sp_two, pmu, po1):
    out = io.StringIO()
    enterprise_demo.seed(out)
    counts = {
        model: model.objects.count()
        for model in (Enterprise, FinancialSupport, KpiReading, Adoption, RecpProfile)
    }

    enterprise_demo.seed(io.StringIO())

    assert counts == {model: model.objects.count() for model in counts}
    assert counts[Enterprise] == 2 * enterprise_demo.MES_PER_SUB_PROJECT
    assert (
        Enterprise.objects.filter(partner_organization=sp_one.partner_organization).count()
        == enterprise_demo.MES_PER_SUB_PROJECT
    )
    assert DuplicateSuspect.objects.filter(cross_po=True).exists()
    assert Cluster.objects.exists()
    assert CommonServiceFacility.objects.filter(sub_project=sp_one).count() == 2
    # Every enterprise passes the same rules a PO's entry would.
    for me in Enterprise.objects.select_related(
        "sub_project__sector", "sub_sector", "district", "upazila", "division"
    )[:200]:
        me.full_clean(validate_unique=False)
    assert RecpProfile.objects.filter(validated_by=pmu).exists()
    # Adoptions are reported by the PO's staff and verified by someone outside it (here the PMU: no
    # demo verifier exists in this test), never by the PO itself.
    adoptions = Adoption.objects.filter(enterprise__partner_organization=sp_one.partner_organization)
    assert adoptions.filter(reported_by=po1).count() == adoptions.count()
    assert not Adoption.objects.filter(verified_by__partner_organization__isnull=False).exists()
    share = Adoption.objects.filter(verified_by=pmu).count() / Adoption.objects.count()
    assert 0.45 < share < 0.75
    assert not Adoption.objects.filter(evidence_observed_on__isnull=True).exists()
    assert (
        Transition.objects.filter(action="verify").count() == Adoption.objects.filter(verified_by=pmu).count()
    )
    # Every session has a module of the catalogue, about half of them tagged climate vulnerability.
    sessions = TrainingSession.objects.all()
    assert not sessions.filter(module__isnull=True).exists()
    assert 0.25 < sessions.filter(module__climate_vulnerability=True).count() / sessions.count() < 0.75
    # Supports state their financier, mostly the World Bank; a few predate the programme.
    assert not FinancialSupport.objects.filter(financier="").exists()
    assert (
        FinancialSupport.objects.filter(financier="world_bank").count() > FinancialSupport.objects.count() / 2
    )
    assert FinancialSupport.objects.filter(financier="pksf").exists()
    assert FinancialSupport.objects.filter(financier="po").exists()
    assert FinancialSupport.objects.filter(disbursed_on__lt=settings.PROGRAMME_START).count() == 3
    operational = CommonServiceFacility.objects.filter(status="operational")
    confirmed = CommonServiceFacility.objects.filter(operational_confirmed_on__isnull=False)
    assert not confirmed.exclude(operational_confirmed_by=pmu).exists()
    # Only operational facilities are confirmed, never before they opened, each with its decision
    # kept; the others await confirmation.
    assert not confirmed.exclude(status="operational").exists()
    assert not confirmed.filter(operational_confirmed_on__lt=F("opened_on")).exists()
    assert Transition.objects.filter(action="confirm_operational").count() == confirmed.count()
    awaiting = CommonServiceFacility.objects.awaiting_confirmation()
    assert confirmed.count() + awaiting.count() == operational.count()


def test_demo_adoptions_are_verified_by_the_demo_verifier_when_there_is_one(sp_one, pmu, po1, verifier):
    enterprise_demo.seed(io.StringIO())

    assert Adoption.objects.filter(verified_by=verifier).exists()
    assert not Adoption.objects.filter(verified_by=pmu).exists()


def test_generate_scale_refuses_without_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG=1"):
        call_command("generate_scale", "--enterprises", "10", stdout=io.StringIO())


def test_generate_scale_builds_a_synthetic_programme_and_replaces_it_on_request(settings):
    settings.DEBUG = True
    out = io.StringIO()

    call_command("generate_scale", "--enterprises", "600", "--pos", "3", stdout=out)

    assert PartnerOrganization.objects.filter(code__startswith="SYN-").count() == 3
    assert SubProject.objects.filter(agreement_number__startswith="SYN-").count() == 3
    mes = Enterprise.objects.filter(partner_organization__code__startswith="SYN-")
    assert mes.count() == 600
    women = mes.filter(owner_gender=Gender.FEMALE).count() / 600
    assert 0.2 < women < 0.55
    jobs = sum(me.total_jobs for me in mes) / 600
    assert 5.0 < jobs < 7.0  # the baseline survey's 5.91
    assert KpiReading.objects.count() > 600 * 10
    assert CommonServiceFacility.objects.count() == 3
    assert "enterprises: 600" in out.getvalue()
    # Verified by an account outside every PO; every session of a module; every support's financier.
    assert Adoption.objects.verified_independently().count() > Adoption.objects.count() / 3
    assert not TrainingSession.objects.filter(module__isnull=True).exists()
    assert not FinancialSupport.objects.filter(financier="").exists()

    call_command("generate_scale", "--enterprises", "600", "--pos", "3", stdout=out)
    assert "already there" in out.getvalue()
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_scale", "--enterprises", "900", "--pos", "3", stdout=out)

    staff = make_user("bench-po", Role.PO_STAFF, po=PartnerOrganization.objects.get(code="SYN-001"))
    call_command("generate_scale", "--enterprises", "300", "--pos", "2", "--replace", stdout=out)
    assert Enterprise.objects.count() == 300
    staff.refresh_from_db()
    assert staff.partner_organization is None  # the account outlives the synthetic PO it served
    assert PartnerOrganization.objects.filter(code__startswith="SYN-").count() == 2
