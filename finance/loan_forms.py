"""Forms of the loan pages: the "as of" picker, the loan list's filters, and the owning PO's schedule,
repayment and write-off forms (field names are those of finance.loans' services, so their errors land
on the field)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import PartnerOrganization
from core.validators import check_in_programme_span
from enterprises.models import Gender
from finance.loans import MAX_TERM_MONTHS, is_po_money_staff
from finance.models import sees_all_money
from finance.portfolio import BUCKETS, in_bucket
from subprojects.filters import ScopedFilterSet

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
YES_NO = (("yes", _("yes")), ("no", _("no")))
BUCKET_LABELS = {
    "current": _("current (nothing past due)"),
    "1-30": _("1-30 days past due"),
    "31-90": _("31-90 days past due"),
    "over-90": _("more than 90 days past due"),
}
BUCKET_CHOICES = [(key, BUCKET_LABELS[key]) for key in BUCKETS]


def _style(form: forms.Form) -> None:
    for field in form.fields.values():
        widget = field.widget
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs.setdefault(
            "class", f"{css} form-control-sm" if css == "form-control" else f"{css} form-select-sm"
        )


class AsOfForm(forms.Form):
    as_of = forms.DateField(label=_("As of"), required=False, widget=DATE)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def clean_as_of(self) -> date | None:
        value = self.cleaned_data.get("as_of")
        if value is not None:
            check_in_programme_span(value)
        return value

    def chosen(self) -> date:
        """The date asked for, or today (also when what was typed is refused: the form says why)."""
        if self.is_bound and self.is_valid() and self.cleaned_data.get("as_of"):
            return self.cleaned_data["as_of"]
        return timezone.localdate()


def money_partner_organizations(user):
    """The POs whose money this person may pick: all for the PMU's side, a PO's own for its staff."""
    if sees_all_money(user):
        return PartnerOrganization.objects.all()
    if is_po_money_staff(user):
        return PartnerOrganization.objects.filter(pk=user.partner_organization_id)
    return PartnerOrganization.objects.none()


def _as_of_of(request) -> date:
    """The API's `?as_of=` (already checked by the view), else today."""
    params = getattr(request, "query_params", None) or getattr(request, "GET", {})
    raw = params.get("as_of") if request is not None else None
    try:
        return date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError:
        return timezone.localdate()


class LoanFilter(ScopedFilterSet):
    """Filters of the loan list (pages and API) over loans annotated as of a date
    (finance.portfolio.with_figures): pass `as_of=`."""

    partner_organization = django_filters.ModelChoiceFilter(
        field_name="enterprise__partner_organization",
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )
    days_past_due = django_filters.ChoiceFilter(
        choices=BUCKET_CHOICES, method="filter_bucket", label=_("Days past due"), empty_label=_("Any")
    )
    gender = django_filters.ChoiceFilter(
        choices=Gender.choices, field_name="enterprise__owner_gender", label=_("Owner gender")
    )
    written_off = django_filters.ChoiceFilter(
        choices=YES_NO, method="filter_written_off", label=_("Written off")
    )
    q = django_filters.CharFilter(method="search", label=_("ME code, name or loan reference"))

    def __init__(self, *args, as_of: date | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.as_of = as_of or _as_of_of(self.request)
        user = kwargs.get("user") or getattr(self.request, "user", None)
        scoped = money_partner_organizations(user)
        self.filters["partner_organization"].queryset = scoped
        if "partner_organization" in self.form.fields:
            self.form.fields["partner_organization"].queryset = scoped

    def filter_bucket(self, queryset, name, value):
        return in_bucket(queryset, value, self.as_of) if value in BUCKETS else queryset

    def filter_written_off(self, queryset, name, value):
        if value == "yes":
            return queryset.filter(written_off_on__isnull=False)
        if value == "no":
            return queryset.filter(written_off_on__isnull=True)
        return queryset

    def search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(enterprise__po_code__iexact=value)
            | Q(enterprise__name__icontains=value)
            | Q(reference__icontains=value)
        )


class ScheduleForm(forms.Form):
    term_months = forms.IntegerField(
        label=_("Monthly instalments"),
        min_value=1,
        max_value=MAX_TERM_MONTHS,
        help_text=_("Equal principal each month; the last instalment absorbs the rounding."),
    )
    first_due_on = forms.DateField(label=_("First instalment due on"), widget=DATE)
    annual_interest_rate = forms.DecimalField(
        label=_("Flat interest (% a year)"),
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        decimal_places=2,
        max_digits=5,
        initial=Decimal("0"),
        required=False,
        help_text=_("On the amount lent, spread equally over the months; 0 or empty for none."),
    )

    def __init__(self, *args, loan=None, **kwargs):
        super().__init__(*args, **kwargs)
        if loan is not None and not self.is_bound:
            self.initial.setdefault("term_months", 12)
            self.initial.setdefault("first_due_on", loan.disbursed_on + timedelta(days=30))
        _style(self)

    def clean_annual_interest_rate(self) -> Decimal:
        return self.cleaned_data.get("annual_interest_rate") or Decimal("0")


class RepaymentForm(forms.Form):
    paid_on = forms.DateField(label=_("Paid on"), widget=DATE)
    principal = forms.DecimalField(
        label=_("Principal (BDT)"), min_value=Decimal("0"), max_digits=14, decimal_places=2
    )
    interest = forms.DecimalField(
        label=_("Interest and fees (BDT)"),
        min_value=Decimal("0"),
        max_digits=14,
        decimal_places=2,
        required=False,
        initial=Decimal("0"),
    )
    reference = forms.CharField(label=_("Receipt reference"), max_length=60, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("paid_on", timezone.localdate())
        _style(self)

    def clean_interest(self) -> Decimal:
        return self.cleaned_data.get("interest") or Decimal("0")


class WriteOffForm(forms.Form):
    written_off_on = forms.DateField(label=_("Written off on"), widget=DATE)
    principal = forms.DecimalField(
        label=_("Principal written off (BDT)"), min_value=Decimal("0.01"), max_digits=14, decimal_places=2
    )
    reason = forms.CharField(label=_("Reason"), widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, outstanding: Decimal | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("written_off_on", timezone.localdate())
            if outstanding:
                self.initial.setdefault("principal", outstanding)
        _style(self)

    def clean_reason(self) -> str:
        reason = (self.cleaned_data.get("reason") or "").strip()
        if not reason:
            raise ValidationError(_("Say why the loan is written off."))
        return reason
