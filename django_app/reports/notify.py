"""The "your report is ready" email, sent through Django's mail API (SES in AWS).

Its links point at the app, not at S3: the download link is the report's own CSV link,
which checks who is asking and then redirects to a presigned URL minted on the spot. A
presigned URL in the email would die within hours (with the worker's session
credentials on Lambda, or the local emulator's restart) and then show S3's raw XML;
this one keeps working as long as the report exists, and says so when its file is gone.
It goes only to an address its owner has confirmed (accounts.verification), so nobody can
make the app mail a stranger.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from django_app.reports.models import Report

# Fixed: a subject is what a mail client shows before anything else, so it carries no
# text from the upload (a file name can say anything).
SUBJECT = "Your report is ready"


def public_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def send_report_ready(report: Report) -> None:
    context = {
        "report": report,
        "download_url": public_url(reverse("reports:csv", args=[report.pk])),
        "page_url": public_url(report.get_absolute_url()),
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=render_to_string("reports/email/ready.txt", context),
        to=[report.owner.email],
    )
    message.attach_alternative(render_to_string("reports/email/ready.html", context), "text/html")
    message.send()
