"""The PMU's field-data decisions: suspected duplicates, clusters and cluster suggestions."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.http import require_GET, require_POST

from core import lifecycle, outbox
from core.errors import ActionRefused
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404, is_pmu
from enterprises import clusters, exports, filters
from enterprises.decisions import decisions_of
from enterprises.forms import ClusterAcceptForm, ClusterEditForm, NoteForm
from enterprises.models import Cluster, ClusterSuggestion, DuplicateSuspect, Enterprise, SuggestionStatus
from enterprises.permissions import can_see_cluster_suggestions, field_data_reader
from enterprises.tasks import suggest_clusters
from enterprises.views.base import RecordListView, TableColumn, attach_errors, refuse

# --- Duplicates -----------------------------------------------------------------------------------


def _side(me: Enterprise) -> str:
    return f"{me.partner_organization.code}/{me.po_code} · {me.name}"


class DuplicateList(RecordListView):
    title = _lazy("Suspected duplicates")
    intro = _lazy(
        "Enterprises whose phone, trade licence number, or name in the same upazila match another one. "
        "Confirm to count the later one as the earlier one (once), or dismiss."
    )
    model = DuplicateSuspect
    filterset_class = filters.DuplicateSuspectFilter
    related = (
        "enterprise__partner_organization",
        "enterprise__upazila",
        "matched_enterprise__partner_organization",
        "matched_enterprise__upazila",
    )
    ordering = ("found_at", "pk")
    default_sort = "found"
    nothing_yet = _lazy("No suspected duplicate has been found.")
    table = (
        TableColumn(
            _lazy("Found"),
            lambda d: timezone.localdate(d.found_at),
            lambda d: d.get_absolute_url(),
            sort_key="found",
            sort_by=("found_at",),
        ),
        TableColumn(
            _lazy("Enterprise"),
            lambda d: _side(d.enterprise),
            sort_key="enterprise",
            sort_by=("enterprise__partner_organization__code", "enterprise__po_code"),
        ),
        TableColumn(
            _lazy("Matches"),
            lambda d: _side(d.matched_enterprise),
            sort_key="matches",
            sort_by=("matched_enterprise__partner_organization__code", "matched_enterprise__po_code"),
        ),
        TableColumn(_lazy("Why"), lambda d: ", ".join(d.reasons)),
        TableColumn(_lazy("Status"), lambda d: d.get_status_display(), sort_key="status"),
    )
    export_columns = staticmethod(exports.duplicate_columns)
    export_name = "suspected-duplicates"

    def dispatch(self, request, *args, **kwargs):
        # Pairs show two POs' personal data side by side: programme-wide roles only.
        if request.user.is_authenticated and not request.user.sees_whole_programme:
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    default_filters = {"status": "suspected"}


@field_data_reader
def duplicate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    suspect = get_visible_or_404(
        DuplicateSuspect.objects.select_related(
            "enterprise__partner_organization",
            "enterprise__upazila",
            "enterprise__district",
            "enterprise__sub_sector",
            "matched_enterprise__partner_organization",
            "matched_enterprise__upazila",
            "matched_enterprise__district",
            "matched_enterprise__sub_sector",
            "resolved_by",
        ),
        request.user,
        pk=pk,
    )
    return render(
        request,
        "enterprises/duplicate_detail.html",
        {
            "suspect": suspect,
            "form": NoteForm(),
            # The decisions this person may take now, from the rule table (duplicates.DUPLICATE_RULES).
            "actions": {rule.action for rule in lifecycle.available_rules(request.user, suspect)},
            "timeline": decisions_of(suspect),
        },
    )


DONE = {
    "confirm": _lazy("Confirmed: the later enterprise now counts as the earlier one."),
    "dismiss": _lazy("Dismissed: they are different enterprises."),
    "reopen": _lazy("Reopened."),
}


@field_data_reader
@require_POST
def duplicate_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One decision on a pair, through the engine; the note is the decision's comment."""
    suspect = get_visible_or_404(DuplicateSuspect.objects.all(), request.user, pk=pk)
    if action not in DONE:
        raise PermissionDenied
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        lifecycle.apply(suspect, action, request.user, comment=note)
    except ActionRefused as exc:
        return refuse(request, exc, suspect.get_absolute_url())
    messages.success(request, DONE[action])
    return redirect(suspect)


# --- Clusters -------------------------------------------------------------------------------------


class ClusterList(RecordListView):
    title = _lazy("Clusters")
    intro = _lazy("Enterprises of similar production or services within about a 5 km area (SME Foundation).")
    model = Cluster
    filterset_class = filters.ClusterFilter
    related = ("sub_sector", "district")
    ordering = ("name",)
    default_sort = "name"
    nothing_yet = _lazy("No cluster has been recorded yet.")
    table = (
        TableColumn(_lazy("Name"), lambda c: c.name, lambda c: c.get_absolute_url(), sort_key="name"),
        TableColumn(
            _lazy("Sub-sector"),
            lambda c: c.sub_sector.name,
            sort_key="sub_sector",
            sort_by=("sub_sector__name",),
        ),
        TableColumn(
            _lazy("District"), lambda c: c.district.name, sort_key="district", sort_by=("district__name",)
        ),
        TableColumn(
            _lazy("Members"),
            lambda c: c.member_count,
            numeric=True,
            sort_key="members",
            sort_by=("member_count",),
        ),
    )
    export_columns = staticmethod(exports.cluster_columns)
    export_name = "clusters"

    def base_queryset(self):
        return super().base_queryset().annotate(member_count=Count("members"))

    def extra_context(self):
        if is_pmu(self.request.user):
            return {"add_url": reverse("enterprises:suggestion-list"), "add_label": _("Cluster suggestions")}
        return {}


@field_data_reader
def cluster_detail(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_visible_or_404(
        Cluster.objects.select_related("sub_sector", "district"), request.user, pk=pk
    )
    # PO staff see only their own members; the other POs' count, never their data.
    members = (
        Enterprise.objects.visible_to(request.user)
        .filter(cluster=cluster)
        .select_related("partner_organization", "upazila")
    )
    total = Enterprise.objects.filter(cluster=cluster).count()
    can_manage = is_pmu(request.user)
    form = ClusterEditForm(
        request.POST or None, initial={"name": cluster.name, "description": cluster.description}
    )
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied
        if request.POST.get("action") == "remove" or "remove" in request.POST:
            if not request.POST.getlist("remove"):
                messages.info(request, _("Tick the enterprises to remove first."))
                return redirect(cluster)
            removed = clusters.remove_members(
                user=request.user,
                cluster=cluster,
                enterprise_ids=[int(i) for i in request.POST.getlist("remove") if i.isdigit()],
            )
            messages.success(request, _("%(n)s enterprise(s) removed from the cluster.") % {"n": removed})
            return redirect(cluster)
        if form.is_valid():
            try:
                clusters.edit_cluster(user=request.user, cluster=cluster, **form.cleaned_data)
            except ValidationError as exc:
                attach_errors(form, exc)
            else:
                messages.success(request, _("Cluster saved."))
                return redirect(cluster)
    return render(
        request,
        "enterprises/cluster_detail.html",
        {
            "cluster": cluster,
            "members": members.order_by("partner_organization__code", "po_code")[:500],
            "member_total": total,
            "own_total": members.count(),
            "can_manage": can_manage,
            "form": form,
        },
    )


@field_data_reader
@require_POST
def cluster_dissolve(request: HttpRequest, pk: int) -> HttpResponse:
    cluster = get_visible_or_404(Cluster.objects.all(), request.user, pk=pk)
    try:
        clusters.dissolve_cluster(user=request.user, cluster=cluster)
    except ActionRefused as exc:
        return refuse(request, exc, cluster.get_absolute_url())
    messages.success(request, _("Cluster dissolved; its enterprises are no longer in a cluster."))
    return redirect("enterprises:cluster-list")


def suggestions_page(view):
    """Signed in (else the sign-in page) and allowed to see the suggestions (else 403): the rule
    the API applies too (`can_see_cluster_suggestions`)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not can_see_cluster_suggestions(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


# The largest groups first.
SUGGESTION_SORTS = SortSpec(
    {
        "sub_sector": ("sub_sector__name",),
        "district": ("district__name",),
        "enterprises": ("member_count",),
    },
    default="-enterprises",
)


@suggestions_page
@require_GET
def suggestion_list(request: HttpRequest) -> HttpResponse:
    visible = clusters.visible_suggestions(request.user)
    suggestions = visible.filter(status=SuggestionStatus.PROPOSED).select_related("sub_sector", "district")
    last = visible.order_by("-computed_at").values_list("computed_at", flat=True).first()
    listing = Listing(request, sort=SUGGESTION_SORTS, saved_filters=False)
    listed = listing.page(listing.order(suggestions))
    return render(
        request,
        "enterprises/suggestion_list.html",
        {**listed, "suggestions": listed["page_obj"].object_list, "computed_at": last},
    )


@suggestions_page
@require_POST
def suggestion_refresh(request: HttpRequest) -> HttpResponse:
    outbox.enqueue(suggest_clusters)
    messages.success(request, _("Cluster suggestions are being recomputed; reload this page in a moment."))
    return redirect("enterprises:suggestion-list")


@suggestions_page
def suggestion_detail(request: HttpRequest, pk: int) -> HttpResponse:
    suggestion = _suggestion(request.user, pk)
    members = list(suggestion.members.select_related("partner_organization", "upazila").order_by("po_code"))
    form = ClusterAcceptForm(
        request.POST or None,
        members=members,
        initial={
            "name": _("%(district)s %(sub_sector)s cluster")
            % {
                "district": suggestion.district.name,
                "sub_sector": suggestion.sub_sector.name,
            }
        },
    )
    comment = request.POST.get("comment", "").strip()
    if request.method == "POST":
        if "dismiss" in request.POST:
            try:
                lifecycle.apply(suggestion, "dismiss", request.user, comment=comment)
            except ActionRefused as exc:
                return refuse(request, exc, suggestion.get_absolute_url())
            messages.success(request, _("Suggestion dismissed; this group will not be proposed again."))
            return redirect("enterprises:suggestion-list")
        if form.is_valid():
            try:
                cluster = clusters.accept_suggestion(
                    user=request.user,
                    suggestion=suggestion,
                    name=form.cleaned_data["name"],
                    member_ids=[int(i) for i in form.cleaned_data["members"]],
                    description=form.cleaned_data["description"],
                    comment=comment,
                )
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Cluster %(name)s created.") % {"name": cluster.name})
                return redirect(cluster)
    return render(
        request,
        "enterprises/suggestion_detail.html",
        {
            "suggestion": suggestion,
            "members": members,
            "form": form,
            "comment": comment,
            "timeline": decisions_of(suggestion),
        },
    )


def _suggestion(user, pk: int) -> ClusterSuggestion:
    return get_object_or_404(
        clusters.visible_suggestions(user).select_related("sub_sector", "district"), pk=pk
    )
