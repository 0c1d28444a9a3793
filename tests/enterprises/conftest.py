from __future__ import annotations

import pytest

from core.roles import Role
from tests.enterprises.factories import EnterpriseFactory, sub_project_for
from tests.factories import district, make_user


@pytest.fixture(autouse=True)
def _media_in_tmp(request, settings, tmp_path):
    """Uploads go to a temporary folder, except for tests with the real worker, which must read
    the files where the worker process looks for them."""
    if not request.node.get_closest_marker("real_services"):
        settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def verifier(db):
    """A third-party monitor: belongs to no PO, checks what POs report."""
    return make_user("verifier", Role.VERIFIER)


@pytest.fixture
def sp_one(po_one):
    """An active footwear sub-project of po1's PO."""
    return sub_project_for(po_one, agreement_number="PKSF/SMART/SP/T001")


@pytest.fixture
def sp_two(po_two):
    return sub_project_for(po_two, agreement_number="PKSF/SMART/SP/T002")


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(
        sub_project=sp_one, po_code="ME-0001", name="Rahima Shoe Works", phone="+8801711000001"
    )


@pytest.fixture
def me_two(sp_two):
    return EnterpriseFactory(
        sub_project=sp_two,
        po_code="ME-0001",
        name="Satkhira Leather Crafts",
        phone="+8801811000002",
        district=district("Satkhira"),
    )
