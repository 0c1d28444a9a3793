from verification.api import views

ROUTES = [
    ("verification-rounds", views.RoundViewSet, "verification-round"),
    ("verification-checks", views.CheckViewSet, "verification-check"),
    ("verification-policy", views.PolicyViewSet, "verification-policy"),
]
