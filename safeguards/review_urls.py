from django.urls import path

from safeguards import review_views as views

urlpatterns = [
    path("es-reviews/", views.review_list, name="review-list"),
    path("es-reviews/<int:pk>/", views.review_detail, name="review-detail"),
    path("es-reviews/<int:pk>/do/<slug:action>/", views.review_transition, name="review-transition"),
    path("exclusion-list/", views.exclusion_list, name="exclusion-list"),
    path("exclusion-list/new/", views.exclusion_create, name="exclusion-create"),
    path("exclusion-list/<int:pk>/edit/", views.exclusion_edit, name="exclusion-edit"),
    path("exclusion-list/<int:pk>/retire/", views.exclusion_retire, name="exclusion-retire"),
]
