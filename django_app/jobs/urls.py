from django.urls import path

from django_app.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("<str:task_id>/status/", views.job_status, name="status"),
    path("<str:task_id>/retry/", views.job_retry, name="retry"),
]
