"""Settings for every environment, read from the environment by ``config.env``.

Development needs nothing set: without ``DATABASE_URL`` the embedded
PostgreSQL under ``.data/`` is used, and a secret key is generated and kept
in ``.data/secret_key``. Production uses ``config.settings.production``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import dj_database_url

from config.env import ConfigError, Env, load_or_create_secret
from config.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = Env()
DATA_DIR = Path(env.str("HUB_DATA_DIR", str(BASE_DIR / ".data")))

DEBUG = env.bool("DEBUG", False)
SECRET_KEY = env.str("SECRET_KEY") or load_or_create_secret(DATA_DIR / "secret_key")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "django_tables2",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "simple_history",
    "django_q",
    "csp",
    "returns_hub",
    "connectors",
    "reconciliation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "returns_hub.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database: PostgreSQL only --------------------------------------------
_database_url = env.url("DATABASE_URL", schemes=("postgres", "postgresql", "pgsql"))
if _database_url is None:
    from config.embedded_postgres import database_url as _embedded_url

    _database_url = _embedded_url()
# A pool per process, so a burst of requests waits for a connection instead of
# opening one per thread until PostgreSQL refuses ("too many clients"). The
# pool needs CONN_MAX_AGE 0: a request hands its connection back to the pool.
# The web server runs HUB_WEB_WORKERS processes of HUB_WEB_THREADS threads; a
# thread holds one connection at most, so the pool's default ceiling is the
# thread count. README "Configuration" has the arithmetic against max_connections.
HUB_WEB = {
    "WORKERS": env.int("HUB_WEB_WORKERS", 2, minimum=1),
    "THREADS": env.int("HUB_WEB_THREADS", 4, minimum=1),
    # A worker is replaced after this many requests (0: never), so what it
    # gathers over time (heap fragmentation above all) is handed back.
    "MAX_REQUESTS": env.int("HUB_WEB_MAX_REQUESTS", 1000, minimum=0),
}
DB_POOL = {
    # None kept open when idle: a process opens what its threads use (one for a
    # single-threaded command), and a connection idle for ten minutes is closed.
    "min_size": env.int("HUB_DB_POOL_MIN_SIZE", 0, minimum=0),
    # 0 turns the pool off: a connection per request, closed after it.
    "max_size": env.int("HUB_DB_POOL_MAX_SIZE", HUB_WEB["THREADS"], minimum=0),
    # Seconds a request waits for a free connection before it fails.
    "timeout": env.float("HUB_DB_POOL_TIMEOUT", 10.0, minimum=0.1),
}
if DB_POOL["max_size"] and DB_POOL["min_size"] > DB_POOL["max_size"]:
    raise ConfigError("HUB_DB_POOL_MIN_SIZE must not exceed HUB_DB_POOL_MAX_SIZE")
# Health checks: a pooled connection is tested (an empty query) before it is lent, so
# one the server dropped (a restart, a failover) is replaced instead of failing the
# request that gets it. Found by the soak (python -m soak) restarting PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(_database_url, conn_max_age=0, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigError("DATABASE_URL must point at PostgreSQL")
if DB_POOL["max_size"]:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = dict(DB_POOL)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth --------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Locale ------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

# --- Static files (whitenoise) ----------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it to exist
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded credit note files and month-end packs, kept beside the database.
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"  # never served directly: views hand files to the roles allowed them
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security headers (SecurityMiddleware, XFrameOptionsMiddleware) ---------------
# Django's defaults, named so a change of default cannot drop one unnoticed; every page
# and API answer carries them (tests/ops/test_security_headers.py).
SECURE_CONTENT_TYPE_NOSNIFF = True  # X-Content-Type-Options: nosniff
SECURE_REFERRER_POLICY = "same-origin"  # Referrer-Policy
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"  # Cross-Origin-Opener-Policy
X_FRAME_OPTIONS = "DENY"  # and the CSP's frame-ancestors 'none' below

# --- Content Security Policy (django-csp) -----------------------------------------
# Nothing inline: every script and style is a file of the hub's own (htmx included);
# charts are inline SVG styled by class. The API docs too: Swagger UI's files are served
# by the hub (drf-spectacular-sidecar), its start-up script as a file of its own.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# --- Email -------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", "")
EMAIL_PORT = env.int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", "returns-hub@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend"
)

# --- REST API ----------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so a request without credentials gets 401 with WWW-Authenticate.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["returns_hub.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "returns_hub.api.pagination.KeysetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # A hostile body (nested thousands deep, numbers of thousands of digits) is a clear 400.
    "DEFAULT_PARSER_CLASSES": [
        "returns_hub.api.parsers.HubJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # What the database refuses (a row in use, a clash, a value out of range) is a 4xx.
    "EXCEPTION_HANDLER": "returns_hub.api.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Returns hub API",
    "DESCRIPTION": (
        "Returns from the returns platforms, their exceptions, the postings made to "
        "Khaos Control and the mapping tables that resolve them."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Every operation declares the errors it can answer (400/401/403/404/409/415).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "returns_hub.api.schema.add_error_responses",
    ],
    # Several models have a "state"; name each enum after its model's choices.
    "ENUM_NAME_OVERRIDES": {
        "ReturnStateEnum": "returns_hub.choices.ReturnState",
        "MoneyStateEnum": "returns_hub.choices.MoneyState",
        "UnitStateEnum": "returns_hub.choices.UnitState",
        "ExchangeStateEnum": "returns_hub.choices.ExchangeState",
        "PostingStateEnum": "returns_hub.choices.PostingState",
        "PostingKindEnum": "returns_hub.choices.PostingKind",
        "ExceptionStatusEnum": "returns_hub.choices.ExceptionStatus",
        "ExceptionKindEnum": "returns_hub.choices.ExceptionKind",
        "WriteBackStateEnum": "returns_hub.models.outbox.WriteBackState",
        "InboxStatusEnum": "returns_hub.choices.InboxStatus",
        "KhaosUploadStatusEnum": "returns_hub.models.inbox.KhaosUploadStatus",
        "TeamEnum": "returns_hub.choices.Team",
        "DifferenceCauseEnum": "reconciliation.services.differences.DifferenceCause",
    },
}

# --- Task queue (django-q2) --------------------------------------------------
REDIS_URL = env.url("REDIS_URL", schemes=("redis", "rediss", "unix"))
Q_CLUSTER = {
    "name": "returns-hub",
    "workers": env.int("Q_WORKERS", 2, minimum=1),
    # A task still running after `timeout` is killed; one not acknowledged after
    # `retry` is handed out again. timeout < retry, so a task never runs twice
    # at once merely because it was slow.
    "timeout": env.int("Q_TIMEOUT", 60, minimum=1),
    "retry": env.int("Q_RETRY", 90, minimum=2),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", 5, minimum=1),
    # 0: django-q does not prune per task. Its pruning reads and locks every kept
    # success on each task, in the one monitor process: with 10,000 kept, a few tasks
    # a second at most. The prune-task-results schedule keeps HUB["TASK_RESULTS_KEEP"].
    "save_limit": env.int("Q_SAVE_LIMIT", 0, minimum=0),
    "ack_failures": True,  # failed tasks are kept as Failure rows, not re-queued for ever
    "catch_up": False,
    "label": "Tasks",
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if Q_CLUSTER["timeout"] >= Q_CLUSTER["retry"]:
    raise ConfigError("Q_TIMEOUT must be lower than Q_RETRY")

# --- Cache -------------------------------------------------------------------
# Counts failed Khaos sign-ins per address and remembers credentials that passed.
# Per process without Redis; shared by every process when REDIS_URL is set.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "returns-hub",
    }
}
if REDIS_URL:
    CACHES["default"] = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "returns-hub",
    }

# --- The hub's own settings --------------------------------------------------
HUB = {
    # Largest webhook body accepted (bytes); larger is 413.
    "WEBHOOK_MAX_BYTES": env.int("HUB_WEBHOOK_MAX_BYTES", 1024 * 1024, minimum=1),
    # Largest push Khaos may send to the channel's upload endpoints (bytes, or a size
    # such as 256MiB); larger is 413. Khaos pushes the whole product master at once.
    "KHAOS_UPLOAD_MAX_BYTES": env.size(
        "HUB_KHAOS_UPLOAD_MAX_BYTES", 256 * 1024 * 1024, minimum=1024 * 1024
    ),
    # Default money tolerance for value checks (a connection may override).
    "VALUE_TOLERANCE": env.decimal("HUB_VALUE_TOLERANCE", Decimal("0.01")),
    # Deliveries not processed after this many seconds are swept up again.
    "INBOX_SWEEP_AFTER_SECONDS": env.int("HUB_INBOX_SWEEP_AFTER_SECONDS", 120, minimum=1),
    "INBOX_MAX_ATTEMPTS": env.int("HUB_INBOX_MAX_ATTEMPTS", 5, minimum=1),
    # Successful task results kept (the newest, and each function's last), pruned each minute.
    "TASK_RESULTS_KEEP": env.int("HUB_TASK_RESULTS_KEEP", 10000, minimum=0),
    "DELIVERY_TASK": "connectors.tasks.process_delivery",  # the inbox's processing task
    # A platform failing every poll for this long is platform_unreachable.
    "PLATFORM_UNREACHABLE_AFTER_MINUTES": env.int(
        "HUB_PLATFORM_UNREACHABLE_AFTER_MINUTES", 30, minimum=1
    ),
    # Telling the platform a grade: the send task, and the attempts before giving up.
    "WRITEBACK_TASK": "connectors.writeback.send_one",
    "WRITEBACK_MAX_ATTEMPTS": env.int("HUB_WRITEBACK_MAX_ATTEMPTS", 8, minimum=1),
    # The demo's platform simulators: the share of new returns with a problem (0 to 1).
    "SIMULATOR_PROBLEM_RATE": env.float("HUB_SIMULATOR_PROBLEM_RATE", 0.1, minimum=0.0),
}
if HUB["SIMULATOR_PROBLEM_RATE"] > 1:
    raise ConfigError("HUB_SIMULATOR_PROBLEM_RATE must be at most 1 (a share of returns)")

# --- Logging -----------------------------------------------------------------
LOGGING = logging_config(env.str("LOG_LEVEL", "INFO").upper(), env.str("LOG_FORMAT", "json"))
