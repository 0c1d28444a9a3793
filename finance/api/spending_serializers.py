"""API shapes of spending reports, expenditure lines and financial progress. The rules are in
finance.spending and the engine; serializers check the shape only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from finance import spending
from finance.models import Expenditure, SpendingReport, SpendingReportStatus
from smart_portal.api import ScopedRelations
from subprojects.api.serializers import ActionsMixin
from subprojects.models import SubProject, SubProjectStatus


class ExpenditureSerializer(serializers.ModelSerializer):
    report_reference = serializers.CharField(source="report.reference", read_only=True)
    report_status = serializers.ChoiceField(
        source="report.status", choices=SpendingReportStatus.choices, read_only=True
    )
    partner_organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    agreement_number = serializers.CharField(source="sub_project.agreement_number", read_only=True)
    quarter = serializers.SerializerMethodField()
    budget_line_number = serializers.IntegerField(
        read_only=True,
        help_text=_("The budget line's number among the sub-project's approved lines (from 1)."),
    )
    category = serializers.CharField(source="budget_line.category", read_only=True)
    financier = serializers.CharField(source="budget_line.financier", read_only=True)

    class Meta:
        model = Expenditure
        fields = [
            "id",
            "report",
            "report_reference",
            "report_status",
            "partner_organization",
            "sub_project",
            "agreement_number",
            "quarter",
            "budget_line",
            "budget_line_number",
            "category",
            "financier",
            "spent_on",
            "amount",
            "voucher_reference",
            "description",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_quarter(self, obj) -> str:
        return spending.quarter_label(obj.report.quarter_end)


class ExpenditureCreateSerializer(ScopedRelations, serializers.Serializer):
    """A new line of a draft report of your PO."""

    report = serializers.PrimaryKeyRelatedField(queryset=SpendingReport.objects.all())
    budget_line = serializers.IntegerField(
        help_text=_("Id of one of the sub-project's approved budget lines.")
    )
    spent_on = serializers.DateField(help_text=_("Within the report's quarter, not in the future."))
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, help_text=_("BDT, above zero."))
    voucher_reference = serializers.CharField(
        max_length=spending.VOUCHER_MAX, help_text=_("Once per budget line.")
    )
    description = serializers.CharField(max_length=spending.DESCRIPTION_MAX, required=False, allow_blank=True)


class ExpenditureUpdateSerializer(serializers.Serializer):
    """A change of a line of a draft report (fields not given keep their value)."""

    budget_line = serializers.IntegerField(required=False)
    spent_on = serializers.DateField(required=False)
    amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False)
    voucher_reference = serializers.CharField(max_length=spending.VOUCHER_MAX, required=False)
    description = serializers.CharField(max_length=spending.DESCRIPTION_MAX, required=False, allow_blank=True)


class SpendingReportSerializer(ActionsMixin, serializers.ModelSerializer):
    api_prefix = "spending-reports"
    reference = serializers.CharField(read_only=True)
    partner_organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="code", read_only=True
    )
    agreement_number = serializers.CharField(source="sub_project.agreement_number", read_only=True)
    quarter = serializers.SerializerMethodField()
    due_on = serializers.SerializerMethodField()
    submitted_late = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()
    total = serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, default=Decimal("0"))
    line_count = serializers.IntegerField(read_only=True, default=0)
    lines = ExpenditureSerializer(many=True, read_only=True)

    class Meta:
        model = SpendingReport
        fields = [
            "id",
            "reference",
            "partner_organization",
            "sub_project",
            "agreement_number",
            "quarter",
            "quarter_end",
            "due_on",
            "status",
            "status_changed_at",
            "submitted_at",
            "submitted_late",
            "overdue",
            "line_count",
            "total",
            "lines",
            "available_actions",
            "updated_at",
        ]
        read_only_fields = fields

    def get_quarter(self, obj) -> str:
        return spending.quarter_label(obj.quarter_end)

    @extend_schema_field(serializers.DateField())
    def get_due_on(self, obj):
        return spending.due_on(obj.quarter_end)

    def get_submitted_late(self, obj) -> bool:
        return spending.submitted_late(obj)

    def get_overdue(self, obj) -> bool:
        return spending.overdue(obj)


class SpendingReportCreateSerializer(ScopedRelations, serializers.Serializer):
    """Open the draft report of a quarter for one of your PO's active sub-projects."""

    sub_project = serializers.PrimaryKeyRelatedField(queryset=SubProject.objects.all())
    quarter = serializers.CharField(help_text=_("The calendar quarter, e.g. 2025-Q3."))

    def validate_quarter(self, value: str):
        try:
            return spending.parse_quarter(value)
        except ValueError:
            raise serializers.ValidationError(
                _("“%(value)s” is not a quarter; write it as 2025-Q3.") % {"value": value}
            ) from None


def money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=16, decimal_places=2, read_only=True, **kwargs)


class FinancialProgressSerializer(serializers.Serializer):
    sub_project = serializers.IntegerField(source="sub_project_id")
    agreement_number = serializers.CharField()
    title = serializers.CharField()
    partner_organization = serializers.CharField(source="po_code")
    status = serializers.ChoiceField(choices=SubProjectStatus.choices)
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    as_of = serializers.DateField()
    approved_world_bank = money()
    approved_pksf = money()
    approved_po = money()
    approved = money()
    released_world_bank = money()
    released_pksf = money()
    released = money()
    spent_world_bank = money()
    spent_pksf = money()
    spent_po = money()
    spent = money()
    balance = money(help_text=_("Released less spent on World Bank and PKSF lines."))
    spent_of_released = serializers.DecimalField(
        max_digits=7, decimal_places=1, read_only=True, allow_null=True, help_text=_("Per cent.")
    )
    spent_of_approved = serializers.DecimalField(max_digits=7, decimal_places=1, read_only=True)
    elapsed = serializers.DecimalField(
        max_digits=7, decimal_places=1, read_only=True, help_text=_("Per cent of the sub-project's time.")
    )
    lines_overrun = serializers.IntegerField()
    lagging = serializers.BooleanField()
    overrun = serializers.BooleanField()


class FinancialProgressQuerySerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False, help_text=_("Default: today."))
    partner_organization = serializers.CharField(required=False, help_text=_("PO code."))
    sub_project = serializers.IntegerField(required=False, help_text=_("Sub-project id."))
    flag = serializers.ChoiceField(
        choices=["any", "lagging", "overrun", "none"],
        required=False,
        help_text=_("Only rows with this flag."),
    )
