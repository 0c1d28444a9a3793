from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

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


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, write_only=True)

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            request=self.context.get("request"), username=attrs["username"], password=attrs["password"]
        )
        if user is None:
            raise serializers.ValidationError(
                _("Unable to sign in with this username and password."), code="authorization"
            )
        attrs["user"] = user
        return attrs


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class CurrentUserSerializer(serializers.ModelSerializer):
    roles = serializers.SerializerMethodField()
    partner_organization = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "first_name", "last_name", "email", "roles", "partner_organization"]

    def get_roles(self, user: User) -> list[str]:
        return sorted(str(role) for role in user.roles)


class BusinessAreaSerializer(serializers.ModelSerializer):
    class Meta:
        model = BusinessArea
        fields = ["id", "code", "name"]


class SectorSerializer(serializers.ModelSerializer):
    business_area = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Sector
        fields = ["id", "code", "name", "business_area"]


class SubSectorSerializer(serializers.ModelSerializer):
    sector = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = SubSector
        fields = ["id", "code", "name", "sector"]


class DivisionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Division
        fields = ["id", "pcode", "name", "latitude", "longitude"]


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
