"""Admin site: the PMU edits the policy; rounds, strata and checks are read-only there."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.urls import reverse

from core.roles import GROUP_NAMES, Role
from verification.models import VerificationPolicy


def test_pmu_edits_the_policy_and_only_reads_rounds_and_checks(client, pmu, check_of, adoption_one):
    check = check_of(adoption_one)
    policy = VerificationPolicy.current()
    client.force_login(pmu)

    for name in ("verificationpolicy", "verificationround", "roundstratum", "verificationcheck"):
        assert client.get(reverse(f"admin:verification_{name}_changelist")).status_code == 200
    assert (
        client.get(reverse("admin:verification_verificationpolicy_change", args=[policy.pk])).status_code
        == 200
    )
    assert client.get(reverse("admin:verification_verificationround_add")).status_code == 403
    assert client.get(reverse("admin:verification_verificationcheck_add")).status_code == 403
    detail = client.get(reverse("admin:verification_verificationcheck_change", args=[check.pk]))
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    response = client.post(
        reverse("admin:verification_verificationcheck_delete", args=[check.pk]), {"post": "yes"}
    )
    assert response.status_code == 403


def test_role_groups_hold_the_verification_permissions(db):
    def perms(role: Role) -> set[str]:
        group = Group.objects.get(name=GROUP_NAMES[role])
        return set(
            group.permissions.filter(content_type__app_label="verification").values_list(
                "codename", flat=True
            )
        )

    views = {
        "view_verificationpolicy",
        "view_verificationround",
        "view_roundstratum",
        "view_verificationcheck",
    }
    assert perms(Role.PMU_OFFICER) == views | {"change_verificationpolicy"}
    assert perms(Role.VERIFIER) == views
    assert perms(Role.WORLD_BANK) == views
    assert perms(Role.PO_STAFF) == set()
    assert perms(Role.TEC_MEMBER) == set()
