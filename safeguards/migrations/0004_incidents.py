"""E&S incidents: who reads them in the admin site (read-only there; reported and followed up only
through the portal's rules). The admin shows each person what the portal shows them (VisibleAdminMixin)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

READ = ["safeguards.view_incident", "safeguards.view_correctiveaction"]
GRANTS = {
    "PMU officer": READ,
    "E&S officer": READ,
    "World Bank reviewer": READ,
    "PKSF approver": READ,
    "PO staff": READ,
}


class Migration(migrations.Migration):
    dependencies = [
        ("safeguards", "0003_me_screening_and_clearances"),
        ("core", "0008_specialist_roles"),
    ]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
