"""Model permissions of the results framework for the role groups (used by the admin site)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

VIEW = [
    "monitoring.view_indicator",
    "monitoring.view_milestone",
    "monitoring.view_aggregationrun",
    "monitoring.view_snapshot",
    "monitoring.view_indicatorvalue",
]

GRANTS = {
    "PMU officer": [
        *VIEW,
        "monitoring.change_indicator",
        "monitoring.add_milestone",
        "monitoring.change_milestone",
        "monitoring.delete_milestone",
        "monitoring.add_aggregationrun",
    ],
    "World Bank reviewer": VIEW,
    "PKSF approver": VIEW,
    "PO staff": ["monitoring.view_indicator", "monitoring.view_snapshot"],
}


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_indicators"), ("core", "0003_roles")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
