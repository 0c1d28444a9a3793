from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ActionRefused
from core.exports import Column
from core.lists import SortSpec
from core.permissions import get_visible_or_404
from subprojects import services, workflow
from subprojects.filters import ConceptNoteFilter
from subprojects.forms import AttachmentForm, ConceptNoteForm, InviteForm
from subprojects.models import Call, CallStatus, ConceptNote, NoteStatus, Proposal
from subprojects.permissions import may_edit_note, may_invite, may_write_for_po, page_requires
from subprojects.validation import concept_note_missing
from subprojects.views.common import handle_transition, list_page, render_object_page, report_refusal

NOTE_COLUMNS = [
    Column(gettext_lazy("Reference"), lambda n: n.reference),
    Column(gettext_lazy("Call"), lambda n: n.call.reference),
    Column(gettext_lazy("PO code"), lambda n: n.partner_organization.code),
    Column(gettext_lazy("PO"), lambda n: n.partner_organization.name),
    Column(gettext_lazy("Title"), lambda n: n.title),
    Column(gettext_lazy("Business area"), lambda n: n.sector.business_area.name),
    Column(gettext_lazy("Sector"), lambda n: n.sector.name),
    Column(gettext_lazy("Sub-sectors"), lambda n: "; ".join(s.name for s in n.sub_sectors.all())),
    Column(gettext_lazy("Districts"), lambda n: "; ".join(d.name for d in n.target_districts.all())),
    Column(gettext_lazy("MEs targeted"), lambda n: n.mes_targeted),
    Column(gettext_lazy("Women-led MEs"), lambda n: n.women_led_mes_targeted),
    Column(gettext_lazy("Estimated budget (BDT)"), lambda n: n.estimated_budget),
    Column(gettext_lazy("State"), lambda n: n.get_status_display()),
    Column(gettext_lazy("Submitted at"), lambda n: n.submitted_at),
    Column(gettext_lazy("In this state since"), lambda n: n.status_changed_at),
]


# The screening queue: longest waiting in its state first.
NOTE_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "title": ("title",),
        "po": ("partner_organization__code",),
        "sector": ("sector__name",),
        "mes": ("mes_targeted",),
        "budget": ("estimated_budget",),
        "state": ("status",),
        "since": ("status_changed_at",),
    },
    default="since",
)


def _notes(user):
    return ConceptNote.objects.visible_to(user).select_related(
        "call", "partner_organization", "sector__business_area"
    )


@login_required
def note_list(request: HttpRequest) -> HttpResponse:
    """PO staff: their PO's notes. PMU and other programme roles: the screening queue."""
    queryset = (
        _notes(request.user).prefetch_related("sub_sectors", "target_districts").order_by("status_changed_at")
    )
    filterset = ConceptNoteFilter(request.GET or None, queryset=queryset, user=request.user)
    return list_page(
        request,
        template="subprojects/note_list.html",
        filterset=filterset,
        columns=NOTE_COLUMNS,
        export_name="concept-notes",
        sort=NOTE_SORTS,
        context={"open_calls": Call.objects.visible_to(request.user).filter(status=CallStatus.OPEN)},
    )


def _note_page(request: HttpRequest, note: ConceptNote, **kwargs) -> HttpResponse:
    user = request.user
    # The PMU sees every proposal, so for the PMU "none visible" means "not invited yet".
    proposal = Proposal.objects.visible_to(user).filter(concept_note=note).first()
    context = {
        "note": note,
        "can_edit": note.is_editable and may_edit_note(user, note),
        "attachment_form": AttachmentForm(),
        "proposal": proposal,
        "can_invite": may_invite(user) and note.status == NoteStatus.SHORTLISTED and proposal is None,
    }
    if context["can_edit"]:
        # What the "submit" guard finds missing, by section of the form; "Submit" is not offered meanwhile.
        context["missing"] = concept_note_missing(note)
    return render_object_page(
        request,
        "subprojects/note_detail.html",
        note,
        context,
        listed_on_page=("note_complete",) if context["can_edit"] else (),
        **kwargs,
    )


@login_required
def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_visible_or_404(
        _notes(request.user).prefetch_related(
            "sub_sectors", "target_districts", "target_upazilas", "attachments"
        ),
        request.user,
        pk=pk,
    )
    return _note_page(request, note)


@page_requires(may_write_for_po)
def note_create(request: HttpRequest, call_pk: int) -> HttpResponse:
    call = get_visible_or_404(Call.objects.all(), request.user, pk=call_pk)
    if not call.accepts_submissions():
        messages.error(
            request, _("The call %(ref)s does not accept concept notes now.") % {"ref": call.reference}
        )
        return redirect(call.get_absolute_url())
    form = ConceptNoteForm(request.POST or None, call=call)
    if request.method == "POST" and form.is_valid():
        try:
            note = services.create_concept_note(user=request.user, call=call, data=form.cleaned_data)
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(
                request, _("Draft %(ref)s saved. Submit it when it is complete.") % {"ref": note.reference}
            )
            return redirect(note.get_absolute_url())
    return render(request, "subprojects/note_form.html", {"form": form, "call": call})


@page_requires(may_write_for_po)
def note_edit(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_visible_or_404(ConceptNote.objects.select_related("call"), request.user, pk=pk)
    if not note.is_editable:
        messages.error(
            request,
            _("%(ref)s is %(state)s and can no longer be edited.")
            % {"ref": note.reference, "state": note.get_status_display()},
        )
        return redirect(note.get_absolute_url())
    form = ConceptNoteForm(request.POST or None, instance=note, call=note.call)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_concept_note(user=request.user, note=note, data=form.cleaned_data)
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(request, _("Draft %(ref)s saved.") % {"ref": note.reference})
            return redirect(note.get_absolute_url())
    return render(request, "subprojects/note_form.html", {"form": form, "call": note.call, "note": note})


@require_POST
@login_required
def note_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _notes(request.user),
        pk,
        action,
        lambda note, **kw: _note_page(request, note, **kw),
    )


@page_requires(may_invite)
def note_invite(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_visible_or_404(_notes(request.user), request.user, pk=pk)
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proposal = workflow.invite_proposal(
                note,
                request.user,
                deadline=form.cleaned_data["deadline"],
                comment=form.cleaned_data["comment"],
            )
        except ActionRefused as exc:
            report_refusal(request, exc)
            return redirect(note.get_absolute_url())
        messages.success(
            request,
            _("%(po)s is invited to submit proposal %(ref)s.")
            % {"po": note.partner_organization, "ref": proposal.reference},
        )
        return redirect(proposal.get_absolute_url())
    return render(request, "subprojects/invite_form.html", {"form": form, "note": note})
