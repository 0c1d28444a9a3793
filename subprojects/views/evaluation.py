"""Pages of the technical evaluation: rubric, TEC meetings, a member's queue, conflict declaration and
scoring, consolidation, the committee's decision, conditions and the minutes (page and PDF)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from core.errors import ActionRefused
from core.lifecycle.views import raise_if_forbidden
from core.lists import Listing, SortSpec
from core.permissions import get_visible_or_404
from subprojects import evaluation, workflow
from subprojects.evaluation_forms import (
    ActingChairForm,
    AgendaForm,
    AttendanceForm,
    CriterionFormSet,
    DecisionForm,
    DeclarationForm,
    RubricForm,
    ScoreSheetForm,
    TecMeetingForm,
)
from subprojects.models import AgendaItem, Call, Condition, Proposal, ProposalStatus, TecMeeting
from subprojects.permissions import (
    is_tec_member,
    may_add_evidence,
    may_decide,
    may_edit_rubric,
    may_meet_conditions,
    may_organise_meetings,
    may_score,
    may_take_attendance,
    page_requires,
)
from subprojects.views.common import report_refusal


def _attempt(request: HttpRequest, action: Callable[[], object], success: str) -> None:
    """Run a rule function: its refusal is a 403 (who) or an error message (what or when)."""
    try:
        action()
    except ActionRefused as exc:
        report_refusal(request, exc)
    else:
        messages.success(request, success)


# --- Rubric ---------------------------------------------------------------------------------------


@login_required
def rubric(request: HttpRequest, call_pk: int) -> HttpResponse:
    call = get_visible_or_404(Call.objects.all(), request.user, pk=call_pk)
    rubric_obj = evaluation.rubric_for(call)
    locked = evaluation.rubric_is_locked(rubric_obj)
    editable = may_edit_rubric(request.user) and not locked
    data = request.POST if request.method == "POST" else None
    if data is not None and not editable:
        raise PermissionDenied
    form = RubricForm(data, instance=rubric_obj, prefix="rubric")
    formset = CriterionFormSet(data, instance=rubric_obj, prefix="criteria")
    if data is not None and form.is_valid() and formset.is_valid():
        rows = [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            evaluation.save_rubric(
                user=request.user,
                rubric=rubric_obj,
                pass_mark=form.cleaned_data["pass_mark"],
                spread_threshold=form.cleaned_data["spread_threshold"],
                criteria=rows,
            )
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(request, _("Rubric of %(call)s saved.") % {"call": call.reference})
            return redirect("subprojects:rubric", call_pk=call.pk)
    elif data is not None:
        messages.error(request, _("Please correct the fields marked below. Nothing has been saved yet."))
    criteria = list(rubric_obj.criteria.all())
    return render(
        request,
        "subprojects/rubric.html",
        {
            "call": call,
            "rubric": rubric_obj,
            "criteria": criteria,
            "total": evaluation.weights_total(criteria),
            "locked": locked,
            "editable": editable,
            "form": form,
            "formset": formset,
        },
    )


# --- Meetings -------------------------------------------------------------------------------------


def _meetings(user):
    return TecMeeting.objects.visible_to(user).select_related("chair")


# The latest meeting first.
MEETING_SORTS = SortSpec(
    {
        "date": ("held_on",),
        "venue": ("venue",),
        "chair": ("chair__first_name", "chair__last_name", "chair__username"),
        "proposals": ("items",),
    },
    default="-date",
)


@login_required
def meeting_list(request: HttpRequest) -> HttpResponse:
    if not (request.user.sees_whole_programme or is_tec_member(request.user)):
        raise PermissionDenied
    meetings = _meetings(request.user).annotate(items=Count("agenda", distinct=True))
    listing = Listing(request, sort=MEETING_SORTS, saved_filters=False)
    context = listing.page(listing.order(meetings))
    return render(
        request,
        "subprojects/meeting_list.html",
        {
            **context,
            "meetings": context["page_obj"].object_list,
            "can_create": may_organise_meetings(request.user),
        },
    )


def _agenda_rows(user, meeting: TecMeeting) -> list[dict]:
    """The agenda with each item's consolidation (when the user may see it) and, for a member,
    their own step; in a fixed number of queries however long the agenda."""
    items = list(
        meeting.agenda.select_related("proposal__partner_organization", "decision").order_by("position")
    )
    consolidations = evaluation.consolidate_many(items)
    rows = []
    for item in items:
        consolidation = consolidations[item.pk]
        visible = evaluation.may_see_consolidation(user, consolidation)
        mine = consolidation.row_of(user)
        rows.append(
            {
                "item": item,
                "consolidation": consolidation if visible else None,
                "conflicted": evaluation.is_redacted_for(user, consolidation),
                "mine": evaluation.MEMBER_STEPS[mine.status] if mine else None,
            }
        )
    return rows


def _meeting_page(request: HttpRequest, meeting: TecMeeting, attendance_form=None, status: int = 200):
    user = request.user
    final = evaluation.minutes_final(meeting)
    context = {
        "meeting": meeting,
        "rows": _agenda_rows(user, meeting),
        "can_edit": may_organise_meetings(user),
        "can_see_minutes": evaluation.may_see_minutes(
            user, evaluation.consolidate_many(list(meeting.agenda.all())).values()
        ),
        "attendance": evaluation.attendance_of(meeting),
        "attendance_log": list(evaluation.attendance_log(meeting)),
        "minutes_final": final,
    }
    if may_take_attendance(user, meeting) and not final:
        # Taken first with nobody ticked (the chair says who is there); corrected from what is recorded.
        initial = {"present": [m.pk for m, present in context["attendance"].rows if present]}
        context["attendance_form"] = attendance_form or AttendanceForm(
            members=meeting.members.order_by("last_name", "username"),
            initial=initial if meeting.attendance_taken else None,
        )
    if context["can_edit"]:
        context["agenda_form"] = AgendaForm()
    return render(request, "subprojects/meeting_detail.html", context, status=status)


def _visible_meeting(user, pk: int) -> TecMeeting:
    return get_visible_or_404(
        _meetings(user).select_related("attendance_taken_by").prefetch_related("members", "attendees"),
        user,
        pk=pk,
    )


@login_required
def meeting_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _meeting_page(request, _visible_meeting(request.user, pk))


@require_POST
@login_required
def meeting_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """The chair (or the PMU) records who is present, or corrects it until the minutes are final."""
    meeting = _visible_meeting(request.user, pk)
    if not may_take_attendance(request.user, meeting):
        raise PermissionDenied(
            _("Only the chair of %(meeting)s (or the PMU) takes its attendance.") % {"meeting": meeting}
        )
    form = AttendanceForm(request.POST, members=meeting.members.order_by("last_name", "username"))
    if not form.is_valid():
        messages.error(request, _("Please correct the attendance. Nothing has been saved yet."))
        return _meeting_page(request, meeting, attendance_form=form, status=400)
    first = not meeting.attendance_taken
    try:
        evaluation.take_attendance(
            user=request.user,
            meeting=meeting,
            present=form.cleaned_data["present"],
            comment=form.cleaned_data["comment"],
        )
    except ActionRefused as exc:
        report_refusal(request, exc)
        return _meeting_page(request, _visible_meeting(request.user, pk), attendance_form=form, status=409)
    if first:
        messages.success(request, _("Attendance of %(meeting)s recorded.") % {"meeting": meeting})
    else:
        messages.success(request, _("Attendance of %(meeting)s corrected.") % {"meeting": meeting})
    return redirect(meeting.get_absolute_url())


@page_requires(may_organise_meetings)
def meeting_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    meeting = get_object_or_404(TecMeeting, pk=pk) if pk else None
    form = TecMeetingForm(request.POST or None, instance=meeting)
    if request.method == "POST" and form.is_valid():
        try:
            meeting = evaluation.save_meeting(user=request.user, meeting=meeting, data=form.cleaned_data)
        except ActionRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("%(meeting)s saved.") % {"meeting": meeting})
            return redirect(meeting.get_absolute_url())
    return render(request, "subprojects/meeting_form.html", {"form": form, "meeting": meeting})


@require_POST
@page_requires(may_organise_meetings)
def meeting_add_to_agenda(request: HttpRequest, pk: int) -> HttpResponse:
    meeting = get_object_or_404(TecMeeting, pk=pk)
    form = AgendaForm(request.POST)
    if form.is_valid():
        proposal = form.cleaned_data["proposal"]
        _attempt(
            request,
            lambda: workflow.apply(proposal, "start_evaluation", request.user, meeting=meeting),
            _("%(spp)s is on the agenda and under evaluation.") % {"spp": proposal.reference},
        )
    else:
        messages.error(request, _("Choose a submitted proposal."))
    return redirect(meeting.get_absolute_url())


@require_POST
@page_requires(may_organise_meetings)
def proposal_to_agenda(request: HttpRequest, pk: int) -> HttpResponse:
    """From a proposal's page: put it on a chosen meeting's agenda."""
    proposal = get_visible_or_404(Proposal.objects.all(), request.user, pk=pk)
    meeting = TecMeeting.objects.filter(pk=request.POST.get("meeting") or 0).first()
    _attempt(
        request,
        lambda: workflow.apply(proposal, "start_evaluation", request.user, meeting=meeting),
        _("%(spp)s is on the agenda of %(meeting)s.") % {"spp": proposal.reference, "meeting": meeting},
    )
    return redirect(proposal.get_absolute_url())


# --- A member's work ------------------------------------------------------------------------------


@page_requires(is_tec_member)
def my_evaluations(request: HttpRequest) -> HttpResponse:
    rows = [
        {
            "item": item,
            "declaration": evaluation.declaration_of(request.user, item),
            "sheet": evaluation.sheet_of(request.user, item),
        }
        for item in evaluation.member_agenda(request.user)
    ]
    return render(request, "subprojects/my_evaluations.html", {"rows": rows})


def _visible_item(user, pk: int) -> AgendaItem:
    item = get_object_or_404(
        AgendaItem.objects.select_related(
            "meeting__chair", "proposal__partner_organization", "proposal__call", "acting_chair"
        ),
        pk=pk,
    )
    if not TecMeeting.objects.visible_to(user).filter(pk=item.meeting_id).exists():
        raise Http404
    return item


def _item_page(request: HttpRequest, item: AgendaItem, **forms) -> HttpResponse:
    user = request.user
    is_member = may_score(user, item)
    declaration = evaluation.declaration_of(user, item) if is_member else None
    sheet = evaluation.sheet_of(user, item) if is_member else None
    consolidation = evaluation.consolidate(item)
    criteria = consolidation.criteria
    open_for_scoring = evaluation.open_for_scoring(item)
    can_decide = open_for_scoring and may_decide(user, item.proposal)
    context = {
        "item": item,
        "proposal": item.proposal,
        "is_member": is_member,
        "declaration": declaration,
        "sheet": sheet,
        "my_scores": {s.criterion_id: s for s in sheet.scores.all()} if sheet else {},
        "criteria": criteria,
        "open_for_scoring": open_for_scoring,
        "decision": getattr(item, "decision", None),
        "consolidation": consolidation if evaluation.may_see_consolidation(user, consolidation) else None,
        "conflicted": evaluation.is_redacted_for(user, consolidation),
        "can_decide": can_decide,
        # The chair is asked for the meeting's attendance before scoring starts (the meeting's page).
        "attendance_to_take": open_for_scoring
        and not item.meeting.attendance_taken
        and may_take_attendance(user, item.meeting),
        # The chair (or the acting chair) who may not use the chair's powers on this item hears why.
        "not_presiding": (
            evaluation.why_not_presiding(user, item)
            if open_for_scoring
            and not can_decide
            and user.pk in {item.meeting.chair_id, item.acting_chair_id}
            else ""
        ),
    }
    if open_for_scoring and evaluation.may_name_acting_chair(user, item):
        context["acting_chair_form"] = forms.get("acting_chair_form") or ActingChairForm(
            candidates=evaluation.acting_chair_candidates(item),
            initial={"acting_chair": item.acting_chair_id, "reason": item.acting_chair_reason},
        )
        context["chair_conflicted"] = evaluation.has_declared_conflict(item.meeting.chair_id, item)
    if is_member and open_for_scoring and declaration is None:
        context["declaration_form"] = forms.get("declaration_form") or DeclarationForm()
    if (
        is_member
        and open_for_scoring
        and declaration
        and not declaration.has_conflict
        and not (sheet and sheet.is_submitted)
    ):
        initial = {c: (s.value, s.comment) for c, s in context["my_scores"].items()}
        context["score_form"] = forms.get("score_form") or ScoreSheetForm(
            criteria=criteria, initial_scores=initial, initial={"comment": sheet.comment if sheet else ""}
        )
    return render(request, "subprojects/agenda_item.html", context)


@login_required
def agenda_item(request: HttpRequest, pk: int) -> HttpResponse:
    return _item_page(request, _visible_item(request.user, pk))


@require_POST
@page_requires(is_tec_member)
def declare(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request.user, pk)
    form = DeclarationForm(request.POST)
    if not form.is_valid():
        return _item_page(request, item, declaration_form=form)
    _attempt(
        request,
        lambda: evaluation.declare(
            user=request.user,
            item=item,
            has_conflict=form.cleaned_data["has_conflict"],
            explanation=form.cleaned_data["explanation"],
        ),
        _("Declaration recorded."),
    )
    return redirect("subprojects:agenda-item", pk=item.pk)


@require_POST
@page_requires(is_tec_member)
def score(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request.user, pk)
    criteria = list(item.proposal.call.rubric.criteria.all())
    form = ScoreSheetForm(request.POST, criteria=criteria)
    submit = "submit" in request.POST
    if not form.is_valid():
        messages.error(request, _("Please correct the scores marked below. Nothing has been saved yet."))
        return _item_page(request, item, score_form=form)
    try:
        evaluation.save_scores(
            user=request.user,
            item=item,
            values=form.values(),
            comment=form.cleaned_data["comment"],
            submit=submit,
        )
    except ActionRefused as exc:
        report_refusal(request, exc)
        return _item_page(request, item, score_form=form)
    if submit:
        messages.success(
            request, _("Your scores for %(spp)s are submitted and locked.") % {"spp": item.proposal.reference}
        )
    else:
        messages.success(request, _("Draft scores saved. Only you can see them."))
    return redirect("subprojects:agenda-item", pk=item.pk)


@require_POST
@login_required
def acting_chair(request: HttpRequest, pk: int) -> HttpResponse:
    """The PMU (or the meeting's chair) names the member who chairs this item instead."""
    item = _visible_item(request.user, pk)
    if not evaluation.may_name_acting_chair(request.user, item):
        raise PermissionDenied
    form = ActingChairForm(request.POST, candidates=evaluation.acting_chair_candidates(item))
    if not form.is_valid():
        messages.error(request, _("Please correct the acting chair's details. Nothing has been saved yet."))
        return _item_page(request, item, acting_chair_form=form)
    member = form.cleaned_data["acting_chair"]
    try:
        evaluation.name_acting_chair(
            user=request.user, item=item, member=member, reason=form.cleaned_data["reason"]
        )
    except ActionRefused as exc:
        report_refusal(request, exc)
        return _item_page(request, item, acting_chair_form=form)
    if member is None:
        messages.success(request, _("The meeting's chair chairs %(spp)s.") % {"spp": item.proposal.reference})
    else:
        messages.success(
            request,
            _("%(name)s acts as chair for %(spp)s.")
            % {"name": member.get_display_name(), "spp": item.proposal.reference},
        )
    return redirect("subprojects:agenda-item", pk=item.pk)


@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    item = _visible_item(request.user, pk)
    proposal = item.proposal
    if not may_decide(request.user, proposal):
        is_chair = request.user.pk in {item.meeting.chair_id, item.acting_chair_id}
        raise PermissionDenied(evaluation.why_not_presiding(request.user, item) if is_chair else "")
    consolidation = evaluation.consolidate(item)
    allow_override = evaluation.presides(request.user, item) and not consolidation.complete
    form = DecisionForm(request.POST or None, allow_override=allow_override)
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            workflow.apply(
                proposal,
                form.action,
                request.user,
                comment=form.cleaned_data["text"],
                conditions=form.condition_list(),
                override_reason=form.cleaned_data.get("override_reason", ""),
            )
        except ActionRefused as exc:
            raise_if_forbidden(exc)
            error = str(exc)
        else:
            messages.success(request, _("Decision on %(spp)s recorded.") % {"spp": proposal.reference})
            return redirect("subprojects:agenda-item", pk=item.pk)
    return render(
        request,
        "subprojects/decision_form.html",
        {
            "item": item,
            "proposal": proposal,
            "form": form,
            "consolidation": consolidation,
            "action_error": error,
        },
    )


# --- Conditions -----------------------------------------------------------------------------------


def _visible_condition(user, pk: int) -> Condition:
    condition = get_object_or_404(Condition.objects.select_related("proposal"), pk=pk)
    get_visible_or_404(Proposal.objects.all(), user, pk=condition.proposal_id)
    return condition


@require_POST
@login_required
def condition_met(request: HttpRequest, pk: int) -> HttpResponse:
    condition = _visible_condition(request.user, pk)
    note = request.POST.get("note", "")
    _attempt(
        request,
        lambda: evaluation.meet_condition(user=request.user, condition=condition, note=note),
        _("Condition checked off."),
    )
    return redirect(condition.proposal.get_absolute_url() + "#conditions")


@require_POST
@login_required
def condition_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    condition = _visible_condition(request.user, pk)
    evidence = request.POST.get("evidence", "")
    _attempt(
        request,
        lambda: evaluation.add_evidence(user=request.user, condition=condition, evidence=evidence),
        _("Evidence added; the PMU will check the condition off."),
    )
    return redirect(condition.proposal.get_absolute_url() + "#conditions")


def proposal_page_extension(request: HttpRequest, proposal: Proposal) -> dict:
    """Evaluation context on the proposal's page: agenda, decision, conditions, agenda picker."""
    user = request.user
    context: dict = {
        "conditions": list(proposal.conditions.select_related("met_by")),
        "agenda_items": list(proposal.agenda_items.select_related("meeting", "decision")),
        "can_meet_conditions": may_meet_conditions(user) and proposal.status != ProposalStatus.AWARDED,
        "can_add_evidence": may_add_evidence(user, proposal),
        # A PO (or a TEC member not on that meeting) sees the evaluation's outcome, not the agenda item.
        "visible_meeting_ids": set(
            TecMeeting.objects.visible_to(user).filter(agenda__proposal=proposal).values_list("pk", flat=True)
        ),
    }
    context["can_put_on_agenda"] = may_organise_meetings(user) and proposal.status == ProposalStatus.SUBMITTED
    if context["can_put_on_agenda"]:
        # Meetings still to come (or today's): a proposal is not put on a past meeting's agenda.
        context["meetings_for_agenda"] = TecMeeting.objects.filter(
            held_on__gte=timezone.now() - timedelta(hours=12)
        ).order_by("held_on")[:20]
    return context


# --- Minutes --------------------------------------------------------------------------------------


def minutes_context(user, pk: int) -> dict:
    """The meeting with every item's consolidation; refused to a member who may not see them all yet."""
    meeting = get_visible_or_404(_meetings(user).prefetch_related("members", "attendees"), user, pk=pk)
    items = list(
        meeting.agenda.select_related(
            "proposal__partner_organization", "decision__decided_by", "acting_chair"
        )
        .prefetch_related("declarations__member", "decision__conditions")
        .order_by("position")
    )
    consolidations = evaluation.consolidate_many(items)
    if not evaluation.may_see_minutes(user, consolidations.values()):
        raise PermissionDenied(_("The minutes show everyone's scores; submit yours on every proposal first."))
    rows = []
    for item in items:
        consolidation = consolidations[item.pk]
        # A member's item with a declared conflict shows no score until the decision (is_redacted_for).
        visible = evaluation.may_see_consolidation(user, consolidation)
        rows.append(
            {"item": item, "consolidation": consolidation if visible else None, "redacted": not visible}
        )
    conflicts = [
        {"member": declaration.member, "item": item, "explanation": declaration.explanation}
        for item in items
        for declaration in item.declarations.all()
        if declaration.has_conflict
    ]
    return {
        "meeting": meeting,
        "rows": rows,
        "conflicts": conflicts,
        "attendance": evaluation.attendance_of(meeting),
    }


@login_required
def minutes(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, "subprojects/minutes.html", minutes_context(request.user, pk))


@login_required
def minutes_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    from weasyprint import HTML

    context = minutes_context(request.user, pk)
    html = render_to_string("subprojects/minutes_pdf.html", context, request=request)
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    number = context["meeting"].number
    response["Content-Disposition"] = f'attachment; filename="tec-meeting-{number}-minutes.pdf"'
    return response
