"""Model permissions of the environmental outcomes and the results reports (admin site)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

READ = ["monitoring.view_outcomevalue", "monitoring.view_reportjob"]

GRANTS = {
    "PMU officer": [*READ, "monitoring.add_reportjob"],
    "World Bank reviewer": READ,
    "PKSF approver": READ,
    "PO staff": ["monitoring.view_outcomevalue"],
}


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0005_seed_exact_framework"), ("core", "0003_roles")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
