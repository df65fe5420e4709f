"""Running one job in several threads at once, each on its own database connection."""

import threading

from django.db import connection


def at_once(job, times: int = 2, *, timeout: float | None = 60) -> tuple[list, list]:
    """``job`` run in ``times`` threads released together, each on a fresh connection
    (closed when it ends); the jobs' results and the errors they raised, in finishing order.

    A thread's exception is returned, not lost in the thread: the caller asserts on it."""
    start = threading.Barrier(times)
    results, errors = [], []

    def worker():
        try:
            start.wait()
            results.append(job())
        except Exception as error:  # reported by the caller: a thread's failure is the test's
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors
