"""Model permissions of verification for the role groups (admin site and permission-based tooling),
and the policy's one row with its defaults (so that merely reading it never writes, nor shows the
first reader as its author in the history).

The PMU edits the policy; everyone who follows rounds (PMU, verifiers, World Bank, PKSF approvers)
views rounds, strata and checks. PO staff get none: the admin site is not scoped by PO, and pending
checks must not be announced to the PO. Pages and the API check roles and scoping themselves.
"""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

VIEW = [
    f"verification.view_{model}"
    for model in ("verificationpolicy", "verificationround", "roundstratum", "verificationcheck")
]

GRANTS = {
    "PMU officer": [*VIEW, "verification.change_verificationpolicy"],
    "Verifier": VIEW,
    "World Bank reviewer": VIEW,
    "PKSF approver": VIEW,
}


def create_policy(apps, schema_editor):
    apps.get_model("verification", "VerificationPolicy").objects.get_or_create(pk=1)


class Migration(migrations.Migration):
    dependencies = [("verification", "0002_strata_and_check_district"), ("core", "0004_verifier_role")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        ),
        migrations.RunPython(create_policy, migrations.RunPython.noop),
    ]
