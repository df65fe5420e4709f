"""The permission matrix: which team may see and do what.

Groups are created by a migration and brought in line with this matrix after
every ``migrate``, so a new model's permissions reach the right teams.
Superusers may do everything.
"""

from __future__ import annotations

from returns_hub.choices import Team

RETURN_VIEWS = [
    "returns_hub.view_return",
    "returns_hub.view_returnunit",
    "returns_hub.view_exchangerequest",
    "returns_hub.view_timelineentry",
    "returns_hub.view_exceptioncase",
    "returns_hub.view_khaosproduct",
    "returns_hub.view_stocklevel",
    "returns_hub.view_khaosreturnreason",
]
MAPPING_MODELS = [
    "skumapping",
    "reasonmapping",
    "dispositionmapping",
    "customermapping",
    "khaosreturnreason",
]


def _crud(model: str, app: str = "returns_hub") -> list[str]:
    return [f"{app}.{action}_{model}" for action in ("view", "add", "change", "delete")]


# Every team saves its own list filters on the screens (and deletes only its own).
SAVED_FILTERS = _crud("savedfilter")

MATRIX: dict[str, list[str]] = {
    Team.FINANCE: [
        *RETURN_VIEWS,
        *SAVED_FILTERS,
        "returns_hub.view_posting",
        "returns_hub.view_storecreditliability",
        "returns_hub.approve_value",
        "returns_hub.resolve_exception",
        *[f"returns_hub.view_{model}" for model in MAPPING_MODELS],
        "reconciliation.view_creditnote",
        "reconciliation.add_creditnote",
        "reconciliation.view_creditnoteimport",
        "reconciliation.add_creditnoteimport",
        # Matching a credit note by hand.
        "reconciliation.change_creditnote",
        # Finance edits its own reconciliation rules and accepts (writes off) differences.
        *_crud("reconciliationrule", app="reconciliation"),
        "reconciliation.view_acceptance",
        "reconciliation.add_acceptance",
        "reconciliation.delete_acceptance",
        "reconciliation.view_monthendpack",
        "reconciliation.add_monthendpack",
    ],
    Team.WAREHOUSE: [
        *RETURN_VIEWS,
        *SAVED_FILTERS,
        "returns_hub.view_inboundshipment",
        "returns_hub.view_productbarcode",
        "returns_hub.view_dispositionmapping",
        "returns_hub.receive_unit",
        "returns_hub.grade_unit",
        "returns_hub.resolve_exception",
    ],
    Team.CX: [
        *RETURN_VIEWS,
        *SAVED_FILTERS,
        "returns_hub.view_posting",
        "returns_hub.view_storecreditliability",
        "returns_hub.view_customermapping",
        "returns_hub.add_customermapping",
        "returns_hub.change_customermapping",
        "returns_hub.resolve_exception",
    ],
    Team.DATA: [
        *RETURN_VIEWS,
        *SAVED_FILTERS,
        "returns_hub.view_posting",
        "returns_hub.view_inboundshipment",
        "returns_hub.view_storecreditliability",
        "returns_hub.view_productbarcode",
        "returns_hub.view_stockcodehistory",
        "returns_hub.view_inboxdelivery",
        "returns_hub.view_khaosupload",
        "returns_hub.retry_delivery",
        "returns_hub.view_platformconnection",
        "returns_hub.change_platformconnection",
        "returns_hub.view_khaoschannel",
        "returns_hub.view_writeback",
        "returns_hub.retry_writeback",
        "returns_hub.resolve_exception",
        *[perm for model in MAPPING_MODELS for perm in _crud(model)],
        # Per-team digest settings (who gets each team's daily email and chat summary).
        *_crud("teamdigest"),
    ],
}


def sync(apps, *, strict: bool = True) -> None:
    """Create the four groups and give each exactly the matrix's permissions.

    ``strict=False`` (inside a migration, before later migrations have made
    every model) grants what exists; the sync after ``migrate`` is strict.
    """
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    wanted = {perm for perms in MATRIX.values() for perm in perms}
    found = {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in permission_model.objects.select_related("content_type")
        if f"{perm.content_type.app_label}.{perm.codename}" in wanted
    }
    missing = wanted - set(found)
    if missing and strict:
        raise LookupError(f"permissions in the role matrix do not exist: {sorted(missing)}")
    for team, perms in MATRIX.items():
        group, _ = group_model.objects.get_or_create(name=team)
        group.permissions.set([found[perm] for perm in perms if perm in found])


def sync_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate: permissions now exist for every model, so the matrix can apply."""
    if apps is None:  # ``flush`` sends post_migrate without the migration state
        from django.apps import apps
    try:
        apps.get_model("reconciliation", "CreditNote")
        apps.get_model("returns_hub", "ExceptionCase")
    except LookupError:
        return  # a partial migrate (an app at an early state): nothing to sync yet
    sync(apps)
