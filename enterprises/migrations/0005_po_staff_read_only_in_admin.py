"""PO staff enter field data through the portal (scoped, validated); they hold no add/change/delete
model permissions, which only the unscoped admin site would use."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

ENTRY_MODELS = (
    "enterprise",
    "financialsupport",
    "trainingsession",
    "attendance",
    "adoption",
    "recpprofile",
    "kpireading",
    "commonservicefacility",
    "importjob",
)
REVOKED = {
    "PO staff": [
        *[f"enterprises.{verb}_{model}" for verb in ("add", "change") for model in ENTRY_MODELS],
        *[
            f"enterprises.delete_{model}"
            for model in ("financialsupport", "attendance", "adoption", "kpireading")
        ],
    ],
    # Duplicates are confirmed on the portal's page, which also marks the duplicate ME.
    "PMU officer": ["enterprises.change_duplicatesuspect"],
}


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0004_roles")]

    operations = [
        migrations.RunPython(
            partial(revoke_permissions, grants=REVOKED), partial(grant_permissions, grants=REVOKED)
        )
    ]
