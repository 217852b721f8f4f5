"""Django's PostgreSQL backend, with its credentials from a Secrets Manager secret.

Set as ENGINE by django_app.database.config when DATABASE_SECRET_ARN is set. Nothing is
read at import or at Django's setup: the secret is read when the first connection opens,
so a process that never touches the database (the scheduler, which only enqueues and may
not read the secret) never asks for it. When the database refuses the kept password, the
secret is read again once and the connection retried: after a rotation, the first
connection of each warm environment pays one extra Secrets Manager call, and no request
fails.
"""

from typing import Any

from django.db.backends.postgresql import base

from django_app.database import secret


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        self._use(secret.credentials(self.settings_dict["SECRET_ARN"]))
        return super().get_connection_params()

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        try:
            return super().get_new_connection(conn_params)
        except base.Database.OperationalError as error:
            if not password_refused(error):
                raise
            kept = secret.credentials(self.settings_dict["SECRET_ARN"])
            fresh = secret.refresh(self.settings_dict["SECRET_ARN"])
            if fresh == kept:
                raise
            self._use(fresh)
            return super().get_new_connection(super().get_connection_params())

    def _use(self, credentials: secret.Credentials) -> None:
        """User and password always come from the secret (they rotate); host, port and
        name only where the settings leave them empty (an RDS Proxy endpoint wins). NAME
        None is Django asking for the maintenance database: left alone."""
        values = self.settings_dict
        values["USER"], values["PASSWORD"] = credentials.username, credentials.password
        for key, value in (
            ("HOST", credentials.host),
            ("PORT", credentials.port),
            ("NAME", credentials.dbname),
        ):
            if values.get(key) == "":
                values[key] = value


def password_refused(error: Exception) -> bool:
    """Whether connecting failed because the server refused the user or password."""
    return getattr(error, "sqlstate", None) in {"28P01", "28000"} or (
        "password authentication failed" in str(error)
    )
