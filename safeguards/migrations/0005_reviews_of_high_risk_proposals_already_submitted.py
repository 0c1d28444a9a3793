"""High-risk proposals submitted before the E&S review existed get theirs, pending, as if opened by the
portal at this upgrade: without it they could never be awarded (the award waits for a cleared review,
and a review is otherwise opened only when a proposal is submitted)."""

from django.db import migrations
from django.utils import timezone

# Submitted and not yet ended or awarded: the proposals an E&S officer still has to review.
UNDER_WAY = [
    "submitted",
    "under_evaluation",
    "recommended",
    "recommended_with_conditions",
    "no_objection",
    "approved",
]


def open_missing_reviews(apps, schema_editor):
    Proposal = apps.get_model("subprojects", "Proposal")
    EsReview = apps.get_model("safeguards", "EsReview")
    Transition = apps.get_model("subprojects", "Transition")
    ContentType = apps.get_model("contenttypes", "ContentType")
    missing = Proposal.objects.filter(risk_category="high", status__in=UNDER_WAY, es_review__isnull=True)
    if not missing.exists():
        return
    review_type, _created = ContentType.objects.get_or_create(app_label="safeguards", model="esreview")
    now = timezone.now()
    for proposal in missing:
        review = EsReview.objects.create(proposal=proposal, status="pending", status_changed_at=now)
        Transition.objects.create(
            content_type=review_type,
            object_id=review.pk,
            action="open",
            from_state="",
            to_state="pending",
            actor=None,
            at=now,
            comment="Opened at the upgrade that brought the E&S review: the proposal was already submitted.",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("safeguards", "0004_incidents"),
        ("subprojects", "0007_es_conditions_and_esmp"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(open_missing_reviews, migrations.RunPython.noop)]
