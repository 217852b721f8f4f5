from django.contrib import admin

from django_app.reports.models import Report, Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["filename", "owner", "size", "created_at"]
    search_fields = ["filename", "owner__username", "key"]
    raw_id_fields = ["owner"]


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["upload", "owner", "created_at", "finished_at", "emailed_at"]
    raw_id_fields = ["owner", "upload", "files"]
    readonly_fields = ["workflow_id"]
