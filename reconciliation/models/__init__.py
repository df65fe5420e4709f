from reconciliation.models.credit_notes import CreditNote, CreditNoteImport, MatchMethod
from reconciliation.models.packs import MonthEndPack
from reconciliation.models.rules import Acceptance, ReconciliationRule

__all__ = [
    "Acceptance",
    "CreditNote",
    "CreditNoteImport",
    "MatchMethod",
    "MonthEndPack",
    "ReconciliationRule",
]
