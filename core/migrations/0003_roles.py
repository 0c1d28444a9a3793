"""The five roles of SPEC 2 as groups, with the model permissions of this app.

Later apps grant permissions on their own models in their own migrations (core.roles.grant_permissions).
"""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

READ_REFERENCE = [
    "core.view_businessarea",
    "core.view_sector",
    "core.view_subsector",
    "core.view_division",
    "core.view_district",
    "core.view_upazila",
]

GRANTS = {
    "PO staff": [*READ_REFERENCE, "core.view_partnerorganization"],
    "PMU officer": [
        *READ_REFERENCE,
        "core.view_partnerorganization",
        "core.add_partnerorganization",
        "core.change_partnerorganization",
        "core.change_district",
        "core.change_upazila",
        "core.view_user",
    ],
    "TEC member": [*READ_REFERENCE, "core.view_partnerorganization"],
    "World Bank reviewer": [*READ_REFERENCE, "core.view_partnerorganization"],
    "PKSF approver": [*READ_REFERENCE, "core.view_partnerorganization"],
}


def remove_groups(apps, schema_editor):
    revoke_permissions(apps, schema_editor, GRANTS)
    apps.get_model("auth", "Group").objects.filter(name__in=GRANTS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_reference_data"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(partial(grant_permissions, grants=GRANTS), remove_groups)]
