"""/finance/ screens that change something (names fixed: the report screens link to them)."""

from django.urls import path

from reconciliation.views import actions

urlpatterns = [
    path("credit-notes/upload/", actions.upload_credit_notes, name="upload-credit-notes"),
    path("credit-notes/imports/<int:pk>/", actions.credit_note_import, name="credit-note-import"),
    path(
        "credit-notes/imports/<int:pk>/apply/",
        actions.apply_credit_note_import,
        name="apply-credit-note-import",
    ),
    path(
        "credit-notes/imports/<int:pk>/cancel/",
        actions.cancel_credit_note_import,
        name="cancel-credit-note-import",
    ),
    path("credit-notes/<str:code>/match/", actions.match_credit_note, name="match-credit-note"),
    path("differences/accept/", actions.accept_difference, name="accept-difference"),
    path("differences/reopen/", actions.reopen_difference, name="reopen-difference"),
    path("rules/", actions.rules, name="rules"),
    path("rules/add/", actions.rule_add, name="rule-add"),
    path("rules/apply/", actions.apply_rules_now, name="apply-rules"),
    path("rules/<int:pk>/", actions.rule_edit, name="rule-edit"),
    path("rules/<int:pk>/active/", actions.rule_active, name="rule-active"),
    path("rules/<int:pk>/move/", actions.rule_move, name="rule-move"),
    path("month-end-packs/", actions.month_end_packs, name="month-end-pack"),
    path("month-end-packs/<int:pk>/", actions.month_end_pack_status, name="month-end-pack-status"),
    path(
        "month-end-packs/<int:pk>/download/",
        actions.month_end_pack_download,
        name="month-end-pack-download",
    ),
]
