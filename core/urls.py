from django.urls import path

from core import download_views, saved_filters, views

app_name = "core"

urlpatterns = [
    path("partner-organizations/", views.PartnerOrganizationListView.as_view(), name="po-list"),
    path("partner-organizations/new/", views.PartnerOrganizationCreateView.as_view(), name="po-create"),
    path("partner-organizations/<int:pk>/", views.PartnerOrganizationDetailView.as_view(), name="po-detail"),
    path(
        "partner-organizations/<int:pk>/edit/", views.PartnerOrganizationUpdateView.as_view(), name="po-edit"
    ),
    path("my-organization/", views.my_organization, name="my-po"),
    path("downloads/", download_views.downloads, name="downloads"),
    path("downloads/<int:pk>/file/", download_views.download_file, name="download-file"),
    path("saved-filters/", saved_filters.saved_filter_save, name="saved-filter-save"),
    path("saved-filters/<int:pk>/delete/", saved_filters.saved_filter_delete, name="saved-filter-delete"),
    path("reference/sectors/", views.sector_list, name="sector-list"),
    path("reference/districts/", views.district_list, name="district-list"),
    path("reference/districts/<int:pk>/", views.district_detail, name="district-detail"),
    path("reference/districts/<int:pk>/climate/", views.district_climate_edit, name="district-climate"),
    path("reference/upazilas/<int:pk>/climate/", views.upazila_climate_edit, name="upazila-climate"),
]
