from django.urls import path

from finance import ifr_views as views

urlpatterns = [
    path("finance/ifr/", views.ifr_list, name="ifr-list"),
    path("finance/ifr/new/", views.ifr_create, name="ifr-create"),
    path("finance/ifr/<int:pk>/", views.ifr_detail, name="ifr-detail"),
    path("finance/ifr/<int:pk>/notes/", views.ifr_notes, name="ifr-notes"),
    path("finance/ifr/<int:pk>/forecast/", views.ifr_forecast, name="ifr-forecast"),
    path("finance/ifr/<int:pk>/sent/", views.ifr_send, name="ifr-send"),
    path("finance/ifr/<int:pk>/correct/", views.ifr_correct, name="ifr-correct"),
    path("finance/ifr/<int:pk>/download/<str:kind>/", views.ifr_download, name="ifr-download"),
    path("finance/ifr/<int:pk>/<slug:action>/", views.ifr_transition, name="ifr-transition"),
    path("finance/receipts/", views.receipt_list, name="receipt-list"),
    path("finance/receipts/new/", views.receipt_add, name="receipt-add"),
    path("finance/receipts/<int:pk>/", views.receipt_edit, name="receipt-edit"),
    path("finance/receipts/<int:pk>/delete/", views.receipt_delete, name="receipt-delete"),
]
