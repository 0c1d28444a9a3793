from django.urls import path

from verification import views

app_name = "verification"

urlpatterns = [
    path("verification/", views.round_list, name="round-list"),
    path("verification/rounds/draw/", views.round_draw, name="round-draw"),
    path("verification/rounds/<int:pk>/", views.round_detail, name="round-detail"),
    path("verification/checks/", views.check_list, name="check-list"),
    path("verification/checks/<int:pk>/", views.check_detail, name="check-detail"),
    path("verification/checks/<int:pk>/result/", views.check_result, name="check-result"),
    path("verification/checks/<int:pk>/photo/", views.check_photo, name="check-photo"),
    path("verification/adoptions/<int:pk>/photo/", views.adoption_photo, name="adoption-photo"),
    path("verification/awaiting/", views.awaiting, name="awaiting"),
    path(
        "verification/awaiting/adoptions/<int:pk>/verify/",
        views.awaiting_decide,
        {"key": "adoptions"},
        name="adoption-verify",
    ),
    path(
        "verification/awaiting/facilities/<int:pk>/confirm/",
        views.awaiting_decide,
        {"key": "facilities"},
        name="facility-confirm",
    ),
    path("verification/policy/", views.policy, name="policy"),
]
