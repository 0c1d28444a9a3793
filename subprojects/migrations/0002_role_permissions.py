"""Model permissions of the lifecycle for the role groups (the admin site uses them; pages and the API
check roles, scoping and the transition table)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

VIEW_ALL = [
    f"subprojects.view_{model}"
    for model in (
        "call",
        "conceptnote",
        "proposal",
        "subproject",
        "budgetline",
        "activity",
        "committedresult",
        "attachment",
        "transition",
    )
]

GRANTS = {
    "PMU officer": [
        *VIEW_ALL,
        "subprojects.add_call",
        "subprojects.change_call",
        "subprojects.change_subproject",
    ],
    "World Bank reviewer": VIEW_ALL,
    "PKSF approver": VIEW_ALL,
    "PO staff": [
        "subprojects.view_call",
        "subprojects.view_conceptnote",
        "subprojects.add_conceptnote",
        "subprojects.change_conceptnote",
        "subprojects.view_proposal",
        "subprojects.change_proposal",
        "subprojects.view_subproject",
        "subprojects.add_attachment",
    ],
}


class Migration(migrations.Migration):
    dependencies = [("subprojects", "0001_initial"), ("core", "0003_roles")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
