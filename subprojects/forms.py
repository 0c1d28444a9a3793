from __future__ import annotations

from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import District, Sector, SubSector, Upazila
from core.numbers import group
from core.pickers import mark_pickers
from safeguards.models import EsmpMeasure, ExclusionItem
from subprojects.models import (
    TARGETING_FIELDS,
    Activity,
    BudgetLine,
    Call,
    CommittedResult,
    ConceptNote,
    Proposal,
    SubProject,
)
from subprojects.validation import (
    attachment_mime_type,
    award_date_rules,
    budget_lines_error,
    deadline_problem,
    targeting_errors,
)

DATETIME_INPUT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class GroupedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    """A multiple select whose options are grouped (sub-sectors by sector, upazilas by district)."""

    def __init__(self, queryset, group_by: str, **kwargs):
        self.group_by = group_by
        super().__init__(queryset, **kwargs)

    def _get_choices(self):
        groups: dict[str, list] = {}
        for obj in self.queryset:
            groups.setdefault(str(getattr(obj, self.group_by)), []).append((obj.pk, str(obj)))
        return list(groups.items())

    choices = property(_get_choices, forms.ModelMultipleChoiceField.choices.fset)


class CallForm(forms.ModelForm):
    class Meta:
        model = Call
        fields = [
            "reference",
            "title",
            "description",
            "opens_at",
            "closes_at",
            "ceiling_budget",
            "eligible_sectors",
        ]
        widgets = {
            "opens_at": DATETIME_INPUT,
            "closes_at": DATETIME_INPUT,
            "description": forms.Textarea(attrs={"rows": 5}),
            "eligible_sectors": forms.CheckboxSelectMultiple,
        }


class TargetingFormMixin:
    """Consistency checks that hold even for drafts: sub-sectors in the sector, upazilas in the
    districts, women-led within the total, the sector eligible under the call."""

    call: Call

    def setup_targeting(self) -> None:
        self.fields["sector"].queryset = Sector.objects.select_related("business_area")
        self.fields["sub_sectors"] = GroupedModelMultipleChoiceField(
            SubSector.objects.select_related("sector"),
            group_by="sector",
            label=_("Sub-sectors"),
            required=False,
            widget=forms.SelectMultiple(attrs={"size": 8, "data-filter-by": "sector"}),
            initial=self.initial.get("sub_sectors"),
        )
        self.fields["target_districts"].queryset = District.objects.order_by("name")
        self.fields["target_districts"].widget.attrs["size"] = 8
        self.fields["target_districts"].required = False
        self.fields["target_upazilas"] = GroupedModelMultipleChoiceField(
            Upazila.objects.select_related("district").order_by("district__name", "name"),
            group_by="district",
            label=_("Target upazilas"),
            required=False,
            widget=forms.SelectMultiple(attrs={"size": 8, "data-filter-by": "target_districts"}),
            help_text=_("Optional. Only upazilas of the target districts are accepted."),
        )
        mark_pickers(self)
        if self.instance.pk:
            self.initial.setdefault(
                "sub_sectors", list(self.instance.sub_sectors.values_list("pk", flat=True))
            )
            self.initial.setdefault(
                "target_upazilas", list(self.instance.target_upazilas.values_list("pk", flat=True))
            )

    def clean(self):
        cleaned = super().clean()
        errors = targeting_errors(
            call=self.call,
            sector=cleaned.get("sector"),
            sub_sectors=cleaned.get("sub_sectors") or [],
            districts=cleaned.get("target_districts") or [],
            upazilas=cleaned.get("target_upazilas") or [],
            mes_targeted=cleaned.get("mes_targeted"),
            women_led_mes_targeted=cleaned.get("women_led_mes_targeted"),
            estimated_budget=cleaned.get("estimated_budget"),
        )
        for field_name, message in errors.items():
            self.add_error(field_name, message)
        return cleaned


TEXTAREAS = {
    name: forms.Textarea(attrs={"rows": 3})
    for name in ("cluster", "problem", "environmental_issues", "proposed_recp_practices", "proposed_csfs")
}


class ConceptNoteForm(TargetingFormMixin, forms.ModelForm):
    class Meta:
        model = ConceptNote
        fields = [*TARGETING_FIELDS, "estimated_budget"]
        widgets = TEXTAREAS

    def __init__(self, *args, call: Call, **kwargs):
        self.call = call
        super().__init__(*args, **kwargs)
        self.setup_targeting()
        self.fields["estimated_budget"].help_text = _("The call's ceiling is %(ceiling)s BDT.") % {
            "ceiling": group(call.ceiling_budget)
        }


class ProposalForm(TargetingFormMixin, forms.ModelForm):
    doe_clearance_required = forms.NullBooleanField(
        label=_("Department of Environment clearance needed"),
        required=False,
        widget=forms.NullBooleanSelect,
    )
    # The E&S screening's exclusion answers (safeguards.reviews): any ticked item refuses submission.
    exclusions_found = forms.ModelMultipleChoiceField(
        label=_("Activities on the exclusion list"),
        queryset=ExclusionItem.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Tick any item the sub-project's activities would involve. A proposal with an item ticked "
            "cannot be submitted: the programme never finances these activities."
        ),
    )

    class Meta:
        model = Proposal
        fields = [
            *TARGETING_FIELDS,
            "objectives",
            "duration_months",
            "risk_category",
            "exclusion_list_checked",
            "mitigation_measures",
            "doe_clearance_required",
        ]
        widgets = {
            **TEXTAREAS,
            "objectives": forms.Textarea(attrs={"rows": 4}),
            "mitigation_measures": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.call = self.instance.call
        self.setup_targeting()
        # Items in force, and any retired item the proposal still names (so the answer can be undone).
        ticked = list(self.instance.exclusions_found.values_list("pk", flat=True)) if self.instance.pk else []
        self.fields["exclusions_found"].queryset = ExclusionItem.objects.filter(
            Q(active=True) | Q(pk__in=ticked)
        ).order_by("position", "name")
        if not self.is_bound:
            self.initial["exclusions_found"] = ticked


class RowForm(forms.ModelForm):
    """A row of a table formset: the column header is the label, so each input carries it as aria-label."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            css = (
                "form-select form-select-sm"
                if isinstance(field.widget, forms.Select)
                else "form-control form-control-sm"
            )
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            field.widget.attrs.update({"class": css, "aria-label": str(field.label)})


class BudgetLineForm(RowForm):
    class Meta:
        model = BudgetLine
        fields = ["category", "description", "amount", "financier"]


class ActivityForm(RowForm):
    """The months' order is the model's rule (Activity.clean), checked by the ModelForm."""

    class Meta:
        model = Activity
        fields = ["description", "start_month", "end_month"]


class CommittedResultForm(RowForm):
    class Meta:
        model = CommittedResult
        fields = ["indicator", "target"]


class EsmpMeasureForm(RowForm):
    class Meta:
        model = EsmpMeasure
        fields = ["risk", "measure", "responsible", "timing"]
        widgets = {"measure": forms.Textarea(attrs={"rows": 2})}


class BaseBudgetFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        amounts = [
            form.cleaned_data.get("amount") or Decimal("0")
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        error = budget_lines_error(self.instance.call, amounts)
        if error:
            raise ValidationError(error)


BudgetLineFormSet = forms.inlineformset_factory(
    Proposal, BudgetLine, form=BudgetLineForm, formset=BaseBudgetFormSet, extra=2, can_delete=True
)
ActivityFormSet = forms.inlineformset_factory(Proposal, Activity, form=ActivityForm, extra=2, can_delete=True)
CommittedResultFormSet = forms.inlineformset_factory(
    # One commitment per indicator: the model's unique constraint, which the formset checks.
    Proposal,
    CommittedResult,
    form=CommittedResultForm,
    extra=2,
    can_delete=True,
)


# The structured mitigation measures of the E&S management plan (safeguards.EsmpMeasure).
EsmpMeasureFormSet = forms.inlineformset_factory(
    Proposal, EsmpMeasure, form=EsmpMeasureForm, extra=2, can_delete=True
)


class InviteForm(forms.Form):
    deadline = forms.DateTimeField(label=_("Proposal deadline"), widget=DATETIME_INPUT)
    comment = forms.CharField(
        label=_("Message to the PO"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def clean_deadline(self):
        deadline = self.cleaned_data["deadline"]
        problem = deadline_problem(deadline)
        if problem:
            raise ValidationError(problem)
        return deadline


class DeadlineForm(forms.Form):
    deadline = forms.DateTimeField(label=_("New deadline"), widget=DATETIME_INPUT)


class AwardForm(forms.Form):
    agreement_number = forms.CharField(label=_("Agreement number"), max_length=60)
    award_date = forms.DateField(label=_("Award date"), widget=DATE_INPUT)
    start_date = forms.DateField(label=_("Start date"), widget=DATE_INPUT)
    end_date = forms.DateField(label=_("End date"), widget=DATE_INPUT)
    budget_world_bank = forms.DecimalField(label=_("World Bank share (BDT)"), min_value=0, decimal_places=2)
    budget_pksf = forms.DecimalField(label=_("PKSF share (BDT)"), min_value=0, decimal_places=2)
    budget_po = forms.DecimalField(label=_("PO contribution (BDT)"), min_value=0, decimal_places=2)
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self):
        cleaned = super().clean()
        dates = {name: cleaned.get(name) for name in ("award_date", "start_date", "end_date")}
        for field_name, error, _problem in award_date_rules(**dates):
            self.add_error(field_name, error)
        return cleaned


def _letter_field(name: str, message, **kwargs) -> forms.Field:
    """A field of the no-objection letter as the proposal's model states it (label, length, dates)."""
    return Proposal._meta.get_field(name).formfield(
        required=True, error_messages={"required": message}, **kwargs
    )


class NoObjectionForm(forms.Form):
    """The World Bank's no-objection, with its letter (the transition's parameters)."""

    no_objection_reference = _letter_field(
        "no_objection_reference", _("Give the reference of the World Bank's no-objection letter.")
    )
    no_objection_date = _letter_field(
        "no_objection_date",
        _("Give the date of the World Bank's no-objection letter."),
        widget=DATE_INPUT,
        # Its plausible range (a programme date, not in the future), checked on the field as typed.
        validators=Proposal._meta.get_field("no_objection_date").validators,
    )
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SubProjectForm(forms.ModelForm):
    """The dates' order is the model's rule (SubProject.clean), checked by the ModelForm."""

    class Meta:
        model = SubProject
        fields = ["title", "start_date", "end_date", "budget_world_bank", "budget_pksf", "budget_po"]
        widgets = {"start_date": DATE_INPUT, "end_date": DATE_INPUT}


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    is_esmp = forms.BooleanField(
        label=_("This is the E&S management plan (ESMP)"),
        required=False,
        help_text=_("Required for substantial- and high-risk proposals."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = _("PDF, DOCX, XLSX, JPEG or PNG, at most %(mb)s MB.") % {
            "mb": settings.ATTACHMENT_MAX_MB
        }

    def clean_file(self):
        upload = self.cleaned_data["file"]
        self.detected_mime = attachment_mime_type(upload)
        return upload
