"""The demo workspace's files (returns_hub/demo), as the simulators read them."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from connectors.base.simulator import Catalogue

DEMO_DIR = Path(__file__).resolve().parent.parent.parent / "returns_hub" / "demo"


def rows(name: str) -> list[dict]:
    with (DEMO_DIR / name).open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def document(name: str) -> dict:
    return json.loads((DEMO_DIR / name).read_text())


def catalogue(platform: str) -> Catalogue:
    """What the demo shop sells, to whom, and the platform's reasons and grades."""
    products = []
    for item in document("stock_upload.json")["Items"]:
        options = item.get("Options") or {}
        if options.get("Discontinued") or not options.get("StockControlled", True):
            continue
        gross = Decimal(str((item.get("SellPrice") or {}).get("Gross", "0"))).quantize(
            Decimal("0.01")
        )
        tax = (
            (gross / 6).quantize(Decimal("0.01"))
            if (item.get("TaxRate") or {}).get("ID") == "1"
            else Decimal("0.00")
        )
        barcodes = item.get("Barcodes") or [{}]
        products.append(
            (
                item["StockCode"],
                barcodes[0].get("Barcode", ""),
                item.get("ShortDescription", ""),
                gross - tax,
                tax,
            )
        )
    emails = [(row["email"], "Demo Customer") for row in rows("customers.csv")]
    reasons = [r["reason"] for r in rows("reason_mappings.csv") if r["platform"] == platform]
    grades = [
        r["disposition"]
        for r in rows("disposition_mappings.csv")
        if r["platform"] == platform and r["disposition"] not in ("keep_item", "donate")
    ]
    return Catalogue(products, emails, reasons, grades)
