"""The "your report is ready" email, sent through Django's mail API (SES in AWS).

It carries a presigned download link, which works without logging in but expires (and
on Lambda dies with the worker's session credentials), so it also links to the report's
page, which mints a fresh link whenever it is opened. It goes only to an address its
owner has confirmed (accounts.verification), so nobody can make the app mail a stranger.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from django_app.reports import storage
from django_app.reports.models import Report

# Fixed: a subject is what a mail client shows before anything else, so it carries no
# text from the upload (a file name can say anything).
SUBJECT = "Your report is ready"


def send_report_ready(report: Report) -> None:
    context = {
        "report": report,
        "download_url": storage.download_url(
            report.csv_key,
            filename=f"{report.download_name}.csv",
            attachment=True,
            expires=settings.REPORTS_LINK_EXPIRY,
        ),
        "page_url": settings.PUBLIC_BASE_URL.rstrip("/") + report.get_absolute_url(),
        "expires_hours": settings.REPORTS_LINK_EXPIRY // 3600,
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=render_to_string("reports/email/ready.txt", context),
        to=[report.owner.email],
    )
    message.attach_alternative(render_to_string("reports/email/ready.html", context), "text/html")
    message.send()
