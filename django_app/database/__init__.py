"""The relational database: which one, how its credentials are found, how connections live.

`settings.DATABASES["default"]` comes from `config.default_database()`: a DATABASE_URL
(SQLite by default, PostgreSQL in CI and for a local server), or, when deployed,
DATABASE_SECRET_ARN naming an RDS/Aurora secret in Secrets Manager, which the
`secret_postgresql` backend reads on first connect (once per Lambda execution
environment) and again only when the database refuses the password it has (rotation).
"""
