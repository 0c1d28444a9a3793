"""The ten key pages of each role (issue 15), on the demo programme: the pages the Bangla, phone-layout
and accessibility browser tests open and `make bench` measures on a slow link.

`key_pages(username)` gives (label, path) pairs for a demo login; detail pages take the first record
that login may see, so the list follows the demo data rather than hard-coded ids.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.urls import reverse

Resolver = Callable[[object], str]


def _first(queryset, url_name: str, **kwargs) -> str:
    obj = queryset.order_by("pk").first()
    if obj is None:
        raise LookupError(f"the demo has no record for {url_name}")
    return reverse(url_name, kwargs={"pk": obj.pk, **kwargs})


def _note_detail(user) -> str:
    from subprojects.models import ConceptNote

    return _first(ConceptNote.objects.visible_to(user), "subprojects:note-detail")


def _note_create(user) -> str:
    from subprojects.models import Call

    call = Call.objects.visible_to(user).filter(status="open").order_by("pk").first()
    if call is None:
        raise LookupError("the demo has no open call")
    return reverse("subprojects:note-create", kwargs={"call_pk": call.pk})


def _proposal_detail(user) -> str:
    from subprojects.models import Proposal

    return _first(Proposal.objects.visible_to(user), "subprojects:proposal-detail")


def _proposal_edit(user) -> str:
    from subprojects.models import Proposal

    return _first(
        Proposal.objects.visible_to(user).filter(status__in=["draft", "returned"]),
        "subprojects:proposal-edit",
    )


def _subproject_detail(user) -> str:
    from subprojects.models import SubProject

    return _first(SubProject.objects.visible_to(user), "subprojects:subproject-detail")


def _enterprise_detail(user) -> str:
    from enterprises.models import Enterprise

    return _first(Enterprise.objects.visible_to(user), "enterprises:enterprise-detail")


def _meeting_detail(user) -> str:
    from subprojects.models import TecMeeting

    return _first(TecMeeting.objects.visible_to(user), "subprojects:meeting-detail")


def _agenda_score(user) -> str:
    from subprojects.models import AgendaItem

    # An item still under evaluation, so that the page shows the score sheet.
    item = (
        AgendaItem.objects.filter(meeting__members=user, proposal__status="under_evaluation")
        .order_by("pk")
        .first()
    )
    if item is None:
        raise LookupError("the demo has no agenda item for this TEC member")
    return reverse("subprojects:agenda-item", kwargs={"pk": item.pk})


def _verification_round(user) -> str:
    from verification.models import VerificationRound

    return _first(VerificationRound.objects.all(), "verification:round-detail")


def _verification_check(user) -> str:
    from verification.models import VerificationCheck

    return _first(VerificationCheck.objects.visible_to(user), "verification:check-detail")


def _path(path: str) -> Resolver:
    return lambda user: path


KEY_PAGES: dict[str, list[tuple[str, Resolver]]] = {
    "po2": [
        ("home", _path("/")),
        ("concept notes", _path("/concept-notes/")),
        ("concept note", _note_detail),
        ("proposal form", _proposal_edit),
        ("enterprises", _path("/enterprises/")),
        ("new enterprise", _path("/enterprises/new/")),
        ("enterprise", _enterprise_detail),
        ("KPI readings", _path("/kpi-readings/")),
        ("imports", _path("/field-data/imports/")),
        ("sub-project", _subproject_detail),
    ],
    "pmu": [
        ("home", _path("/")),
        ("dashboard", _path("/dashboard/")),
        ("concept notes", _path("/concept-notes/")),
        ("proposals", _path("/proposals/")),
        ("proposal", _proposal_detail),
        ("sub-projects", _path("/sub-projects/")),
        ("enterprises", _path("/enterprises/")),
        ("TEC meetings", _path("/tec-meetings/")),
        ("reports", _path("/dashboard/reports/")),
        ("calls for proposals", _path("/calls/")),
    ],
    "tec1": [
        ("home", _path("/")),
        ("my evaluations", _path("/tec/my-evaluations/")),
        ("scoring", _agenda_score),
        ("TEC meetings", _path("/tec-meetings/")),
        ("meeting", _meeting_detail),
        ("proposals", _path("/proposals/")),
        ("proposal", _proposal_detail),
        ("concept notes", _path("/concept-notes/")),
        ("sub-projects", _path("/sub-projects/")),
        ("calls for proposals", _path("/calls/")),
    ],
    "finance": [
        ("home", _path("/")),
        ("releases", _path("/finance/releases/")),
        ("sub-project money", _path("/finance/sub-projects/")),
        ("spending", _path("/finance/spending/")),
        ("financial progress", _path("/finance/progress/")),
        ("loan portfolio", _path("/finance/portfolio/")),
        ("loans", _path("/finance/loans/")),
        ("IFRs", _path("/finance/ifr/")),
        ("scorecards", _path("/finance/scorecards/")),
        ("exchange rates", _path("/finance/exchange-rates/")),
    ],
    "es": [
        ("home", _path("/")),
        ("E&S reviews", _path("/es-reviews/")),
        ("screenings", _path("/safeguards/screenings/")),
        ("clearances", _path("/safeguards/clearances/")),
        ("expired clearances", _path("/safeguards/clearances/expired/")),
        ("incidents", _path("/safeguards/incidents/")),
        ("proposals", _path("/proposals/")),
        ("exclusion list", _path("/exclusion-list/")),
        ("sub-projects", _path("/sub-projects/")),
        ("dashboard", _path("/dashboard/")),
    ],
    "verifier": [
        ("home", _path("/")),
        ("verification rounds", _path("/verification/")),
        ("verification round", _verification_round),
        ("checks", _path("/verification/checks/")),
        ("check", _verification_check),
        ("awaiting verification", _path("/verification/awaiting/")),
        ("verification policy", _path("/verification/policy/")),
        ("districts", _path("/reference/districts/")),
        ("sectors", _path("/reference/sectors/")),
        ("language and numbers", _path("/accounts/preferences/")),
    ],
}

# Pages anyone opens without signing in.
PUBLIC_PAGES: list[tuple[str, str]] = [
    ("sign in", "/accounts/login/"),
    ("lodge a grievance", "/grievances/lodge/"),
    ("grievance status", "/grievances/status/"),
]


def key_pages(username: str) -> list[tuple[str, str]]:
    """(label, path) of the login's ten key pages, resolved on the data in the database now."""
    user = get_user_model().objects.get(username=username)
    return [(label, resolve(user)) for label, resolve in KEY_PAGES[username]]
