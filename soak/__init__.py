"""The soak with faults: thousands of returns through every platform simulator and the
strict Khaos simulator over real HTTP, against the hub run as production runs it, with
transport and process faults injected; then proof that nothing was lost or doubled.

    python -m soak --returns 10000 [--seed S] [--json PATH] [--data-dir DIR]

It runs on its own embedded PostgreSQL (``--data-dir``, default ``.data/soak``), so
it can restart that server mid-run without touching anyone else's.
"""
