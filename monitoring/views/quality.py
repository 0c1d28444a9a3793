"""The data-quality panel: one line per PO (PO staff see their own line only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.models import PartnerOrganization
from core.permissions import sees_whole_programme
from monitoring import dashboard, quality


@login_required
def quality_page(request: HttpRequest) -> HttpResponse:
    # Programme-wide roles may narrow to one PO (?po=CODE, 404 if unknown); PO staff always get their
    # own PO whatever the address says; anyone else is refused (403).
    po = dashboard.scope_po(request.user, request.GET.get("po", ""))
    panel = quality.panel(po_id=po.pk if po else None)
    whole = sees_whole_programme(request.user)
    return render(
        request,
        "monitoring/quality.html",
        {
            "panel": panel,
            "rules": quality.rules(panel),
            "po": po,
            "pos": list(PartnerOrganization.objects.order_by("code").values_list("code", "name"))
            if whole
            else [],
            "whole_programme": whole,
        },
    )
