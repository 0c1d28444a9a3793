"""Forms of the IFR and fund-receipt pages. They check the shape; the rules are in finance.ifr."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, cast

import django_filters
from django import forms
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

from finance import ifr
from finance.models import FinancialReport, ForecastLine, FundReceipt, FundSource, ReportStatus
from subprojects.filters import ScopedFilterSet
from subprojects.models import BudgetCategory, Financier

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _style(form: forms.BaseForm) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select")
        else:
            widget.attrs.setdefault("class", "form-control")


def quarter_choice_label(quarter_end: date) -> str:
    return _("%(quarter)s (%(start)s to %(end)s; due %(due)s)") % {
        "quarter": ifr.quarter_label(quarter_end),
        "start": date_format(ifr.quarter_start(quarter_end), "DATE_FORMAT"),
        "end": date_format(quarter_end, "DATE_FORMAT"),
        "due": date_format(ifr.due_on(quarter_end), "DATE_FORMAT"),
    }


class ReportCreateForm(forms.Form):
    """The quarter of a new report: an ended quarter without a report yet."""

    quarter_end = forms.TypedChoiceField(label=_("Quarter"), coerce=date.fromisoformat, choices=())
    notes = forms.CharField(
        label=_("Notes to the report"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["quarter_end"]).choices = [
            (quarter.isoformat(), quarter_choice_label(quarter)) for quarter in ifr.creatable_quarters()
        ]
        self.fields["quarter_end"].error_messages["invalid_choice"] = _(
            "Choose an ended quarter that has no report yet."
        )
        _style(self)


class NotesForm(forms.Form):
    notes = forms.CharField(
        label=_("Notes to the report"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)


class SentForm(forms.Form):
    sent_on = forms.DateField(label=_("Sent to the Bank on"), widget=DATE)
    comment = forms.CharField(
        label=_("Comment"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("How it was sent and to whom, e.g. the task team leader by email."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["sent_on"].initial = timezone.localdate()
        _style(self)


def amount_field(label: Any, **kwargs: Any) -> forms.DecimalField:
    """An amount in BDT, zero or more, with paisa."""
    return forms.DecimalField(label=label, max_digits=14, decimal_places=2, min_value=Decimal("0"), **kwargs)


class ForecastForm(forms.Form):
    """One amount per forecast line of the report, and one optional new line."""

    new_quarter_end = forms.TypedChoiceField(
        label=_("Quarter"), coerce=date.fromisoformat, choices=(), required=False, empty_value=None
    )
    new_category = forms.ChoiceField(
        label=_("Category"), choices=[("", "—"), *BudgetCategory.choices], required=False
    )
    new_financier = forms.ChoiceField(
        label=_("Financier"), choices=[("", "—"), *Financier.choices], required=False
    )
    new_amount = amount_field(_("Forecast (BDT)"), required=False)

    def __init__(self, *args, report: FinancialReport, **kwargs):
        super().__init__(*args, **kwargs)
        self.report = report
        self.lines = list(ForecastLine.objects.filter(report=report))
        for line in self.lines:
            self.fields[self.line_field(line)] = amount_field(
                f"{line.get_category_display()} · {line.get_financier_display()} · "
                f"{ifr.quarter_label(line.quarter_end)}",
                initial=line.amount,
            )
        cast(forms.ChoiceField, self.fields["new_quarter_end"]).choices = [("", "—")] + [
            (q.isoformat(), ifr.quarter_label(q)) for q in ifr.forecast_quarter_ends(report.quarter_end)
        ]
        _style(self)
        for line in self.lines:
            self.fields[self.line_field(line)].widget.attrs.update(
                {"class": "form-control form-control-sm text-end"}
            )

    @staticmethod
    def line_field(line: ForecastLine) -> str:
        return f"line_{line.pk}"

    def grid(self) -> list[dict]:
        """Rows (category, financier) with the field of each forecast quarter, for the template."""
        quarters = ifr.forecast_quarter_ends(self.report.quarter_end)
        rows: dict[tuple[str, str], dict] = {}
        for line in self.lines:
            row = rows.setdefault(
                (line.category, line.financier),
                {
                    "category": line.get_category_display(),
                    "financier": line.get_financier_display(),
                    "fields": dict.fromkeys(quarters),
                },
            )
            row["fields"][line.quarter_end] = self[self.line_field(line)]
        ordered = sorted(
            rows.items(),
            key=lambda item: (BudgetCategory.values.index(item[0][0]), Financier.values.index(item[0][1])),
        )
        return [{**row, "fields": [row["fields"][q] for q in quarters]} for _key, row in ordered]

    def clean(self):
        data = super().clean() or {}
        new = [data.get(name) for name in ("new_quarter_end", "new_category", "new_financier")]
        if any(new) or data.get("new_amount") is not None:
            for name, value in zip(("new_quarter_end", "new_category", "new_financier"), new, strict=True):
                if not value:
                    self.add_error(
                        name, _("Give the quarter, the category and the financier of the new line.")
                    )
            if data.get("new_amount") is None:
                self.add_error("new_amount", _("Give the amount of the new line."))
        return data

    def rows(self) -> list[dict]:
        data = self.cleaned_data
        rows = [
            {
                "quarter_end": line.quarter_end,
                "category": line.category,
                "financier": line.financier,
                "amount": data[self.line_field(line)],
            }
            for line in self.lines
        ]
        if data.get("new_quarter_end"):
            rows.append(
                {
                    "quarter_end": data["new_quarter_end"],
                    "category": data["new_category"],
                    "financier": data["new_financier"],
                    "amount": data["new_amount"],
                }
            )
        return rows


class FundReceiptForm(forms.ModelForm):
    class Meta:
        model = FundReceipt
        fields = list(ifr.RECEIPT_FIELDS)
        widgets = {"received_on": DATE}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def _post_clean(self) -> None:
        # The rules (dates, closed quarters, the unique reference) are checked in finance.ifr.
        pass


class FundReceiptFilter(ScopedFilterSet):
    """Filters of the receipts list, shared by the page and the API."""

    source = django_filters.ChoiceFilter(choices=FundSource.choices, label=_("Source"))
    received_from = django_filters.DateFilter(
        field_name="received_on", lookup_expr="gte", label=_("Received from"), widget=DATE
    )
    received_to = django_filters.DateFilter(
        field_name="received_on", lookup_expr="lte", label=_("Received to"), widget=DATE
    )
    q = django_filters.CharFilter(method="search", label=_("Reference or description"))

    class Meta:
        model = FundReceipt
        fields = ["source", "received_from", "received_to"]

    def search(self, queryset, name, value):
        from django.db.models import Q

        return queryset.filter(Q(reference__icontains=value) | Q(description__icontains=value))


class FinancialReportFilter(ScopedFilterSet):
    """Filters of the reports (API and export)."""

    status = django_filters.MultipleChoiceFilter(choices=ReportStatus.choices, label=_("State"))
    quarter_end = django_filters.DateFilter(label=_("Quarter ending"), widget=DATE)
    current = django_filters.BooleanFilter(
        field_name="superseded_by", lookup_expr="isnull", label=_("Current version only")
    )

    class Meta:
        model = FinancialReport
        fields = ["status", "quarter_end", "current"]
