"""The portal's roles (SPEC 2). Each role is a Django group; its permissions are granted by migrations."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    PO_STAFF = "po_staff", _("PO staff")
    PMU_OFFICER = "pmu_officer", _("PMU officer")
    TEC_MEMBER = "tec_member", _("TEC member")
    WORLD_BANK = "world_bank", _("World Bank reviewer")
    PKSF_APPROVER = "pksf_approver", _("PKSF approver")
    # Third-party monitoring firm or PMU field staff: checks reported results in the field. Belongs to
    # no PO and never edits PO data.
    VERIFIER = "verifier", _("Verifier")
    # PMU specialists (SPEC 2): roles a PMU officer or a PO's staff may also hold.
    # Environmental and social officer: the PMU's E&S review of high-risk proposals, incident follow-up,
    # the exclusion list.
    ES_OFFICER = "es_officer", _("E&S officer")
    # Handles grievances: a PO's focal point those of its PO, the PMU's (no PO) every PO's and those
    # lodged with PKSF or the Bank. Never SEA/SH cases.
    GRIEVANCE_FOCAL_POINT = "grievance_focal_point", _("Grievance focal point")
    # Named SEA/SH focal points: the only people who see sexual exploitation, abuse and harassment cases.
    SEAH_FOCAL_POINT = "seah_focal_point", _("SEA/SH focal point")
    # PKSF finance: approves and records releases to POs, prepares the interim financial reports, keeps
    # the exchange rates. A PO's own finance officer sees only that PO's money.
    FINANCE_OFFICER = "finance_officer", _("Finance officer")


# Group names are stored data, so they stay in English whatever the interface language.
GROUP_NAMES: dict[Role, str] = {
    Role.PO_STAFF: "PO staff",
    Role.PMU_OFFICER: "PMU officer",
    Role.TEC_MEMBER: "TEC member",
    Role.WORLD_BANK: "World Bank reviewer",
    Role.PKSF_APPROVER: "PKSF approver",
    Role.VERIFIER: "Verifier",
    Role.ES_OFFICER: "E&S officer",
    Role.GRIEVANCE_FOCAL_POINT: "Grievance focal point",
    Role.SEAH_FOCAL_POINT: "SEA/SH focal point",
    Role.FINANCE_OFFICER: "Finance officer",
}
ROLE_BY_GROUP_NAME: dict[str, Role] = {name: role for role, name in GROUP_NAMES.items()}

# Roles whose holders read everything in the programme, across all POs.
PROGRAMME_WIDE_ROLES = frozenset({Role.PMU_OFFICER, Role.WORLD_BANK, Role.PKSF_APPROVER})


def grant_permissions(apps, schema_editor, grants: dict[str, list[str]]) -> None:
    """Create the role groups if needed and add `app_label.codename` permissions to them.

    For data migrations: permissions are normally created after `migrate` finishes, so they are
    created here first for the apps whose models the grants name.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, perms in grants.items():
        group, _created = Group.objects.get_or_create(name=group_name)
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            group.permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )


def revoke_permissions(apps, schema_editor, grants: dict[str, list[str]]) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, perms in grants.items():
        group = Group.objects.filter(name=group_name).first()
        if group is None:
            continue
        for dotted in perms:
            app_label, codename = dotted.split(".", 1)
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
