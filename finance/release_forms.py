"""Forms of the release pages: the PO's request and milestone report, finance's transfer, the PMU's
schedule. They check the shape; the rules are in finance.releases."""

from __future__ import annotations

from typing import cast

from django import forms
from django.forms import formset_factory
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance.models import Milestone

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _style(form: forms.Form, small: bool = False) -> None:
    size = " form-control-sm" if small else ""
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select" + (" form-select-sm" if small else ""))
        else:
            widget.attrs.setdefault("class", "form-control" + size)


class ReleaseRequestForm(forms.Form):
    justification = forms.CharField(
        label=_("Justification"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "Milestones reached, the spending report of the previous tranche, the conditions closed."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class MilestoneReportForm(forms.Form):
    reported_on = forms.DateField(label=_("Done on"), widget=DATE)
    evidence = forms.CharField(
        label=_("Evidence"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("What was done and where the proof is (reports, photos, registers)."),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"reported_on": timezone.localdate()})
        super().__init__(*args, **kwargs)
        _style(self)


class TransferForm(forms.Form):
    transferred_on = forms.DateField(label=_("Transferred on"), widget=DATE)
    transfer_reference = forms.CharField(
        label=_("Transfer reference"), max_length=60, help_text=_("Bank transfer or cheque number.")
    )
    comment = forms.CharField(label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self, small=True)


# --- The schedule ---------------------------------------------------------------------------------


class MilestoneRowForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(label=_("Milestone"), max_length=200)
    due_on = forms.DateField(label=_("Due on"), widget=DATE)

    def __init__(self, *args, locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.locked = locked
        if locked:
            for name in ("title", "due_on"):
                self.fields[name].disabled = True
        _style(self, small=True)


class MilestoneChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"M{obj.number}: {obj.title}"


class TrancheRowForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    title = forms.CharField(label=_("Tranche"), max_length=120)
    milestone = MilestoneChoiceField(
        label=_("Released after milestone"),
        queryset=Milestone.objects.none(),
        required=False,
        empty_label=_("none (an advance)"),
    )
    amount_world_bank = forms.DecimalField(
        label=_("World Bank share (BDT)"), max_digits=14, decimal_places=2, min_value=0
    )
    amount_pksf = forms.DecimalField(
        label=_("PKSF share (BDT)"), max_digits=14, decimal_places=2, min_value=0
    )
    planned_on = forms.DateField(label=_("Planned for"), required=False, widget=DATE)

    def __init__(self, *args, milestones=None, locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.locked = locked
        if milestones is not None:
            cast(MilestoneChoiceField, self.fields["milestone"]).queryset = milestones
        if locked:
            for name in ("title", "milestone", "amount_world_bank", "amount_pksf", "planned_on"):
                self.fields[name].disabled = True
        _style(self, small=True)


class _RowFormSet(forms.BaseFormSet):
    """Rows of existing objects (with their id) and one empty row to add one; an existing row whose
    object has an active release comes disabled (`locked_ids`)."""

    def __init__(self, *args, locked_ids=frozenset(), form_options=None, **kwargs):
        self.locked_ids = set(locked_ids)
        self.form_options = form_options or {}
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        options = dict(self.form_options)
        initial = (
            self.initial[index] if self.initial and index is not None and index < len(self.initial) else {}
        )
        options["locked"] = bool(initial.get("id") in self.locked_ids and initial.get("id"))
        return options


MilestoneFormSet = cast(
    type[_RowFormSet], formset_factory(MilestoneRowForm, formset=_RowFormSet, extra=1, can_delete=True)
)
TrancheFormSet = cast(
    type[_RowFormSet], formset_factory(TrancheRowForm, formset=_RowFormSet, extra=1, can_delete=True)
)


def changed_rows(formset) -> list[dict]:
    """The rows to give finance.releases.edit_schedule: existing rows as typed (locked rows as they
    are), a filled new row, and those marked for deletion."""
    rows = []
    for form in formset.forms:
        if not form.has_changed() and not form.cleaned_data.get("id"):
            continue  # the empty row left empty
        data = dict(form.cleaned_data)
        if getattr(form, "locked", False) and not data.get("DELETE"):
            continue
        data["delete"] = bool(data.pop("DELETE", False))
        rows.append(data)
    return rows
