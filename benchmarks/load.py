"""What the HTTP benchmarks share: signed webhooks, Khaos pages, a server to aim at.

Importing this needs no Django set-up; the scripts set up Django themselves.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import psutil

logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"demo-loop-webhook-secret"
WEBHOOK_PATH = "/webhooks/loop/demo-loop/"
KHAOS_PATH = "/khaos/demo/returns"
TEMPLATE = json.loads((ROOT / "returns_hub/demo/bench_loop_return.json").read_text())
RUN = str(int(time.time()))


def body(n: int) -> bytes:
    """A distinct Loop return: a new delivery every time, never a duplicate."""
    payload = copy.deepcopy(TEMPLATE)
    payload["id"] = f"B{RUN}{n:07d}"
    for i, line in enumerate(payload["line_items"]):
        line["line_item_id"] = int(f"{n}{i}")
    return json.dumps(payload).encode()


def signed(n: int) -> tuple[bytes, dict]:
    raw = body(n)
    digest = base64.b64encode(hmac.new(SECRET, raw, hashlib.sha256).digest()).decode()
    return raw, {"Content-Type": "application/json", "X-Loop-Signature": digest}


def client() -> httpx.AsyncClient:
    # gunicorn closes a connection idle for 2 s (--keep-alive); a client that keeps
    # it longer may send on a socket being closed and read nothing back.
    limits = httpx.Limits(max_connections=100, keepalive_expiry=1.0)
    return httpx.AsyncClient(timeout=60, limits=limits)


def khaos_auth() -> dict:
    password = os.environ.get("DEMO_KHAOS_PASSWORD", "khaos-demo")
    token = base64.b64encode(f"khaos:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def khaos_pages(
    client: httpx.AsyncClient, base: str, pages: int, counts: dict, window: int = 20
) -> None:
    """The returns download, page after page from the start, and from the start again
    after ``window`` pages: later runs serve those pages again (as Khaos does when it
    lost an answer) instead of using up the bench database's unserved returns."""
    token, walked = None, 0
    for _ in range(pages):
        headers = khaos_auth() | ({"Sirion-Continuation": token} if token else {})
        response = await client.get(f"{base}{KHAOS_PATH}", headers=headers)
        counts["khaos"] = counts.get("khaos", 0) + 1
        if response.status_code >= 500:
            counts["5xx"] = counts.get("5xx", 0) + 1
            continue
        assert response.status_code == 200, (response.status_code, response.text[:200])
        walked += 1
        full = response.content.count(b'"ProcessReturn"') >= 1000
        if full and walked < window:
            token = response.headers["Sirion-Continuation"]
        else:
            token, walked = None, 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The URL of the database Django is set up on, for the server it starts."""
    from django.db import connection

    db = connection.settings_dict
    host = quote(db["HOST"], safe="") + (f":{db['PORT']}" if db["PORT"] else "")
    return f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'] or '')}@{host}/{db['NAME']}"


def start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})


def wait_ready(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer 200 within {seconds:.0f} s")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def workers(process: subprocess.Popen) -> list[psutil.Process]:
    """gunicorn's workers (the children), or the process itself when it has none."""
    parent = psutil.Process(process.pid)
    return parent.children() or [parent]


def run(coroutine):
    return asyncio.run(coroutine)


if __name__ == "__main__":
    sys.exit("run benchmarks.memory or benchmarks.soak")
