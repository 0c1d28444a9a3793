"""How this app plugs into core: the home-page panels and the follow-up of area climate flags."""

from __future__ import annotations

from django.db.models import Count, Min

from enterprises.models import (
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    ImportJob,
    ImportStatus,
    ProfileStatus,
    RecpProfile,
    SuggestionStatus,
    TrainingSession,
)


def pmu_review(user) -> dict | None:
    """What the PMU has to decide on field data, with the oldest waiting item (five small queries)."""
    duplicates = DuplicateSuspect.objects.open().aggregate(oldest=Min("found_at"), count=Count("pk"))
    profiles = RecpProfile.objects.filter(status=ProfileStatus.PREPARED).aggregate(
        oldest=Min("prepared_on"), count=Count("pk")
    )
    suggestions = ClusterSuggestion.objects.filter(status=SuggestionStatus.PROPOSED).count()
    unmapped = TrainingSession.objects.filter(module__isnull=True).aggregate(
        oldest=Min("held_on"), count=Count("pk")
    )
    unconfirmed = CommonServiceFacility.objects.awaiting_confirmation().count()
    return {
        "duplicates": duplicates,
        "profiles": profiles,
        "suggestions": suggestions,
        "unmapped_sessions": unmapped,
        "unconfirmed_facilities": unconfirmed,
    }


def po_field_data(user) -> dict | None:
    if not user.partner_organization_id:
        return None
    po_id = user.partner_organization_id
    return {
        "enterprises": Enterprise.objects.filter(partner_organization_id=po_id).count(),
        "imports_ready": ImportJob.objects.filter(
            partner_organization_id=po_id, status=ImportStatus.VALIDATED
        ).count(),
        "profiles_returned": RecpProfile.objects.filter(
            enterprise__partner_organization_id=po_id, status=ProfileStatus.DRAFT
        )
        .exclude(review_comment="")
        .count(),
        "unmapped_sessions": TrainingSession.objects.filter(
            partner_organization_id=po_id, module__isnull=True
        ).count(),
    }


def area_flag_saved(sender, instance, update_fields=None, raw=False, **kwargs) -> None:
    """Enterprises follow their upazila's or district's climate flag unless overridden."""
    if raw or (update_fields is not None and "climate_vulnerable" not in update_fields):
        return
    district_id = getattr(instance, "district_id", None) or instance.pk

    from core import outbox
    from enterprises.tasks import refresh_climate_flags

    outbox.enqueue(refresh_climate_flags, [district_id])
