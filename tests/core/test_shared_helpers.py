"""The helpers every app registers with or calls: navigation menus, "waiting on you", upload checks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from core import navigation, uploads, waiting
from core.navigation import NavGroup, NavItem
from core.roles import Role

PDF_BYTES = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# --- Navigation -----------------------------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch) -> list[NavItem]:
    """An empty navigation registry for the test (the apps' items are restored afterwards)."""
    monkeypatch.setattr(navigation, "_REGISTRY", [])
    return navigation._REGISTRY


def test_registering_with_a_group_makes_one_menu(registry, pmu):
    navigation.register(NavItem("Home", "home", order=1))
    navigation.register(
        NavItem("Docs", "api-docs", order=3), NavItem("Login", "login", order=2), group="Help"
    )

    menu = navigation.menu_for(pmu)

    assert [entry.label for entry in menu] == ["Home", "Help"]
    assert isinstance(menu[1], NavGroup)
    assert [item.label for item in menu[1].items] == ["Login", "Docs"]
    assert {item.group for item in registry} == {"", "Help"}


def test_a_group_with_a_single_allowed_item_is_a_plain_link(registry, po1):
    navigation.register(
        NavItem("Docs", "api-docs", roles=(Role.PO_STAFF,)),
        NavItem("PMU only", "login", roles=(Role.PMU_OFFICER,)),
        group="Help",
    )

    menu = navigation.menu_for(po1)

    assert [(type(entry), entry.label) for entry in menu] == [(NavItem, "Docs")]


def test_a_links_address_follows_the_script_prefix_it_is_served_under():
    """Addresses are resolved once per process, but per script prefix: a portal served under a
    sub-path links there, and at the root again at the root."""
    from django.urls import get_script_prefix, reverse, set_script_prefix

    at_root = reverse("home")
    served_at = get_script_prefix()
    try:
        set_script_prefix("/portal/")
        assert NavItem("Home", "home").url == "/portal" + at_root
    finally:
        set_script_prefix(served_at)
    assert NavItem("Home", "home").url == at_root


def test_registering_the_same_item_twice_lists_it_once(registry):
    item = NavItem("Home", "home")

    navigation.register(item)
    navigation.register(item)

    assert registry == [item]


# --- Waiting on you -------------------------------------------------------------------------------


def test_waiting_items_come_from_every_provider_oldest_first(monkeypatch, pmu):
    monkeypatch.setattr(waiting, "_PROVIDERS", [])
    now = timezone.now()

    def item(reference: str, days: int) -> waiting.WaitingItem:
        return waiting.WaitingItem(reference, "", "/", "Act", since=now - timedelta(days=days))

    def recent(user):
        return [item("B", 1)]

    def old(user):
        return [item("A", 9)]

    waiting.register(recent, old)
    waiting.register(recent)  # registered once only

    assert [i.reference for i in waiting.items_for(pmu)] == ["A", "B"]


def test_an_item_is_overdue_only_past_its_due_date():
    now = timezone.now()

    assert waiting.WaitingItem("A", "", "/", "", since=now, due=now - timedelta(minutes=1)).overdue
    assert not waiting.WaitingItem("A", "", "/", "", since=now, due=now + timedelta(days=1)).overdue
    assert not waiting.WaitingItem("A", "", "/", "", since=now).overdue


# --- Uploads --------------------------------------------------------------------------------------


def _refusal(upload, kinds=uploads.DOCUMENT_KINDS, max_bytes=1024) -> str:
    with pytest.raises(ValidationError) as refused:
        uploads.check_upload(upload, kinds, max_bytes)
    return refused.value.code


def test_uploads_are_refused_when_too_big_empty_or_of_another_type():
    assert _refusal(SimpleUploadedFile("big.pdf", PDF_BYTES), max_bytes=10) == "too_large"
    assert _refusal(SimpleUploadedFile("empty.pdf", b"")) == "empty"
    assert _refusal(SimpleUploadedFile("script.exe", PDF_BYTES)) == "bad_extension"
    assert _refusal(SimpleUploadedFile("fake.pdf", b"plain text, not a PDF")) == "content_mismatch"


def test_an_upload_is_recognised_by_its_content():
    assert uploads.check_upload(SimpleUploadedFile("note.PDF", PDF_BYTES), uploads.DOCUMENT_KINDS, 1024) == (
        uploads.PDF
    )


def test_documents_are_limited_by_the_attachment_setting(settings):
    settings.ATTACHMENT_MAX_MB = 1
    assert uploads.check_document(SimpleUploadedFile("note.pdf", PDF_BYTES)) == uploads.PDF

    settings.ATTACHMENT_MAX_MB = 0
    with pytest.raises(ValidationError, match="the limit is"):
        uploads.check_document(SimpleUploadedFile("note.pdf", PDF_BYTES))
