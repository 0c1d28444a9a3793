"""Model permissions of the field-data app for the role groups (SPEC 2).

PO staff enter their PO's field data; the PMU validates profiles, resolves duplicates, manages
clusters and the catalogues; the World Bank and PKSF approvers read; TEC members see only the
catalogues. Pages and the API check roles and scoping themselves: these grants keep the admin site
and any permission-based tooling consistent with them.
"""

from functools import partial

from django.db import migrations

from core.roles import grant_permissions, revoke_permissions

VIEW_ALL = [
    f"enterprises.view_{model}"
    for model in (
        "enterprise", "financialsupport", "trainingsession", "attendance", "recppractice", "adoption",
        "recpprofile", "kpi", "kpireading", "commonservicefacility", "cluster", "clustersuggestion",
        "duplicatesuspect", "importjob",
    )
]  # fmt: skip
CATALOGUES = ["enterprises.view_recppractice", "enterprises.view_kpi"]

GRANTS = {
    "PO staff": [
        *[v for v in VIEW_ALL if not v.endswith(("clustersuggestion", "duplicatesuspect"))],
        *[
            f"enterprises.{verb}_{model}"
            for verb in ("add", "change")
            for model in (
                "enterprise", "financialsupport", "trainingsession", "attendance", "adoption", "recpprofile",
                "kpireading", "commonservicefacility", "importjob",
            )
        ],
        *[f"enterprises.delete_{model}" for model in ("financialsupport", "attendance", "adoption", "kpireading")],
    ],
    "PMU officer": [
        *VIEW_ALL,
        "enterprises.change_recpprofile",
        "enterprises.change_adoption",
        "enterprises.change_duplicatesuspect",
        "enterprises.change_clustersuggestion",
        "enterprises.add_cluster",
        "enterprises.change_cluster",
        "enterprises.delete_cluster",
        "enterprises.add_recppractice",
        "enterprises.change_recppractice",
        "enterprises.add_kpi",
        "enterprises.change_kpi",
    ],
    "World Bank reviewer": VIEW_ALL,
    "PKSF approver": VIEW_ALL,
    "TEC member": CATALOGUES,
}  # fmt: skip


class Migration(migrations.Migration):
    dependencies = [("enterprises", "0003_kpis"), ("core", "0003_roles")]

    operations = [
        migrations.RunPython(
            partial(grant_permissions, grants=GRANTS), partial(revoke_permissions, grants=GRANTS)
        )
    ]
