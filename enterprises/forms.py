"""Forms for entering field data one record at a time. They check shape and run the model's rules
(ModelForm → `clean()`); the views then call enterprises.services, which validates again and saves."""

from __future__ import annotations

import re

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.template.defaultfilters import date as format_date
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.models import District, Upazila
from core.pickers import mark_pickers
from core.uploads import check_document
from enterprises import services
from enterprises.imports import IMPORTERS
from enterprises.models import (
    Adoption,
    Attendance,
    CommonServiceFacility,
    Enterprise,
    FinancialSupport,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from enterprises.validation import today
from subprojects.models import SubProject, SubProjectStatus

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def choose_sub_project(form: forms.ModelForm, user, statuses) -> None:
    """A PO's sub-projects only; with a single one (the usual case) it is chosen already."""
    sub_projects = (
        SubProject.objects.visible_to(user)
        .filter(partner_organization_id=user.partner_organization_id, status__in=statuses)
        .select_related("sector")
        .order_by("agreement_number")
    )
    form.fields["sub_project"].queryset = sub_projects
    if not form.instance.pk and len(sub_projects) == 1:
        form.initial.setdefault("sub_project", sub_projects[0].pk)


def link_upazilas(form: forms.ModelForm, stored_district_id: int | None) -> None:
    """The upazila list follows the chosen district (htmx reloads the options on change): 507
    upazilas in one list would drown the field, and ten of their names exist in two districts."""
    district_id = form.data.get(form.add_prefix("district")) or stored_district_id
    upazilas = Upazila.objects.select_related("district").order_by("name")
    if str(district_id or "").isdigit():
        upazilas = upazilas.filter(district_id=district_id)
    form.fields["upazila"].queryset = upazilas
    form.fields["upazila"].label_from_instance = lambda upazila: f"{upazila.name} ({upazila.district.name})"
    mark_pickers(form)  # type-to-filter boxes (static/portal/picker.js)
    form.fields["district"].widget.attrs.update(
        {
            "hx-get": reverse("enterprises:upazila-options"),
            "hx-target": f"#id_{form.add_prefix('upazila')}",
            "hx-trigger": "change",
        }
    )


class EnterpriseForm(forms.ModelForm):
    class Meta:
        model = Enterprise
        fields = [
            "po_code",
            "sub_project",
            "name",
            "owner_name",
            "owner_gender",
            "phone",
            "is_formal",
            "trade_licence_number",
            "sub_sector",
            "division",
            "district",
            "upazila",
            "latitude",
            "longitude",
            "climate_vulnerable_override",
            "self_employed",
            "wage_employed_male",
            "wage_employed_female",
            "year_started",
            "registered_on",
        ]
        widgets = {
            "registered_on": DATE,
            "climate_vulnerable_override": forms.Select(
                choices=[("", _("follow the area's flag")), ("true", _("yes")), ("false", _("no"))]
            ),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = [SubProjectStatus.ACTIVE]
        if self.instance.pk:
            statuses += [SubProjectStatus.COMPLETED, SubProjectStatus.SUSPENDED]
        choose_sub_project(self, user, statuses)
        self.fields["sub_sector"].queryset = self.fields["sub_sector"].queryset.select_related("sector")
        self.fields["district"].queryset = District.objects.order_by("name")
        link_upazilas(self, self.instance.district_id)
        self.fields["division"].required = False
        self.fields["division"].help_text = _("Taken from the district if left empty.")
        if not self.instance.pk:
            self.instance.partner_organization_id = user.partner_organization_id
            self.initial.setdefault("registered_on", today())


class FinancialSupportForm(forms.ModelForm):
    class Meta:
        model = FinancialSupport
        fields = ["kind", "amount", "financier", "disbursed_on", "reference"]
        widgets = {"disbursed_on": DATE}
        help_texts = {"financier": _("Whose money was lent or granted.")}

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.enterprise = enterprise
        self.fields["disbursed_on"].help_text = _(
            "Disbursements before %(start)s, the programme start, are not counted as project financing."
        ) % {"start": format_date(settings.PROGRAMME_START, "DATE_FORMAT")}


class AttendanceForm(forms.ModelForm):
    """On an enterprise's page: which session it attended."""

    class Meta:
        model = Attendance
        fields = ["session", "pre_test_score", "post_test_score"]

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.enterprise = enterprise
        self.fields["session"].queryset = TrainingSession.objects.filter(
            partner_organization_id=enterprise.partner_organization_id
        ).order_by("-held_on")


class SessionAttendanceForm(forms.Form):
    """On a session's page: the enterprise by its ME code."""

    enterprise_code = forms.CharField(label=_("ME code"), max_length=40)
    pre_test_score = forms.DecimalField(
        label=_("Pre-test score"), min_value=0, max_value=100, required=False, decimal_places=1
    )
    post_test_score = forms.DecimalField(
        label=_("Post-test score"), min_value=0, max_value=100, required=False, decimal_places=1
    )

    def __init__(self, *args, session: TrainingSession, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = session

    def clean_enterprise_code(self) -> Enterprise:
        code = self.cleaned_data["enterprise_code"].strip()
        enterprise = (
            Enterprise.objects.filter(
                partner_organization_id=self.session.partner_organization_id, po_code=code
            )
            .select_related("sub_project")
            .first()
        )
        if enterprise is None:
            raise ValidationError(
                _("Your PO has no enterprise with the ME code %(code)s."), params={"code": code}
            )
        return enterprise


class AdoptionForm(forms.ModelForm):
    """The PO reports an adoption with what its officer saw; the PMU or a verifier verifies it."""

    class Meta:
        model = Adoption
        fields = [
            "practice",
            "adopted_on",
            "evidence_observed_on",
            "evidence_photo",
            "evidence_latitude",
            "evidence_longitude",
            "note",
        ]
        widgets = {"adopted_on": DATE, "evidence_observed_on": DATE}
        help_texts = {
            "evidence_observed_on": _("The day your officer saw the practice in use."),
            "evidence_latitude": _("Where the photo was taken, in decimal degrees (optional)."),
        }

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.enterprise = enterprise
        if self.instance.pk:
            # The practice is the adoption's key (as in imports): a wrong one is deleted and re-entered.
            del self.fields["practice"]
        else:
            self.fields["practice"].queryset = (
                RecpPractice.objects.filter(is_active=True)
                .applicable_to(enterprise.sub_sector_id)
                .exclude(pk__in=enterprise.adoptions.values("practice_id"))
            )
        self.fields["evidence_photo"].help_text = _(
            "A photo of the practice in use: JPEG or PNG, up to %(mb)s MB."
        ) % {"mb": settings.ATTACHMENT_MAX_MB}
        self.fields["evidence_photo"].widget.attrs["accept"] = "image/jpeg,image/png"


class VerifyAdoptionForm(forms.Form):
    verified_on = forms.DateField(label=_("Verified on"), widget=DATE, initial=today)
    comment = forms.CharField(
        label=_("What you saw"), required=False, widget=forms.Textarea(attrs={"rows": 1})
    )


class RecpProfileForm(forms.ModelForm):
    class Meta:
        model = RecpProfile
        fields = [
            "assessment_date",
            "baseline",
            "climate_risks",
            "opportunities",
            "recommended_practices",
            "report",
        ]
        widgets = {
            "assessment_date": DATE,
            "baseline": forms.Textarea(attrs={"rows": 3}),
            "climate_risks": forms.Textarea(attrs={"rows": 3}),
            "opportunities": forms.Textarea(attrs={"rows": 3}),
            "recommended_practices": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.enterprise = enterprise
        self.fields["recommended_practices"].queryset = RecpPractice.objects.filter(
            is_active=True
        ).applicable_to(enterprise.sub_sector_id)
        self.fields["report"].help_text = _("PDF, DOCX, XLSX or an image, up to %(mb)s MB.") % {
            "mb": settings.ATTACHMENT_MAX_MB
        }

    def clean_report(self):
        report = self.cleaned_data.get("report")
        if report and hasattr(report, "content_type"):  # a new upload, not the stored file
            check_document(report)
        return report


class CommentForm(forms.Form):
    comment = forms.CharField(label=_("Comment"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    on = forms.DateField(label=_("Date"), widget=DATE, required=False)


class KpiReadingForm(forms.ModelForm):
    period = forms.DateField(
        label=_("Month"),
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
        help_text=_("The month the value covers."),
    )

    class Meta:
        model = KpiReading
        fields = ["kpi", "period", "value", "is_baseline", "source"]

    def __init__(self, *args, enterprise: Enterprise, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.enterprise = enterprise
        self.fields["kpi"].queryset = Kpi.objects.filter(is_active=True)

    def clean_period(self):
        period = self.cleaned_data["period"]
        return period.replace(day=1) if period else period


def module_label(module: TrainingModule) -> str:
    if module.climate_vulnerability:
        return f"{module} ({_('climate vulnerability')})"
    return str(module)


class TrainingSessionForm(forms.ModelForm):
    class Meta:
        model = TrainingSession
        fields = ["po_code", "sub_project", "module", "topic", "held_on", "place", "district", "facilitator"]
        widgets = {"held_on": DATE}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        choose_sub_project(self, user, (SubProjectStatus.ACTIVE, SubProjectStatus.COMPLETED))
        self.fields["district"].queryset = District.objects.order_by("name")
        mark_pickers(self)
        # Active modules, and the session's own even if the PMU has retired it since.
        module = self.fields["module"]
        module.queryset = TrainingModule.objects.filter(Q(is_active=True) | Q(pk=self.instance.module_id))
        module.label_from_instance = module_label
        module.help_text = _(
            "From the PMU's catalogue. Attendances count towards “increased knowledge on climate "
            "vulnerability” only at sessions of a module tagged climate vulnerability."
        )
        if self.instance.pk and services.sessions_mapped_by_pmu([self.instance.pk]):
            module.help_text = _(
                "The PMU mapped this session to its module: only the PMU changes it now (ask them if it "
                "is wrong)."
            )
        if not self.instance.pk:
            self.instance.partner_organization_id = user.partner_organization_id


class AssignModuleForm(forms.Form):
    """The PMU maps a session to a module (any module of the catalogue, retired ones included)."""

    module = forms.ModelChoiceField(label=_("Training module"), queryset=TrainingModule.objects.all())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["module"].label_from_instance = module_label


class TrainingModuleForm(forms.ModelForm):
    class Meta:
        model = TrainingModule
        fields = ["code", "name", "description", "climate_vulnerability", "is_active", "position"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class FacilityForm(forms.ModelForm):
    mes_served_codes = forms.CharField(
        label=_("MEs served"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("ME codes of your PO, separated by commas or new lines."),
    )
    status_comment = forms.CharField(
        label=_("Why the status changes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 1}),
        help_text=_("Optional; kept in the facility's history with the change of status."),
    )

    class Meta:
        model = CommonServiceFacility
        fields = [
            "sub_project",
            "name",
            "kind",
            "sub_sector",
            "district",
            "upazila",
            "address",
            "latitude",
            "longitude",
            "services",
            "status",
            "opened_on",
        ]
        widgets = {"opened_on": DATE, "services": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.operational_confirmed_on:
            self.fields["status"].help_text = _(
                "The PMU confirmed on %(date)s that the facility operates. Changing the status or the "
                "opening date clears that confirmation: the facility then awaits confirmation again."
            ) % {"date": format_date(self.instance.operational_confirmed_on, "DATE_FORMAT")}
        else:
            self.fields["status"].help_text = _(
                "An operational facility counts once the PMU or a verifier has confirmed that it operates; "
                "changing the status or the opening date later clears the confirmation."
            )
        choose_sub_project(self, user, (SubProjectStatus.ACTIVE, SubProjectStatus.COMPLETED))
        self.fields["district"].queryset = District.objects.order_by("name")
        link_upazilas(self, self.instance.district_id)
        if not self.instance.pk:
            self.instance.partner_organization_id = user.partner_organization_id
            # A new facility starts in the status given: there is no change to explain yet.
            del self.fields["status_comment"]
        else:
            self.initial["mes_served_codes"] = ", ".join(
                self.instance.mes_served.values_list("po_code", flat=True)
            )
        # The comment right under the status and opening date it explains.
        self.order_fields([*self._meta.fields[: self._meta.fields.index("opened_on") + 1], "status_comment"])

    def clean_mes_served_codes(self) -> list[Enterprise]:
        codes = [code for code in re.split(r"[,;\s]+", self.cleaned_data["mes_served_codes"]) if code]
        found = {
            me.po_code: me
            for me in Enterprise.objects.filter(
                partner_organization_id=self.user.partner_organization_id, po_code__in=codes
            )
        }
        missing = [code for code in codes if code not in found]
        if missing:
            raise ValidationError(
                _("Your PO has no enterprise with the ME code(s) %(codes)s."),
                params={"codes": ", ".join(missing)},
            )
        return list(found.values())


class ImportForm(forms.Form):
    kind = forms.ChoiceField(label=_("The file contains"), choices=[])
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV or Excel (.xlsx), with the template's header row."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(kind, importer.label) for kind, importer in IMPORTERS.items()]


class ClusterAcceptForm(forms.Form):
    name = forms.CharField(label=_("Cluster name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    members = forms.MultipleChoiceField(
        label=_("Members"), widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args, members, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].choices = [(str(me.pk), str(me)) for me in members]
        self.initial.setdefault("members", [str(me.pk) for me in members])


class ClusterEditForm(forms.Form):
    name = forms.CharField(label=_("Cluster name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
