"""Field-data API (SPEC 7). Every queryset starts from `visible_to(user)` (another PO's record is a
404); writes go through the same services as the pages (a role that may not act gets 403, a refused
action 409 with its reason, a rule broken 400 naming the field)."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.filters import SearchFilter
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from core import lifecycle, outbox
from core.api import examples
from core.lifecycle.api import TransitionRequestSerializer, add_transition_actions
from core.permissions import ReadScopedWritePMU, is_pmu, sees_whole_programme
from enterprises import clusters, filters, recp, services
from enterprises.api import serializers as s
from enterprises.api.bulk import BulkMixin, NaturalKeyMixin
from enterprises.decisions import decisions_of
from enterprises.imports.jobs import create_job, owner_action, request_commit
from enterprises.models import (
    Adoption,
    Attendance,
    Cluster,
    ClusterSuggestion,
    CommonServiceFacility,
    DuplicateSuspect,
    Enterprise,
    FinancialSupport,
    ImportJob,
    Kpi,
    KpiReading,
    RecpPractice,
    RecpProfile,
    TrainingModule,
    TrainingSession,
)
from enterprises.permissions import (
    FieldDataPermission,
    FieldDataReader,
    FieldDataReadPMUWrite,
    can_see_cluster_suggestions,
)
from enterprises.tasks import suggest_clusters
from smart_portal.api import ErrorSerializer, ScopedFilterBackend
from smart_portal.sync import OrderedKeysetPagination, UpdatedSinceFilter
from subprojects.api.serializers import TimelineEntrySerializer

REFUSED = {
    400: OpenApiResponse(description="A field breaks a rule; the body names it."),
    403: OpenApiResponse(ErrorSerializer, description="Your role may not take this action."),
    404: OpenApiResponse(description="Not found, or not visible to you."),
    409: OpenApiResponse(ErrorSerializer, description="Not possible in the record's current state."),
}


class ProgrammeWideReader(BasePermission):
    def has_permission(self, request, view) -> bool:
        return sees_whole_programme(request.user)


class SuggestionReader(BasePermission):
    """The rule of the suggestion pages too (`can_see_cluster_suggestions`)."""

    def has_permission(self, request, view) -> bool:
        return can_see_cluster_suggestions(request.user)


class NoDeleteViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """List, read, create and update: what indicators and the audit trail rely on is never deleted."""


class ServiceSavedViewSet(NoDeleteViewSet):
    """Creates and updates go through a service (`write`); the answer is re-read through
    `get_queryset()`, so it carries the same annotations as the list."""

    def write(self, data: dict, instance):
        """Create (`instance` None) or update through the service; return the saved object."""
        raise NotImplementedError

    def perform_create(self, serializer):
        saved = self.write(dict(serializer.validated_data), None)
        serializer.instance = self.get_queryset().get(pk=saved.pk)

    def perform_update(self, serializer):
        saved = self.write(dict(serializer.validated_data), serializer.instance)
        serializer.instance = self.get_queryset().get(pk=saved.pk)


class WriteSerializerMixin:
    update_serializer_class = None

    def get_serializer_class(self):
        if self.action in {"update", "partial_update"} and self.update_serializer_class:
            return self.update_serializer_class
        return super().get_serializer_class()


def _data(serializer) -> dict:
    return dict(serializer.validated_data)


# --- Enterprises ----------------------------------------------------------------------------------


class EnterpriseViewSet(NaturalKeyMixin, BulkMixin, ServiceSavedViewSet):
    """Microenterprises. PO staff see and register their own PO's; programme-wide roles read all.

    Enterprises are never deleted (indicators and audit rely on them). `suspected_duplicate` only says
    that a match exists; the PMU sees the pairs under `duplicate-suspects`."""

    serializer_class = s.EnterpriseSerializer
    permission_classes = [FieldDataPermission]
    filterset_class = filters.EnterpriseApiFilter
    natural_key = ("po_code",)
    bulk_kind = "enterprises"
    # Large: `next`/`previous` by cursor in the list's order, page numbers only near the top.
    pagination_class = OrderedKeysetPagination
    # The filter set's own `ordering` (code, name, registered_on, created) is the one ordering
    # parameter, as on the page; DRF's ordering filter would read the same name differently.
    filter_backends = [ScopedFilterBackend, SearchFilter, UpdatedSinceFilter]
    search_fields = ["po_code", "name", "owner_name"]

    def get_queryset(self):
        return (
            Enterprise.objects.visible_to(self.request.user)
            .select_related(
                "partner_organization", "sub_sector__sector__business_area", "division", "district", "upazila"
            )
            .with_suspected_duplicate()
            .order_by("-id")
        )

    def write(self, data, instance):
        if instance is None:
            enterprise, _suspicion = services.create_enterprise(user=self.request.user, data=data)
        else:
            enterprise, _suspicion = services.update_enterprise(
                user=self.request.user, enterprise=instance, data=data
            )
        return enterprise


class RecordViewSet(WriteSerializerMixin, viewsets.ModelViewSet):
    """Records on one enterprise: PO staff of its PO write them; the others read."""

    permission_classes = [FieldDataPermission]
    related: tuple[str, ...] = ("enterprise",)
    model = None

    def get_queryset(self):
        return self.model.objects.visible_to(self.request.user).select_related(*self.related)

    def perform_destroy(self, instance):
        services.delete_record(user=self.request.user, record=instance)


@extend_schema_view(destroy=extend_schema(responses={204: None, **REFUSED}))
class FinancialSupportViewSet(NaturalKeyMixin, BulkMixin, RecordViewSet):
    """Loans and grants (BDT). The stable key is enterprise + type + disbursement date."""

    model = FinancialSupport
    serializer_class = s.FinancialSupportSerializer
    filterset_class = filters.FinancialSupportApiFilter
    natural_key = ("enterprise", "kind", "disbursed_on")
    bulk_kind = "financial-supports"
    ordering_fields = ["disbursed_on", "amount", "id"]
    ordering = ["-disbursed_on", "-id"]

    def perform_create(self, serializer):
        data = _data(serializer)
        serializer.instance = services.add_financial_support(
            user=self.request.user, enterprise=data.pop("enterprise"), data=data
        )

    def perform_update(self, serializer):
        data = _data(serializer)
        data.pop("enterprise", None)
        serializer.instance = services.update_financial_support(
            user=self.request.user, support=serializer.instance, data=data
        )


SESSION_SAVE_REFUSED = {
    400: REFUSED[400],
    403: OpenApiResponse(
        ErrorSerializer,
        description="Your role may not enter this PO's data, or PO staff change a module the PMU mapped.",
    ),
    404: REFUSED[404],
}


@extend_schema_view(
    update=extend_schema(responses={200: s.TrainingSessionSerializer, **SESSION_SAVE_REFUSED}),
    partial_update=extend_schema(responses={200: s.TrainingSessionSerializer, **SESSION_SAVE_REFUSED}),
)
class TrainingSessionViewSet(NaturalKeyMixin, BulkMixin, ServiceSavedViewSet):
    """Training sessions held by a PO for one of its sub-projects, each of a module of the PMU's
    catalogue (`module`: its code, in any case). A session with `module` null (recorded before the
    catalogue) counts for no indicator until the PMU maps it (`assign-module`). Once the PMU has
    mapped a session, its PO may no longer change the module (403); a PO's change of a module the
    session had is kept in the session's audit trail."""

    serializer_class = s.TrainingSessionSerializer
    permission_classes = [FieldDataPermission]
    filterset_class = filters.TrainingSessionApiFilter
    natural_key = ("po_code",)
    bulk_kind = "trainings"
    ordering_fields = ["held_on", "id"]
    ordering = ["-held_on", "-id"]

    def get_queryset(self):
        return (
            TrainingSession.objects.visible_to(self.request.user)
            .select_related("partner_organization", "district", "module")
            .annotate(attendee_count=Count("attendances"))
        )

    def write(self, data, instance):
        return services.save_training_session(user=self.request.user, data=data, session=instance)

    @extend_schema(request=s.AssignModuleSerializer, responses={200: s.TrainingSessionSerializer, **REFUSED})
    @action(detail=True, methods=["post"], permission_classes=[FieldDataReader], url_path="assign-module")
    def assign_module(self, request, pk=None):
        """PMU: map the session to a module of the catalogue (or correct its mapping)."""
        session = self.get_object()
        payload = s.AssignModuleSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.assign_training_module(
            user=request.user, session=session, module=payload.validated_data["module"]
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=session.pk)).data)


class TrainingModuleViewSet(NoDeleteViewSet):
    """The PMU's catalogue of training modules (looked up by `code`): field-data readers read, PMU
    officers add and edit (never delete: sessions keep their module; retire one with `is_active`)."""

    queryset = TrainingModule.objects.all()
    serializer_class = s.TrainingModuleSerializer
    permission_classes = [FieldDataReadPMUWrite]
    filterset_class = filters.TrainingModuleFilter
    lookup_field = "code"
    lookup_value_regex = "[^/]+"
    search_fields = ["code", "name"]

    def get_object(self):
        """By code in any case, as sessions and imports name modules (an exact match wins)."""
        code = self.kwargs[self.lookup_field]
        modules = self.filter_queryset(self.get_queryset())
        module = modules.filter(code=code).first() or modules.filter(code__iexact=code).order_by("pk").first()
        if module is None:
            raise Http404
        self.check_object_permissions(self.request, module)
        return module

    def perform_create(self, serializer):
        serializer.instance = services.save_training_module(
            user=self.request.user, data=dict(serializer.validated_data)
        )

    def perform_update(self, serializer):
        serializer.instance = services.save_training_module(
            user=self.request.user, data=dict(serializer.validated_data), module=serializer.instance
        )


class AttendanceViewSet(NaturalKeyMixin, BulkMixin, RecordViewSet):
    """Attendance at a training session, with pre- and post-test scores (0-100)."""

    model = Attendance
    related = ("enterprise", "session")
    serializer_class = s.AttendanceSerializer
    update_serializer_class = s.AttendanceUpdateSerializer
    filterset_class = filters.AttendanceApiFilter
    natural_key = ("session", "enterprise")
    bulk_kind = "attendances"
    # Large: `next`/`previous` by cursor in the list's order, page numbers only near the top.
    pagination_class = OrderedKeysetPagination
    ordering = ["-id"]

    def perform_create(self, serializer):
        data = _data(serializer)
        serializer.instance = services.add_attendance(
            user=self.request.user, session=data.pop("session"), enterprise=data.pop("enterprise"), data=data
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_attendance(
            user=self.request.user, attendance=serializer.instance, data=_data(serializer)
        )


class AdoptionViewSet(RecordViewSet):
    """RECP practices adopted by MEs, reported by their PO with evidence (seen in use on, photo by
    multipart upload, GPS). An adoption counts once the PMU or a verifier has verified it
    (`verify`); a PO never sends `verified_on` or `verified_by` (400)."""

    model = Adoption
    related = ("enterprise", "practice", "reported_by", "verified_by")
    serializer_class = s.AdoptionSerializer
    update_serializer_class = s.AdoptionUpdateSerializer
    parser_classes = [MultiPartParser]  # an adoption is written with its evidence photo
    filterset_class = filters.AdoptionFilter
    ordering = ["-adopted_on", "-id"]
    # Large: `next`/`previous` by cursor in the list's order, page numbers only near the top.
    pagination_class = OrderedKeysetPagination

    def perform_create(self, serializer):
        data = _data(serializer)
        serializer.instance = services.add_adoption(
            user=self.request.user, enterprise=data.pop("enterprise"), data=data
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_adoption(
            user=self.request.user, adoption=serializer.instance, data=_data(serializer)
        )

    @extend_schema(request=s.VerifyRequestSerializer, responses={200: s.AdoptionSerializer, **REFUSED})
    @action(detail=True, methods=["post"], permission_classes=[FieldDataReader], parser_classes=[JSONParser])
    def verify(self, request, pk=None):
        """PMU officer (or a verifier, belonging to no PO): the practice is seen in use. 403 for anyone
        else, the PO's own staff included; 409 if already verified or the date does not fit."""
        adoption = self.get_object()
        payload = s.VerifyRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        updated = services.verify_adoption(
            user=request.user,
            adoption=adoption,
            verified_on=payload.validated_data.get("verified_on"),
            comment=payload.validated_data.get("comment", ""),
        )
        return Response(
            s.AdoptionSerializer(self.get_queryset().get(pk=updated.pk), context={"request": request}).data
        )


class DecisionHistoryMixin:
    @extend_schema(responses=TimelineEntrySerializer(many=True))
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """The decisions on this record: who took which action, when, from which state to which, and
        the comment; newest first."""
        entries = [entry.as_dict() for entry in decisions_of(self.get_object())]
        return Response(TimelineEntrySerializer(entries, many=True).data)


class RecpProfileViewSet(DecisionHistoryMixin, WriteSerializerMixin, ServiceSavedViewSet):
    """RECP profiles: draft → prepared (PO staff) → validated (PMU); the PMU may return a prepared
    profile to draft or reopen a validated one, with a comment."""

    serializer_class = s.RecpProfileSerializer
    update_serializer_class = s.RecpProfileUpdateSerializer
    permission_classes = [FieldDataPermission]
    filterset_class = filters.RecpProfileFilter
    ordering = ["-id"]

    def get_queryset(self):
        return (
            RecpProfile.objects.visible_to(self.request.user)
            .select_related("enterprise", "prepared_by", "validated_by")
            .prefetch_related("recommended_practices")
        )

    def write(self, data, instance):
        enterprise = data.pop("enterprise") if instance is None else instance.enterprise
        return recp.save_profile(user=self.request.user, enterprise=enterprise, data=data, profile=instance)

    def get_permissions(self):
        # The decisions (one action per rule of recp.PROFILE_RULES, added below): any field-data
        # reader reaches them, and the rule table decides who may act (403) and when (409).
        if self.action in PROFILE_ACTIONS:
            return [FieldDataReader()]
        return super().get_permissions()


PROFILE_ACTIONS = {rule.action for rule in recp.PROFILE_RULES}
PROFILE_ACTION_DOCS = {
    "prepare": "PO staff: the profile is complete; send it to the PMU (draft → prepared).",
    "validate": "PMU: validate a prepared profile (it counts from `validated_on`, `on`, today by default).",
    "return": "PMU: return a prepared profile to the PO, with a comment (prepared → draft).",
    "reopen": "PMU: reopen a validated profile, with a comment (validated → draft).",
}
add_transition_actions(
    RecpProfileViewSet,
    RecpProfile,
    lambda rule: s.ProfileActionSerializer if "on" in rule.params else TransitionRequestSerializer,
    describe=lambda rule: PROFILE_ACTION_DOCS.get(rule.action, str(rule.label)),
)


class KpiReadingViewSet(NaturalKeyMixin, BulkMixin, RecordViewSet):
    """Monthly KPI readings (period = first day of the month); one baseline per enterprise and KPI."""

    model = KpiReading
    related = ("enterprise", "kpi")
    serializer_class = s.KpiReadingSerializer
    update_serializer_class = s.KpiReadingUpdateSerializer
    filterset_class = filters.KpiReadingApiFilter
    natural_key = ("enterprise", "kpi", "period")
    bulk_kind = "kpi-readings"
    # Large: `next`/`previous` by cursor in the list's order, page numbers only near the top.
    pagination_class = OrderedKeysetPagination
    ordering_fields = ["period", "id"]
    ordering = ["-period", "-id"]

    def perform_create(self, serializer):
        data = _data(serializer)
        serializer.instance = services.add_kpi_reading(
            user=self.request.user, enterprise=data.pop("enterprise"), data=data
        )

    def perform_update(self, serializer):
        serializer.instance = services.update_kpi_reading(
            user=self.request.user, reading=serializer.instance, data=_data(serializer)
        )


class FacilityViewSet(ServiceSavedViewSet):
    """Common service facilities. CSF_ESTABLISHED counts operational ones once their operation is
    confirmed (`confirm-operational`); a PO changing the status or `opened_on` clears the confirmation.
    A new `status` is a move of the facility's lifecycle, kept in its history with `status_comment`."""

    serializer_class = s.FacilitySerializer
    permission_classes = [FieldDataPermission]
    filterset_class = filters.FacilityFilter
    ordering = ["name"]

    def get_queryset(self):
        return (
            CommonServiceFacility.objects.visible_to(self.request.user)
            .select_related(
                "partner_organization", "sub_sector", "district", "upazila", "operational_confirmed_by"
            )
            .prefetch_related("mes_served")
        )

    def write(self, data, instance):
        # A new status moves through the facility's lifecycle, logged with `status_comment`.
        comment = data.pop("status_comment", "")
        return services.save_facility(user=self.request.user, data=data, facility=instance, comment=comment)

    @extend_schema(request=s.ConfirmOperationalSerializer, responses={200: s.FacilitySerializer, **REFUSED})
    @action(
        detail=True, methods=["post"], permission_classes=[FieldDataReader], url_path="confirm-operational"
    )
    def confirm_operational(self, request, pk=None):
        """PMU officer (or a verifier, belonging to no PO): the facility is seen operating; it then
        counts as established. 403 for anyone else; 409 unless operational and not yet confirmed."""
        facility = self.get_object()
        payload = s.ConfirmOperationalSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        services.confirm_facility_operational(
            user=request.user,
            facility=facility,
            on=payload.validated_data.get("on"),
            comment=payload.validated_data.get("comment", ""),
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=facility.pk)).data)


# --- Catalogues -----------------------------------------------------------------------------------


class RecpPracticeViewSet(NoDeleteViewSet):
    """The RECP practice catalogue: everyone reads, PMU officers maintain it (never deleted)."""

    queryset = RecpPractice.objects.prefetch_related("applicable_sub_sectors")
    serializer_class = s.RecpPracticeSerializer
    permission_classes = [ReadScopedWritePMU]
    filterset_class = filters.RecpPracticeFilter
    search_fields = ["code", "name"]


class KpiViewSet(NoDeleteViewSet):
    """The environmental KPI catalogue: everyone reads, PMU officers maintain it."""

    queryset = Kpi.objects.all()
    serializer_class = s.KpiSerializer
    permission_classes = [ReadScopedWritePMU]
    filterset_class = filters.KpiFilter
    search_fields = ["code", "name"]


# --- Clusters, duplicates -------------------------------------------------------------------------


@extend_schema_view(destroy=extend_schema(description="PMU: dissolve the cluster (its members leave it)."))
class ClusterViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Clusters (SME Foundation: similar enterprises within about a 5 km area). PO staff see the
    clusters their enterprises belong to; the PMU creates them from `cluster-suggestions`."""

    serializer_class = s.ClusterSerializer
    permission_classes = [FieldDataReadPMUWrite]
    filterset_class = filters.ClusterFilter
    ordering = ["name"]

    def get_queryset(self):
        return (
            Cluster.objects.visible_to(self.request.user)
            .select_related("sub_sector", "district")
            .annotate(member_count=Count("members"))
        )

    def perform_update(self, serializer):
        clusters.edit_cluster(
            user=self.request.user, cluster=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        clusters.dissolve_cluster(user=self.request.user, cluster=instance)


class ClusterSuggestionViewSet(
    DecisionHistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Groups proposed by the cluster suggestion: the PMU's working list (PMU officers only, as on the
    pages; anyone else 403). Accept (creates the cluster) or dismiss."""

    serializer_class = s.ClusterSuggestionSerializer
    permission_classes = [SuggestionReader]
    filterset_class = filters.ClusterSuggestionFilter

    def get_queryset(self):
        return (
            clusters.visible_suggestions(self.request.user)
            .select_related("sub_sector", "district")
            .prefetch_related("members")
        )

    def _may_decide(self, action_name: str) -> ClusterSuggestion:
        """The suggestion, once the rule says this caller may take the action (403) now (409)."""
        suggestion = self.get_object()
        rule = lifecycle.get_rule(ClusterSuggestion, action_name)
        lifecycle.check_may_act(self.request.user, suggestion, rule)
        lifecycle.check_state(suggestion, rule, self.request.user)
        return suggestion

    @extend_schema(request=s.AcceptSuggestionSerializer, responses={201: s.ClusterSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """PMU: create the cluster from a proposed suggestion, possibly leaving out some members
        (proposed → accepted)."""
        suggestion = self._may_decide("accept")
        payload = s.AcceptSuggestionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        cluster = clusters.accept_suggestion(
            user=request.user,
            suggestion=suggestion,
            name=payload.validated_data["name"],
            member_ids=payload.validated_data.get("members"),
            description=payload.validated_data.get("description", ""),
            comment=payload.validated_data.get("comment", ""),
        )
        cluster = Cluster.objects.annotate(member_count=Count("members")).get(pk=cluster.pk)
        return Response(s.ClusterSerializer(cluster).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TransitionRequestSerializer, responses={200: s.ClusterSuggestionSerializer, **REFUSED}
    )
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        """PMU: dismiss a proposed suggestion; the same group is not proposed again (proposed →
        dismissed)."""
        suggestion = self._may_decide("dismiss")
        payload = TransitionRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        lifecycle.apply(
            suggestion, "dismiss", request.user, comment=payload.validated_data.get("comment", "")
        )
        return Response(self.get_serializer(self.get_queryset().get(pk=suggestion.pk)).data)

    @extend_schema(request=None, responses={202: OpenApiResponse(description="Recomputing.")})
    @action(detail=False, methods=["post"])
    def refresh(self, request):
        """PMU: recompute the suggestions (a background task)."""
        if not is_pmu(request.user):
            raise PermissionDenied
        outbox.enqueue(suggest_clusters)
        return Response(status=status.HTTP_202_ACCEPTED)


class DuplicateSuspectViewSet(
    DecisionHistoryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Pairs of enterprises that may be the same (programme-wide roles only: a pair shows two POs'
    data). The PMU confirms (the later one counts as the earlier one) or dismisses."""

    serializer_class = s.DuplicateSuspectSerializer
    permission_classes = [ProgrammeWideReader]
    filterset_class = filters.DuplicateSuspectFilter
    ordering = ["found_at", "id"]

    def get_queryset(self):
        return DuplicateSuspect.objects.visible_to(self.request.user).select_related(
            "enterprise__partner_organization",
            "enterprise__upazila",
            "matched_enterprise__partner_organization",
            "matched_enterprise__upazila",
        )


# One `POST /duplicate-suspects/<id>/<action>/` per rule of duplicates.DUPLICATE_RULES (confirm,
# dismiss, reopen); the request's `note` is the decision's comment.
add_transition_actions(
    DuplicateSuspectViewSet,
    DuplicateSuspect,
    lambda rule: s.NoteRequestSerializer,
    describe=lambda rule: (
        f"PMU: {rule.label} ({', '.join(sorted(rule.sources))} → {rule.target}); the note is kept with "
        "the decision."
    ),
)


# --- Imports --------------------------------------------------------------------------------------


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Spreadsheet imports: upload (`POST`, multipart: kind + file) checks the file; `commit`
    writes it when the check found no problem. Poll the job for progress. A job that `failed` (its
    `failure` says why, e.g. its worker stopped) can be retried (`retry`: checked again) or cancelled
    (`cancel`, also for one `validated` or `invalid`) by its PO's staff."""

    serializer_class = s.ImportJobSerializer
    permission_classes = [FieldDataReader]
    filterset_class = filters.ImportJobFilter
    parser_classes = [MultiPartParser]  # the upload; commit, retry and cancel read no body

    def get_queryset(self):
        return ImportJob.objects.visible_to(self.request.user).select_related("partner_organization")

    def get_object(self):
        return super().get_object().with_live_progress()

    @extend_schema(request=s.ImportUploadSerializer, responses={201: s.ImportJobSerializer, **REFUSED})
    def create(self, request):
        payload = s.ImportUploadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            job = create_job(
                user=request.user, kind=payload.validated_data["kind"], upload=payload.validated_data["file"]
            )
        except DjangoValidationError as exc:
            raise DRFValidationError({"file": exc.messages}) from None
        return Response(
            self.get_serializer(self.get_queryset().get(pk=job.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={200: s.ImportJobSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def commit(self, request, pk=None):
        job = request_commit(user=request.user, job=self.get_object())
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)

    @extend_schema(request=None, responses={200: s.ImportJobSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """The PO's own staff: check a failed job's file again from the start (`failed` → `pending`);
        import it once it is `validated`. 403 for anyone else, 409 in any other status."""
        job = owner_action(user=request.user, job=self.get_object(), action="retry")
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)

    @extend_schema(request=None, responses={200: s.ImportJobSerializer, **REFUSED})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """The PO's own staff: the file will not be imported (`failed`, `validated` or `invalid` →
        `cancelled`). 403 for anyone else, 409 in any other status."""
        job = owner_action(user=request.user, job=self.get_object(), action="cancel")
        return Response(self.get_serializer(self.get_queryset().get(pk=job.pk)).data)


# Realistic examples on the main operations (core.api.examples).
extend_schema_view(create=extend_schema(examples=examples.ENTERPRISE))(EnterpriseViewSet)
extend_schema_view(create=extend_schema(examples=examples.KPI_READING))(KpiReadingViewSet)
