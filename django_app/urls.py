from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Pages link the icon by its static URL; this is for clients that ask the root."""
    return HttpResponsePermanentRedirect(static("favicon.ico"))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django_app.accounts.urls")),
    path("tasks/", include("django_app.jobs.urls")),
    path("rates/", include("django_app.rates.urls")),
    path("outbox/", include("django_app.outbox")),  # the local system's emails, for staff
    path("favicon.ico", favicon),
    path("", include("django_app.reports.urls")),
]
