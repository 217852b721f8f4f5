from django.urls import path

from django_app.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.index, name="index"),
    path("uploads/done/", views.uploaded, name="uploaded"),
    path("uploads/several/", views.uploaded_several, name="uploaded-several"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload"),
    path("reports/new/", views.combine, name="combine"),
    path("reports/<int:pk>/", views.report_detail, name="detail"),
    path("reports/<int:pk>/report.html", views.report_file, {"kind": "html"}, name="html"),
    path("reports/<int:pk>/report.csv", views.report_file, {"kind": "csv"}, name="csv"),
]
