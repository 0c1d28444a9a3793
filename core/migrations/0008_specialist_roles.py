"""The PMU specialists' roles (SPEC 2): E&S officer, grievance focal point, SEA/SH focal point. A PMU
officer or a PO's staff may also hold them; their pages check the role themselves. Each reads the
reference data its forms offer."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

REFERENCE = [
    "core.view_businessarea",
    "core.view_sector",
    "core.view_subsector",
    "core.view_division",
    "core.view_district",
    "core.view_upazila",
    "core.view_partnerorganization",
]
GRANTS = {
    "E&S officer": REFERENCE,
    "Grievance focal point": REFERENCE,
    "SEA/SH focal point": REFERENCE,
}


def remove_groups(apps, schema_editor):
    revoke_permissions(apps, schema_editor, GRANTS)
    apps.get_model("auth", "Group").objects.filter(name__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0007_outbox_and_sent_emails")]

    operations = [migrations.RunPython(partial(grant_permissions, grants=GRANTS), remove_groups)]
