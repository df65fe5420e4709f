"""The benchmark reporter: figures recorded to a results file, rendered as docs/benchmarks.md.
Nothing is timed; the figures are made up."""

from datetime import UTC, datetime

from benchmarks import profiling, report
from benchmarks.reconciliation import Figure

HOST = {
    "CPU": "Test CPU @ 2.00GHz",
    "cores": "2",
    "RAM": "3.8 GiB",
    "PostgreSQL": "PostgreSQL 16.4",
    "Python": "3.12.3",
}


def _render(path, **kwargs):
    return report.render(
        report.load(path),
        host=HOST,
        commit="abc123def456",
        now=datetime(2026, 11, 30, 6, 0, tzinfo=UTC),
        **kwargs,
    )


def test_records_go_to_the_file_named_by_bench_results(tmp_path, monkeypatch):
    results = tmp_path / "run" / "results.jsonl"
    monkeypatch.setenv("BENCH_RESULTS", str(results))
    report.record("khaos_page", "new page", p50=73.0, p95=110.0, goal=300)
    report.record("credit_notes", "peak", value=420.5, unit="MB", goal=300, goal_op="<")
    lines = report.load(results)
    assert [(line["name"], line["verdict"]) for line in lines] == [
        ("new page", "PASS"),
        ("peak", "MISS"),
    ]
    assert lines[0]["unit"] == "ms" and lines[0]["goal"] == 300
    assert lines[1]["value"] == 420.5 and lines[1]["p50"] is None


def test_the_page_shows_the_machine_ratios_and_misses(tmp_path):
    path = tmp_path / "results.jsonl"
    report.context("reconciliation", "1,011,378 returns stored", path=path)
    # As benchmarks.reconciliation measures them: a summary followed by its ceiling.
    report.record_figures(
        "reconciliation",
        [
            Figure("period summary", 300, [230.0, 232.0, 240.0]),
            Figure("raw aggregate query (the ceiling)", None, [110.0, 116.0, 120.0]),
            Figure("a list page", 100, [120.0, 130.0, 125.0], "(6,892 rows)"),
            Figure("a broken page", 100, [], "ERROR ValueError: boom"),
        ],
        path=path,
    )
    page = _render(path)

    # The header: machine, date, commit, command, what was not run.
    assert "Test CPU @ 2.00GHz, 2 cores, 3.8 GiB RAM" in page
    assert "PostgreSQL 16.4" in page and "3.12.3" in page
    assert "2026-11-30 06:00 UTC" in page
    assert "`abc123def456`" in page and "`make bench`" in page
    assert "Not run in this run" in page
    assert "`benchmarks.soak`" in page.split("## ")[0]  # named as not run, in the header
    assert "## `benchmarks.soak`" not in page

    table = page.split("## `benchmarks.reconciliation`")[1]
    assert "- 1,011,378 returns stored" in table
    summary = next(line for line in table.splitlines() if line.startswith("| period summary"))
    # 232 ms beside its 116 ms ceiling: twice it.
    assert "232.0 ms" in summary and "116.0 ms (raw aggregate query)" in summary
    assert "2.00x" in summary and "PASS" in summary
    # The ceiling is shown beside its figure, not as a row of its own.
    assert not any(line.startswith("| raw aggregate") for line in table.splitlines())
    listed = next(line for line in table.splitlines() if line.startswith("| a list page"))
    assert "**MISS**" in listed and "125.0 ms" in listed and "(6,892 rows)" in listed
    broken = next(line for line in table.splitlines() if line.startswith("| a broken page"))
    assert "**MISS**" in broken and "ERROR ValueError: boom" in broken
    assert "**Figures:** 3 recorded, 2 missed: reconciliation: a list page;" in page
    assert "| ≤ 300 ms |" in summary


def test_a_throughput_beside_its_ceiling(tmp_path):
    path = tmp_path / "results.jsonl"
    report.record(
        "ingest",
        "hub webhook, throughput",
        value=340,
        unit="req/s",
        goal=0.6 * 680,
        goal_op=">=",
        ceiling={"name": "minimal view", "value": 680},
        path=path,
    )
    page = _render(path, expected=["ingest"])
    row = next(line for line in page.splitlines() if line.startswith("| hub webhook"))
    assert "340.0 req/s" in row and "≥ 408 req/s" in row
    assert "680.0 req/s (minimal view)" in row and "0.50x" in row and "**MISS**" in row
    assert "Not run in this run" not in page


def test_main_writes_the_page(tmp_path, monkeypatch):
    path = tmp_path / "results.jsonl"
    report.record("memory", "largest web worker", value=102.8, unit="MB", goal=150, path=path)
    monkeypatch.setattr(report, "machine", lambda: HOST)
    out = tmp_path / "benchmarks.md"
    assert report.main(["--results", str(path), "--out", str(out), "--expected", "memory"]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks\n")
    assert "| largest web worker | 102.8 MB |" in text and "PASS" in text


def _slow_part():
    return sum(i * i for i in range(20_000))


def test_a_missed_figure_carries_the_profile_that_explains_it(tmp_path):
    explained = profiling.if_missed(True, _slow_part)
    assert "function calls" in explained and "_slow_part" in explained
    assert profiling.if_missed(False, _slow_part) == ""
    path = tmp_path / "results.jsonl"
    report.record("khaos_page", "new page", p50=410.0, goal=300, profile=explained, path=path)
    report.record("khaos_page", "page served again", p50=90.0, goal=300, path=path)
    page = _render(path)
    assert page.count("<details>") == 1
    assert "Profile of “new page” (MISS)" in page
    assert "_slow_part" in page.split("<details>")[1]


def test_figures_from_a_benchmark_keep_their_profiles(tmp_path):
    path = tmp_path / "results.jsonl"
    missed = Figure("GET /finance/ (finance)", 100, [180.0, 190.0], profile="the profile text")
    report.record_figures("screens", [missed], path=path)
    (line,) = report.load(path)
    assert (line["verdict"], line["profile"]) == ("MISS", "the profile text")


def test_a_profiled_call_that_fails_says_so():
    def broken():
        raise RuntimeError("the database went away")

    assert profiling.profile(broken) == (
        "the profiled run failed: RuntimeError: the database went away"
    )
