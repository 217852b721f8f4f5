"""Static files as the web Lambda serves them: collected with hashed names, served by
whitenoise (compressed, cached for good), no CSS framework fetched from elsewhere."""

import re

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.fixture
def collected(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }
    call_command("collectstatic", "--noinput", verbosity=0)
    return tmp_path


@pytest.mark.django_db
def test_pages_link_hashed_files_that_whitenoise_serves(collected):
    client = Client()  # a new handler, so whitenoise scans the new STATIC_ROOT
    page = client.get("/accounts/login/").content.decode()
    css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page)[1]
    assert "http" not in re.sub(r'href="/[^"]*"', "", re.search(r"<head>.*</head>", page, re.S)[0])

    response = client.get(css)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/css")
    assert "immutable" in response["Cache-Control"]
    assert b"--accent" in b"".join(response.streaming_content)

    gzipped = client.get(css, headers={"Accept-Encoding": "gzip"})
    assert gzipped["Content-Encoding"] == "gzip"


@pytest.mark.django_db
def test_every_script_the_pages_use_is_collected(collected):
    for name in ("jobs/progress", "reports/upload"):
        assert list(collected.glob(f"{name}.*.js")), name


@pytest.mark.django_db
def test_the_favicon_is_linked_and_served_by_whitenoise(collected):
    """Without one, every page view logged a WARNING for the browser's /favicon.ico."""
    client = Client()
    page = client.get("/accounts/login/").content.decode()
    icon = re.search(r'<link rel="icon" href="(/static/favicon\.[0-9a-f]{12}\.ico)"', page)[1]
    response = client.get(icon)
    assert response.status_code == 200 and "immutable" in response["Cache-Control"]
    assert response["Content-Type"] in {"image/x-icon", "image/vnd.microsoft.icon"}
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"  # an ICO file
    # Clients that ask the site's root anyway are sent to it, not to a 404.
    root = client.get("/favicon.ico")
    assert root.status_code == 301 and root["Location"] == icon
