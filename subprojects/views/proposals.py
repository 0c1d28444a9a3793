from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from core.errors import ActionRefused
from core.exports import Column
from core.lifecycle.views import raise_if_forbidden
from core.lists import SortSpec
from core.permissions import get_visible_or_404, has_role
from safeguards import reviews
from subprojects import services, workflow
from subprojects.filters import ProposalFilter
from subprojects.forms import (
    ActivityFormSet,
    AttachmentForm,
    AwardForm,
    BudgetLineFormSet,
    CommittedResultFormSet,
    DeadlineForm,
    EsmpMeasureFormSet,
    NoObjectionForm,
    ProposalForm,
)
from subprojects.models import ConceptNote, Decision, Financier, Proposal, SubProject
from subprojects.permissions import may_change_deadline, may_edit_proposal, may_write_for_po, page_requires
from subprojects.validation import proposal_missing
from subprojects.views import evaluation
from subprojects.views.common import handle_transition, list_page, render_object_page, report_refusal

PROPOSAL_COLUMNS = [
    Column(gettext_lazy("Reference"), lambda p: p.reference),
    Column(gettext_lazy("Concept note"), lambda p: p.concept_note.reference),
    Column(gettext_lazy("Call"), lambda p: p.call.reference),
    Column(gettext_lazy("PO code"), lambda p: p.partner_organization.code),
    Column(gettext_lazy("PO"), lambda p: p.partner_organization.name),
    Column(gettext_lazy("Title"), lambda p: p.title),
    Column(gettext_lazy("Sector"), lambda p: p.sector.name),
    Column(gettext_lazy("Districts"), lambda p: "; ".join(d.name for d in p.target_districts.all())),
    Column(gettext_lazy("MEs targeted"), lambda p: p.mes_targeted),
    Column(gettext_lazy("Women-led MEs"), lambda p: p.women_led_mes_targeted),
    Column(gettext_lazy("Budget total (BDT)"), lambda p: p.budget_total),
    Column(gettext_lazy("Risk category"), lambda p: p.get_risk_category_display()),
    Column(gettext_lazy("Deadline"), lambda p: p.deadline),
    Column(gettext_lazy("State"), lambda p: p.get_status_display()),
    Column(gettext_lazy("Submitted at"), lambda p: p.submitted_at),
    Column(gettext_lazy("In this state since"), lambda p: p.status_changed_at),
]

EDIT_FORMSETS = {
    "budget_lines": BudgetLineFormSet,
    "activities": ActivityFormSet,
    "committed_results": CommittedResultFormSet,
}


PROPOSAL_SORTS = SortSpec(
    {
        "reference": ("pk",),
        "title": ("title",),
        "po": ("partner_organization__code",),
        "sector": ("sector__name",),
        "budget": ("budget_total",),
        "deadline": ("deadline",),
        "state": ("status",),
        "since": ("status_changed_at",),
    },
    default="since",
)


def _proposals(user):
    return Proposal.objects.visible_to(user).select_related(
        "call", "partner_organization", "sector__business_area", "concept_note"
    )


@login_required
def proposal_list(request: HttpRequest) -> HttpResponse:
    queryset = (
        _proposals(request.user)
        .annotate(budget_total=Sum("budget_lines__amount"))
        .prefetch_related("target_districts")
        .order_by("status_changed_at")
    )
    filterset = ProposalFilter(request.GET or None, queryset=queryset, user=request.user)
    return list_page(
        request,
        template="subprojects/proposal_list.html",
        filterset=filterset,
        columns=PROPOSAL_COLUMNS,
        export_name="proposals",
        sort=PROPOSAL_SORTS,
    )


def _proposal_page(request: HttpRequest, proposal: Proposal, **kwargs) -> HttpResponse:
    user = request.user
    can_edit = proposal.is_editable and may_edit_proposal(user, proposal)
    available = workflow.available_rules(user, proposal)
    context = {
        "proposal": proposal,
        "totals": proposal.budget_totals(),
        "financiers": Financier.choices,
        "can_edit": can_edit,
        "can_change_deadline": may_change_deadline(user) and proposal.awaits_submission,
        "attachment_form": AttachmentForm(),
        "deadline_passed": proposal.deadline < timezone.now(),
        "can_award": any(rule.action == "award" for rule in available),
        "can_record_no_objection": any(rule.action == "no_objection" for rule in available),
        # Link only what the user may open: a TEC member sees the proposal, not the PO's note or sub-project.
        "note_visible": ConceptNote.objects.visible_to(user).filter(pk=proposal.concept_note_id).exists(),
        "visible_sub_project": SubProject.objects.visible_to(user).filter(proposal=proposal).first(),
        # The E&S screening, the ESMP and the PMU's E&S review (safeguards.reviews).
        "es": reviews.proposal_es_context(proposal, user),
        "esmp_upload": can_edit,
    }
    if can_edit:
        # What the submission's completeness check (the "submit" guard) finds missing, by section of
        # the form, each linking to it; "Submit" is not offered meanwhile.
        context["missing"] = proposal_missing(proposal)
    context.update(evaluation.proposal_page_extension(request, proposal))
    # Steps that need more than a comment have pages of their own: the award (its terms), the
    # no-objection (the Bank's letter), the agenda (a meeting) and the committee's decisions
    # (outcome, conditions, override).
    return render_object_page(
        request,
        "subprojects/proposal_detail.html",
        proposal,
        context,
        exclude_actions=("award", "no_objection", "start_evaluation", *DECISION_ACTIONS),
        listed_on_page=("proposal_complete",) if can_edit else (),
        **kwargs,
    )


DECISION_ACTIONS = tuple(
    rule.action for rule in workflow.rules_for(Proposal) if rule.effect == "record_decision"
)


@login_required
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_visible_or_404(
        _proposals(request.user).prefetch_related(
            "sub_sectors",
            "target_districts",
            "target_upazilas",
            "budget_lines",
            "activities",
            "committed_results",
            "attachments",
        ),
        request.user,
        pk=pk,
    )
    return _proposal_page(request, proposal)


@page_requires(may_write_for_po)
def proposal_edit(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_visible_or_404(_proposals(request.user), request.user, pk=pk)
    if not proposal.is_editable:
        messages.error(
            request,
            _("%(ref)s is %(state)s and can no longer be edited.")
            % {"ref": proposal.reference, "state": proposal.get_status_display()},
        )
        return redirect(proposal.get_absolute_url())
    data = request.POST if request.method == "POST" else None
    form = ProposalForm(data, instance=proposal)
    formsets = {name: cls(data, instance=proposal, prefix=name) for name, cls in EDIT_FORMSETS.items()}
    # The ESMP's structured mitigation measures (safeguards.EsmpMeasure), saved by safeguards.reviews.
    esmp_formset = EsmpMeasureFormSet(data, instance=proposal, prefix="esmp_measures")
    all_formsets = {**formsets, "esmp_measures": esmp_formset}
    if request.method == "POST" and form.is_valid() and all(fs.is_valid() for fs in all_formsets.values()):
        children = {
            name: [f.cleaned_data for f in fs.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
            for name, fs in all_formsets.items()
        }
        data = dict(form.cleaned_data)
        exclusions = list(data.pop("exclusions_found"))
        measures = children.pop("esmp_measures")
        try:
            with transaction.atomic():  # the proposal and its screening, or nothing
                services.save_proposal(user=request.user, proposal=proposal, data=data, children=children)
                reviews.save_screening(
                    user=request.user, proposal=proposal, exclusions=exclusions, measures=measures
                )
        except ActionRefused as exc:
            report_refusal(request, exc)
        else:
            messages.success(request, _("Proposal %(ref)s saved.") % {"ref": proposal.reference})
            return redirect(proposal.get_absolute_url())
    elif request.method == "POST":
        messages.error(request, _("Please correct the fields marked below. Nothing has been saved yet."))
    return render(
        request,
        "subprojects/proposal_form.html",
        {
            "form": form,
            "formsets": all_formsets,
            "proposal": proposal,
            "ceiling": proposal.call.ceiling_budget,
        },
    )


@require_POST
@login_required
def proposal_transition(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    return handle_transition(
        request,
        _proposals(request.user),
        pk,
        action,
        lambda proposal, **kw: _proposal_page(request, proposal, **kw),
    )


def _has_role_of(action: str) -> Callable[[object], bool]:
    """The roles of a proposal's rule, for the page that takes it (the engine checks the rest)."""

    def right(user) -> bool:
        return has_role(user, *workflow.get_rule(Proposal, action).roles)

    right.__name__ = f"may_open_{action}_page"
    return right


@page_requires(_has_role_of("award"))
def proposal_award(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_visible_or_404(_proposals(request.user), request.user, pk=pk)
    totals = proposal.budget_totals()
    initial = {
        "budget_world_bank": totals[Financier.WORLD_BANK],
        "budget_pksf": totals[Financier.PKSF],
        "budget_po": totals[Financier.PO],
    }
    form = AwardForm(request.POST or None, initial=initial)
    error = ""
    if request.method == "POST" and form.is_valid():
        terms = {name: value for name, value in form.cleaned_data.items() if name != "comment"}
        try:
            workflow.apply(proposal, "award", request.user, comment=form.cleaned_data["comment"], **terms)
        except ActionRefused as exc:
            raise_if_forbidden(exc)
            error = str(exc)
            proposal.refresh_from_db()
        else:
            proposal.refresh_from_db()
            messages.success(
                request,
                _("%(ref)s is awarded: sub-project %(number)s created.")
                % {"ref": proposal.reference, "number": proposal.sub_project.agreement_number},
            )
            return redirect(proposal.sub_project.get_absolute_url())
    # What blocks the award whatever its terms, from the award rule's own checks: shown before any
    # field, and the form offers no "Award" while there is any.
    blockers = workflow.award_blockers(request.user, proposal)
    return render(
        request,
        "subprojects/award_form.html",
        {"form": form, "proposal": proposal, "totals": totals, "action_error": error, "blockers": blockers},
    )


@page_requires(_has_role_of("no_objection"))
def proposal_no_objection(request: HttpRequest, pk: int) -> HttpResponse:
    """The World Bank records its no-objection to a recommended proposal, with the letter's reference
    and date (the transition's parameters, stored on the proposal)."""
    proposal = get_visible_or_404(_proposals(request.user), request.user, pk=pk)
    rule = workflow.get_rule(Proposal, "no_objection")
    form = NoObjectionForm(request.POST or None)
    error = ""
    if request.method == "POST":
        if form.is_valid():
            try:
                workflow.apply(
                    proposal,
                    "no_objection",
                    request.user,
                    comment=form.cleaned_data["comment"],
                    no_objection_reference=form.cleaned_data["no_objection_reference"],
                    no_objection_date=form.cleaned_data["no_objection_date"],
                )
            except ActionRefused as exc:
                raise_if_forbidden(exc)
                error = str(exc)
                proposal.refresh_from_db()
            else:
                messages.success(
                    request,
                    _("%(ref)s: the World Bank's no-objection is recorded.") % {"ref": proposal.reference},
                )
                return redirect(proposal.get_absolute_url())
        else:
            messages.error(request, _("Please correct the fields marked below. Nothing has been saved yet."))
    return render(
        request,
        "subprojects/no_objection_form.html",
        {
            "form": form,
            "proposal": proposal,
            "action_error": error,
            # The state, as the rule has it: a proposal not (or no longer) recommended is not offered it.
            "blockers": workflow.blockers(request.user, proposal, rule),
            "conditions": list(proposal.conditions.filter(decision__isnull=False)),
            "decision": Decision.objects.filter(agenda_item__proposal=proposal)
            .order_by("-decided_at")
            .first(),
        },
    )


@page_requires(may_change_deadline)
def proposal_deadline(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = get_visible_or_404(_proposals(request.user), request.user, pk=pk)
    form = DeadlineForm(request.POST or None, initial={"deadline": proposal.deadline})
    if request.method == "POST" and form.is_valid():
        try:
            services.change_proposal_deadline(
                user=request.user, proposal=proposal, deadline=form.cleaned_data["deadline"]
            )
        except ActionRefused as exc:
            raise_if_forbidden(exc)
            form.add_error("deadline", str(exc))
        else:
            messages.success(request, _("The deadline of %(ref)s is changed.") % {"ref": proposal.reference})
            return redirect(proposal.get_absolute_url())
    return render(request, "subprojects/deadline_form.html", {"form": form, "proposal": proposal})
