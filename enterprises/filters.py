"""Filters shared by the list pages, their exports and the API (django-filter).

Every filter is an indexed condition or a semi-join (`EXISTS`, `IN (subquery)`), so a filtered list
stays fast at 80,000 enterprises; choices of POs and sub-projects are limited to what the user sees.
"""

from __future__ import annotations

import re

import django_filters
from django import forms
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.digits import to_latin_digits
from core.filtering import AnyYesNoSelect, PortalFilterSet
from core.lists import capped_count, estimated_rows
from core.models import BusinessArea, District, Division, PartnerOrganization, Sector, SubSector, Upazila
from core.pickers import picker_select
from core.planner import id_set
from core.visibility import scope_filterset
from enterprises.models import (
    Adoption,
    Attendance,
    Cluster,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateStatus,
    DuplicateSuspect,
    Enterprise,
    FacilityKind,
    FacilityStatus,
    FinancialSupport,
    Gender,
    ImportJob,
    ImportStatus,
    Kpi,
    KpiCategory,
    KpiReading,
    ProfileStatus,
    ReadingSource,
    RecpCategory,
    RecpPractice,
    RecpProfile,
    SuggestionStatus,
    SupportKind,
    TrainingModule,
    TrainingSession,
)
from subprojects.models import Financier, SubProject

YES_NO = [("true", _("yes")), ("false", _("no"))]
DATE = forms.DateInput(attrs={"type": "date"})
# Up to this many MEs listed, "at least N verified practices" is checked ME by ME (filter_min_practices),
# and up to this share of the programme's MEs at larger sizes: checking one ME by its own lookups
# costs ~2 µs when none qualifies (every ME of the list is looked at), and grouping every verified
# adoption of the programme once about as much as looking up a third of its MEs (measured at 80,000
# and 800,000 MEs: a district of 21,656 MEs took 0.5 s grouped, 15 ms for page 1 ME by ME).
PER_ME_PRACTICE_LOOKUPS = 10_000
PER_ME_PRACTICE_SHARE = 3


INDICATOR_CHOICES = [
    ("ME_FINANCED", _("MEs receiving financial support")),
    ("ME_CLIMATE_KNOWLEDGE", _("MEs with increased knowledge on climate vulnerability")),
    ("ME_RECP_2PLUS", _("MEs adopting at least two RECP practices")),
    ("ME_KPI_TRACKING", _("MEs tracking at least one environmental KPI")),
    ("RECP_PROFILES_VALIDATED", _("MEs with a validated RECP profile")),
]


FACILITY_INDICATOR_CHOICES = [
    ("CSF_ESTABLISHED", _("Common service facilities established")),
    ("CSF_UNCONFIRMED", _("Facilities reported operational, not yet confirmed")),
]


def _boolean(label, **kwargs) -> django_filters.BooleanFilter:
    """A yes/no filter offered as "Any / Yes / No" (true/false in the URL and the API)."""
    return django_filters.BooleanFilter(label=label, widget=AnyYesNoSelect(), **kwargs)


class ScopedFilterSet(PortalFilterSet):
    """Limits the choices of every related object (PO, sub-project, cluster, enterprise, ...) to what
    the requesting user may see: another PO's id is refused as one that does not exist."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        scope_filterset(self, getattr(request, "user", None))


def _po_filter(path: str) -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(
        field_name=path,
        queryset=PartnerOrganization.objects.all(),
        to_field_name="code",
        label=_("PO"),
        empty_label=_("All POs"),
    )


def _sub_project_filter(path: str) -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(
        field_name=path,
        queryset=SubProject.objects.order_by("agreement_number"),
        label=_("Sub-project"),
        empty_label=_("All sub-projects"),
    )


def _by_id(model, path: str, label) -> django_filters.ModelChoiceFilter:
    """A related object by its id, typed rather than chosen (there may be thousands)."""
    return django_filters.ModelChoiceFilter(
        field_name=path, queryset=model.objects.all(), label=label, widget=forms.NumberInput
    )


def _sub_sector_filter() -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(
        queryset=SubSector.objects.all(), to_field_name="code", label=_("Sub-sector")
    )


def _district_filter(path: str = "district") -> django_filters.ModelChoiceFilter:
    return django_filters.ModelChoiceFilter(
        field_name=path,
        queryset=District.objects.order_by("name"),
        to_field_name="pcode",
        label=_("District"),
        empty_label=_("All districts"),
        widget=picker_select(),
    )


def _search_enterprise(queryset, prefix: str, value: str):
    """ME code, name, owner or phone. A phone-like query is normalised to the stored +880 form; digits
    typed in Bangla are read as the Latin ones codes and phones are stored with."""
    value = to_latin_digits(value.strip())
    if not value:
        return queryset
    condition = (
        Q(**{f"{prefix}po_code__iexact": value})
        | Q(**{f"{prefix}name__icontains": value})
        | Q(**{f"{prefix}owner_name__icontains": value})
    )
    digits = re.sub(r"\D", "", value)
    if len(digits) >= 6 and len(digits) >= len(value.replace(" ", "")) - 2:
        condition |= Q(**{f"{prefix}phone__contains": digits.lstrip("0")})
    return queryset.filter(condition)


# Up to this many MEs matching a search, the list is read by their ids (`_search_by_id`).
SEARCH_MES_BY_ID = 1000


def _search_by_id(queryset, value: str, records: bool = False):
    """The MEs a search matches, or (`records`) their records: readings, adoptions, ...

    The MEs are found first, by the search's own indexes, then the list's rows by the MEs' ids.
    Searched along the list instead (joined to the MEs, or even given the ids as a list), PostgreSQL
    expects the matches spread along the list's order and walks it until it has a page. A search
    finding a few MEs then read most of the list: at 80,000 MEs, the readings of one ME found by its
    phone took 0.8 s, against 2 ms by id (24 ms with 1,000 MEs). The MEs' own list is given their
    ids, which the planner counts and reads by its primary key; the records' lists get them as a set
    it does not count (core.planner.id_set): given the list, it still expected their records spread
    along the list's order and walked it. A search matching more MEs than SEARCH_MES_BY_ID is
    searched along the list as before: such matches are common enough to be met early on."""
    everyone = Enterprise.objects.all()
    matching = _search_enterprise(everyone, "", value)
    if matching is everyone:  # nothing to search for
        return queryset
    ids = list(matching.order_by().values_list("pk", flat=True)[: SEARCH_MES_BY_ID + 1])
    if len(ids) > SEARCH_MES_BY_ID:
        return _search_enterprise(queryset, "enterprise__" if records else "", value)
    if not records:
        return queryset.filter(pk__in=ids)
    return queryset.filter(enterprise_id__in=RawSQL(*id_set(ids)))  # noqa: S611 (the ids are a parameter)


class EnterpriseFilter(ScopedFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code, name, owner or phone"))
    partner_organization = _po_filter("partner_organization")
    sub_project = _sub_project_filter("sub_project")
    business_area = django_filters.ModelChoiceFilter(
        field_name="sub_sector__sector__business_area",
        queryset=BusinessArea.objects.all(),
        to_field_name="code",
        label=_("Business area"),
    )
    sector = django_filters.ModelChoiceFilter(
        field_name="sub_sector__sector",
        queryset=Sector.objects.all(),
        to_field_name="code",
        label=_("Sector"),
    )
    sub_sector = _sub_sector_filter()
    division = django_filters.ModelChoiceFilter(
        queryset=Division.objects.all(), to_field_name="pcode", label=_("Division")
    )
    district = _district_filter()
    upazila = django_filters.ModelChoiceFilter(
        queryset=Upazila.objects.all(), to_field_name="pcode", label=_("Upazila"), widget=picker_select()
    )
    owner_gender = django_filters.ChoiceFilter(choices=Gender.choices, label=_("Owner gender"))
    climate_vulnerable = _boolean(_("Climate-vulnerable area"))
    is_formal = _boolean(_("Formal"))
    has_gps = _boolean(_("Has a GPS point"), method="filter_has_gps")
    has_validated_profile = _boolean(_("Validated RECP profile"), method="filter_validated_profile")
    min_verified_practices = django_filters.NumberFilter(
        method="filter_min_practices", label=_("Verified RECP practices at least"), min_value=0
    )
    financed = _boolean(_("Financed"), method="filter_financed")
    # Drill-down from the results dashboard: the enterprises behind an indicator's figure.
    indicator = django_filters.ChoiceFilter(
        choices=INDICATOR_CHOICES,
        method="filter_indicator",
        label=_("Counted in indicator"),
        empty_label=_("Any or none"),
    )
    as_of = django_filters.DateFilter(method="keep", label=_("as of"))
    cluster = django_filters.ModelChoiceFilter(queryset=Cluster.objects.all(), label=_("Cluster"))
    registered_from = django_filters.DateFilter(
        field_name="registered_on", lookup_expr="gte", label=_("Joined from"), widget=DATE
    )
    registered_to = django_filters.DateFilter(
        field_name="registered_on", lookup_expr="lte", label=_("Joined until"), widget=DATE
    )
    duplicate = django_filters.ChoiceFilter(
        method="filter_duplicate",
        label=_("Duplicates"),
        empty_label=_("All, duplicates included"),
        choices=[
            ("countable", _("counted (no confirmed duplicates)")),
            ("confirmed", _("confirmed duplicates")),
            ("suspected", _("suspected duplicates")),
        ],
    )
    ordering = django_filters.OrderingFilter(
        fields=(("po_code", "code"), ("name", "name"), ("registered_on", "registered_on"), ("pk", "created")),
        label=_("Order"),
    )

    class Meta:
        model = Enterprise
        fields: list[str] = []

    def search(self, queryset, name, value):
        return _search_by_id(queryset, value)

    def filter_has_gps(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.filter(latitude__isnull=not value)

    def filter_validated_profile(self, queryset, name, value):
        if value is None:
            return queryset
        validated = RecpProfile.objects.filter(enterprise=OuterRef("pk"), status=ProfileStatus.VALIDATED)
        return queryset.filter(Exists(validated) if value else ~Exists(validated))

    def filter_min_practices(self, queryset, name, value):
        if value is None or value <= 0:
            return queryset
        verified = Adoption.objects.verified_independently()
        # Over a list already narrowed (a district, a PO...), each ME's practices are counted by its
        # own lookups in the (enterprise, verified_on) index: ~10 ms for a district of 2,600 MEs at
        # 80,000. Over the whole programme, every verified adoption grouped once is cheaper than
        # 80,000 lookups. Counting the narrowed list up to the threshold chooses (same rows both ways).
        per_me_up_to = max(PER_ME_PRACTICE_LOOKUPS, estimated_rows(Enterprise) // PER_ME_PRACTICE_SHARE)
        if not capped_count(queryset, per_me_up_to)[1]:
            practices = (
                verified.filter(enterprise_id=OuterRef("pk"))
                .order_by()
                .values("enterprise_id")
                .annotate(n=Count("practice_id", distinct=True))
                .values("n")
            )
            return queryset.alias(verified_practices=Subquery(practices)).filter(
                verified_practices__gte=int(value)
            )
        enough = (
            verified.values("enterprise_id")
            .annotate(n=Count("practice_id", distinct=True))
            .filter(n__gte=int(value))
            .values("enterprise_id")
        )
        return queryset.filter(pk__in=enough)

    def keep(self, queryset, name, value):
        return queryset  # read by filter_indicator

    def filter_indicator(self, queryset, name, value):
        from monitoring.indicators import QUALIFYING

        as_of = self.form.cleaned_data.get("as_of") or timezone.localdate()
        return queryset.filter(pk__in=QUALIFYING[value](as_of).values("pk"))

    def filter_financed(self, queryset, name, value):
        if value is None:
            return queryset
        supported = FinancialSupport.objects.filter(enterprise=OuterRef("pk"))
        return queryset.filter(Exists(supported) if value else ~Exists(supported))

    def filter_duplicate(self, queryset, name, value):
        if value == "countable":
            return queryset.filter(duplicate_of__isnull=True)
        if value == "confirmed":
            return queryset.filter(duplicate_of__isnull=False)
        if value == "suspected":
            return queryset.suspected_duplicates()
        return queryset


class RecordFilter(ScopedFilterSet):
    """Records hanging on an enterprise: filter by the enterprise's PO, sub-project and place."""

    q = django_filters.CharFilter(method="search", label=_("ME code, name or owner"))
    partner_organization = _po_filter("enterprise__partner_organization")
    sub_project = _sub_project_filter("enterprise__sub_project")
    district = _district_filter("enterprise__district")
    owner_gender = django_filters.ChoiceFilter(
        field_name="enterprise__owner_gender", choices=Gender.choices, label=_("Owner gender")
    )
    enterprise = _by_id(Enterprise, "enterprise", _("Enterprise (id)"))

    def search(self, queryset, name, value):
        return _search_by_id(queryset, value, records=True)


NOT_STATED = "not_stated"


class FinancialSupportFilter(RecordFilter):
    kind = django_filters.ChoiceFilter(choices=SupportKind.choices, label=_("Type"))
    financier = django_filters.ChoiceFilter(
        choices=[*Financier.choices, (NOT_STATED, _("not stated"))],
        method="filter_financier",
        label=_("Financed by"),
        empty_label=_("Any financier"),
    )
    project_financing = _boolean(
        _("Counted as project financing (from the programme start)"), method="filter_project_financing"
    )
    disbursed_from = django_filters.DateFilter(
        field_name="disbursed_on", lookup_expr="gte", label=_("Disbursed from"), widget=DATE
    )
    disbursed_to = django_filters.DateFilter(
        field_name="disbursed_on", lookup_expr="lte", label=_("Disbursed until"), widget=DATE
    )
    # The breakdowns of "money disbursed" on the results dashboard, for its drill-down links: read
    # as the indicator reads them (division and climate flag of the enterprise's district record).
    business_area = django_filters.ModelChoiceFilter(
        field_name="enterprise__sub_sector__sector__business_area",
        queryset=BusinessArea.objects.all(),
        to_field_name="code",
        label=_("Business area"),
    )
    sector = django_filters.ModelChoiceFilter(
        field_name="enterprise__sub_sector__sector",
        queryset=Sector.objects.all(),
        to_field_name="code",
        label=_("Sector"),
    )
    sub_sector = django_filters.ModelChoiceFilter(
        field_name="enterprise__sub_sector",
        queryset=SubSector.objects.all(),
        to_field_name="code",
        label=_("Sub-sector"),
    )
    division = django_filters.ModelChoiceFilter(
        field_name="enterprise__district__division",
        queryset=Division.objects.all(),
        to_field_name="pcode",
        label=_("Division"),
    )
    climate_vulnerable = _boolean(_("Climate-vulnerable area"), field_name="enterprise__climate_vulnerable")

    class Meta:
        model = FinancialSupport
        fields: list[str] = []

    def filter_financier(self, queryset, name, value):
        return queryset.filter(financier="" if value == NOT_STATED else value) if value else queryset

    def filter_project_financing(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.project_financing() if value else queryset.before_programme()


class AttendanceFilter(RecordFilter):
    session = _by_id(TrainingSession, "session", _("Session (id)"))
    improved = _boolean(_("Post-test above pre-test"), method="filter_improved")

    class Meta:
        model = Attendance
        fields: list[str] = []

    def filter_improved(self, queryset, name, value):
        if value is None:
            return queryset
        improved = Q(post_test_score__gt=F("pre_test_score"))
        return queryset.filter(improved) if value else queryset.exclude(improved)


class AdoptionFilter(RecordFilter):
    practice = django_filters.ModelChoiceFilter(
        queryset=RecpPractice.objects.all(), to_field_name="code", label=_("Practice")
    )
    category = django_filters.ChoiceFilter(
        field_name="practice__category", choices=RecpCategory.choices, label=_("Category")
    )
    verified = _boolean(_("Verified by the PMU or a verifier"), method="filter_verified")

    class Meta:
        model = Adoption
        fields: list[str] = []

    def filter_verified(self, queryset, name, value):
        if value is None:
            return queryset
        return queryset.verified_independently() if value else queryset.awaiting_verification()


class RecpProfileFilter(RecordFilter):
    status = django_filters.ChoiceFilter(choices=ProfileStatus.choices, label=_("Status"))
    validated_from = django_filters.DateFilter(
        field_name="validated_on", lookup_expr="gte", label=_("Validated from"), widget=DATE
    )

    class Meta:
        model = RecpProfile
        fields: list[str] = []


class KpiReadingFilter(RecordFilter):
    kpi = django_filters.ModelChoiceFilter(queryset=Kpi.objects.all(), to_field_name="code", label=_("KPI"))
    period_from = django_filters.DateFilter(
        field_name="period", lookup_expr="gte", label=_("From month"), widget=DATE
    )
    period_to = django_filters.DateFilter(
        field_name="period", lookup_expr="lte", label=_("Until month"), widget=DATE
    )
    is_baseline = _boolean(_("Baseline"))
    source = django_filters.ChoiceFilter(choices=ReadingSource.choices, label=_("Source"))

    class Meta:
        model = KpiReading
        fields: list[str] = []


class TrainingSessionFilter(ScopedFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code, topic or place"))
    partner_organization = _po_filter("partner_organization")
    sub_project = _sub_project_filter("sub_project")
    module = django_filters.ModelChoiceFilter(
        queryset=TrainingModule.objects.all(), to_field_name="code", label=_("Module")
    )
    mapped = _boolean(_("Mapped to a module"), field_name="module", lookup_expr="isnull", exclude=True)
    climate_vulnerability = _boolean(
        _("Module tagged climate vulnerability"), field_name="module__climate_vulnerability"
    )
    held_from = django_filters.DateFilter(
        field_name="held_on", lookup_expr="gte", label=_("Held from"), widget=DATE
    )
    held_to = django_filters.DateFilter(
        field_name="held_on", lookup_expr="lte", label=_("Held until"), widget=DATE
    )

    class Meta:
        model = TrainingSession
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        return (
            queryset.filter(Q(po_code__iexact=value) | Q(topic__icontains=value) | Q(place__icontains=value))
            if value
            else queryset
        )


class FacilityFilter(ScopedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name"))
    partner_organization = _po_filter("partner_organization")
    sub_project = _sub_project_filter("sub_project")
    kind = django_filters.ChoiceFilter(choices=FacilityKind.choices, label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=FacilityStatus.choices, label=_("Status"))
    confirmed = _boolean(
        _("Operation confirmed"), field_name="operational_confirmed_on", lookup_expr="isnull", exclude=True
    )
    sub_sector = _sub_sector_filter()
    district = _district_filter()
    # Drill-down from the results dashboard: the facilities behind an indicator's figure, in any of
    # its breakdowns (read as the indicator reads them: place from the facility's district).
    indicator = django_filters.ChoiceFilter(
        choices=FACILITY_INDICATOR_CHOICES,
        method="filter_indicator",
        label=_("Counted in indicator"),
        empty_label=_("Any or none"),
    )
    as_of = django_filters.DateFilter(method="keep", label=_("as of"), widget=DATE)
    business_area = django_filters.ModelChoiceFilter(
        field_name="sub_sector__sector__business_area",
        queryset=BusinessArea.objects.all(),
        to_field_name="code",
        label=_("Business area"),
    )
    sector = django_filters.ModelChoiceFilter(
        field_name="sub_sector__sector",
        queryset=Sector.objects.all(),
        to_field_name="code",
        label=_("Sector"),
    )
    division = django_filters.ModelChoiceFilter(
        field_name="district__division",
        queryset=Division.objects.all(),
        to_field_name="pcode",
        label=_("Division"),
    )
    climate_vulnerable = _boolean(_("Climate-vulnerable area"), field_name="district__climate_vulnerable")

    class Meta:
        model = CommonServiceFacility
        fields: list[str] = []

    def keep(self, queryset, name, value):
        return queryset  # read by filter_indicator

    def filter_indicator(self, queryset, name, value):
        from monitoring.indicators import established_facilities, unconfirmed_facilities

        as_of = self.form.cleaned_data.get("as_of") or timezone.localdate()
        facilities = {"CSF_ESTABLISHED": established_facilities, "CSF_UNCONFIRMED": unconfirmed_facilities}
        return queryset.filter(pk__in=facilities[value](as_of).values("pk"))


class ClusterFilter(PortalFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name"))
    sub_sector = _sub_sector_filter()
    district = _district_filter()

    class Meta:
        model = Cluster
        fields: list[str] = []


class ClusterSuggestionFilter(PortalFilterSet):
    status = django_filters.ChoiceFilter(choices=SuggestionStatus.choices, label=_("Status"))
    sub_sector = _sub_sector_filter()

    class Meta:
        model = ClusterSuggestion
        fields: list[str] = []


class DuplicateSuspectFilter(PortalFilterSet):
    status = django_filters.ChoiceFilter(choices=DuplicateStatus.choices, label=_("Status"))
    reason = django_filters.ChoiceFilter(
        method="filter_reason",
        label=_("Reason"),
        choices=[
            ("phone", _("same phone")),
            ("trade_licence", _("same trade licence")),
            ("name", _("same name in the same upazila")),
        ],
    )
    cross_po = _boolean(_("Across POs"))

    class Meta:
        model = DuplicateSuspect
        fields: list[str] = []

    def filter_reason(self, queryset, name, value):
        field = {
            "phone": "same_phone",
            "trade_licence": "same_trade_licence",
            "name": "same_name_and_upazila",
        }
        return queryset.filter(**{field[value]: True}) if value in field else queryset


class RecpPracticeFilter(PortalFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code or name"))
    category = django_filters.ChoiceFilter(choices=RecpCategory.choices, label=_("Category"))
    sub_sector = django_filters.ModelChoiceFilter(
        field_name="applicable_sub_sectors",
        queryset=SubSector.objects.all(),
        to_field_name="code",
        label=_("Applies to sub-sector"),
        empty_label=_("Any sub-sector"),
        method="filter_sub_sector",
    )
    is_active = _boolean(_("Active"))

    class Meta:
        model = RecpPractice
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__iexact=value) | Q(name__icontains=value)) if value else queryset

    def filter_sub_sector(self, queryset, name, value):
        return queryset if value is None else queryset.applicable_to(value.pk)


class TrainingModuleFilter(PortalFilterSet):
    q = django_filters.CharFilter(method="search", label=_("Code or name"))
    climate_vulnerability = _boolean(_("Tagged climate vulnerability"))
    is_active = _boolean(_("Active"))

    class Meta:
        model = TrainingModule
        fields: list[str] = []

    def search(self, queryset, name, value):
        value = value.strip()
        return queryset.filter(Q(code__iexact=value) | Q(name__icontains=value)) if value else queryset


class KpiFilter(PortalFilterSet):
    category = django_filters.ChoiceFilter(choices=KpiCategory.choices, label=_("Category"))
    is_active = _boolean(_("Active"))

    class Meta:
        model = Kpi
        fields: list[str] = []


class ImportJobFilter(PortalFilterSet):
    kind = django_filters.CharFilter(label=_("Kind"))
    status = django_filters.ChoiceFilter(choices=ImportStatus.choices, label=_("Status"))

    class Meta:
        model = ImportJob
        fields: list[str] = []


# --- The API's filters: the list pages' ones, and exact ones on the natural keys ------------------
# A system syncing with the portal finds a record by the key it knows it by (enterprises.bulk): the
# ME code, the session code, enterprise + KPI + month... These filters are the API's only: the list
# pages' filter bars keep theirs.


def _exact_code(path: str, label) -> django_filters.CharFilter:
    return django_filters.CharFilter(field_name=path, lookup_expr="exact", label=label)


class EnterpriseApiFilter(EnterpriseFilter):
    po_code = _exact_code("po_code", _("ME code (exact)"))


class NaturalKeyRecordFilter(django_filters.FilterSet):
    enterprise_code = _exact_code("enterprise__po_code", _("ME code of the enterprise (exact)"))


class FinancialSupportApiFilter(NaturalKeyRecordFilter, FinancialSupportFilter):
    disbursed_on = django_filters.DateFilter(label=_("Disbursed on"))

    class Meta(FinancialSupportFilter.Meta):
        pass


class KpiReadingApiFilter(NaturalKeyRecordFilter, KpiReadingFilter):
    period = django_filters.DateFilter(method="filter_period", label=_("Month (any day of it)"))

    class Meta(KpiReadingFilter.Meta):
        pass

    def filter_period(self, queryset, name, value):
        return queryset if value is None else queryset.filter(period=value.replace(day=1))


class TrainingSessionApiFilter(TrainingSessionFilter):
    po_code = _exact_code("po_code", _("Session code (exact)"))


class AttendanceApiFilter(NaturalKeyRecordFilter, AttendanceFilter):
    session_code = _exact_code("session__po_code", _("Session code (exact)"))

    class Meta(AttendanceFilter.Meta):
        pass
