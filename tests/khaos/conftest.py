"""Events and fixtures the Khaos tests share: the fixtures' exchanges, as the engine takes them,
and a document builder that breaks a Required field."""

import pytest

from tests.engine_events import exchange, opened, unit


def loop_exchange():
    """Loop's return 5002 (tests/fixtures/loop/04_…): a jumper exchanged for a size up."""
    return opened(
        "5002",
        [unit("9100201", "HF-KNT-MCR-NVY-M", "49.17", "9.83", outcome="exchange")],
        order="1002",
        email="tomasz.nowak@example.net",
        exchanges=[exchange("66012", "HF-KNT-MCR-NVY-L", "59.00")],
    )


def swap_exchange(rid="40012", order="1031"):
    """A Swap return of a dress exchanged for a size up: by default the fixtures' 40012
    (tests/fixtures/swap/01_…); another ``rid`` and ``order`` where that one is replayed too."""
    return opened(
        rid,
        [unit("1", "HF-DRS-WRP-SAG-10", "74.17", "14.83", outcome="exchange")],
        order=order,
        email="aisha.khan@example.com",
        exchanges=[exchange("1", "HF-DRS-WRP-SAG-12", "89.00")],
    )


@pytest.fixture
def returns_without_invoice_contact(monkeypatch):
    """Every customer return built from now on lacks its Required InvoiceContact."""
    from returns_hub.services import khaos_documents

    built = khaos_documents.customer_return

    def without_contact(*args, **kwargs):
        document = built(*args, **kwargs)
        del document["InvoiceContact"]
        return document

    monkeypatch.setattr(khaos_documents, "customer_return", without_contact)
