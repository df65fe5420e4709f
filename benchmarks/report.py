"""The run's figures, kept as they are measured and written up in docs/benchmarks.md.

Each benchmark, besides printing, appends its figures to one results file for the run
(JSON lines; the path from ``BENCH_RESULTS``, by default ``.data/bench/results.jsonl``).
``make bench`` removes that file first and renders it last, whatever was missed:

    python -m benchmarks.report                       # -> docs/benchmarks.md
    python -m benchmarks.report --results PATH --out PATH --command "make bench"

The page starts with the machine (CPU, cores, RAM, PostgreSQL, Python), the date, the
commit and the command, then one table per benchmark: each figure beside its goal and,
where it has one, its ceiling measured in the same run and the ratio between them. A
figure that missed its goal is shown as MISS, as measured; a benchmark of ``make bench``
with no figure in the file is named as not run.

Recording never needs Django; rendering asks PostgreSQL its version when it can.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = ".data/bench/results.jsonl"
DEFAULT_OUT = ROOT / "docs" / "benchmarks.md"
# As the Makefile's BENCHMARKS, in its order; `make bench` passes its own list.
BENCHMARKS = [
    "khaos_page",
    "ingest",
    "memory",
    "soak",
    "credit_notes",
    "reconciliation",
    "screens",
    "backlog",
]
OPS = {"<=": "≤", "<": "<", ">=": "≥", ">": ">"}


def results_path() -> Path:
    path = Path(os.environ.get("BENCH_RESULTS") or DEFAULT_RESULTS)
    return path if path.is_absolute() else ROOT / path


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _meets(measured: float | None, op: str, goal: float) -> bool:
    if measured is None:
        return False
    return {
        "<=": measured <= goal,
        "<": measured < goal,
        ">=": measured >= goal,
        ">": measured > goal,
    }[op]


def _append(line: dict, path: Path | None) -> dict:
    path = Path(path) if path is not None else results_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    return line


def record(
    benchmark: str,
    name: str,
    *,
    p50: float | None = None,
    p95: float | None = None,
    value: float | None = None,
    unit: str = "ms",
    goal: float | None = None,
    goal_op: str = "<=",
    ceiling: dict | None = None,
    passed: bool | None = None,
    note: str = "",
    profile: str = "",
    path: Path | None = None,
) -> dict:
    """Append one figure. Timings give ``p50`` (and ``p95``), other figures a ``value``;
    the goal is held against the value, else the median. ``ceiling`` is the same thing
    measured the plain way in the same run: ``{"name", "p50", "p95"}`` or ``{"name",
    "value"}``. ``passed`` overrides the verdict (a figure whose goal is not a plain
    threshold); with no goal and no verdict the figure is shown for what it is. ``profile``
    (benchmarks.profiling) explains a miss and is shown below the benchmark's table."""
    if goal_op not in OPS:
        raise ValueError(f"goal_op must be one of {', '.join(OPS)}")
    p50, p95, value = _number(p50), _number(p95), _number(value)
    measured = value if value is not None else p50
    if passed is None and goal is not None:
        passed = _meets(measured, goal_op, goal)
    if ceiling is not None:
        ceiling = {k: (_number(v) if k != "name" else v) for k, v in ceiling.items()}
    return _append(
        {
            "kind": "figure",
            "benchmark": benchmark,
            "name": name,
            "p50": p50,
            "p95": p95,
            "value": value,
            "unit": unit,
            "goal": goal,
            "goal_op": goal_op,
            "ceiling": ceiling,
            "verdict": None if passed is None else ("PASS" if passed else "MISS"),
            "note": note,
            "profile": profile,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        path,
    )


def context(benchmark: str, text: str, *, path: Path | None = None) -> dict:
    """A line about the run shown above the benchmark's table (data size, runs)."""
    return _append(
        {
            "kind": "context",
            "benchmark": benchmark,
            "text": text,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        path,
    )


def record_figures(benchmark: str, figures: Iterable, *, path: Path | None = None) -> None:
    """Append benchmarks.reconciliation's ``Figure``s (name, goal_ms, timings, note,
    p50, p95, passed, profile). A figure with no goal is the ceiling of the figure with a goal
    just before it and is shown beside it; one with nothing before it stands alone."""
    pending = None  # a figure with a goal, waiting for a ceiling that may follow

    def flush(ceiling=None):
        figure = pending
        record(
            benchmark,
            figure.name,
            p50=figure.p50,
            p95=figure.p95,
            goal=figure.goal_ms,
            ceiling=ceiling,
            passed=figure.passed,
            note=figure.note,
            profile=getattr(figure, "profile", ""),
            path=path,
        )

    for figure in figures:
        if figure.goal_ms is None:
            ceiling = {"name": figure.name.strip(), "p50": figure.p50, "p95": figure.p95}
            if pending is not None:
                flush(ceiling)
                pending = None
            else:
                record(
                    benchmark,
                    figure.name.strip(),
                    p50=figure.p50,
                    p95=figure.p95,
                    note=figure.note,
                    path=path,
                )
            continue
        if pending is not None:
            flush()
        pending = figure
    if pending is not None:
        flush()


def load(path: Path) -> list[dict]:
    if not Path(path).exists():
        return []
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


# The machine --------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except (OSError, ValueError):
        pass
    return "unknown"


def _postgres() -> str:
    try:
        import django
        from django.apps import apps

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
        if not apps.ready:
            django.setup()
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    except Exception as error:  # rendering must not fail for want of a database
        return f"unknown ({type(error).__name__})"


def _git_commit() -> str:
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    try:
        commit = git("rev-parse", "--short=12", "HEAD")
        if not commit:
            return "unknown"
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return f"{commit} (with uncommitted changes)" if dirty else commit
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine() -> dict[str, str]:
    return {
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count() or "unknown"),
        "RAM": _ram(),
        "PostgreSQL": _postgres(),
        "Python": platform.python_version(),
    }


# The page -----------------------------------------------------------------------------


def _fmt(number: float | None, unit: str = "") -> str:
    if number is None:
        return "-"
    size = abs(number)
    text = f"{number:,.0f}" if size >= 1000 else f"{number:.1f}" if size >= 1 else f"{number:.2f}"
    return f"{text} {unit}".strip()


def _measured(row: dict) -> float | None:
    return row["value"] if row.get("value") is not None else row.get("p50")


def ratio(row: dict) -> float | None:
    """The figure over its ceiling (medians, or values): 3.0 is three times the ceiling's
    time, 0.65 a throughput at 65% of it."""
    ceiling = row.get("ceiling") or {}
    base = ceiling.get("value") if ceiling.get("value") is not None else ceiling.get("p50")
    measured = _measured(row)
    if measured is None or not base:
        return None
    return measured / base


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict]) -> list[str]:
    lines = [
        "| figure | p50 / value | p95 | goal | verdict | ceiling | figure / ceiling | note |",
        "|---|---:|---:|---|---|---:|---:|---|",
    ]
    for row in rows:
        unit = row.get("unit") or ""
        if row.get("value") is not None:
            main, p95 = _fmt(row["value"], unit), ""
        else:
            main, p95 = _fmt(row.get("p50"), unit), _fmt(row.get("p95"), unit)
        goal = row.get("goal")
        if goal is not None:
            shown = f"{goal:,.0f} {unit}".strip() if float(goal).is_integer() else _fmt(goal, unit)
            goal = f"{OPS[row['goal_op']]} {shown}"
        verdict = row.get("verdict") or ""
        if verdict == "MISS":
            verdict = "**MISS**"
        ceiling = row.get("ceiling")
        if ceiling:
            shown = ceiling.get("value") if ceiling.get("value") is not None else ceiling.get("p50")
            what = str(ceiling.get("name") or "ceiling").removesuffix(" (the ceiling)")
            ceiling_text = f"{_fmt(shown, unit)} ({what})"
        else:
            ceiling_text = ""
        times = ratio(row)
        ratio_text = "" if times is None else f"{times:.2f}x"
        lines.append(
            "| "
            + " | ".join(
                _cell(cell)
                for cell in (
                    row["name"],
                    main,
                    p95,
                    goal or "",
                    verdict,
                    ceiling_text,
                    ratio_text,
                    row.get("note") or "",
                )
            )
            + " |"
        )
    return lines


def _profile(row: dict) -> list[str]:
    """A missed figure's profile, folded under its name."""
    return [
        "<details>",
        f"<summary>Profile of “{row['name']}” ({row.get('verdict') or 'figure'}): one more "
        "run under cProfile, by cumulative time</summary>",
        "",
        "```text",
        row["profile"].rstrip(),
        "```",
        "",
        "</details>",
        "",
    ]


def _recorded(stamps: list[str]) -> str:
    if not stamps:
        return " (no figures recorded)"
    if stamps[0] == stamps[-1]:
        return f" (figures recorded {stamps[0]})"
    return f" (figures recorded {stamps[0]} to {stamps[-1]})"


def render(
    records: list[dict],
    *,
    command: str = "make bench",
    expected: Iterable[str] = BENCHMARKS,
    host: dict[str, str] | None = None,
    commit: str | None = None,
    now: datetime | None = None,
    remark: str = "",
) -> str:
    host = host if host is not None else machine()
    commit = commit if commit is not None else _git_commit()
    now = now or datetime.now(UTC)
    expected = list(expected)
    order = list(expected)
    for line in records:
        if line["benchmark"] not in order:
            order.append(line["benchmark"])
    by_bench: dict[str, list[dict]] = {name: [] for name in order}
    for line in records:
        by_bench[line["benchmark"]].append(line)
    stamps = sorted(line["at"] for line in records if line.get("at"))
    figures = [line for line in records if line["kind"] == "figure"]
    missed = [line for line in figures if line.get("verdict") == "MISS"]
    not_run = [name for name in expected if not by_bench.get(name)]

    out = [
        "# Benchmarks",
        "",
        "Written by `python -m benchmarks.report` from the run's results file; do not edit by "
        "hand. Every figure was measured in the run described here, its ceiling in the same "
        "run; a figure that missed its goal is shown as **MISS**, as measured.",
        "",
        f"- **Machine:** {host['CPU']}, {host['cores']} cores, {host['RAM']} RAM",
        f"- **Database:** {host['PostgreSQL']}",
        f"- **Python:** {host['Python']}",
        f"- **Date:** {now.strftime('%Y-%m-%d %H:%M UTC')}" + _recorded(stamps),
        f"- **Commit:** `{commit}`",
        f"- **Command:** `{command}`",
        *([f"- **Conditions:** {remark}"] if remark else []),
        f"- **Figures:** {len(figures)} recorded, {len(missed)} missed"
        + (": " + "; ".join(f"{m['benchmark']}: {m['name']}" for m in missed) if missed else ""),
    ]
    if not_run:
        out.append(
            "- **Not run in this run (no figures, nothing shown for them):** "
            + ", ".join(f"`benchmarks.{name}`" for name in not_run)
        )
    out.append("")
    for name in order:
        lines = by_bench[name]
        if not lines:
            continue
        out += [f"## `benchmarks.{name}`", ""]
        notes = [line["text"] for line in lines if line["kind"] == "context"]
        for text in notes:
            out.append(f"- {text}")
        if notes:
            out.append("")
        rows = [line for line in lines if line["kind"] == "figure"]
        if rows:
            out += _table(rows)
            out.append("")
        for row in rows:
            if row.get("profile"):
                out += _profile(row)
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--command", default=os.environ.get("BENCH_COMMAND", "make bench"))
    parser.add_argument(
        "--expected",
        default=" ".join(BENCHMARKS),
        help="the benchmarks the command runs, space-separated (make bench's BENCHMARKS)",
    )
    parser.add_argument(
        "--remark", default="", help="how the run went (a shared machine, a partial run)"
    )
    args = parser.parse_args(argv)
    path = args.results or results_path()
    records = load(path)
    text = render(records, command=args.command, expected=args.expected.split(), remark=args.remark)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} from {path} ({sum(r['kind'] == 'figure' for r in records)} figures)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
