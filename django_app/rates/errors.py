"""How a call to the rates API can fail, sorted by what to do about it.

Busy answers (429, 5xx, timeouts, refused connections) are TransientErrors: the task
retries them. Anything else the API says is a permanent failure for this request.
"""

from django_app.jobs.errors import TransientError, UserFacingError


class RateLimited(TransientError):
    """The API (or our own shared limit) says: not now, try after `retry_after`."""


class UpstreamUnavailable(TransientError):
    """A 5xx answer, or no connection at all."""


class UpstreamTimeout(TransientError):
    """No answer within the timeout."""


class UpstreamRejected(UserFacingError):
    """A 4xx answer other than 429, or a body we cannot read: retrying will not help."""
