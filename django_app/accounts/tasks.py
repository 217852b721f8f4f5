"""Mailing the confirmation link: a task, like every email the app sends."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.tasks import task
from django.template.loader import render_to_string

from django_app.accounts import verification
from django_app.jobs.errors import TransientError

SUBJECT = "Confirm your email address"  # fixed: no user's words in a subject


@task(max_attempts=5, retry_on=(TransientError,), timeout=60)
def send_verification_email(user_id: int) -> bool:
    """Mail the user a link that confirms their address; nothing once it is confirmed.
    The mail holds no text the user chose (not even their name): the address may be
    someone else's, who must read only what the app says."""
    user = get_user_model().objects.get(pk=user_id)
    if not user.email or verification.is_verified(user):
        return False
    context = {
        "link": verification.link_for(user),
        "days": settings.ACCOUNTS_VERIFY_LINK_MAX_AGE // 86400,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=render_to_string("accounts/email/verify.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string("accounts/email/verify.html", context), "text/html")
    try:
        message.send()
    except Exception as error:  # any mail backend's failure (SMTP, SES): try again later
        raise TransientError("Could not send the email just now; trying again.") from error
    return True
