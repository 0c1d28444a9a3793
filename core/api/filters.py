import django_filters

from core.models import District, PartnerOrganization, Sector, SubSector, Upazila


class SectorFilter(django_filters.FilterSet):
    business_area = django_filters.CharFilter(field_name="business_area__code")

    class Meta:
        model = Sector
        fields = ["business_area"]


class SubSectorFilter(django_filters.FilterSet):
    sector = django_filters.CharFilter(field_name="sector__code")
    business_area = django_filters.CharFilter(field_name="sector__business_area__code")

    class Meta:
        model = SubSector
        fields = ["sector", "business_area"]


class DistrictFilter(django_filters.FilterSet):
    division = django_filters.CharFilter(field_name="division__pcode")

    class Meta:
        model = District
        fields = ["division", "climate_vulnerable"]


class UpazilaFilter(django_filters.FilterSet):
    district = django_filters.CharFilter(field_name="district__pcode")
    division = django_filters.CharFilter(field_name="district__division__pcode")

    class Meta:
        model = Upazila
        fields = ["district", "division", "climate_vulnerable"]


class PartnerOrganizationFilter(django_filters.FilterSet):
    district = django_filters.CharFilter(field_name="districts__pcode", distinct=True)
    division = django_filters.CharFilter(field_name="districts__division__pcode", distinct=True)

    class Meta:
        model = PartnerOrganization
        fields = ["is_active", "registration_authority", "district", "division"]
