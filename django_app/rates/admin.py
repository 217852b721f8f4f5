from django.contrib import admin

from django_app.rates.models import ExchangeRate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    list_display = ["base", "currency", "rate", "as_of", "fetched_at"]
    list_filter = ["base"]
