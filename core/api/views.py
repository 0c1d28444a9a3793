from __future__ import annotations

from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema
from knox.models import AuthToken
from knox.views import LogoutAllView as KnoxLogoutAllView
from knox.views import LogoutView as KnoxLogoutView
from rest_framework import mixins, viewsets
from rest_framework.generics import RetrieveAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from core.api import filters, serializers
from core.api.security import AccountRateThrottle, PortalTokenAuthentication
from core.models import BusinessArea, District, Division, PartnerOrganization, Sector, SubSector, Upazila
from core.permissions import ReadScopedWritePMU


class ObtainTokenView(APIView):
    """Exchange a username and password (and, for an account with two-factor authentication, the code
    of its authenticator app in `otp_code`) for an API token (expires; revoke with auth/logout/).

    Limited per client address and per account; after too many failed attempts the account or the
    address is locked out for a while (429 saying until when), even with the right password."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle, AccountRateThrottle]
    throttle_scope = "auth"

    # `auth=[]`: no security requirement at all (anyone may ask for a token), so that generated
    # clients call it without a token (`security: [{}]` makes openapi-python-client require one).
    @extend_schema(
        auth=[], request=serializers.TokenRequestSerializer, responses=serializers.TokenResponseSerializer
    )
    def post(self, request):
        serializer = serializers.TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        instance, token = AuthToken.objects.create(user)
        user_logged_in.send(sender=user.__class__, request=request, user=user)
        return Response({"token": token, "expiry": instance.expiry})


@extend_schema(request=None, responses={204: None})
class LogoutView(KnoxLogoutView):
    """Revoke the token used for this request."""

    authentication_classes = [PortalTokenAuthentication]


@extend_schema(request=None, responses={204: None})
class LogoutAllView(KnoxLogoutAllView):
    """Revoke every token of the signed-in user."""

    authentication_classes = [PortalTokenAuthentication]


class CurrentUserView(RetrieveAPIView):
    """The signed-in user with roles and Partner Organization."""

    serializer_class = serializers.CurrentUserSerializer
    permission_classes = [IsAuthenticated]

    def get_object(self):
        return self.request.user


class BusinessAreaViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = BusinessArea.objects.all()
    serializer_class = serializers.BusinessAreaSerializer
    search_fields = ["name", "code"]


class SectorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Sector.objects.select_related("business_area")
    serializer_class = serializers.SectorSerializer
    filterset_class = filters.SectorFilter
    search_fields = ["name", "code"]


class SubSectorViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = SubSector.objects.select_related("sector")
    serializer_class = serializers.SubSectorSerializer
    filterset_class = filters.SubSectorFilter
    search_fields = ["name", "code"]


class DivisionViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Division.objects.all()
    serializer_class = serializers.DivisionSerializer
    search_fields = ["name", "pcode"]


class DistrictViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = District.objects.select_related("division")
    serializer_class = serializers.DistrictSerializer
    filterset_class = filters.DistrictFilter
    search_fields = ["name", "pcode"]


class UpazilaViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Upazila.objects.select_related("district")
    serializer_class = serializers.UpazilaSerializer
    filterset_class = filters.UpazilaFilter
    search_fields = ["name", "pcode"]


class PartnerOrganizationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Partner Organizations. PO staff see their own PO only; PMU officers create and edit.

    POs are never deleted (their history must stay); set `is_active` to false instead.
    """

    serializer_class = serializers.PartnerOrganizationSerializer
    permission_classes = [ReadScopedWritePMU]
    filterset_class = filters.PartnerOrganizationFilter
    search_fields = ["code", "name", "short_name"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return (
            PartnerOrganization.objects.visible_to(self.request.user)
            .select_related("head_office_district")
            .prefetch_related("districts")
        )
