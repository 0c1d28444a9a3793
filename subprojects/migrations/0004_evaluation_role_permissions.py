"""Model permissions of the technical evaluation for the role groups (the admin site uses them)."""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

EVALUATION_MODELS = (
    "rubric",
    "criterion",
    "tecmeeting",
    "agendaitem",
    "conflictdeclaration",
    "scoresheet",
    "score",
    "decision",
    "condition",
)
VIEW_ALL = [f"subprojects.view_{model}" for model in EVALUATION_MODELS]

GRANTS = {
    "PMU officer": [
        *VIEW_ALL,
        "subprojects.add_rubric",
        "subprojects.change_rubric",
        "subprojects.add_criterion",
        "subprojects.change_criterion",
        "subprojects.delete_criterion",
        "subprojects.add_tecmeeting",
        "subprojects.change_tecmeeting",
        "subprojects.change_condition",
    ],
    "World Bank reviewer": VIEW_ALL,
    "PKSF approver": VIEW_ALL,
    "TEC member": [
        "subprojects.view_tecmeeting",
        "subprojects.view_agendaitem",
        "subprojects.view_rubric",
        "subprojects.view_criterion",
        "subprojects.add_conflictdeclaration",
        "subprojects.add_scoresheet",
        "subprojects.change_scoresheet",
        "subprojects.add_score",
        "subprojects.change_score",
        "subprojects.view_proposal",
    ],
    "PO staff": ["subprojects.view_condition"],
}


class Migration(migrations.Migration):
    dependencies = [("subprojects", "0003_evaluation")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
