"""Exchange rates as last fetched: shared by all users (public data, no owner)."""

from django.db import models


class ExchangeRate(models.Model):
    base = models.CharField(max_length=3)
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=24, decimal_places=10)
    as_of = models.CharField(max_length=32, blank=True)  # the API's date for the rate
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["base", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["base", "currency"], name="one_rate_per_pair")
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.currency}"
