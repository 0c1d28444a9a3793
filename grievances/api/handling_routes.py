from grievances.api.handling_views import (
    GrievanceViewSet,
    PublicGrievanceStatusViewSet,
    PublicGrievanceViewSet,
)

ROUTES = [
    ("grievances", GrievanceViewSet, "grievance"),
    ("public/grievances", PublicGrievanceViewSet, "public-grievance"),
    ("public/grievance-status", PublicGrievanceStatusViewSet, "public-grievance-status"),
]
