"""Who may see a row: its owner, and staff.

Every model a user creates (uploads, reports, tasks) has an `owner` and this queryset,
so "each user sees only their own; staff see everything" is one method, used by every
view, instead of a filter each view might forget. Views look rows up through it, so
another user's id is simply not found: a 404, never a 403 that confirms it exists.
"""

from typing import Any, Self

from django.db import models


class OwnedQuerySet(models.QuerySet):
    def visible_to(self, user: Any) -> Self:
        """What `user` may look at: everything for staff, their own rows for others."""
        if not user.is_authenticated:
            return self.none()
        return self.all() if user.is_staff else self.filter(owner=user)

    def owned_by(self, user: Any) -> Self:
        """What `user` may act on (retry, rebuild): their own rows, staff included."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)
