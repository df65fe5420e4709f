"""The hub's settings plus one bench-only URL: the ingest ceiling to compare with."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
DEBUG = False
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}  # noqa: F405
