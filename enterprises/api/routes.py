from enterprises.api import reports, views
from enterprises.api.bulk import ImportTemplateViewSet

ROUTES = [
    ("enterprises", views.EnterpriseViewSet, "enterprise"),
    ("financial-supports", views.FinancialSupportViewSet, "financial-support"),
    ("trainings", views.TrainingSessionViewSet, "training"),
    ("training-modules", views.TrainingModuleViewSet, "training-module"),
    ("attendances", views.AttendanceViewSet, "attendance"),
    ("recp-practices", views.RecpPracticeViewSet, "recp-practice"),
    ("adoptions", views.AdoptionViewSet, "adoption"),
    ("recp-profiles", reports.RecpProfileViewSet, "recp-profile"),
    ("kpis", views.KpiViewSet, "kpi"),
    ("kpi-readings", views.KpiReadingViewSet, "kpi-reading"),
    ("facilities", views.FacilityViewSet, "facility"),
    ("clusters", views.ClusterViewSet, "cluster"),
    ("cluster-suggestions", views.ClusterSuggestionViewSet, "cluster-suggestion"),
    ("duplicate-suspects", views.DuplicateSuspectViewSet, "duplicate-suspect"),
    ("import-jobs", views.ImportJobViewSet, "import-job"),
    ("import-templates", ImportTemplateViewSet, "import-template"),
]
