from django.urls import path

from finance import rate_views as views

urlpatterns = [
    path("finance/exchange-rates/", views.rate_list, name="rate-list"),
    path("finance/exchange-rates/new/", views.rate_create, name="rate-create"),
    path("finance/exchange-rates/<int:pk>/edit/", views.rate_edit, name="rate-edit"),
]
