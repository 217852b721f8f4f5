"""Which email address a user has shown they receive: the only kind the app mails.

Sign-up takes any address, so an address is someone's only once its owner has followed
the signed link sent to it (accounts.verification). The row keeps the address that was
confirmed: a user whose address changes is unconfirmed again until the new one is.
"""

from django.conf import settings
from django.db import models


class EmailAddress(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_address"
    )
    email = models.EmailField(blank=True)  # the address confirmed, if any
    verified_at = models.DateTimeField(null=True, blank=True)
    link_sent_at = models.DateTimeField(null=True, blank=True)  # the last link mailed

    def __str__(self) -> str:
        return f"{self.user} <{self.email}>"
