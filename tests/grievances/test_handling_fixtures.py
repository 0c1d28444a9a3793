"""Personas and helpers shared by the grievance handling, intake and confidentiality tests (imported
by them; no tests here)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile

from core.roles import Role
from grievances import handling
from grievances.models import Category, Channel, Grievance
from tests.factories import make_user

PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 10 10]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)


@pytest.fixture(autouse=True)
def media_and_cache(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()  # the throttles count in the cache
    yield
    cache.clear()


@pytest.fixture
def gfp1(po_one):
    """PO-T01's grievance focal point (also its staff)."""
    return make_user("gfp1", Role.PO_STAFF, Role.GRIEVANCE_FOCAL_POINT, po=po_one)


@pytest.fixture
def gfp2(po_two):
    return make_user("gfp2", Role.PO_STAFF, Role.GRIEVANCE_FOCAL_POINT, po=po_two)


@pytest.fixture
def grm(db):
    """The PMU's grievance focal point."""
    return make_user("grm", Role.PMU_OFFICER, Role.GRIEVANCE_FOCAL_POINT)


@pytest.fixture
def seah(db):
    """The PMU's SEA/SH focal point."""
    return make_user("seah", Role.PMU_OFFICER, Role.SEAH_FOCAL_POINT)


@pytest.fixture
def seah1(po_one):
    return make_user("seah1", Role.PO_STAFF, Role.SEAH_FOCAL_POINT, po=po_one)


@pytest.fixture
def root(db):
    return make_user("root", is_staff=True, is_superuser=True)


def pdf(name: str = "letter.pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def lodge(po=None, category: str = Category.FINANCIAL, **kwargs) -> Grievance:
    data = {
        "partner_organization": po,
        "category": category,
        "subject": kwargs.pop("subject", "Loan officer asked for a fee"),
        "description": kwargs.pop("description", "The loan officer asked for 500 taka to process my loan."),
        "channel": kwargs.pop("channel", Channel.WEB),
        **kwargs,
    }
    return handling.lodge(**data)


def reload(grievance: Grievance) -> Grievance:
    return Grievance.objects.get(pk=grievance.pk)
