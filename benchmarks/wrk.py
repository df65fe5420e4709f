"""wrk, the compiled load generator, posting signed webhooks from a core of its own.

Each request is signed and distinct (a repeat would be a duplicate, answered 200):
they are signed here beforehand, a slice per wrk thread, and `signed_posts.lua` sends
each once. wrk's answer is one JSON line: requests, duration, latency percentiles, the
count of each status and wrk's errors. Needs Debian's `wrk` (`make loadgen`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.load import signed

SCRIPT = Path(__file__).with_name("signed_posts.lua")


def require() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is not installed: `make loadgen` installs Debian's wrk")
    return path


def cores() -> tuple[list[int], list[int]]:
    """The load generator's core and the server's: the first core, and the rest."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return allowed, allowed  # one core: shared, and the figures say less
    return allowed[:1], allowed[1:]


def pinned(command: list[str], on: list[int]) -> list[str]:
    """The command run by taskset on the given cores (children inherit them)."""
    return ["taskset", "-c", ",".join(map(str, on)), *command]


def write_requests(folder: Path, numbers: range, threads: int) -> int:
    """Signed Loop returns numbered ``numbers``, dealt out to one file per wrk thread."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [(folder / f"{i}.txt").open("w") for i in range(threads)]
    try:
        for k, n in enumerate(numbers):
            raw, headers = signed(n)
            files[k % threads].write(f"{headers['X-Loop-Signature']}\t{raw.decode()}\n")
    finally:
        for out in files:
            out.close()
    return len(numbers)


@dataclass
class Result:
    requests: int
    seconds: float
    p50: float  # ms
    p90: float
    p99: float
    max: float
    statuses: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    out_of_requests: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def problems(self, expected: int = 202) -> list[str]:
        """Why the run does not count: an answer other than ``expected``, a socket
        error or timeout, or a thread that ran out of distinct requests."""
        found = [f"{n} answered {s}" for s, n in sorted(self.statuses.items()) if s != expected]
        found += [f"{n} {kind} errors" for kind, n in self.errors.items() if n and kind != "status"]
        if self.out_of_requests:
            found.append(f"{self.out_of_requests} wrk threads ran out of distinct requests")
        if not self.requests:
            found.append("no answer at all")
        return found


def run(
    url: str,
    folder: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    rate: float = 0.0,
    cycle: bool = False,
    on: list[int] | None = None,
) -> Result:
    """wrk against ``url`` for ``seconds`` with the requests in ``folder``; ``rate`` (all
    threads together, requests a second) paces it, 0 is as fast as the server answers."""
    command = [
        require(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        "--timeout=30s",
        f"--script={SCRIPT}",
        url,
    ]
    env = {
        **os.environ,
        "WRK_REQUESTS": str(folder),
        "WRK_RATE": str(rate / threads if rate else 0),
        "WRK_CYCLE": "1" if cycle else "0",
    }
    done = subprocess.run(
        pinned(command, on) if on else command,
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            data = json.loads(line.removeprefix("WRK_RESULT "))
            break
    else:
        raise RuntimeError(f"wrk gave no result (status {done.returncode}):\n{done.stderr}")
    return Result(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50=data["p50_us"] / 1000,
        p90=data["p90_us"] / 1000,
        p99=data["p99_us"] / 1000,
        max=data["max_us"] / 1000,
        statuses={int(s): n for s, n in data["statuses"].items()},
        errors=data["errors"],
        out_of_requests=data["threads_out_of_requests"],
    )
