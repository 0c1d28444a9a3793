from core.api import views

ROUTES = [
    ("partner-organizations", views.PartnerOrganizationViewSet, "partner-organization"),
    ("business-areas", views.BusinessAreaViewSet, "business-area"),
    ("sectors", views.SectorViewSet, "sector"),
    ("sub-sectors", views.SubSectorViewSet, "sub-sector"),
    ("divisions", views.DivisionViewSet, "division"),
    ("districts", views.DistrictViewSet, "district"),
    ("upazilas", views.UpazilaViewSet, "upazila"),
]
