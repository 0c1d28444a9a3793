"""Factories for verification. Rounds and checks are built directly in a given state for set-up;
results under test always go through subprojects.workflow.apply (or the pages and API)."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from verification.models import CheckKind, CheckStatus, VerificationCheck, VerificationRound


class RoundFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = VerificationRound
        django_get_or_create = ("year", "quarter")

    year = 2025
    quarter = 1
    seed = 20250101
    margin_percent = 5
    floor = 10
    # Drawn a few days ago, so a visit today is after the draw.
    drawn_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=3))


class CheckFactory(factory.django.DjangoModelFactory):
    """A check of an adoption (pass `adoption=`); for profiles and facilities pass `kind=` and the
    subject. The PO and district follow the subject."""

    class Meta:
        model = VerificationCheck

    round = factory.SubFactory(RoundFactory)
    kind = CheckKind.ADOPTION
    status = CheckStatus.PENDING
    subject_label = factory.LazyAttribute(
        lambda check: str(check.adoption or check.profile or check.facility)
    )
    partner_organization = factory.LazyAttribute(
        lambda check: (
            check.facility.partner_organization
            if check.facility
            else (check.adoption or check.profile).enterprise.partner_organization
        )
    )
    district = factory.LazyAttribute(
        lambda check: (
            check.facility.district
            if check.facility
            else (check.adoption or check.profile).enterprise.district
        )
    )
    adoption = None
    profile = None
    facility = None
    visited_on = factory.LazyAttribute(
        lambda check: None if check.status == CheckStatus.PENDING else timezone.localdate()
    )
