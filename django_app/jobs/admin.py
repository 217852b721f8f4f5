from django.contrib import admin

from django_app.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["label", "owner", "task_id", "created_at"]
    list_filter = ["task_path"]
    search_fields = ["task_id", "label", "owner__username"]
    raw_id_fields = ["owner", "retry_of"]
