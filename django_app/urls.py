from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django_app.accounts.urls")),
    path("tasks/", include("django_app.jobs.urls")),
    path("rates/", include("django_app.rates.urls")),
    path("outbox/", include("django_app.outbox")),  # the local system's emails, for staff
    path("", include("django_app.reports.urls")),
]
