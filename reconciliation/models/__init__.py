from reconciliation.models.credit_notes import CreditNote, CreditNoteImport, MatchMethod

__all__ = ["CreditNote", "CreditNoteImport", "MatchMethod"]
