"""Forms of grievance intake: the public page and staff logging. The checks they share with the API
live in grievances.intake (limits, attachments) and grievances.handling (who logs what)."""

from __future__ import annotations

from datetime import datetime, time

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import District, PartnerOrganization
from core.pickers import picker_select
from grievances import handling, intake
from grievances.models import Category, ComplainantGender, ComplainantKind

CONTACT_FIELDS = ("complainant_name", "complainant_phone", "complainant_email", "complainant_address")


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe); the checks are the form's."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.CheckboxInput):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


class GrievanceForm(forms.Form):
    partner_organization = forms.ModelChoiceField(
        queryset=PartnerOrganization.objects.filter(is_active=True).order_by("name"),
        required=False,
        label=_("Organisation (PO) concerned"),
        empty_label=_("I don't know / not a PO"),
        help_text=_("The partner organisation the grievance is about, if you know it."),
    )
    category = forms.ChoiceField(choices=Category.choices, label=_("What is it about?"))
    subject = forms.CharField(max_length=intake.SUBJECT_MAX, label=_("Subject"))
    description = forms.CharField(
        max_length=intake.DESCRIPTION_MAX,
        label=_("What happened"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("What happened, when and where, and who was involved (at most 5,000 characters)."),
    )
    district = forms.ModelChoiceField(
        queryset=District.objects.order_by("name"),
        required=False,
        label=_("District"),
        widget=picker_select(),
    )
    anonymous = forms.BooleanField(
        required=False,
        label=_("Lodge anonymously"),
        help_text=_("Your name and contact details are then not kept, even if you typed them."),
    )
    complainant_name = forms.CharField(max_length=120, required=False, label=_("Name"))
    complainant_phone = forms.CharField(max_length=20, required=False, label=_("Phone"))
    complainant_email = forms.EmailField(required=False, label=_("Email"))
    complainant_address = forms.CharField(max_length=250, required=False, label=_("Address"))
    complainant_gender = forms.ChoiceField(
        choices=ComplainantGender.choices, initial=ComplainantGender.NOT_STATED, label=_("Gender")
    )
    complainant_kind = forms.ChoiceField(
        choices=ComplainantKind.choices, initial=ComplainantKind.OTHER, label=_("You are")
    )
    attachments = MultipleFileField(
        required=False,
        label=_("Documents or photos"),
        help_text=_("Optional: up to 3 files, JPEG, PNG or PDF, at most 5 MB each."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)
        self.accepted_files: list[tuple[UploadedFile, str]] = []

    def clean_attachments(self):
        files = self.cleaned_data.get("attachments") or []
        accepted, problems = intake.attachment_problems(files)
        if problems:
            raise ValidationError(problems)
        self.accepted_files = accepted
        return files

    def clean(self):
        data = super().clean()
        if data.get("anonymous"):
            for name in CONTACT_FIELDS:
                data[name] = ""
        return data

    def lodge_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "partner_organization": data.get("partner_organization"),
            "category": data["category"],
            "subject": data["subject"],
            "description": data["description"],
            "district": data.get("district"),
            "anonymous": bool(data.get("anonymous")),
            **{name: data.get(name) or "" for name in CONTACT_FIELDS},
            "complainant_gender": data["complainant_gender"],
            "complainant_kind": data["complainant_kind"],
            "attachments": self.accepted_files,
        }


class PublicGrievanceForm(GrievanceForm):
    # The honeypot: hidden from people (CSS and aria), filled by bots.
    website = forms.CharField(
        required=False,
        label=_("Leave this field empty"),
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def honeypot_filled(self) -> bool:
        return bool((self.data.get(intake.HONEYPOT_FIELD) or "").strip())


class StaffGrievanceForm(GrievanceForm):
    """A grievance received by phone, letter, in person, at a CSF (a PO's staff, for their PO), or
    sent to PKSF or the Bank (the PMU's focal points, for any PO or none)."""

    channel = forms.ChoiceField(choices=handling.STAFF_CHANNELS, label=_("Received by"))
    received_on = forms.DateField(
        label=_("Received on"), widget=forms.DateInput(attrs={"type": "date"}), required=False
    )

    field_order = ["channel", "received_on", "partner_organization"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["complainant_kind"].label = _("The complainant is")
        self.fields["anonymous"].label = _("Anonymous")
        self.fields["anonymous"].help_text = _(
            "The complainant asked not to be named: no contact details are kept."
        )
        if user is not None and user.partner_organization_id:
            po = self.fields["partner_organization"]
            po.queryset = PartnerOrganization.objects.filter(pk=user.partner_organization_id)
            po.required = True
            po.empty_label = None
            po.initial = user.partner_organization_id
            self.fields["channel"].choices = handling.PO_CHANNELS
        self.fields["received_on"].initial = timezone.localdate()

    def clean_received_on(self):
        received_on = self.cleaned_data.get("received_on")
        if received_on and received_on > timezone.localdate():
            raise ValidationError(_("The date received cannot be in the future."))
        return received_on

    def lodge_kwargs(self) -> dict:
        kwargs = super().lodge_kwargs()
        kwargs["channel"] = self.cleaned_data["channel"]
        received_on = self.cleaned_data.get("received_on")
        if received_on and received_on < timezone.localdate():
            kwargs["received_at"] = timezone.make_aware(datetime.combine(received_on, time(12)))
        return kwargs


class StatusLookupForm(forms.Form):
    tracking_code = forms.CharField(
        max_length=40,
        label=_("Tracking code"),
        help_text=_("The code you received when you lodged the grievance, e.g. ABCDE-FGHJK-LMNPQ-RSTUV."),
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off", "spellcheck": "false"}),
    )


class ReclassifyForm(forms.Form):
    """The handler's change of a grievance's category (the `reclassify` rule): the new category, and
    why (kept in the history)."""

    category = forms.ChoiceField(label=_("New category"))
    comment = forms.CharField(
        label=_("Why"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the history of the case."),
    )

    def __init__(self, *args, grievance, **kwargs):
        kwargs.setdefault("prefix", "reclassify")
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [
            (value, label) for value, label in Category.choices if value != grievance.category
        ]
        _style(self)
