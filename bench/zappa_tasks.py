"""The no-op task as a Zappa user writes it: `@task(capture_response=True)`.

Importing zappa.asynchronous creates its boto3 clients, so import this module only once
AWS (moto) and a region are in place.
"""

from zappa.asynchronous import task


@task(capture_response=True)
def noop() -> None:
    return None
