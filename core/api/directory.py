"""The people a user may see, through the API (`users`): for choosing a TEC meeting's members and
chair, and for reading the names behind the ids of other resources. Who sees whom is the one rule of
core.visibility.visible_users, the same as every choice of a person in the portal: programme-wide roles
see everyone; anyone else themself, the staff of their own PO and, for TEC members, the members of the
meetings they sit on. Another PO's people answer as missing ones (404).

`eligible_for=tec-meeting` gives the list the meeting form offers (subprojects.evaluation_forms.
tec_members: the active TEC members), within what the caller may see."""

from __future__ import annotations

import django_filters
from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, viewsets

from core import visibility
from core.models import User
from core.roles import GROUP_NAMES, ROLE_BY_GROUP_NAME, Role

ELIGIBLE_FOR = [("tec-meeting", _("A TEC meeting's members and chair"))]


class DirectoryUserSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="get_display_name", help_text=_("Full name, else the username."))
    roles = serializers.SerializerMethodField()
    partner_organization = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text=_("The PO's code, for PO staff; else null."),
    )

    class Meta:
        model = User
        fields = ["id", "username", "name", "designation", "roles", "partner_organization", "is_active"]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(Role.choices)))
    def get_roles(self, user: User) -> list[str]:
        # The groups prefetched by the view set: no query per person.
        names = [group.name for group in user.groups.all()]
        return sorted(str(ROLE_BY_GROUP_NAME[name]) for name in names if name in ROLE_BY_GROUP_NAME)


class DirectoryFilter(django_filters.FilterSet):
    role = django_filters.ChoiceFilter(
        choices=Role.choices, method="filter_role", help_text=_("Holds this role.")
    )
    partner_organization = django_filters.CharFilter(
        field_name="partner_organization__code", help_text=_("A PO's code: its staff.")
    )
    eligible_for = django_filters.ChoiceFilter(
        choices=ELIGIBLE_FOR,
        method="filter_eligible",
        help_text=_(
            "`tec-meeting`: those the meeting form offers as members and chair (active TEC members)."
        ),
    )

    class Meta:
        model = User
        fields = ["role", "partner_organization", "is_active", "eligible_for"]

    def filter_role(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(groups__name=GROUP_NAMES[Role(value)])

    def filter_eligible(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        from subprojects.evaluation_forms import tec_members

        return queryset.filter(pk__in=tec_members().values("pk"))


class UserDirectoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The people you may see, with their roles, designation and PO: programme-wide roles (PMU, PKSF
    approvers, the World Bank) see everyone; anyone else themself, the staff of their own PO and, for
    TEC members, the members of the meetings they sit on. `eligible_for=tec-meeting` lists those a TEC
    meeting may have as members and chair. No e-mail address or phone number is given."""

    serializer_class = DirectoryUserSerializer
    filterset_class = DirectoryFilter
    search_fields = ["username", "first_name", "last_name", "designation"]
    ordering_fields = ["last_name", "username"]

    def get_queryset(self):
        return (
            visibility.visible_users(self.request.user)
            .select_related("partner_organization")
            .prefetch_related(Prefetch("groups"))
            .order_by("last_name", "first_name", "username")
            .distinct()
        )
