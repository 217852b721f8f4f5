"""Confirming that a user receives mail at their address, before the app mails them.

The link carries the user's id and address, signed with the site's key (Django's
`signing`, its own salt) and dated: it expires after ACCOUNTS_VERIFY_LINK_MAX_AGE, and
it confirms only the address it was sent to. Opening it shows a button; the POST
confirms. Mail scanners that fetch every link in a message therefore confirm nothing,
so an address someone else signed up with is not confirmed behind its owner's back.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from django_app.accounts.models import EmailAddress

SALT = "django_app.accounts.verify-email"


def is_verified(user: Any) -> bool:
    """Whether `user`'s current address is one they confirmed."""
    confirmed = EmailAddress.objects.filter(user=user, verified_at__isnull=False).first()
    return bool(user.email) and confirmed is not None and same(confirmed.email, user.email)


def same(one: str, other: str) -> bool:
    return one.casefold() == other.casefold()


def link_for(user: Any) -> str:
    token = signing.dumps({"user": user.pk, "email": user.email}, salt=SALT, compress=True)
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("accounts:verify", args=[token])


def confirm(token: str) -> Any | None:
    """The user whose address the token confirms, now recorded as confirmed; None for a
    token that is forged, expired, or for an address the user no longer has."""
    try:
        claim = signing.loads(token, salt=SALT, max_age=settings.ACCOUNTS_VERIFY_LINK_MAX_AGE)
        user = get_user_model().objects.get(pk=claim["user"])
    except (signing.BadSignature, get_user_model().DoesNotExist, KeyError, TypeError):
        return None
    if not user.email or not same(claim["email"], user.email):
        return None
    EmailAddress.objects.update_or_create(
        user=user, defaults={"email": user.email, "verified_at": timezone.now()}
    )
    return user


def claim_sending(user: Any) -> bool:
    """Take the right to mail `user` a link now: at most one per ACCOUNTS_VERIFY_RESEND
    seconds, so nobody can make the app flood an address with links."""
    now = timezone.now()
    record, _ = EmailAddress.objects.get_or_create(user=user)
    resend_after = now - timedelta(seconds=settings.ACCOUNTS_VERIFY_RESEND)
    return bool(
        EmailAddress.objects.filter(pk=record.pk)
        .exclude(link_sent_at__gt=resend_after)
        .update(link_sent_at=now)
    )
