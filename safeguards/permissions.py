"""Who acts for the PMU on safeguards: PMU officers and E&S officers belonging to no PO. A PO's own
staff never take the PMU's side of their PO's records, whatever specialist role they also hold."""

from __future__ import annotations

from core.roles import Role


def is_pmu_side(user) -> bool:
    """A PMU officer or an E&S officer of the PMU (belonging to no PO)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is None
        and user.has_role(Role.PMU_OFFICER, Role.ES_OFFICER)
    )


def is_pmu_es_officer(user) -> bool:
    """An E&S officer of the PMU (belonging to no PO): the only one who decides E&S reviews."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.partner_organization_id is None
        and user.has_role(Role.ES_OFFICER)
    )
