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
    "drf_spectacular",
    "import_export",
    "simple_history",
    "django_q",
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
DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ConfigError("DATABASE_URL must point at PostgreSQL")
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
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
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
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Returns hub API",
    "DESCRIPTION": (
        "Returns from the returns platforms, their exceptions, the postings made to "
        "Khaos Control and the mapping tables that resolve them."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "COMPONENT_SPLIT_REQUEST": True,
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
        "InboxStatusEnum": "returns_hub.choices.InboxStatus",
        "KhaosUploadStatusEnum": "returns_hub.models.inbox.KhaosUploadStatus",
        "TeamEnum": "returns_hub.choices.Team",
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
    "save_limit": env.int("Q_SAVE_LIMIT", 10000, minimum=0),
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

# --- The hub's own settings --------------------------------------------------
HUB = {
    # Largest webhook body accepted (bytes); larger is 413.
    "WEBHOOK_MAX_BYTES": env.int("HUB_WEBHOOK_MAX_BYTES", 1024 * 1024, minimum=1),
    # Default money tolerance for value checks (a connection may override).
    "VALUE_TOLERANCE": env.decimal("HUB_VALUE_TOLERANCE", Decimal("0.01")),
    # Deliveries not processed after this many seconds are swept up again.
    "INBOX_SWEEP_AFTER_SECONDS": env.int("HUB_INBOX_SWEEP_AFTER_SECONDS", 120, minimum=1),
    "INBOX_MAX_ATTEMPTS": env.int("HUB_INBOX_MAX_ATTEMPTS", 5, minimum=1),
    "DELIVERY_TASK": "connectors.tasks.process_delivery",  # the inbox's processing task
    # A platform failing every poll for this long is platform_unreachable.
    "PLATFORM_UNREACHABLE_AFTER_MINUTES": env.int(
        "HUB_PLATFORM_UNREACHABLE_AFTER_MINUTES", 30, minimum=1
    ),
}

# --- Logging -----------------------------------------------------------------
LOGGING = logging_config(env.str("LOG_LEVEL", "INFO").upper(), env.str("LOG_FORMAT", "json"))
