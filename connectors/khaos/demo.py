"""Khaos's own data for the simulator, from the demo workspace's files."""

from __future__ import annotations

from connectors.base.demo import document
from connectors.base.demo import rows as _rows
from connectors.khaos.simulator import KhaosState, Reason, state_from_documents


def reason_sites() -> dict[str, int]:
    """Where Khaos puts stock back for each reason: the site the disposition table names."""
    sites: dict[str, int] = {}
    for row in _rows("disposition_mappings.csv"):
        sites.setdefault(row["khaos_return_reason_id"], int(row["site_id"]))
    return sites


def demo_state() -> KhaosState:
    sites = reason_sites()
    reasons = [
        Reason(row["id"], row["processing_type"], sites.get(row["id"], 1))
        for row in _rows("khaos_return_reasons.csv")
    ]
    urns = {row["urn"] for row in _rows("customers.csv")}
    return state_from_documents(stock_upload(), stock_status(), urns, reasons)


def stock_upload() -> dict:
    return document("stock_upload.json")


def stock_status() -> dict:
    return document("stock_status_upload.json")
