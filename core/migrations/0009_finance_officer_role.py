"""The PMU's finance officer (SPEC 2, issue 14): releases to POs and the financial reports. Reads the
reference data its forms offer."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

GRANTS = {
    "Finance officer": [
        "core.view_businessarea",
        "core.view_sector",
        "core.view_subsector",
        "core.view_division",
        "core.view_district",
        "core.view_upazila",
        "core.view_partnerorganization",
    ],
}


def remove_group(apps, schema_editor):
    revoke_permissions(apps, schema_editor, GRANTS)
    apps.get_model("auth", "Group").objects.filter(name__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0008_specialist_roles")]

    operations = [migrations.RunPython(partial(grant_permissions, grants=GRANTS), remove_group)]
