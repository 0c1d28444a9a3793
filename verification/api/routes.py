from verification.api import views

ROUTES = [
    ("verification-rounds", views.RoundViewSet, "verification-round"),
    ("verification-checks", views.CheckViewSet, "verification-check"),
    ("verification-policy", views.PolicyViewSet, "verification-policy"),
    ("verification-awaiting-adoptions", views.AwaitingAdoptionViewSet, "verification-awaiting-adoption"),
    ("verification-awaiting-facilities", views.AwaitingFacilityViewSet, "verification-awaiting-facility"),
]
