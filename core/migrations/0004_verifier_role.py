"""The verifier role (SPEC 2): PMU field staff or a third-party monitoring firm that checks reported
results in the field. Verifiers belong to no PO; they read the reference data they need to find an
enterprise. Their work pages grant themselves (verification app)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

GRANTS = {
    "Verifier": [
        "core.view_businessarea",
        "core.view_sector",
        "core.view_subsector",
        "core.view_division",
        "core.view_district",
        "core.view_upazila",
        "core.view_partnerorganization",
    ]
}


def remove_group(apps, schema_editor):
    revoke_permissions(apps, schema_editor, GRANTS)
    apps.get_model("auth", "Group").objects.filter(name__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0003_roles")]

    operations = [migrations.RunPython(partial(grant_permissions, grants=GRANTS), remove_group)]
