"""Editing the milestones of a release schedule through the API, as the schedule page does it
(finance.releases.edit_schedule, all its rules): the PMU's side (its officers and finance officers)
adds a milestone to a sub-project (`POST milestones/`), changes its title or due date (`PATCH`/`PUT`)
or removes it (`DELETE`), and sets the default schedule of a sub-project awarded without one
(`POST milestones/default-schedule/`, as the page's button). Reading, reporting a milestone done and
sending it back stay as in finance.api.release_views."""

from __future__ import annotations

from django.http import Http404
from django.utils.translation import gettext_lazy as _lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from finance import releases
from finance.api import release_serializers as s
from finance.api import release_views
from finance.models import Milestone
from smart_portal.api import ErrorSerializer, ScopedRelations
from subprojects.models import SubProject
from verification.permissions import Allowed

WRITE_ANSWERS = {
    400: OpenApiResponse(
        ErrorSerializer,
        description=_lazy("A missing title or due date, or a date outside the implementation."),
    ),
    403: OpenApiResponse(
        ErrorSerializer, description=_lazy("Only the PMU's officers and finance officers edit schedules.")
    ),
    404: OpenApiResponse(ErrorSerializer, description=_lazy("Not found, or not visible to you.")),
    409: OpenApiResponse(
        ErrorSerializer,
        description=_lazy(
            "The sub-project's schedule is final, the milestone's tranche has an active release, or it is "
            "reported done (it cannot be removed)."
        ),
    ),
}


class MilestoneWriteSerializer(ScopedRelations, serializers.Serializer):
    sub_project = serializers.PrimaryKeyRelatedField(
        queryset=SubProject.objects.all(), help_text=_lazy("The sub-project whose schedule gets it.")
    )
    title = serializers.CharField(max_length=200)
    due_on = serializers.DateField(help_text=_lazy("Within the sub-project's implementation."))


class MilestoneChangeSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    due_on = serializers.DateField(help_text=_lazy("Within the sub-project's implementation."))


class DefaultScheduleSerializer(ScopedRelations, serializers.Serializer):
    sub_project = serializers.PrimaryKeyRelatedField(queryset=SubProject.objects.all())


def _schedule_sub_project(user, sub_project: SubProject) -> SubProject:
    """The sub-project as the schedule page finds it (releases.sub_projects_for): else 404."""
    found = releases.sub_projects_for(user).filter(pk=sub_project.pk).first()
    if found is None:
        raise Http404
    return found


@extend_schema_view(
    create=extend_schema(
        request=MilestoneWriteSerializer,
        responses={201: s.ScheduleMilestoneSerializer, **WRITE_ANSWERS},
    ),
    update=extend_schema(
        request=MilestoneChangeSerializer, responses={200: s.ScheduleMilestoneSerializer, **WRITE_ANSWERS}
    ),
    partial_update=extend_schema(
        request=MilestoneChangeSerializer, responses={200: s.ScheduleMilestoneSerializer, **WRITE_ANSWERS}
    ),
    destroy=extend_schema(responses={204: None, **WRITE_ANSWERS}),
)
class MilestoneViewSet(
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    release_views.MilestoneViewSet,
):
    """Milestones of the release schedules. The sub-project's PO reports one done (`report`: the
    comment is the evidence, `reported_on` the day); the PMU's side may send it back (comment
    required). The PMU's officers and finance officers edit the schedule as on its page: add a
    milestone (`POST`), change its title or due date (`PATCH`), remove it (`DELETE`), or set a
    sub-project's default schedule (`default-schedule`). Filters: `sub_project` (id), `status`."""

    # Editing the schedule is for the PMU's side (403 for anyone else, as on the page); reporting a
    # milestone and sending it back are the rule table's to allow (release_views).
    EDITS = frozenset({"create", "update", "partial_update", "destroy", "default_schedule"})

    def get_permissions(self):
        if self.action in self.EDITS:
            return [Allowed.to(releases.may_read, releases.may_edit_schedule)()]
        return super().get_permissions()

    def _answer(self, milestone_id: int, code: int = status.HTTP_200_OK) -> Response:
        return Response(self.get_serializer(self.get_queryset().get(pk=milestone_id)).data, status=code)

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = MilestoneWriteSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        sub_project = _schedule_sub_project(request.user, data["sub_project"])
        releases.edit_schedule(
            request.user,
            sub_project,
            milestones=[{"id": None, "title": data["title"], "due_on": data["due_on"]}],
        )
        # edit_schedule numbers a new milestone after the sub-project's last one.
        added = Milestone.objects.filter(sub_project=sub_project).order_by("-number")
        return self._answer(added.values_list("pk", flat=True)[0], status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        milestone = self.get_object()
        payload = MilestoneChangeSerializer(data=request.data, partial=kwargs.pop("partial", False))
        payload.is_valid(raise_exception=True)
        row = {
            "id": milestone.pk,
            "title": milestone.title,
            "due_on": milestone.due_on,
            **payload.validated_data,
        }
        releases.edit_schedule(request.user, milestone.sub_project, milestones=[row])
        return self._answer(milestone.pk)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        milestone = self.get_object()
        releases.edit_schedule(
            request.user, milestone.sub_project, milestones=[{"id": milestone.pk, "delete": True}]
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=DefaultScheduleSerializer,
        responses={201: s.ScheduleMilestoneSerializer(many=True), **WRITE_ANSWERS},
    )
    @action(
        detail=False, methods=["post"], url_path="default-schedule", pagination_class=None, filter_backends=[]
    )
    def default_schedule(self, request: Request) -> Response:
        """Set the default schedule (milestones and tranches) of a sub-project awarded without one, as
        the schedule page's button: the sub-project's milestones after it. 409 when it has a schedule."""
        payload = DefaultScheduleSerializer(data=request.data, context={"request": request})
        payload.is_valid(raise_exception=True)
        sub_project = _schedule_sub_project(request.user, payload.validated_data["sub_project"])
        releases.create_default_schedule_for(request.user, sub_project)
        milestones = self.get_queryset().filter(sub_project=sub_project)
        return Response(self.get_serializer(milestones, many=True).data, status=status.HTTP_201_CREATED)
