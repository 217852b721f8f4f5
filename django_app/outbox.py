"""The local system's outbox, for staff: the emails SES accepted, as `make run` keeps them.

Locally SES delivers nothing: stack/local/outbox.py writes each email it accepted to
LOCAL_OUTBOX_DIR as an .eml file. These two pages list those files and show one, so
whoever tries the app (or a browser test) sees the email a user would get, links and all.
Where LOCAL_OUTBOX_DIR is not set (on AWS) both pages are 404s, as they are for non-staff.
"""

import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

_NAME = re.compile(r"\d{1,9}\.eml")  # what stack/local/outbox.py writes, and nothing else
NEWEST = 200  # the list is for finding a recent email, not an archive


@dataclass(frozen=True, slots=True)
class Email:
    name: str
    sender: str
    to: str
    subject: str
    date: str
    text: str
    html: str


def read_email(file: Path) -> Email:
    message = BytesParser(policy=policy.default).parsebytes(file.read_bytes())
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    return Email(
        name=file.name,
        sender=str(message["From"] or ""),
        to=str(message["To"] or ""),
        subject=str(message["Subject"] or ""),
        date=str(message["Date"] or ""),
        text=text.get_content() if text else "",
        html=html.get_content() if html else "",
    )


def _outbox(request: HttpRequest) -> Path:
    if not settings.LOCAL_OUTBOX_DIR or not request.user.is_staff:
        raise Http404("There is no outbox here.")
    return Path(settings.LOCAL_OUTBOX_DIR)


@login_required
@require_GET
def email_list(request: HttpRequest) -> HttpResponse:
    """The newest emails first (the local stack numbers its files in sending order)."""
    folder = _outbox(request)
    files = sorted(
        (f for f in folder.glob("*.eml") if _NAME.fullmatch(f.name)),
        key=lambda file: int(file.stem),
        reverse=True,
    )
    emails = [read_email(file) for file in files[:NEWEST]]
    return render(request, "outbox/list.html", {"emails": emails, "folder": folder})


@login_required
@require_GET
def email_detail(request: HttpRequest, name: str) -> HttpResponse:
    folder = _outbox(request)
    file = folder / name
    if not _NAME.fullmatch(name) or not file.is_file():
        raise Http404("No such email.")
    return render(request, "outbox/email.html", {"email": read_email(file)})


app_name = "outbox"
urlpatterns = [
    path("", email_list, name="list"),
    path("<str:name>/", email_detail, name="email"),
]
