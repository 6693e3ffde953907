from django.urls import path

from . import views

app_name = "stats"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("calls/", views.calls, name="calls"),
    path("definitions/", views.definitions, name="definitions"),
    path("reports/new/", views.report_edit, name="report_new"),
    path("reports/<int:report_id>/", views.report, name="report"),
    path("reports/<int:report_id>/edit/", views.report_edit, name="report_edit"),
    path("reports/<int:report_id>/delete/", views.report_delete, name="report_delete"),
    path("reports/<int:report_id>/export.<str:fmt>", views.report_export, name="report_export"),
]
