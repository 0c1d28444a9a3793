"""An adoption's verification becomes a state of its lifecycle (enterprises.lifecycles): reported,
recorded as verified but not independently, or verified independently. Each adoption takes the state
its verification fields already say (the rows written by each verification stay its log), and a
constraint keeps the state and `verified_on` / `verified_by` consistent from then on."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Q


def forward(apps, schema_editor):
    Adoption = apps.get_model("enterprises", "Adoption")
    recorded = Adoption.objects.filter(verified_on__isnull=False)
    independent = Q(verified_by__isnull=False, verified_by__partner_organization__isnull=True)
    recorded.filter(independent).update(verification="verified")
    recorded.exclude(independent).update(verification="not_independent")


def backward(apps, schema_editor):
    pass  # the field goes; verified_on and verified_by still say it all


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0010_module_mappings_from_no_module"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="adoption",
            name="verification",
            field=models.CharField(
                choices=[
                    ("reported", "reported, not yet verified"),
                    ("not_independent", "recorded as verified, not independently"),
                    ("verified", "verified independently"),
                ],
                default="reported",
                editable=False,
                max_length=20,
                verbose_name="verification",
            ),
        ),
        migrations.RunPython(forward, backward),
        migrations.AddConstraint(
            model_name="adoption",
            constraint=models.CheckConstraint(
                condition=Q(verification="reported", verified_on__isnull=True)
                | Q(verification="not_independent", verified_on__isnull=False)
                | Q(verification="verified", verified_on__isnull=False, verified_by__isnull=False),
                name="adoption_verification_state_matches",
            ),
        ),
    ]
