"""A customer's row (email → URN, invoice name and address) changed by a person for a return.

Saving the row is the path every writer takes (admin, API, imports): the model's own
validation, then ``save()``, whose signal re-evaluates every held return of that customer
once the transaction commits (``returns_hub.signals``). A person fixing the row *from* a
return also wants to see that return move on at once, so it is evaluated again here,
under its lock, in the same transaction; the signal's later run finds nothing left to do.
"""

from __future__ import annotations

from django.db import transaction

from returns_hub.choices import Cause
from returns_hub.models import CustomerMapping, Return
from returns_hub.models.mappings import normalise_email
from returns_hub.services import engine, timeline
from returns_hub.services.errors import ActionError
from returns_hub.services.locks import lock_return
from returns_hub.services.timeline import By

# What a person may set on the row from a return; its email is the return's.
FIELDS = ("urn", "name", "line1", "town", "postcode", "country")


def row_for(ret: Return) -> CustomerMapping | None:
    """The customer row of the return's email, if there is one."""
    email = normalise_email(ret.customer_email)
    return CustomerMapping.objects.filter(email=email).first() if email else None


@transaction.atomic
def save_for_return(ret: Return, values: dict[str, str], *, user) -> CustomerMapping:
    """Create or change the customer row of ``ret``'s email with ``values``, then evaluate
    ``ret`` again. Raises ``ValidationError`` (the row's own checks) or ``ActionError``."""
    ret = lock_return(ret)  # the one lock order: the return first
    email = normalise_email(ret.customer_email)
    if not email:
        raise ActionError(f"{ret} has no customer email: no customer row can be kept for it")
    row = CustomerMapping.objects.select_for_update().filter(email=email).first()
    created = row is None
    row = row or CustomerMapping(email=email)
    changed = [name for name in FIELDS if name in values and getattr(row, name) != values[name]]
    for name in changed:
        setattr(row, name, values[name])
    row.full_clean()
    if not (created or changed):
        return row  # nothing new: nothing to record or decide
    row.save()
    by = By(Cause.USER, actor=user)
    what = "added" if created else f"changed ({', '.join(changed)})"
    timeline.record(
        ret,
        "customer_row_saved",
        f"Customer row for {email} {what}",
        by=by,
        details={"email": email, "fields": changed, "created": created},
    )
    engine.evaluate(ret, by=by)
    return row
