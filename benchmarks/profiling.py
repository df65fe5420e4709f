"""The profile that explains a missed figure: where one more run of it spends its time.

A benchmark that misses its goal runs the measured call once more under cProfile and
keeps the functions that took the most time (cumulative, the hub's own code first), so
docs/benchmarks.md shows the miss beside its explanation rather than a bare number.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable

TOP = 25


def profile(call: Callable[[], object], *, top: int = TOP) -> str:
    """One run of ``call`` under cProfile: its ``top`` functions by cumulative time, as
    text (a call that fails says so; profiling must never break the benchmark)."""
    profiler = cProfile.Profile()
    try:
        profiler.runcall(call)
    except Exception as error:  # the figure already records the failure
        return f"the profiled run failed: {type(error).__name__}: {error}"
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats(pstats.SortKey.CUMULATIVE).print_stats(top)
    lines = out.getvalue().strip().splitlines()
    # pstats opens with the profile's own totals; keep from there, without blank padding.
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    return "\n".join(line.rstrip() for line in lines[start:] if line.strip())


def if_missed(missed: bool, call: Callable[[], object]) -> str:
    """The profile of ``call`` when its figure ``missed`` its goal, else ""."""
    return profile(call) if missed else ""
