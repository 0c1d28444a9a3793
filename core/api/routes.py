from core.api import views
from core.api.deletions import DeletionViewSet

ROUTES = [
    ("partner-organizations", views.PartnerOrganizationViewSet, "partner-organization"),
    ("business-areas", views.BusinessAreaViewSet, "business-area"),
    ("sectors", views.SectorViewSet, "sector"),
    ("sub-sectors", views.SubSectorViewSet, "sub-sector"),
    ("divisions", views.DivisionViewSet, "division"),
    ("districts", views.DistrictViewSet, "district"),
    ("upazilas", views.UpazilaViewSet, "upazila"),
    # Records deleted from the resources above and of every app, for synchronising clients (issue 16).
    ("deletions", DeletionViewSet, "deletion"),
]

# Parity with the pages (issue 16): list downloads, "waiting on you", climate flags, people.
from core.api import climate as climate_views  # noqa: E402
from core.api import directory as directory_views  # noqa: E402
from core.api import exports as export_views  # noqa: E402
from core.api import waiting as waiting_views  # noqa: E402

ROUTES += [
    ("exports", export_views.ExportViewSet, "export"),
    ("waiting", waiting_views.WaitingViewSet, "waiting"),
    ("climate-flags", climate_views.ClimateFlagViewSet, "climate-flag"),
    ("upazila-climate-flags", climate_views.UpazilaClimateFlagViewSet, "upazila-climate-flag"),
    ("users", directory_views.UserDirectoryViewSet, "user"),
]
