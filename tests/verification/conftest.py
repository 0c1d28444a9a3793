from __future__ import annotations

import struct
import zlib
from datetime import date

import pytest

from core.roles import Role
from enterprises.models import Adoption, ProfileStatus, RecpPractice
from tests.enterprises.factories import (
    AdoptionFactory,
    EnterpriseFactory,
    FacilityFactory,
    RecpProfileFactory,
    sub_project_for,
)
from tests.factories import district, make_user
from tests.verification.factories import CheckFactory, RoundFactory


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def verifier_with_po(po_one):
    """A verifier account wrongly attached to a PO: must be refused like the PO's own staff."""
    return make_user("verifier-po", Role.VERIFIER, po=po_one)


@pytest.fixture
def pmu_with_po(po_one):
    """A PMU officer who is also staff of po1's PO: sees the programme, but never that PO's pending
    checks (the sample is not announced), and may not verify (not independent)."""
    return make_user("pmu-po", Role.PMU_OFFICER, Role.PO_STAFF, po=po_one)


@pytest.fixture
def sp_one(po_one):
    return sub_project_for(po_one, agreement_number="PKSF/SMART/SP/V001")


@pytest.fixture
def sp_two(po_two):
    return sub_project_for(po_two, agreement_number="PKSF/SMART/SP/V002")


@pytest.fixture
def me_one(sp_one):
    return EnterpriseFactory(
        sub_project=sp_one,
        po_code="ME-0001",
        name="Rahima Shoe Works",
        owner_name="Rahima Begum",
        phone="+8801711000001",
    )


@pytest.fixture
def me_two(sp_two):
    return EnterpriseFactory(
        sub_project=sp_two, po_code="ME-0001", name="Satkhira Leather Crafts", district=district("Satkhira")
    )


@pytest.fixture
def adoption_one(me_one):
    """An adoption po1's PO reported in Q1 2025, not yet verified."""
    return AdoptionFactory(
        enterprise=me_one, adopted_on=date(2025, 2, 10), evidence_observed_on=date(2025, 2, 12)
    )


@pytest.fixture
def adoption_two(me_two):
    return AdoptionFactory(enterprise=me_two, adopted_on=date(2025, 2, 11))


@pytest.fixture
def facility_one(sp_one):
    """A facility po1's PO reports operational since Q1 2025, not yet confirmed."""
    return FacilityFactory(sub_project=sp_one, name="Bhairab Recycling CSF", opened_on=date(2025, 1, 20))


@pytest.fixture
def profile_one(me_one):
    return RecpProfileFactory(
        enterprise=me_one, status=ProfileStatus.VALIDATED, validated_on=date(2025, 3, 3)
    )


@pytest.fixture
def round_q1(pmu):
    return RoundFactory(year=2025, quarter=1, drawn_by=pmu)


@pytest.fixture
def check_of(round_q1):
    """A check of the given subject in round Q1 2025 (pending unless `status=`)."""

    def make(subject, **kwargs):
        kind = subject._meta.model_name
        kind = {"adoption": "adoption", "recpprofile": "profile", "commonservicefacility": "facility"}[kind]
        return CheckFactory(round=round_q1, kind=kind, **{kind: subject}, **kwargs)

    return make


def bulk_adoptions(sub_project, count: int, on: date = date(2025, 2, 1)) -> list[Adoption]:
    """`count` adoptions reported by the sub-project's PO, adopted on `on` (20 practices per ME)."""
    practices = list(RecpPractice.objects.order_by("code")[:20])
    rows = []
    for start in range(0, count, len(practices)):
        me = EnterpriseFactory(sub_project=sub_project)
        rows += [
            Adoption(enterprise=me, practice=p, adopted_on=on)
            for p in practices[: min(len(practices), count - start)]
        ]
    return Adoption.objects.bulk_create(rows)


def tiny_png() -> bytes:
    """A real PNG of one pixel."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )
