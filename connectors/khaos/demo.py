"""Khaos's own data for the simulator, from the demo workspace's files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from connectors.khaos.simulator import KhaosState, Reason, state_from_documents

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "returns_hub" / "demo"


def _rows(name: str) -> list[dict]:
    with (DEMO_DIR / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def reason_sites() -> dict[str, int]:
    """Where Khaos puts stock back for each reason: the site the disposition table names."""
    sites: dict[str, int] = {}
    for row in _rows("disposition_mappings.csv"):
        sites.setdefault(row["khaos_return_reason_id"], int(row["site_id"]))
    return sites


def demo_state() -> KhaosState:
    sites = reason_sites()
    reasons = [Reason(row["id"], row["processing_type"], sites.get(row["id"], 1))
               for row in _rows("khaos_return_reasons.csv")]  # fmt: skip
    urns = {row["urn"] for row in _rows("customers.csv")}
    return state_from_documents(stock_upload(), stock_status(), urns, reasons)


def stock_upload() -> dict:
    return json.loads((DEMO_DIR / "stock_upload.json").read_text())


def stock_status() -> dict:
    return json.loads((DEMO_DIR / "stock_status_upload.json").read_text())
