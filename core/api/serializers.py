from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from core import accounts, mfa
from core.api import (
    examples,
    schema_fields,  # noqa: F401  (registers how decimals appear in the schema)
)
from core.api.security import SignInLockedOut
from core.errors import Forbidden
from core.models import (
    BusinessArea,
    ClimateHazard,
    District,
    Division,
    PartnerOrganization,
    Sector,
    SubSector,
    Upazila,
    User,
)


@extend_schema_serializer(examples=examples.TOKEN)
class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)
    otp_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        write_only=True,
        help_text=_(
            "For an account with two-factor authentication: the 6-digit code of the authenticator app, "
            "or a recovery code."
        ),
    )

    def validate(self, attrs: dict) -> dict:
        # The request goes to authenticate() so that django-axes counts failures and refuses a
        # locked-out account or address, even with the right password.
        request = self.context.get("request")
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        if user is None:
            self._refuse_if_locked_out(request, attrs["username"])
            raise serializers.ValidationError(
                _("Unable to sign in with this username and password."), code="authorization"
            )
        try:
            mfa.check_token_request(request, user, attrs.get("otp_code", ""))
        except mfa.CodeRefused as refusal:
            self._refuse_if_locked_out(request, attrs["username"])
            raise serializers.ValidationError({"otp_code": [str(refusal)]}, code="authorization") from refusal
        except Forbidden as refusal:
            raise PermissionDenied(str(refusal)) from refusal
        attrs["user"] = user
        return attrs

    @staticmethod
    def _refuse_if_locked_out(request, username: str) -> None:
        if getattr(request, "axes_locked_out", False):
            until = accounts.lockout_ends_at(request, username)
            wait = max(1, int((until - timezone.now()).total_seconds()))
            raise SignInLockedOut(accounts.lockout_message(until), wait)


@extend_schema_serializer(examples=examples.TOKEN)
class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class CurrentUserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    # Null for programme-wide roles (PMU, approver, World Bank, TEC), who belong to no PO.
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "roles", "partner_organization"]

    def get_roles(self, user: User) -> list[str]:
        return sorted(str(role) for role in user.roles)


class BusinessAreaSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessArea
        fields = ["id", "code", "name", "updated_at"]


class SectorSerializer(serializers.ModelSerializer):
    business_area = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Sector
        fields = ["id", "code", "name", "business_area", "updated_at"]


class SubSectorSerializer(serializers.ModelSerializer):
    sector = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SubSector
        fields = ["id", "code", "name", "sector", "updated_at"]


class DivisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Division
        fields = ["id", "pcode", "name", "latitude", "longitude", "updated_at"]


class DistrictSerializer(serializers.ModelSerializer):
    division = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    climate_hazards = serializers.ListField(child=serializers.ChoiceField(ClimateHazard.choices))

    class Meta:
        model = District
        fields = [
            "id",
            "pcode",
            "name",
            "division",
            "area_sqkm",
            "latitude",
            "longitude",
            "climate_vulnerable",
            "climate_hazards",
            "updated_at",
        ]


class UpazilaSerializer(serializers.ModelSerializer):
    district = serializers.SlugRelatedField(slug_field="pcode", read_only=True)
    climate_hazards = serializers.ListField(child=serializers.ChoiceField(ClimateHazard.choices))

    class Meta:
        model = Upazila
        fields = [
            "id",
            "pcode",
            "name",
            "district",
            "latitude",
            "longitude",
            "climate_vulnerable",
            "climate_hazards",
            "updated_at",
        ]


class PartnerOrganizationSerializer(serializers.ModelSerializer):
    districts = serializers.SlugRelatedField(
        slug_field="pcode", queryset=District.objects.all(), many=True, required=False
    )
    head_office_district = serializers.SlugRelatedField(
        slug_field="pcode", queryset=District.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = PartnerOrganization
        fields = [
            "id",
            "code",
            "name",
            "short_name",
            "registration_authority",
            "registration_number",
            "registered_on",
            "pksf_partner_since",
            "head_office_address",
            "head_office_district",
            "contact_person",
            "contact_designation",
            "email",
            "phone",
            "website",
            "districts",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
