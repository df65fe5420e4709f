"""The teams' screens with a million returns stored: every list page, beside its goal and
beside a raw keyset query of the same page (the ceiling), and the one-record pages.

Run by `make bench` against its own database (HUB_DB_NAME=returns_hub_bench), after
`generate_returns --until 1000000`:

    python -m benchmarks.screens             # BENCH_SCREENS_RUNS=20
    python -m benchmarks.screens --explain   # EXPLAIN (ANALYZE, BUFFERS) each page's queries

Generated returns are all graded and posted: nothing waits in the warehouse, nothing is
held, and the mapping tables hold the demo's few rows. The first run adds, once and in
bulk, what each screen shows on a working day (``build``): 10,000 returns on their way
(20,000 units, expected or in transit, 2,000 of them on five Happy Returns pallets),
20,000 open exceptions of every kind, owner and age (a few assigned, a few on a connection
only), 100,000 SKU and 100,000 customer mapping rows, 10,000 reason and disposition rows,
and one big return (24 units, 200 timeline entries, its cases and liabilities). Each part
is made once: its marker rows say it is there.

Figures are server time, in process (the test client's request, logged in as the team's
user), p50 and p95 after a warm-up; a page passes when its median is within its goal. The
ceiling is the hand-written SQL of the same page: the same filter and joins, ``ORDER BY
… LIMIT 51`` on the same index. A page far above its ceiling spends its time in Python
(filters, the table, the template), not in PostgreSQL.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote, urlencode

import django
from django.apps import apps

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
if not apps.ready:
    django.setup()

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection as db
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from benchmarks import report
from benchmarks.reconciliation import Figure, NotBuilt, recorder
from returns_hub.choices import (
    EXCEPTION_OWNERS,
    Cause,
    ExceptionKind,
    ExceptionStatus,
    LiabilityKind,
    ReturnState,
    StockAction,
    Team,
    UnitState,
)
from returns_hub.models import (
    CustomerMapping,
    DispositionMapping,
    ExceptionCase,
    InboundShipment,
    KhaosReturnReason,
    PlatformConnection,
    ReasonMapping,
    Return,
    ReturnUnit,
    SkuMapping,
    StoreCreditLiability,
    TimelineEntry,
)

PAGE_GOAL_MS = 100
RUNS = int(os.environ.get("BENCH_SCREENS_RUNS", "20"))
WARMUP = 3
PAGE = 51  # a keyset page reads one row more than it shows, to know there is a next one
MARK = "BENCHSCR"  # the external ids, references and keys of what this benchmark made
ON_THEIR_WAY = 10_000  # returns, two units each
PALLETS = 5
PALLET_UNITS = 400
OPEN_EXCEPTIONS = 20_000
MAPPING_ROWS = 100_000
SMALL_MAPPING_ROWS = 10_000
BIG_RETURN_UNITS = 24
BIG_RETURN_ENTRIES = 200
PLATFORMS = ["loop", "happy-returns", "reveni", "swap", "rebound"]
# Open exceptions by kind, relative: unknown SKUs and value mismatches dominate.
KIND_WEIGHTS = {
    ExceptionKind.UNKNOWN_SKU: 6,
    ExceptionKind.VALUE_MISMATCH: 5,
    ExceptionKind.UNITS_NOT_ARRIVED: 3,
    ExceptionKind.UNKNOWN_CUSTOMER: 3,
    ExceptionKind.INCOMPLETE_ADDRESS: 2,
    ExceptionKind.UNMAPPED_DISPOSITION: 2,
    ExceptionKind.SETTLEMENT_MISSING: 2,
}


def _say(text: str) -> None:
    print(text, flush=True)


def _table(model) -> str:
    return model._meta.db_table


# The data -----------------------------------------------------------------------------


@dataclass
class Fixture:
    """What the measured URLs name: made by ``build``, found again on a second run."""

    big_return: int
    pallet: str
    case: int
    order_ref: str
    email: str
    rare_email: str
    associated_ref: str
    scan_code: str
    sku: str
    customer_email: str
    made: dict[str, int] = field(default_factory=dict)


def users() -> dict[str, object]:
    """One user per team, in the team's group (its permissions come from the role matrix)."""
    found = {}
    model = get_user_model()
    for team in Team.values:
        user, made = model.objects.get_or_create(
            username=f"bench-screens-{team}", defaults={"email": f"{team}@bench.example.com"}
        )
        if made:
            user.groups.add(Group.objects.get(name=team))
        found[team] = user
    return found


def _on_their_way(connections: list[PlatformConnection]) -> int:
    """Returns announced or on their way, two units each; some on Happy Returns pallets."""
    if Return.objects.filter(external_id=f"{MARK}{0:07d}").exists():
        return 0
    hr = next(c for c in connections if c.platform == "happy-returns")
    pallets = InboundShipment.objects.bulk_create(
        InboundShipment(
            connection=hr,
            reference=f"PAL-{MARK}-{n}",
            carrier="DHL Freight",
            tracking=f"DHLF{n:08d}",
            departed_at=timezone.now() - timedelta(days=2),
        )
        for n in range(1, PALLETS + 1)
    )
    returns = Return.objects.bulk_create(
        (
            Return(
                connection=hr if n % 2 == 0 else connections[n % len(connections)],
                external_id=f"{MARK}{n:07d}",
                associated_ref=f"BS-{MARK}{n:07d}",
                order_ref=str(7_000_000 + n),
                customer_email=f"bench.customer{n % MAPPING_ROWS:06d}@example.org",
                customer_name="Bench Customer",
                currency="GBP",
                state=ReturnState.IN_TRANSIT if n % 3 else ReturnState.EXPECTED,
                label_tracking=f"1ZBENCH{n:08d}",
            )
            for n in range(ON_THEIR_WAY)
        ),
        batch_size=5000,
    )
    units, on_pallets = [], 0
    for n, ret in enumerate(returns):
        for line in (1, 2):
            pallet = None
            state = UnitState.IN_TRANSIT if n % 3 else UnitState.EXPECTED
            if ret.connection_id == hr.pk and on_pallets < PALLETS * PALLET_UNITS:
                pallet = pallets[on_pallets // PALLET_UNITS]
                # A pallet half unloaded: some checked off, a few never coming.
                state = (UnitState.IN_TRANSIT, UnitState.RECEIVED, UnitState.CANCELLED)[
                    0 if on_pallets % 20 < 12 else 1 if on_pallets % 20 < 19 else 2
                ]
                on_pallets += 1
            units.append(
                ReturnUnit(
                    return_ref=ret,
                    external_id=str(line),
                    platform_sku=f"BSKU-{(n * 2 + line) % 500:04d}",
                    barcode=f"50{n:09d}{line}",
                    title=f"Bench item {line}",
                    price=Decimal("24.99"),
                    reason="Too small",
                    outcome="refund",
                    state=state,
                    shipment=pallet,
                )
            )
    ReturnUnit.objects.bulk_create(units, batch_size=5000)
    return len(returns)


def _open_exceptions(connections: list[PlatformConnection], owners: dict) -> int:
    """Open cases of mixed kinds, owners and ages (up to 90 days), on returns spread over
    the whole table; one in fifty names only a connection (a failed poll)."""
    if ExceptionCase.objects.filter(cause_key=f"{MARK}:0").exists():
        return 0
    kinds = [kind for kind, weight in KIND_WEIGHTS.items() for _ in range(weight)]
    with db.cursor() as cursor:  # returns spread evenly over the whole table
        cursor.execute(
            f"SELECT id FROM (SELECT id, row_number() OVER (ORDER BY id) AS n "
            f"FROM {_table(Return)}) spread WHERE n %% GREATEST(1, (SELECT count(*) "
            f"FROM {_table(Return)}) / %s) = 0 ORDER BY id LIMIT %s",
            [OPEN_EXCEPTIONS, OPEN_EXCEPTIONS],
        )
        spread = [pk for (pk,) in cursor.fetchall()]
    cases = []
    for n in range(OPEN_EXCEPTIONS):
        kind = kinds[n % len(kinds)]
        owner = EXCEPTION_OWNERS[kind]
        lonely = n % 50 == 49
        if lonely:
            kind, owner = ExceptionKind.PLATFORM_UNREACHABLE, Team.DATA
        cases.append(
            ExceptionCase(
                kind=kind,
                owner=owner,
                status=ExceptionStatus.OPEN,
                cause_key=f"{MARK}:{n}",
                return_ref_id=None if lonely else spread[n % len(spread)],
                connection=connections[n % len(connections)],
                message=f"Bench case {n}: {ExceptionKind(kind).label}",
                details={"sku": f"BSKU-{n % 500:04d}", "email": f"c{n}@example.org"},
                assignee=owners.get(owner) if n % 7 == 0 else None,
            )
        )
    with transaction.atomic():
        ExceptionCase.objects.bulk_create(cases, batch_size=5000)
        with db.cursor() as cursor:  # ages: the case number's hours, up to 90 days back
            cursor.execute(
                f"UPDATE {_table(ExceptionCase)} SET created_at = now() - "
                "make_interval(hours => (split_part(cause_key, ':', 2)::int * 7) %% 2160) "
                "WHERE cause_key LIKE %s",
                [f"{MARK}:%"],
            )
    return len(cases)


def _mappings() -> dict[str, int]:
    made = {}
    if not SkuMapping.objects.filter(platform_sku=f"{MARK}-{0:06d}").exists():
        SkuMapping.objects.bulk_create(
            (
                SkuMapping(
                    platform=PLATFORMS[n % 5],
                    platform_sku=f"{MARK}-{n:06d}",
                    stock_code=f"BHF-{n:06d}",
                )
                for n in range(MAPPING_ROWS)
            ),
            batch_size=10_000,
            ignore_conflicts=True,
        )
        made["SKU mappings"] = MAPPING_ROWS
    if not CustomerMapping.objects.filter(email="bench.customer000000@example.org").exists():
        CustomerMapping.objects.bulk_create(
            (
                CustomerMapping(
                    email=f"bench.customer{n:06d}@example.org",
                    urn=f"BW{n:06d}",
                    name=f"Bench Customer {n}",
                    line1=f"{n % 300} High Street",
                    town="Leeds",
                    postcode="LS1 4AP",
                    country="GB",
                )
                for n in range(MAPPING_ROWS)
            ),
            batch_size=10_000,
            ignore_conflicts=True,
        )
        made["customer mappings"] = MAPPING_ROWS
    reason = KhaosReturnReason.objects.order_by("pk").first()
    if reason is None:
        return made
    if not ReasonMapping.objects.filter(reason=f"{MARK} reason {0:05d}").exists():
        ReasonMapping.objects.bulk_create(
            (
                ReasonMapping(
                    platform=PLATFORMS[n % 5],
                    reason=f"{MARK} reason {n:05d}",
                    khaos_return_reason=reason,
                )
                for n in range(SMALL_MAPPING_ROWS)
            ),
            batch_size=10_000,
            ignore_conflicts=True,
        )
        made["reason mappings"] = SMALL_MAPPING_ROWS
    if not DispositionMapping.objects.filter(disposition=f"{MARK}-{0:05d}").exists():
        DispositionMapping.objects.bulk_create(
            (
                DispositionMapping(
                    platform=PLATFORMS[n % 5],
                    disposition=f"{MARK}-{n:05d}",
                    stock_action=StockAction.QUARANTINE,
                    khaos_return_reason=reason,
                    site_id=1,
                )
                for n in range(SMALL_MAPPING_ROWS)
            ),
            batch_size=10_000,
            ignore_conflicts=True,
        )
        made["disposition mappings"] = SMALL_MAPPING_ROWS
    return made


def _big_return() -> tuple[int, int]:
    """A generated return made big: many units, a long timeline, cases and liabilities.
    Returns its id and how many timeline entries were added (none on a second run)."""
    ret = Return.objects.exclude(external_id__startswith=MARK).order_by("pk").first()
    if TimelineEntry.objects.filter(return_ref=ret, event_key=f"{MARK}:0").exists():
        return ret.pk, 0
    ReturnUnit.objects.bulk_create(
        ReturnUnit(
            return_ref=ret,
            external_id=f"{MARK}-{n}",
            platform_sku=f"BSKU-{n:04d}",
            title=f"Bench item {n}",
            price=Decimal("19.99"),
            state=UnitState.GRADED,
            condition="A",
            disposition="restock",
        )
        for n in range(BIG_RETURN_UNITS)
    )
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            return_ref=ret,
            kind="unit_state_changed" if n % 3 else "platform_units_received",
            from_state="in_transit",
            to_state="received",
            message=f"Unit {n}: in_transit → received",
            cause=(Cause.PLATFORM, Cause.TASK, Cause.USER)[n % 3],
            event_key=f"{MARK}:{n}",
        )
        for n in range(BIG_RETURN_ENTRIES)
    )
    ExceptionCase.objects.bulk_create(
        ExceptionCase(
            kind=kind,
            owner=EXCEPTION_OWNERS[kind],
            status=status,
            cause_key=f"{MARK}:big:{kind}",
            return_ref=ret,
            message=f"Bench: {ExceptionKind(kind).label}",
        )
        for kind, status in (
            (ExceptionKind.VALUE_MISMATCH, ExceptionStatus.OPEN),
            (ExceptionKind.UNKNOWN_SKU, ExceptionStatus.RESOLVED),
            (ExceptionKind.INCOMPLETE_ADDRESS, ExceptionStatus.RESOLVED),
        )
    )
    StoreCreditLiability.objects.bulk_create(
        StoreCreditLiability(
            return_ref=ret,
            kind=LiabilityKind.STORE_CREDIT,
            reference=f"{MARK}-SC-{n}",
            amount=Decimal("10.00"),
            currency=ret.currency,
        )
        for n in range(2)
    )
    return ret.pk, BIG_RETURN_ENTRIES


def build() -> Fixture:
    """Make (once) what the screens show, and find what the measured URLs name."""
    connections = list(PlatformConnection.objects.order_by("pk"))
    team_users = users()
    made: dict[str, int] = {}
    with transaction.atomic():
        if count := _on_their_way(connections):
            made["returns on their way (2 units each)"] = count
            made["pallets"] = PALLETS
    if count := _open_exceptions(connections, team_users):
        made["open exceptions"] = count
    with transaction.atomic():
        made |= _mappings()
        big, entries = _big_return()
    if entries:
        made["timeline entries on the big return"] = entries
    if made:
        with db.cursor() as cursor:
            for model in (
                Return,
                ReturnUnit,
                InboundShipment,
                ExceptionCase,
                SkuMapping,
                CustomerMapping,
                ReasonMapping,
                DispositionMapping,
                TimelineEntry,
            ):
                cursor.execute(f"ANALYZE {_table(model)}")
    emails = (
        Return.objects.exclude(customer_email="")
        .exclude(external_id__startswith=MARK)
        .order_by("pk")
    )
    common = emails.values_list("customer_email", flat=True)[:1][0]
    rare = (
        emails.exclude(customer_email=common)
        .order_by("-pk")
        .values_list("customer_email", flat=True)[:1][0]
    )
    middle = Return.objects.filter(pk__gte=Return.objects.count() // 2).order_by("pk").first()
    return Fixture(
        big_return=big,
        pallet=f"PAL-{MARK}-1",
        case=ExceptionCase.objects.filter(cause_key=f"{MARK}:{OPEN_EXCEPTIONS // 2}").get().pk,
        order_ref=middle.order_ref,
        email=common,
        rare_email=rare,
        associated_ref=middle.associated_ref,
        scan_code=f"1ZBENCH{ON_THEIR_WAY // 3:08d}",
        sku=f"BSKU-{123:04d}",
        customer_email="bench.customer042424@example.org",
        made=made,
    )


# The ceilings: each list page's own SQL, by hand -----------------------------------------


def _ceiling(sql: str, params: list) -> Callable[[], list]:
    def run():
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return run


def _units_sql(where: str = "", join: str = "") -> str:
    unit, ret = _table(ReturnUnit), _table(Return)
    conn, ship = _table(PlatformConnection), _table(InboundShipment)
    return (
        f"SELECT u.*, r.*, c.*, s.* FROM {unit} u JOIN {ret} r ON r.id = u.return_ref_id "
        f"JOIN {conn} c ON c.id = r.connection_id LEFT JOIN {ship} s ON s.id = u.shipment_id "
        f"{join} WHERE u.state IN ('expected', 'in_transit') {where} "
        f"ORDER BY u.id DESC LIMIT {PAGE}"
    )


def _cases_sql(where: str = "", order: str = "e.id") -> str:
    case, ret, conn = _table(ExceptionCase), _table(Return), _table(PlatformConnection)
    users_table = get_user_model()._meta.db_table
    return (
        f"SELECT e.*, r.*, rc.*, c.*, a.* FROM {case} e "
        f"LEFT JOIN {ret} r ON r.id = e.return_ref_id "
        f"LEFT JOIN {conn} rc ON rc.id = r.connection_id "
        f"LEFT JOIN {conn} c ON c.id = e.connection_id "
        f"LEFT JOIN {users_table} a ON a.id = e.assignee_id "
        f"WHERE e.status = 'open' {where} ORDER BY {order} LIMIT {PAGE}"
    )


def _lookup_sql() -> str:
    ret, conn, case = _table(Return), _table(PlatformConnection), _table(ExceptionCase)
    return (
        f"SELECT r.*, c.*, (SELECT count(*) FROM {case} e WHERE e.return_ref_id = r.id "
        f"AND e.status = 'open') FROM {ret} r JOIN {conn} c ON c.id = r.connection_id "
        "WHERE r.order_ref = %(q)s OR r.external_id = %(q)s OR r.associated_ref = %(q)s "
        f"OR r.customer_email = %(q)s ORDER BY r.id DESC LIMIT {PAGE}"
    )


# Measuring ----------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client(SERVER_NAME="localhost")
    client.force_login(user)
    return client


def _get(client: Client, url: str, expect: tuple[int, ...] = (200,)) -> Callable[[], object]:
    def call():
        response = client.get(url)
        if response.status_code == 404:
            raise NotBuilt(url)
        if response.status_code not in expect:
            raise AssertionError(f"{url} answered {response.status_code}")
        return response

    return call


def _deep_unit(platform: str | None = None) -> str | None:
    """The /warehouse/ cursor nine tenths into the units on their way."""
    units = ReturnUnit.objects.filter(state__in=(UnitState.EXPECTED, UnitState.IN_TRANSIT))
    if platform:
        units = units.filter(return_ref__connection__platform=platform)
    count = units.count()
    if count < 2:
        return None
    return str(units.order_by("-pk").values_list("pk", flat=True)[count * 9 // 10 - 1])


def _deep_case(owner: str) -> str | None:
    cases = ExceptionCase.objects.filter(status=ExceptionStatus.OPEN, owner=owner)
    count = cases.count()
    if count < 2:
        return None
    return str(cases.order_by("pk").values_list("pk", flat=True)[count * 9 // 10 - 1])


def _cx(query: dict) -> str:
    return "/cx/?" + urlencode(query)


def pages(fixture: Fixture) -> list[tuple[str, str, str | None, Callable | None]]:
    """(team, URL, what it shows, its ceiling or None) for every measured page."""
    deep_unit = _deep_unit()
    deep_case = _deep_case(Team.DATA)
    hr = "happy-returns"
    hr_conns = list(
        PlatformConnection.objects.filter(platform=hr).values_list("pk", flat=True)
    ) or [0]
    older = timezone.now() - timedelta(days=30)
    return [
        ("data", "/", "dashboard", None),
        ("finance", f"/returns/{fixture.big_return}/", "the big return", None),
        ("warehouse", "/warehouse/", "expected goods-in", _ceiling(_units_sql(), [])),
        (
            "warehouse",
            f"/warehouse/?platform={hr}",
            "expected goods-in, one platform",
            _ceiling(_units_sql("AND c.platform = %s"), [hr]),
        ),
        (
            "warehouse",
            f"/warehouse/?after={deep_unit}~{deep_unit}" if deep_unit else "/warehouse/",
            "expected goods-in, 9/10 in",
            _ceiling(_units_sql("AND u.id < %s"), [int(deep_unit or 0)]),
        ),
        ("warehouse", f"/warehouse/scan/?code={fixture.scan_code}", "scan a label", None),
        ("warehouse", f"/warehouse/scan/?code={fixture.sku}", "scan a SKU", None),
        ("warehouse", f"/warehouse/pallets/{fixture.pallet}/", "a pallet", None),
        (
            "data",
            "/exceptions/",
            "the data team's open cases",
            _ceiling(_cases_sql("AND e.owner = %s"), [Team.DATA]),
        ),
        (
            "data",
            "/exceptions/?owner=all&kind=unknown_sku",
            "every team's unknown SKUs",
            _ceiling(_cases_sql("AND e.kind = %s"), [ExceptionKind.UNKNOWN_SKU]),
        ),
        (
            "data",
            "/exceptions/?owner=all&older_than=30",
            "every team's cases over 30 days old",
            _ceiling(_cases_sql("AND e.created_at < %s"), [older]),
        ),
        (
            "data",
            f"/exceptions/?owner=all&platform={hr}",
            "every team's Happy Returns cases",
            _ceiling(
                _cases_sql("AND (r.connection_id = ANY(%s) OR e.connection_id = ANY(%s))"),
                [hr_conns, hr_conns],
            ),
        ),
        (
            "data",
            f"/exceptions/?after={deep_case}~{deep_case}" if deep_case else "/exceptions/",
            "the data team's open cases, 9/10 in",
            _ceiling(
                _cases_sql("AND e.owner = %s AND e.id > %s"), [Team.DATA, int(deep_case or 0)]
            ),
        ),
        ("finance", f"/exceptions/{fixture.case}/", "one case", None),
        (
            "cx",
            _cx({"q": fixture.order_ref}),
            "lookup by order number",
            _ceiling(_lookup_sql(), {"q": fixture.order_ref}),
        ),
        (
            "cx",
            _cx({"q": fixture.email}),
            "lookup by email (55,000 returns)",
            _ceiling(_lookup_sql(), {"q": fixture.email}),
        ),
        (
            "cx",
            _cx({"q": fixture.rare_email}),
            "lookup by email (one customer's few)",
            _ceiling(_lookup_sql(), {"q": fixture.rare_email}),
        ),
        (
            "cx",
            _cx({"q": fixture.associated_ref}),
            "lookup by AssociatedRef",
            _ceiling(_lookup_sql(), {"q": fixture.associated_ref}),
        ),
        ("cx", f"/cx/returns/{fixture.big_return}/", "the big return, for CX", None),
        (
            "data",
            f"/mappings/skus/?q={MARK}-042424",
            "SKU search, exact",
            _ceiling(
                f"SELECT * FROM {_table(SkuMapping)} WHERE platform_sku LIKE %s "
                f"OR stock_code LIKE %s ORDER BY stock_code, id LIMIT {PAGE}",
                [f"{MARK}-042424%", f"{MARK}-042424%"],
            ),
        ),
        (
            "data",
            f"/mappings/skus/?q={MARK}-04242",
            "SKU search, prefix",
            _ceiling(
                f"SELECT * FROM {_table(SkuMapping)} WHERE platform_sku LIKE %s "
                f"OR stock_code LIKE %s ORDER BY stock_code, id LIMIT {PAGE}",
                [f"{MARK}-04242%", f"{MARK}-04242%"],
            ),
        ),
        (
            "data",
            "/mappings/skus/?q=BHF-04242",
            "SKU search, Stock Code prefix",
            None,
        ),
        (
            "data",
            "/mappings/customers/?q=" + quote(fixture.customer_email),
            "customer search, email",
            _ceiling(
                f"SELECT * FROM {_table(CustomerMapping)} WHERE email LIKE %s "
                f"OR urn LIKE %s ORDER BY email, id LIMIT {PAGE}",
                [f"{fixture.customer_email}%", f"{fixture.customer_email}%"],
            ),
        ),
        ("data", "/mappings/customers/?q=BW04242", "customer search, URN prefix", None),
        ("data", f"/mappings/reasons/?q={MARK}+reason+0424", "reason search, prefix", None),
        ("data", f"/mappings/dispositions/?q={MARK}-0424", "disposition search, prefix", None),
        ("data", "/connections/", "connections and channel", None),
    ]


def measure(fixture: Fixture, *, runs: int = RUNS, warmup: int = WARMUP, out=_say) -> list[Figure]:
    """Every page and its ceiling, printed as measured."""
    team_users = users()
    clients = {team: _client(user) for team, user in team_users.items()}
    figures: list[Figure] = []

    record = recorder(figures, runs=runs, warmup=warmup, out=out)

    for team, url, what, ceiling in pages(fixture):
        shown = url if len(url) <= 56 else f"{url[:53]}…"
        # The scan answers a single match with a redirect to the goods-in card.
        expect = (200, 302) if "/scan/" in url or url.startswith("/cx/?") else (200,)
        record(f"GET {shown} ({team})", PAGE_GOAL_MS, _get(clients[team], url, expect), what)
        if ceiling is not None:
            record("  raw keyset query of the same page (the ceiling)", None, ceiling)
    return figures


def explain(fixture: Fixture) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) every query of every measured page."""
    clients = {team: _client(user) for team, user in users().items()}
    for team, url, _what, _ceiling in pages(fixture):
        seen = []

        def keep(execute, sql, params, many, context, seen=seen):
            seen.append((sql, params))
            return execute(sql, params, many, context)

        with db.execute_wrapper(keep):
            clients[team].get(url)
        _say(f"== {url} ({team}): {len(seen)} queries")
        with db.cursor() as cursor:
            for sql, params in seen:
                if not sql.lstrip().upper().startswith("SELECT"):
                    continue
                cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
                plan = [line for (line,) in cursor.fetchall()]
                _say(sql[:300])
                _say("\n".join(plan) + "\n")


def main(argv: list[str]) -> int:
    fixture = build()
    for what, count in fixture.made.items():
        _say(f"made {count:,} {what}")
    _say(
        f"{Return.objects.count():,} returns stored; "
        f"{ExceptionCase.objects.filter(status=ExceptionStatus.OPEN).count():,} open exceptions; "
        f"{SkuMapping.objects.count():,} SKU and {CustomerMapping.objects.count():,} customer "
        "mapping rows"
    )
    # A page that fails is reported on its line, not with its traceback; static files as
    # in development (make run collects them for the manifest; the bench does not).
    logging.getLogger("django.request").setLevel(logging.CRITICAL)
    plain = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": plain}):
        if "--explain" in argv:
            explain(fixture)
            return 0
        _say(f"{RUNS} runs each after {WARMUP} to warm up; a page passes on its median")
        results = measure(fixture)
    report.context(
        "screens",
        f"{Return.objects.count():,} returns stored; {RUNS} runs each after {WARMUP} to warm up; "
        "server time through the test client, as the team's user; a page passes on its median",
    )
    report.record_figures("screens", results)
    missed = [figure.name for figure in results if not figure.passed]
    if missed:
        _say("MISSED: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
