"""Labels of profile checks drawn before: "RECP profile — <ME code> · <name>" becomes "<ME code> · <name>"
(stored labels hold codes and names only; pages show the kind, translated, before them)."""

from django.db import migrations
from django.db.models.functions import Substr

PREFIX = "RECP profile — "


def drop_the_words(apps, schema_editor):
    checks = apps.get_model("verification", "VerificationCheck")
    checks.objects.filter(kind="profile", subject_label__startswith=PREFIX).update(
        subject_label=Substr("subject_label", len(PREFIX) + 1)
    )


class Migration(migrations.Migration):
    dependencies = [
        ("verification", "0004_stratum_population_fingerprints"),
    ]

    operations = [migrations.RunPython(drop_the_words, migrations.RunPython.noop)]
