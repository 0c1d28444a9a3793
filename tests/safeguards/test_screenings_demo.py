"""The demo's ME screenings and clearances tell their story, and seeding them again adds nothing."""

from __future__ import annotations

import io

import pytest
from django.utils import timezone

from demo import es_screenings
from enterprises.models import FinancialSupport
from safeguards import screenings
from safeguards.models import Clearance, MeScreening
from tests.enterprises.factories import FinancialSupportFactory


@pytest.mark.django_db
def test_the_demo_screenings_and_clearances(demo_data):
    failed = list(screenings.failed_latest().select_related("enterprise"))
    orange = MeScreening.objects.get(clearance_category="orange", notes__startswith=es_screenings.DEMO_NOTE)
    today = timezone.localdate()

    assert len(failed) == 1
    assert "child labour found" in failed[0].failure_reasons
    assert MeScreening.objects.filter(outcome="passed").count() >= 4
    assert orange.outcome == "passed"
    assert Clearance.objects.expiring_within(30, today).filter(enterprise=orange.enterprise).exists()
    assert Clearance.objects.expired(today).exists()
    assert all(
        screening.transitions.filter(action="complete").exists() for screening in MeScreening.objects.all()
    )
    # Nothing was disbursed to the failed ME after its screening, and nothing new can be.
    me = failed[0].enterprise
    assert not FinancialSupport.objects.filter(
        enterprise=me, disbursed_on__gte=failed[0].screened_on
    ).exists()
    with pytest.raises(Exception, match="failed its E&S screening"):
        FinancialSupportFactory.build(enterprise=me, disbursed_on=today).full_clean()

    counts = (MeScreening.objects.count(), Clearance.objects.count())
    es_screenings.seed(io.StringIO())
    assert (MeScreening.objects.count(), Clearance.objects.count()) == counts
