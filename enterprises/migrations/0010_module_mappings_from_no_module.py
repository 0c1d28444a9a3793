"""The PMU's first mapping of a session used to be stored as from "unmapped", a word shown untranslated
on the session's page: a session without a module is now stored as "" (shown as "no module")."""

from django.db import migrations

LEGACY = "unmapped"


def _mappings(apps):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Transition = apps.get_model("subprojects", "Transition")
    session_type = ContentType.objects.filter(app_label="enterprises", model="trainingsession").first()
    if session_type is None:  # a fresh database: no session was ever mapped
        return Transition.objects.none()
    return Transition.objects.filter(content_type=session_type, action="assign_module")


def forward(apps, schema_editor):
    _mappings(apps).filter(from_state=LEGACY).update(from_state="")


def backward(apps, schema_editor):
    _mappings(apps).filter(from_state="").update(from_state=LEGACY)


class Migration(migrations.Migration):
    dependencies = [
        ("enterprises", "0009_protect_verifier_and_confirmer"),
        ("subprojects", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forward, backward)]
