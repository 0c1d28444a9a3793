"""API shapes of the loan portfolio. The rules are in finance.loans; serializers check the shape only."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from enterprises.models import FinancialSupport
from finance.models import Instalment, Repayment, WriteOff
from finance.portfolio import days_past_due


def _money(help_text, *, allow_null: bool = False) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, allow_null=allow_null, help_text=help_text
    )


class LoanSerializer(serializers.ModelSerializer):
    """A loan with its figures as of the date asked for (`as_of`, default today)."""

    enterprise_code = serializers.CharField(source="enterprise.po_code", read_only=True)
    enterprise_name = serializers.CharField(source="enterprise.name", read_only=True)
    owner_gender = serializers.CharField(source="enterprise.owner_gender", read_only=True)
    partner_organization = serializers.CharField(
        source="enterprise.partner_organization.code", read_only=True
    )
    as_of = serializers.SerializerMethodField()
    due = _money(_("Principal due by the date."))
    repaid = _money(_("Principal repaid by the date."))
    outstanding = _money(_("Amount less principal repaid; 0 once written off."))
    arrears = _money(_("Principal due and not repaid (0 once written off)."))
    overdue_since = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text=_("Due date of the oldest instalment the repayments do not cover."),
    )
    days_past_due = serializers.SerializerMethodField()
    written_off_on = serializers.DateField(
        read_only=True, allow_null=True, help_text=_("If written off by the date.")
    )
    written_off = _money(_("Principal written off by the date."), allow_null=True)

    class Meta:
        model = FinancialSupport
        fields = [
            "id",
            "enterprise",
            "enterprise_code",
            "enterprise_name",
            "owner_gender",
            "partner_organization",
            "amount",
            "financier",
            "disbursed_on",
            "reference",
            "as_of",
            "due",
            "repaid",
            "outstanding",
            "arrears",
            "overdue_since",
            "days_past_due",
            "written_off_on",
            "written_off",
            "updated_at",
        ]
        read_only_fields = fields

    def get_as_of(self, loan) -> str:
        return self.context["as_of"].isoformat()

    def get_days_past_due(self, loan) -> int:
        return days_past_due(loan, self.context["as_of"])


class InstalmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Instalment
        fields = [
            "id",
            "loan",
            "number",
            "due_on",
            "principal",
            "interest",
            "principal_due_to_date",
            "updated_at",
        ]
        read_only_fields = fields


class RepaymentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Repayment
        fields = ["id", "loan", "paid_on", "principal", "interest", "reference", "created_at", "updated_at"]
        read_only_fields = fields


class RepaymentCreateSerializer(serializers.Serializer):
    """A repayment of one of your PO's loans (another PO's loan answers as one that does not exist)."""

    loan = serializers.PrimaryKeyRelatedField(queryset=FinancialSupport.objects.none())
    paid_on = serializers.DateField()
    principal = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0"))
    interest = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0"), default=Decimal("0")
    )
    reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")

    def __init__(self, *args, loans=None, **kwargs):
        super().__init__(*args, **kwargs)
        if loans is not None:
            self.fields["loan"].queryset = loans  # type: ignore[attr-defined]


class WriteOffSerializer(serializers.ModelSerializer):
    recorded_by = serializers.SerializerMethodField()

    class Meta:
        model = WriteOff
        fields = [
            "id",
            "loan",
            "written_off_on",
            "principal",
            "reason",
            "recorded_by",
            "recorded_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_recorded_by(self, write_off) -> str:
        return write_off.recorded_by.get_display_name()


class WriteOffCreateSerializer(serializers.Serializer):
    loan = serializers.PrimaryKeyRelatedField(queryset=FinancialSupport.objects.none())
    written_off_on = serializers.DateField()
    principal = serializers.DecimalField(max_digits=14, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField()

    def __init__(self, *args, loans=None, **kwargs):
        super().__init__(*args, **kwargs)
        if loans is not None:
            self.fields["loan"].queryset = loans  # type: ignore[attr-defined]


class FiguresSerializer(serializers.Serializer):
    loans_disbursed = serializers.IntegerField()
    disbursed = serializers.DecimalField(max_digits=16, decimal_places=2)
    loans = serializers.IntegerField(help_text=_("Active loans: outstanding principal above 0."))
    borrowers = serializers.IntegerField(
        help_text=_("Distinct MEs with an active loan (a confirmed duplicate counts once).")
    )
    women_borrowers = serializers.IntegerField()
    men_borrowers = serializers.IntegerField()
    outstanding = serializers.DecimalField(max_digits=16, decimal_places=2)
    par30 = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text=_("Outstanding of loans more than 30 days past due.")
    )
    par30_percent = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    par90 = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text=_("Outstanding of loans more than 90 days past due.")
    )
    par90_percent = serializers.DecimalField(max_digits=6, decimal_places=2, allow_null=True)
    par30_loans = serializers.IntegerField()
    par90_loans = serializers.IntegerField()
    due = serializers.DecimalField(max_digits=16, decimal_places=2, help_text=_("Principal due to date."))
    repaid = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text=_("Principal repaid to date.")
    )
    repaid_against_due = serializers.DecimalField(max_digits=16, decimal_places=2)
    repayment_rate = serializers.DecimalField(
        max_digits=6, decimal_places=2, allow_null=True, help_text=_("Σ min(repaid, due) ÷ Σ due, in %.")
    )
    arrears = serializers.DecimalField(max_digits=16, decimal_places=2)
    write_offs = serializers.IntegerField()
    written_off = serializers.DecimalField(max_digits=16, decimal_places=2)


class PoFiguresSerializer(FiguresSerializer):
    partner_organization = serializers.CharField(help_text=_("PO code."))


class GenderFiguresSerializer(FiguresSerializer):
    owner_gender = serializers.CharField()


@extend_schema_serializer(many=False)  # the list action answers one object (its lists inside)
class PortfolioSerializer(serializers.Serializer):
    as_of = serializers.DateField()
    totals = FiguresSerializer(help_text=_("The programme's (or your PO's) portfolio."))
    by_gender = GenderFiguresSerializer(many=True)
    by_partner_organization = PoFiguresSerializer(many=True)
