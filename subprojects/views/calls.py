from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ActionRefused
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404
from subprojects import evaluation, services
from subprojects.forms import CallForm
from subprojects.models import Call, ConceptNote, NoteStatus
from subprojects.permissions import may_edit_call, may_write_for_po, page_requires
from subprojects.views.common import handle_transition, render_object_page, report_refusal

# Newest call first.
CALL_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "title": ("title",),
        "opens": ("opens_at",),
        "deadline": ("closes_at",),
        "ceiling": ("ceiling_budget",),
        "notes": ("note_count",),
        "state": ("status",),
    },
    default="-opens",
)


@login_required
def call_list(request: HttpRequest) -> HttpResponse:
    calls = Call.objects.visible_to(request.user).annotate(
        note_count=Count("concept_notes", filter=~Q(concept_notes__status=NoteStatus.DRAFT))
    )
    listing = Listing(request, sort=CALL_SORTS, saved_filters=False)
    context = listing.page(listing.order(calls))
    return render(
        request,
        "subprojects/call_list.html",
        {**context, "calls": context["page_obj"].object_list, "can_create": may_edit_call(request.user)},
    )


def _call_page(request: HttpRequest, call: Call, **kwargs) -> HttpResponse:
    user = request.user
    context: dict = {"call": call, "can_edit": may_edit_call(user) and call.is_editable}
    if user.sees_whole_programme:
        counts = dict(
            ConceptNote.objects.filter(call=call).values_list("status").annotate(n=Count("pk")).order_by()
        )
        context["note_counts"] = [(label, counts.get(value, 0)) for value, label in NoteStatus.choices]
    if may_write_for_po(user):
        context["my_notes"] = ConceptNote.objects.filter(
            call=call, partner_organization_id=user.partner_organization_id
        )
        context["can_write_note"] = call.accepts_submissions()
    reopen_refused = kwargs.get("failed_action") == "reopen_scoring"
    if may_edit_call(user) and not reopen_refused and not evaluation.call_scoring_locked(call):
        # Nothing to reopen before the first submitted score: no button for it.
        kwargs["exclude_actions"] = (*kwargs.get("exclude_actions", ()), "reopen_scoring")
    return render_object_page(request, "subprojects/call_detail.html", call, context, **kwargs)


@login_required
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_visible_or_404(Call.objects.prefetch_related("eligible_sectors"), request.user, pk=pk)
    return _call_page(request, call)


@page_requires(may_edit_call)
def call_create(request: HttpRequest) -> HttpResponse:
    form = CallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        call = services.create_call(user=request.user, data=form.cleaned_data)
        messages.success(
            request, _("Call %(ref)s created as a draft. Open it when it is ready.") % {"ref": call.reference}
        )
        return redirect(call.get_absolute_url())
    return render(request, "subprojects/call_form.html", {"form": form})


@page_requires(may_edit_call)
def call_edit(request: HttpRequest, pk: int) -> HttpResponse:
    call = get_visible_or_404(Call.objects.all(), request.user, pk=pk)
    form = CallForm(request.POST or None, instance=call)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_call(user=request.user, call=call, data=form.cleaned_data)
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(request, _("Call %(ref)s saved.") % {"ref": call.reference})
        return redirect(call.get_absolute_url())
    if not call.is_editable:
        messages.error(request, _("A closed call cannot be edited."))
        return redirect(call.get_absolute_url())
    return render(request, "subprojects/call_form.html", {"form": form, "call": call})


@require_POST
@login_required
def call_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request, Call.objects.all(), pk, action, lambda call, **kw: _call_page(request, call, **kw)
    )
