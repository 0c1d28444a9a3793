"""Forms and filters of the spending pages (the filters serve the API as well). The rules are in
finance.spending; these only read what was typed."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.filtering import PortalFilterSet, label_filter_form
from core.models import PartnerOrganization
from finance import spending
from finance.models import Expenditure, SpendingReport, SpendingReportStatus, sees_all_money
from subprojects.filters import style_filter_form
from subprojects.models import BudgetCategory, Financier, SubProject, SubProjectStatus

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
YES_NO = (("yes", _("yes")), ("no", _("no")))


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm")
        elif not isinstance(widget, (forms.CheckboxInput, forms.HiddenInput)):
            widget.attrs.setdefault("class", "form-control form-control-sm")


def quarter_value(text: str) -> date | None:
    try:
        return spending.parse_quarter(text)
    except ValueError:
        return None


# --- Opening a report -----------------------------------------------------------------------------


class ReportCreateForm(forms.Form):
    """The PO's own active sub-projects, and the quarters from the earliest start to this one."""

    sub_project = forms.TypedChoiceField(label=_("Sub-project"), coerce=int)
    quarter = forms.ChoiceField(label=_("Quarter"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        own = SubProject.objects.filter(
            partner_organization_id=user.partner_organization_id, status=SubProjectStatus.ACTIVE
        ).order_by("agreement_number")
        self.sub_projects = {sp.pk: sp for sp in own}
        cast(forms.ChoiceField, self.fields["sub_project"]).choices = [
            (sp.pk, str(sp)) for sp in self.sub_projects.values()
        ]
        today = timezone.localdate()
        first = min((sp.start_date for sp in self.sub_projects.values()), default=today)
        quarters = spending.quarters_between(min(first, today), today)
        cast(forms.ChoiceField, self.fields["quarter"]).choices = [
            (spending.quarter_label(q), spending.quarter_label(q)) for q in reversed(quarters)
        ]
        _style(self)

    def cleaned_values(self) -> tuple[SubProject | None, date | None]:
        data = self.cleaned_data
        return self.sub_projects.get(data.get("sub_project")), quarter_value(data.get("quarter", ""))


# --- Lines ----------------------------------------------------------------------------------------


class ExpenditureLineForm(forms.Form):
    """One row of the report page's formset: a line kept, changed, added or deleted."""

    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    budget_line = forms.TypedChoiceField(label=_("Budget line"), coerce=int)
    spent_on = forms.DateField(label=_("Spent on"), widget=DATE)
    amount = forms.DecimalField(label=_("Amount (BDT)"), max_digits=14, decimal_places=2)
    voucher_reference = forms.CharField(label=_("Voucher reference"), max_length=spending.VOUCHER_MAX)
    description = forms.CharField(label=_("Description"), max_length=spending.DESCRIPTION_MAX, required=False)

    def __init__(self, *args, budget_lines: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["budget_line"]).choices = [("", "—"), *budget_lines]
        _style(self)


class BaseLineFormSet(forms.BaseFormSet):
    def __init__(self, *args, budget_lines: list[tuple[int, str]], **kwargs):
        self.budget_lines = budget_lines
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "budget_lines": self.budget_lines}


# Typed loosely: the stubs do not know the formset's own keyword (`budget_lines`).
LineFormSet: Any = forms.formset_factory(
    ExpenditureLineForm, formset=BaseLineFormSet, extra=3, can_delete=True
)


# --- Filters (pages and API) ----------------------------------------------------------------------


def _visible_pos(user) -> QuerySet:
    if sees_all_money(user):
        return PartnerOrganization.objects.order_by("code")
    return PartnerOrganization.objects.filter(pk=user.partner_organization_id)


class PageChoices:
    """On the pages, the PO, sub-project and quarter filters are drop-downs of what the user sees (in
    the API they are plain values: a PO code, a sub-project id, a quarter such as 2025-Q3)."""

    def offer_choices(self, user, quarters: list[date]) -> None:
        form = self.form  # type: ignore[attr-defined]
        if sees_all_money(user):
            form.fields["partner_organization"] = forms.ChoiceField(
                label=_("PO"),
                required=False,
                choices=[("", _("All POs")), *((po.code, po.code) for po in _visible_pos(user))],
            )
        else:
            del form.fields["partner_organization"]
        sub_projects = spending.visible_sub_projects(user).order_by("agreement_number")
        form.fields["sub_project"] = forms.TypedChoiceField(
            label=_("Sub-project"),
            required=False,
            coerce=int,
            empty_value=None,
            choices=[("", "—"), *((sp.pk, sp.agreement_number) for sp in sub_projects)],
        )
        labels = [spending.quarter_label(q) for q in sorted(set(quarters), reverse=True)]
        form.fields["quarter"] = forms.ChoiceField(
            label=_("Quarter"), required=False, choices=[("", "—"), *((label, label) for label in labels)]
        )
        label_filter_form(form)
        style_filter_form(self)


class MoneyFilterSet(PortalFilterSet):
    partner_organization = django_filters.CharFilter(
        field_name="partner_organization__code", lookup_expr="iexact", label=_("PO (code)")
    )
    sub_project = django_filters.NumberFilter(field_name="sub_project_id", label=_("Sub-project (id)"))
    quarter = django_filters.CharFilter(method="filter_quarter", label=_("Quarter, e.g. 2025-Q3"))

    quarter_field = "quarter_end"

    def filter_quarter(self, queryset, name, value):
        quarter_end = quarter_value(value)
        if quarter_end is None:
            return queryset.none()
        return queryset.filter(**{self.quarter_field: quarter_end})


class SpendingReportFilter(PageChoices, MoneyFilterSet):
    status = django_filters.MultipleChoiceFilter(choices=SpendingReportStatus.choices, label=_("State"))
    late = django_filters.ChoiceFilter(choices=YES_NO, method="filter_late", label=_("Late or overdue"))

    class Meta:
        model = SpendingReport
        fields = ["partner_organization", "sub_project", "quarter", "status", "late"]

    def filter_late(self, queryset, name, value):
        quarters = list(queryset.order_by().values_list("quarter_end", flat=True).distinct())
        late = spending.late_or_overdue_q(quarters)
        if value == "yes":
            return queryset.filter(late)
        if value == "no":
            return queryset.exclude(late)
        return queryset


class ExpenditureFilter(PageChoices, MoneyFilterSet):
    category = django_filters.ChoiceFilter(
        field_name="budget_line__category", choices=BudgetCategory.choices, label=_("Budget category")
    )
    financier = django_filters.ChoiceFilter(
        field_name="budget_line__financier", choices=Financier.choices, label=_("Financier")
    )
    status = django_filters.MultipleChoiceFilter(
        field_name="report__status", choices=SpendingReportStatus.choices, label=_("Report state")
    )
    spent_from = django_filters.DateFilter(
        field_name="spent_on", lookup_expr="gte", label=_("Spent from"), widget=DATE
    )
    spent_to = django_filters.DateFilter(
        field_name="spent_on", lookup_expr="lte", label=_("Spent to"), widget=DATE
    )
    amount_min = django_filters.NumberFilter(field_name="amount", lookup_expr="gte", label=_("Amount from"))
    amount_max = django_filters.NumberFilter(field_name="amount", lookup_expr="lte", label=_("Amount to"))
    voucher = django_filters.CharFilter(
        field_name="voucher_reference", lookup_expr="icontains", label=_("Voucher contains")
    )

    quarter_field = "report__quarter_end"

    class Meta:
        model = Expenditure
        fields = [
            "partner_organization",
            "sub_project",
            "category",
            "financier",
            "quarter",
            "status",
            "spent_from",
            "spent_to",
            "amount_min",
            "amount_max",
            "voucher",
        ]


class ProgressFilterForm(forms.Form):
    """The financial progress page: as of which day, whose, and which flags."""

    as_of = forms.DateField(label=_("As of"), required=False, widget=DATE)
    partner_organization = forms.ChoiceField(label=_("PO"), required=False)
    sub_project = forms.TypedChoiceField(label=_("Sub-project"), required=False, coerce=int, empty_value=None)
    flag = forms.ChoiceField(
        label=_("Flag"),
        required=False,
        choices=[
            ("", "—"),
            ("any", _("lagging or overrun")),
            ("lagging", _("lagging")),
            ("overrun", _("overrun")),
            ("none", _("no flag")),
        ],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if sees_all_money(user):
            cast(forms.ChoiceField, self.fields["partner_organization"]).choices = [
                ("", _("All POs")),
                *((po.code, po.code) for po in _visible_pos(user)),
            ]
        else:
            del self.fields["partner_organization"]
        cast(forms.ChoiceField, self.fields["sub_project"]).choices = [
            ("", "—"),
            *(
                (sp.pk, sp.agreement_number)
                for sp in spending.visible_sub_projects(user).order_by("agreement_number")
            ),
        ]
        label_filter_form(self)
        _style(self)


def filter_progress_sub_projects(queryset: QuerySet, data: dict) -> QuerySet:
    """The sub-projects a progress request asks about (PO code, sub-project id)."""
    if data.get("partner_organization"):
        queryset = queryset.filter(partner_organization__code__iexact=data["partner_organization"])
    if data.get("sub_project"):
        queryset = queryset.filter(pk=data["sub_project"])
    return queryset


def filter_progress_flags(rows: list, flag: str) -> list:
    if flag == "any":
        return [row for row in rows if row.flags]
    if flag in ("lagging", "overrun"):
        return [row for row in rows if getattr(row, flag)]
    if flag == "none":
        return [row for row in rows if not row.flags]
    return rows


__all__ = [
    "ExpenditureFilter",
    "ExpenditureLineForm",
    "LineFormSet",
    "ProgressFilterForm",
    "ReportCreateForm",
    "SpendingReportFilter",
    "filter_progress_flags",
    "filter_progress_sub_projects",
]
