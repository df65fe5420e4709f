"""The credit note import's memory on a 100,000-row export. Goal: at most 300 MB.

The goal is the process's resident memory at its peak (``ru_maxrss``: the most the
process ever held, so the import's peak and whatever came before it), shown beside its
resident memory just before the import. tracemalloc's peak of Python allocations is
given beside it, for where the memory goes; its bookkeeping is in the RSS too, so the
RSS figure errs high.

Runs against the bench database (as the other benchmarks) and deletes what it imported.

    python -m benchmarks.credit_notes            # BENCH_CREDIT_NOTES to scale
"""

import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import django
import psutil

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
django.setup()

from benchmarks import report  # noqa: E402
from reconciliation.importers import import_credit_notes  # noqa: E402
from reconciliation.models import CreditNote, CreditNoteImport  # noqa: E402

GOAL_MB = 300
ROWS = int(os.environ.get("BENCH_CREDIT_NOTES", "100000"))


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "credit_notes.csv"
        with path.open("w", newline="") as out:
            out.write("Credit Note Code,Return Code,Associated Ref,Date,Currency,Net,Tax,Gross\r\n")
            for i in range(ROWS):
                out.write(
                    f"BENCH{i:08d},SR{i:08d},BENCH-{i},01/03/2025,GBP,100.00,20.00,120.00\r\n"
                )
        before = psutil.Process().memory_info().rss / 2**20
        started = time.monotonic()
        tracemalloc.start()
        try:
            with path.open("rb") as stream:
                result = import_credit_notes(stream, file_name=path.name).as_dict()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        took = time.monotonic() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    CreditNote.objects.filter(code__startswith="BENCH").delete()
    for record in CreditNoteImport.objects.filter(pk=result["import_id"]):
        record.file.delete(save=False)  # the kept upload, under MEDIA_ROOT
        record.delete()
    peak_mb = peak / 2**20
    ok = rss_peak <= GOAL_MB and result["new"] == ROWS
    print(
        f"{result['rows']} rows, {result['new']} new, {result['refused']} refused in "
        f"{took:.1f}s; peak RSS {rss_peak:.1f} MB (goal <= {GOAL_MB} MB; {before:.1f} MB "
        f"before the import), Python peak {peak_mb:.1f} MB"
    )
    imported = f"{result['rows']} rows, {result['new']} new, {result['refused']} refused"
    report.record(
        "credit_notes",
        f"credit note import of {ROWS:,} rows, peak RSS of the process",
        value=rss_peak,
        unit="MB",
        goal=GOAL_MB,
        passed=ok,
        note=f"ru_maxrss; {before:.1f} MB resident before the import; {imported}",
    )
    report.record(
        "credit_notes",
        "the same import, Python peak (tracemalloc)",
        value=peak_mb,
        unit="MB",
        note="Python's own allocations at their peak, for where the memory goes",
    )
    report.record(
        "credit_notes", "the same import, wall time", value=took, unit="s", note="tracemalloc on"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
