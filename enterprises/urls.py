from django.urls import path

from enterprises.views import enterprises, imports, pmu, records

app_name = "enterprises"

urlpatterns = [
    # The registry and one enterprise
    path("enterprises/", enterprises.enterprise_list, name="enterprise-list"),
    path("enterprises/new/", enterprises.enterprise_create, name="enterprise-create"),
    path("enterprises/<int:pk>/", enterprises.enterprise_detail, name="enterprise-detail"),
    path("enterprises/<int:pk>/edit/", enterprises.enterprise_edit, name="enterprise-edit"),
    path("enterprises/<int:pk>/supports/new/", enterprises.support_create, name="support-create"),
    path("enterprises/<int:pk>/attendances/new/", enterprises.attendance_create, name="attendance-create"),
    path("enterprises/<int:pk>/adoptions/new/", enterprises.adoption_create, name="adoption-create"),
    path("enterprises/<int:pk>/readings/new/", enterprises.reading_create, name="reading-create"),
    path("enterprises/<int:pk>/recp-profile/", enterprises.profile_edit, name="profile-edit"),
    path(
        "enterprises/<int:pk>/recp-profile/do/<slug:action>/",
        enterprises.profile_action,
        name="profile-action",
    ),
    path("enterprises/<int:pk>/recp-profile/report/", enterprises.profile_report, name="profile-report"),
    path("enterprises/upazila-options/", enterprises.upazila_options, name="upazila-options"),
    path("financial-supports/<int:pk>/edit/", enterprises.support_edit, name="support-edit"),
    path("kpi-readings/<int:pk>/edit/", enterprises.reading_edit, name="reading-edit"),
    path("adoptions/<int:pk>/verify/", enterprises.adoption_verify, name="adoption-verify"),
    path("field-data/<slug:kind>/<int:pk>/delete/", enterprises.record_delete, name="record-delete"),
    # Lists across enterprises
    path("field-data/", records.field_data, name="field-data"),
    path("financial-supports/", records.SupportList.as_view(), name="support-list"),
    path("attendances/", records.AttendanceList.as_view(), name="attendance-list"),
    path("adoptions/", records.AdoptionList.as_view(), name="adoption-list"),
    path("recp-profiles/", records.ProfileList.as_view(), name="profile-list"),
    path("kpi-readings/", records.ReadingList.as_view(), name="reading-list"),
    path("trainings/", records.TrainingList.as_view(), name="training-list"),
    path("trainings/new/", records.training_create, name="training-create"),
    path("trainings/<int:pk>/", records.training_detail, name="training-detail"),
    path("trainings/<int:pk>/edit/", records.training_edit, name="training-edit"),
    path("facilities/", records.FacilityList.as_view(), name="facility-list"),
    path("facilities/new/", records.facility_create, name="facility-create"),
    path("facilities/<int:pk>/", records.facility_detail, name="facility-detail"),
    path("facilities/<int:pk>/edit/", records.facility_edit, name="facility-edit"),
    path("recp-practices/", records.PracticeList.as_view(), name="practice-list"),
    path("kpis/", records.KpiList.as_view(), name="kpi-list"),
    # Imports
    path("field-data/imports/", imports.import_list, name="import-list"),
    path("field-data/imports/<int:pk>/", imports.import_detail, name="import-detail"),
    path("field-data/imports/<int:pk>/progress/", imports.import_progress, name="import-progress"),
    path("field-data/imports/<int:pk>/commit/", imports.import_commit, name="import-commit"),
    path("field-data/imports/<int:pk>/errors.csv", imports.import_errors, name="import-errors"),
    path(
        "field-data/imports/templates/<slug:kind>.<slug:file_format>",
        imports.import_template,
        name="import-template",
    ),
    # The PMU's decisions
    path("enterprises/duplicates/", pmu.DuplicateList.as_view(), name="duplicate-list"),
    path("enterprises/duplicates/<int:pk>/", pmu.duplicate_detail, name="duplicate-detail"),
    path("enterprises/duplicates/<int:pk>/<slug:action>/", pmu.duplicate_action, name="duplicate-action"),
    path("clusters/", pmu.ClusterList.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", pmu.cluster_detail, name="cluster-detail"),
    path("clusters/<int:pk>/dissolve/", pmu.cluster_dissolve, name="cluster-dissolve"),
    path("clusters/suggestions/", pmu.suggestion_list, name="suggestion-list"),
    path("clusters/suggestions/refresh/", pmu.suggestion_refresh, name="suggestion-refresh"),
    path("clusters/suggestions/<int:pk>/", pmu.suggestion_detail, name="suggestion-detail"),
]
