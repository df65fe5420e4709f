"""A Khaos Control Cloud stand-in that talks to the hub's channel over real HTTP.

It behaves as Khaos does: reads the configuration file, polls the downloads
with ``Sirion-Continuation`` and retries, and checks every document it downloads
against the vendor's published property tables (``validation``: Required fields,
types, lengths, DataItem and Price shapes, DateTime format, no nulls, ApiVersion),
reading it with its own reader, never the hub's. A record with a problem is refused,
not imported, and kept in ``refusals`` with every reason (and in ``state.refused``),
for a user to retry by name (``SpecificIDs``); a document that cannot be read as a
whole is refused whole and polled again later. Fields Khaos ignores are noted in
``ignored``. Then Khaos's own data is checked (existing Stock Code, existing URN,
known return reason, unique AssociatedRef). It raises sales return (SR), credit note
(CN) and sales order (SO) codes, moves its own stock by each reason's processing
type, pushes stock status and order status back, and exports its credit notes as the
CSV finance downloads.

Faults to rehearse the bad days: ``lost_rate`` (an answer is lost and the poll
repeated with the old token), ``error_rate`` (the HTTP call fails and is
retried), ``slow_seconds`` (every call waits), ``repeat_pushes`` (each push is
sent again), ``import_failure_rate`` (a valid record fails to import for a moment, as
a lock or a timeout in Khaos does; it is kept as failed and imported when a user retries
it by name), and ``retry_failed`` (asks again for named failed imports). ``counts``
says how often each fault struck.
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

from connectors.khaos import formats, schema, validation

logger = logging.getLogger(__name__)
FIRST_CONTACT = "2019-12-31 12:00:00Z"
TAX_RATES = {"1": Decimal("0.20"), "2": Decimal("0")}


@dataclass
class Faults:
    lost_rate: float = 0.0
    error_rate: float = 0.0
    slow_seconds: float = 0.0
    repeat_pushes: int = 0
    import_failure_rate: float = 0.0
    seed: int = 7


@dataclass
class Product:
    stock_id: str
    stock_code: str
    tax_rate_id: str = "1"
    sell_price: dict | None = None  # the stock item's SellPrice, a Price: {"Gross": 59.0}


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
    # The original sales orders' prices Khaos holds: (order reference, Stock Code) → unit gross.
    order_prices: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    duplicates_refused: int = 0
    counters: dict[str, int] = field(default_factory=lambda: {"SR": 7000, "CN": 10400, "SO": 2100})

    def next_code(self, prefix: str) -> str:
        self.counters[prefix] += 1
        digits = 7 if prefix == "CN" else 5
        return f"{prefix}{self.counters[prefix]:0{digits}d}"


class RecordRefused(ValueError):
    pass


@dataclass
class Refusal:
    """A download Khaos did not import, and why (every problem found)."""

    endpoint: str  # CReturnDownload, OrderDownload, or config
    ref: str  # the record's AssociatedRef; "" when the whole document was refused
    problems: list[str]


class ConfigRefused(ValueError):
    """The channel's configuration file breaks the vendor's rules: Khaos cannot use it."""


# Each download: the continuation token it keeps, and where a record's AssociatedRef is.
DOWNLOAD_TOKENS = {"CReturnDownload": "returns", "OrderDownload": "orders"}


def _ref(record, endpoint: str) -> str:
    if not isinstance(record, dict):
        return ""
    holder = record if endpoint == "CReturnDownload" else record.get("Header")
    ref = holder.get("AssociatedRef") if isinstance(holder, dict) else None
    return ref.strip() if isinstance(ref, str) else ""


class KhaosSimulator:
    def __init__(
        self,
        base_url: str,
        slug: str,
        username: str,
        password: str,
        state: KhaosState,
        *,
        fmt: str = "JSON",
        faults: Faults | None = None,
        client: httpx.Client | None = None,
        source_reference_key: str = "SourceReference",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.slug = slug
        self.fmt = fmt
        # Which key this Khaos reads a returned item's order link under: the property
        # table's SourceReference, or the README examples' SourceReturnReference.
        self.source_reference_key = source_reference_key
        self.refusals: list[Refusal] = []  # every refusal, in order, with its reasons
        self.ignored: dict[str, list[str]] = {}  # AssociatedRef → fields Khaos ignored
        self.state = state
        self.faults = faults or Faults()
        self.random = random.Random(self.faults.seed)
        self.client = client or httpx.Client(timeout=30)
        self.auth = (username, password)
        self.urls: dict[str, str] = {}
        self.tokens: dict[str, str] = {"returns": FIRST_CONTACT, "orders": FIRST_CONTACT}
        self.failed: dict[str, set[str]] = {endpoint: set() for endpoint in DOWNLOAD_TOKENS}
        self._changed: set[str] = set()  # Stock Codes whose levels moved since the last push
        self._retrying = False  # a SpecificIDs download is being imported
        # How often each fault struck: lost answers, failed calls, transient import
        # failures, and records imported when retried by name.
        self.counts = {"lost": 0, "call_errors": 0, "import_failures": 0, "retried_imports": 0}

    # --- HTTP with Khaos's patience -----------------------------------------------

    def _call(self, method: str, url: str, **kwargs) -> httpx.Response:
        for attempt in range(6):
            if self.faults.slow_seconds:
                time.sleep(self.faults.slow_seconds)
            try:
                if self.random.random() < self.faults.error_rate:
                    self.counts["call_errors"] += 1
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
        response = self._call(
            "GET", f"{self.base_url}/khaos/{self.slug}/config", params={"format": self.fmt.lower()}
        )
        response.raise_for_status()
        result = validation.check_config(response.content, fmt=self.fmt)
        if not result.ok:
            self._refuse("config", "", result.messages)
            raise ConfigRefused(
                "Khaos cannot use the configuration file: " + "; ".join(result.messages)
            )
        self.urls = {
            name: entry["URL"]
            for name, entry in result.document.items()
            if isinstance(entry, dict) and "URL" in entry
        }
        return self.urls

    # --- downloads ----------------------------------------------------------------

    def _download(self, endpoint: str, specific: list[str] | None = None) -> list[tuple] | None:
        """One page, checked against the vendor's tables: (index, record, problems, ignored)
        for each record; [] when the document was refused whole; None when the answer was
        lost on the way (a fault)."""
        key = DOWNLOAD_TOKENS[endpoint]
        headers = {"Sirion-Continuation": self.tokens[key]}
        if specific:
            headers["SpecificIDs"] = '"' + ",".join(specific) + '"'
        response = self._call("GET", self.urls[endpoint], headers=headers)
        if response.status_code == 401:
            raise PermissionError("the hub refused the channel's credentials")
        response.raise_for_status()
        if not specific and self.random.random() < self.faults.lost_rate:
            self.counts["lost"] += 1
            return None  # the answer never arrived: the next poll repeats the old token
        result = validation.check_download(
            response.content, endpoint, fmt=self.fmt, source_reference_key=self.source_reference_key
        )
        _, list_key = validation.DOWNLOADS[endpoint]
        whole = [p.text for p in result.problems if p.record(list_key) is None]
        if whole:
            # Nothing in it is imported and the token is kept: Khaos asks for it again.
            self._refuse(endpoint, "", whole)
            return []
        self.state.refused.pop(f"{endpoint} document", None)
        if not specific:
            self.tokens[key] = response.headers.get("Sirion-Continuation", self.tokens[key])
        page = []
        for index, record in enumerate(validation.records(result, endpoint)):
            problems = [p.text for p in result.problems if p.record(list_key) == index]
            ignored = [p.text for p in result.ignored if p.record(list_key) == index]
            page.append((index, record, problems, ignored))
        return page

    def poll_returns(self, *, max_polls: int = 100) -> int:
        """Poll until a page comes back empty; returns how many were imported."""
        return self._poll("CReturnDownload", self._import_return, max_polls)

    def _poll(self, endpoint, importer, max_polls: int) -> int:
        imported = 0
        for _ in range(max_polls):
            page = self._download(endpoint)
            if page is None:
                continue  # lost: poll again with the token Khaos still holds
            if not page:
                break
            imported += sum(importer(*entry) for entry in page)
        return imported

    def poll_orders(self, *, max_polls: int = 100) -> int:
        return self._poll("OrderDownload", self._import_order, max_polls)

    def retry_failed(self) -> int:
        """A Khaos user retries the failed imports: SpecificIDs names them."""
        imported = 0
        for endpoint, importer in (
            ("CReturnDownload", self._import_return),
            ("OrderDownload", self._import_order),
        ):
            refs = sorted(self.failed[endpoint])
            if refs:
                page = self._download(endpoint, specific=refs) or []
                self._retrying = True
                try:
                    done = sum(importer(*entry) for entry in page)
                finally:
                    self._retrying = False
                self.counts["retried_imports"] += done
                imported += done
        return imported

    def _failed_for_now(self, endpoint: str, ref: str) -> bool:
        """The import_failure_rate fault: a valid record Khaos fails to import this once
        (kept as failed, for a retry by name). Never on a retry, so a retry succeeds."""
        if self._retrying or self.random.random() >= self.faults.import_failure_rate:
            return False
        self.counts["import_failures"] += 1
        self._refuse(endpoint, ref, ["could not import now (transient): try again"])
        return True

    # --- validation and import as Khaos does it ---------------------------------------

    def _refuse(self, endpoint: str, ref: str, problems: list[str], *, where: str = "") -> bool:
        """Record a refusal: under the record's ref (retried by name), else under ``where``
        (a record without a usable ref) or the endpoint (the whole document)."""
        self.refusals.append(Refusal(endpoint, ref, list(problems)))
        label = ref or where or f"{endpoint} document"
        self.state.refused[label] = "; ".join(problems)
        if ref and endpoint in self.failed:
            self.failed[endpoint].add(ref)
        logger.warning(
            "Khaos refused %s %s: %s",
            endpoint,
            label,
            "; ".join(problems),
            extra={"endpoint": endpoint, "ref": ref, "problems": problems},
        )
        return False

    def _checked(self, endpoint: str, index: int, record, problems, ignored) -> str | None:
        """The record's AssociatedRef when it may be imported; None when it is refused or
        is a second import of a ref (Khaos refuses those; counted)."""
        ref = _ref(record, endpoint)
        imported = self.state.returns if endpoint == "CReturnDownload" else self.state.orders
        if ref and ref in imported:
            self.state.duplicates_refused += 1
            return None
        if ignored:
            self.ignored[ref or f"{endpoint}[{index}]"] = ignored
            logger.warning(
                "Khaos ignored fields of %s: %s",
                ref,
                "; ".join(ignored),
                extra={"endpoint": endpoint, "ref": ref, "ignored": ignored},
            )
        if problems:
            self._refuse(endpoint, ref, problems, where=f"{endpoint} record {index}")
            return None
        return ref

    def _imported(self, endpoint: str, ref: str) -> None:
        self.failed[endpoint].discard(ref)
        self.state.refused.pop(ref, None)

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

    def _import_return(self, index: int, record, problems, ignored) -> bool:
        ref = self._checked("CReturnDownload", index, record, problems, ignored)
        if ref is None:
            return False
        try:
            if record["URN"] not in self.state.customers:
                raise RecordRefused(f"customer {record['URN']!r} does not exist")
            lines = []
            for item in record.get("ReturnedItems", []):
                product = self._check_item(item, reason_needed=True)
                lines.append(
                    (
                        item["SKU"],
                        int(Decimal(str(item["Quantity"]))),
                        str(item["ReturnReason"]["ID"]),
                        self._unit_gross(item, product),
                    )
                )
        except RecordRefused as exc:
            return self._refuse("CReturnDownload", ref, [str(exc)])
        if self._failed_for_now("CReturnDownload", ref):
            return False
        processed = record.get("ProcessReturn") is True
        sales_return = SalesReturn(self.state.next_code("SR"), ref, record["URN"], processed, lines)
        self.state.returns[ref] = sales_return
        self._imported("CReturnDownload", ref)
        if processed:
            self._process(sales_return, record["CreatedDate"][:10])
        return True

    def _unit_gross(self, item: dict, product: Product) -> Decimal:
        """The item's UnitPrice; without one (the table makes it optional) Khaos prices the
        line from the original order the item names, whose price the simulator knows from
        ``state.order_prices``, else stands in with the stock item's sell price."""
        if "UnitPrice" in item:
            return _gross(item["UnitPrice"], product)
        source = (item.get(self.source_reference_key) or {}).get("SourceOrder") or {}
        order = next(iter(source.values()), "")
        known = self.state.order_prices.get((str(order), product.stock_code))
        if known is not None:
            return known
        if product.sell_price:
            return _gross(product.sell_price, product)
        raise RecordRefused(f"{product.stock_code} has no UnitPrice and Khaos has no price for it")

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
        self.state.credit_notes.append(
            CreditNote(
                sales_return.credit_note,
                sales_return.code,
                sales_return.ref,
                f"{d}/{m}/{y}" if d else "",
                net,
                tax,
                gross,
            )
        )

    def _import_order(self, index: int, order, problems, ignored) -> bool:
        ref = self._checked("OrderDownload", index, order, problems, ignored)
        if ref is None:
            return False
        header = order["Header"]
        try:
            if order["Customer"].get("URN") not in self.state.customers:
                raise RecordRefused("customer does not exist")
            for item in order["Items"]:
                self._check_item(item, reason_needed=False)
        except RecordRefused as exc:
            return self._refuse("OrderDownload", ref, [str(exc)])
        if self._failed_for_now("OrderDownload", ref):
            return False
        site_id = header["Site"].get("ID", "")
        site = int(site_id) if site_id.isdigit() else 1
        self.state.orders[ref] = self.state.next_code("SO")
        self._imported("OrderDownload", ref)
        for item in order["Items"]:
            self.state.stock[(item["SKU"], site)] -= int(Decimal(str(item["Quantity"])))
            self._changed.add(item["SKU"])
        return True

    # --- pushes -------------------------------------------------------------------

    def _push(self, endpoint: str, document: dict, root: str) -> None:
        body = formats.to_xml(root, document) if self.fmt == "XML" else formats.to_json(document)
        kind = "application/xml" if self.fmt == "XML" else "application/json"
        for _ in range(1 + self.faults.repeat_pushes):
            response = self._call(
                "POST", self.urls[endpoint], content=body, headers={"Content-Type": kind}
            )
            if response.status_code != 200:
                raise RuntimeError(
                    f"the hub answered {response.status_code} to {endpoint}: {response.text[:300]}"
                )

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
                    statuses.append(
                        {
                            "StockCode": code,
                            "StockID": product.stock_id,
                            "SiteID": site,
                            "Levels": levels,
                        }
                    )
        for start in range(0, len(statuses), 100):
            self._push(
                "StockStatusUpload", {"Statuses": statuses[start : start + 100]}, "StockStatuses"
            )
        self._changed.difference_update(codes)
        return len(statuses)

    def push_order_status(self, status: str = "Received") -> int:
        statuses = [
            {
                "OrderCode": code,
                "OrderID": code[2:],
                "Status": status,
                "AssociatedRef": ref,
                "ChannelID": "1",
                "Shipments": [],
            }
            for ref, code in sorted(self.state.orders.items())
        ]
        for start in range(0, len(statuses), 100):
            self._push(
                "OrderStatusUpload",
                {"Statuses": statuses[start : start + 100]},
                schema.ORDER_STATUS_ROOT,
            )
        return len(statuses)

    def credit_note_csv(self) -> str:
        """The credit note export finance downloads: dd/mm/yyyy dates, CRLF lines."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            [
                "Credit Note Code",
                "Return Code",
                "Associated Ref",
                "Date",
                "Currency",
                "Net",
                "Tax",
                "Gross",
            ]
        )
        for note in self.state.credit_notes:
            writer.writerow(
                [
                    note.code,
                    note.return_code,
                    note.ref,
                    note.date,
                    note.currency,
                    note.net,
                    note.tax,
                    note.gross,
                ]
            )
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


def _gross(price: dict, product: Product) -> Decimal:
    """A Price as a unit gross: Gross as given, or Net plus the stock item's tax."""
    if "Gross" in price:
        return Decimal(str(price["Gross"]))
    rate = TAX_RATES.get(product.tax_rate_id, Decimal("0.20"))
    return (Decimal(str(price["Net"])) * (1 + rate)).quantize(Decimal("0.01"), ROUND_HALF_UP)


def state_from_documents(
    stock_upload: dict, stock_status: dict, urns: set[str], reasons: list[Reason]
) -> KhaosState:
    """Khaos's own data, from the same documents it pushes to the hub."""
    products = {
        str(i["StockID"]): Product(
            str(i["StockID"]),
            i["StockCode"],
            str((i.get("TaxRate") or {}).get("ID", "1")),
            i.get("SellPrice"),
        )
        for i in stock_upload.get("Items", [])
    }
    state = KhaosState(products=products, customers=set(urns), reasons={r.id: r for r in reasons})
    for status in stock_status.get("Statuses", []):
        levels = status.get("Levels")
        if levels:
            key = (status["StockCode"], int(status["SiteID"]))
            state.stock[key] = Decimal(str(levels.get("Available", 0)))
    return state
