"""A Khaos Control Cloud stand-in that talks to the hub's channel over real HTTP.

It behaves as Khaos does: reads the configuration file, polls the downloads
with ``Sirion-Continuation`` and retries, validates every record as Khaos
would (existing Stock Code, existing URN, known return reason, unique
AssociatedRef, no nulls) and refuses what Khaos would refuse, raises sales
return (SR), credit note (CN) and sales order (SO) codes, moves its own stock
by each reason's processing type, pushes stock status and order status back,
and exports its credit notes as the CSV finance downloads.

Faults to rehearse the bad days: ``lost_rate`` (an answer is lost and the poll
repeated with the old token), ``error_rate`` (the HTTP call fails and is
retried), ``slow_seconds`` (every call waits), ``repeat_pushes`` (each push is
sent again), and ``retry_failed`` (asks again for named failed imports).
"""

from __future__ import annotations

import csv
import io
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

import httpx

from connectors.khaos import formats, schema

logger = logging.getLogger(__name__)
FIRST_CONTACT = "2019-12-31 12:00:00Z"
TAX_RATES = {"1": Decimal("0.20"), "2": Decimal("0")}


@dataclass
class Faults:
    lost_rate: float = 0.0
    error_rate: float = 0.0
    slow_seconds: float = 0.0
    repeat_pushes: int = 0
    seed: int = 7


@dataclass
class Product:
    stock_id: str
    stock_code: str
    tax_rate_id: str = "1"


@dataclass
class Reason:
    id: str
    processing_type: str  # return_to_stock or write_off
    site_id: int = 1  # where returned stock goes


@dataclass
class SalesReturn:
    code: str
    ref: str
    urn: str
    processed: bool
    lines: list[tuple[str, int, str, Decimal]]  # stock code, quantity, reason, unit gross
    credit_note: str = ""


@dataclass
class CreditNote:
    code: str
    return_code: str
    ref: str
    date: str
    net: Decimal
    tax: Decimal
    gross: Decimal
    currency: str = "GBP"


@dataclass
class KhaosState:
    products: dict[str, Product]
    customers: set[str]
    reasons: dict[str, Reason]
    stock: dict[tuple[str, int], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    returns: dict[str, SalesReturn] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # AssociatedRef → SO code
    credit_notes: list[CreditNote] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # AssociatedRef → why
    duplicates_refused: int = 0
    counters: dict[str, int] = field(default_factory=lambda: {"SR": 7000, "CN": 10400, "SO": 2100})

    def next_code(self, prefix: str) -> str:
        self.counters[prefix] += 1
        digits = 7 if prefix == "CN" else 5
        return f"{prefix}{self.counters[prefix]:0{digits}d}"


class RecordRefused(ValueError):
    pass


def _has_null(value) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False


class KhaosSimulator:
    def __init__(self, base_url: str, slug: str, username: str, password: str, state: KhaosState,
                 *, fmt: str = "JSON", faults: Faults | None = None,
                 client: httpx.Client | None = None) -> None:  # fmt: skip
        self.base_url = base_url.rstrip("/")
        self.slug = slug
        self.fmt = fmt
        self.state = state
        self.faults = faults or Faults()
        self.random = random.Random(self.faults.seed)
        self.client = client or httpx.Client(timeout=30)
        self.auth = (username, password)
        self.urls: dict[str, str] = {}
        self.tokens: dict[str, str] = {"returns": FIRST_CONTACT, "orders": FIRST_CONTACT}
        self.failed: set[str] = set()
        self._changed: set[str] = set()  # Stock Codes whose levels moved since the last push

    # --- HTTP with Khaos's patience -----------------------------------------------

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        for attempt in range(6):
            if self.faults.slow_seconds:
                time.sleep(self.faults.slow_seconds)
            try:
                if self.random.random() < self.faults.error_rate:
                    raise httpx.ConnectError("simulated network failure")
                response = self.client.request(method, url, auth=self.auth, **kwargs)
            except httpx.TransportError as exc:
                logger.info("Khaos call failed, retrying", extra={"url": url, "error": str(exc)})
                time.sleep(min(0.05 * 2**attempt, 1))
                continue
            if response.status_code >= 500:
                time.sleep(min(0.05 * 2**attempt, 1))
                continue
            return response
        raise RuntimeError(f"Khaos gave up on {method} {url}")

    def load_config(self) -> dict[str, str]:
        response = self._call("GET", f"{self.base_url}/khaos/{self.slug}/config",
                              params={"format": self.fmt.lower()})  # fmt: skip
        response.raise_for_status()
        document = formats.read(response.content, self.fmt)
        config = document.get("EndpointConfig", document)
        self.urls = {name: entry["URL"] for name, entry in config.items()}
        return self.urls

    # --- downloads ----------------------------------------------------------------

    def _download(
        self, endpoint: str, key: str, specific: list[str] | None = None
    ) -> list[dict] | None:
        """One page; None when the answer was lost on the way (a fault)."""
        headers = {"Sirion-Continuation": self.tokens[key]}
        if specific:
            headers["SpecificIDs"] = '"' + ",".join(specific) + '"'
        response = self._call("GET", self.urls[endpoint], headers=headers)
        if response.status_code == 401:
            raise PermissionError("the hub refused the channel's credentials")
        response.raise_for_status()
        if not specific and self.random.random() < self.faults.lost_rate:
            return None  # the answer never arrived: the next poll repeats the old token
        if not specific:
            self.tokens[key] = response.headers.get("Sirion-Continuation", self.tokens[key])
        document = formats.read(response.content, self.fmt)
        records = document.get("Returns" if key == "returns" else "Orders") or []
        return records if isinstance(records, list) else [records]

    def poll_returns(self, *, max_polls: int = 100) -> int:
        """Poll until a page comes back empty; returns how many were imported."""
        return self._poll("CReturnDownload", "returns", self._import_return, max_polls)

    def _poll(self, endpoint, key, importer, max_polls: int) -> int:
        imported = 0
        for _ in range(max_polls):
            page = self._download(endpoint, key)
            if page is None:
                continue  # lost: poll again with the token Khaos still holds
            if not page:
                break
            imported += sum(importer(record) for record in page)
        return imported

    def poll_orders(self, *, max_polls: int = 100) -> int:
        return self._poll("OrderDownload", "orders", self._import_order, max_polls)

    def retry_failed(self) -> int:
        """A Khaos user retries the failed imports: SpecificIDs names them."""
        refs = sorted(self.failed)
        if not refs:
            return 0
        page = self._download("CReturnDownload", "returns", specific=refs) or []
        return sum(self._import_return(record) for record in page)

    # --- validation and import as Khaos does it ---------------------------------------

    def _refuse(self, ref: str, why: str) -> bool:
        self.state.refused[ref] = why
        self.failed.add(ref)
        return False

    def _check_item(self, item: dict, *, reason_needed: bool) -> Product:
        code = item.get("SKU", "")
        product = next((p for p in self.state.products.values() if p.stock_code == code), None)
        if product is None:
            raise RecordRefused(f"Stock Code {code!r} does not exist")
        if (
            reason_needed
            and str((item.get("ReturnReason") or {}).get("ID")) not in self.state.reasons
        ):
            raise RecordRefused(f"return reason {item.get('ReturnReason')!r} is not known")
        return product

    def _import_return(self, record: dict) -> bool:
        ref = str(record.get("AssociatedRef") or "")
        if ref in self.state.returns:
            self.state.duplicates_refused += 1  # Khaos refuses a second import of a ref
            return False
        try:
            if _has_null(record):
                raise RecordRefused("a null value")
            if record.get("URN") not in self.state.customers:
                raise RecordRefused(f"customer {record.get('URN')!r} does not exist")
            lines = []
            for item in record.get("ReturnedItems") or []:
                self._check_item(item, reason_needed=True)
                source = (item.get("SourceReturnReference") or {}).get("SourceOrder") or {}
                if len(source) != 1:
                    raise RecordRefused("SourceOrder must name exactly one of its four keys")
                lines.append((item["SKU"], int(Decimal(str(item["Quantity"]))),
                              str(item["ReturnReason"]["ID"]),
                              Decimal(str(item["UnitPrice"]["Gross"]))))  # fmt: skip
        except RecordRefused as exc:
            return self._refuse(ref, str(exc))
        processed = str(record.get("ProcessReturn")).lower() == "true"
        sales_return = SalesReturn(self.state.next_code("SR"), ref, record["URN"], processed, lines)
        self.state.returns[ref] = sales_return
        self.failed.discard(ref)
        self.state.refused.pop(ref, None)
        if processed:
            self._process(sales_return, str(record.get("CreatedDate", ""))[:10])
        return True

    def _process(self, sales_return: SalesReturn, date: str) -> None:
        """Raise the credit note and move stock by each reason's processing type."""
        net = tax = gross = Decimal("0")
        for code, quantity, reason_id, unit_gross in sales_return.lines:
            product = next(p for p in self.state.products.values() if p.stock_code == code)
            line_gross = unit_gross * quantity
            rate = TAX_RATES.get(product.tax_rate_id, Decimal("0.20"))
            line_net = (line_gross / (1 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)
            net, tax, gross = net + line_net, tax + line_gross - line_net, gross + line_gross
            reason = self.state.reasons[reason_id]
            if reason.processing_type == "return_to_stock":
                self.state.stock[(code, reason.site_id)] += quantity
                self._changed.add(code)
        sales_return.credit_note = self.state.next_code("CN")
        y, m, d = [*date.split("-"), "", "", ""][:3]
        self.state.credit_notes.append(CreditNote(
            sales_return.credit_note, sales_return.code, sales_return.ref,
            f"{d}/{m}/{y}" if d else "", net, tax, gross,
        ))  # fmt: skip

    def _import_order(self, order: dict) -> bool:
        header = order.get("Header") or {}
        ref = str(header.get("AssociatedRef") or "")
        if ref in self.state.orders:
            self.state.duplicates_refused += 1
            return False
        try:
            if _has_null(order):
                raise RecordRefused("a null value")
            if (order.get("Customer") or {}).get("URN") not in self.state.customers:
                raise RecordRefused("customer does not exist")
            site = int((header.get("Site") or {}).get("ID", 1))
            for item in order.get("Items") or []:
                self._check_item(item, reason_needed=False)
        except RecordRefused as exc:
            return self._refuse(ref, str(exc))
        self.state.orders[ref] = self.state.next_code("SO")
        for item in order.get("Items") or []:
            self.state.stock[(item["SKU"], site)] -= int(Decimal(str(item["Quantity"])))
            self._changed.add(item["SKU"])
        return True

    # --- pushes -------------------------------------------------------------------

    def _push(self, endpoint: str, document: dict, root: str) -> None:
        body = formats.to_xml(root, document) if self.fmt == "XML" else formats.to_json(document)
        kind = "application/xml" if self.fmt == "XML" else "application/json"
        for _ in range(1 + self.faults.repeat_pushes):
            response = self._call("POST", self.urls[endpoint], content=body,
                                  headers={"Content-Type": kind})  # fmt: skip
            if response.status_code != 200:
                raise RuntimeError(f"the hub answered {response.status_code} to {endpoint}: "
                                   f"{response.text[:300]}")  # fmt: skip

    def push_stock(self, items: list[dict], deleted: list[str] = ()) -> None:
        document = {"Items": items, "Deleted": [{"StockID": i} for i in deleted]}
        self._push("StockUpload", document, "StockItems")

    def push_stock_status(self, codes: set[str] | None = None) -> int:
        """0-100 statuses a call, as Khaos sends them."""
        codes = set(self._changed) if codes is None else codes
        statuses = []
        for code in sorted(codes):
            product = next((p for p in self.state.products.values() if p.stock_code == code), None)
            if product is None:
                continue
            for (stock_code, site), level in sorted(self.state.stock.items()):
                if stock_code == code:
                    levels = {"Available": level, "OnOrder": Decimal("0")}
                    statuses.append({"StockCode": code, "StockID": product.stock_id,
                                     "SiteID": site, "Levels": levels})  # fmt: skip
        for start in range(0, len(statuses), 100):
            self._push("StockStatusUpload", {"Statuses": statuses[start : start + 100]},
                       "StockStatuses")  # fmt: skip
        self._changed.difference_update(codes)
        return len(statuses)

    def push_order_status(self, status: str = "Received") -> int:
        statuses = [{"OrderCode": code, "OrderID": code[2:], "Status": status,
                     "AssociatedRef": ref, "ChannelID": "1", "Shipments": []}
                    for ref, code in sorted(self.state.orders.items())]  # fmt: skip
        for start in range(0, len(statuses), 100):
            self._push("OrderStatusUpload", {"Statuses": statuses[start : start + 100]},
                       schema.ORDER_STATUS_ROOT)  # fmt: skip
        return len(statuses)

    def credit_note_csv(self) -> str:
        """The credit note export finance downloads: dd/mm/yyyy dates, CRLF lines."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["Credit Note Code", "Return Code", "Associated Ref", "Date", "Currency",
                         "Net", "Tax", "Gross"])  # fmt: skip
        for note in self.state.credit_notes:
            writer.writerow([note.code, note.return_code, note.ref, note.date, note.currency,
                             note.net, note.tax, note.gross])  # fmt: skip
        return out.getvalue()

    def run_once(self) -> dict:
        """One cycle of Khaos's timers."""
        if not self.urls:
            self.load_config()
        result = {"returns": self.poll_returns(), "orders": self.poll_orders()}
        result["retried"] = self.retry_failed()
        result["stock_statuses"] = self.push_stock_status()
        result["order_statuses"] = self.push_order_status()
        return result


def state_from_documents(stock_upload: dict, stock_status: dict, urns: set[str],
                         reasons: list[Reason]) -> KhaosState:  # fmt: skip
    """Khaos's own data, from the same documents it pushes to the hub."""
    products = {
        str(i["StockID"]): Product(str(i["StockID"]), i["StockCode"],
                                   str((i.get("TaxRate") or {}).get("ID", "1")))
        for i in stock_upload.get("Items", [])
    }  # fmt: skip
    state = KhaosState(products=products, customers=set(urns),
                       reasons={r.id: r for r in reasons})  # fmt: skip
    for status in stock_status.get("Statuses", []):
        levels = status.get("Levels")
        if levels:
            key = (status["StockCode"], int(status["SiteID"]))
            state.stock[key] = Decimal(str(levels.get("Available", 0)))
    return state
