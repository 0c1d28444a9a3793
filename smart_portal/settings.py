"""SMART Portal settings: one file, every deployment difference comes from environment variables.

With nothing set, the portal runs on an embedded SQLite file with in-process tasks, which is what
`make run` and `make test` use. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
DEBUG=0 and ALLOWED_HOSTS (see README.md for the full table).
"""

import os
import sys
from datetime import date, timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
# Run-time files (SQLite database, uploads) live outside the code and the static root.
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))
# Where `manage.py backup` writes (core.backup).
BACKUP_ROOT = Path(os.environ.get("BACKUP_ROOT", VAR_DIR / "backups"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def env_date(name: str, default: str) -> date:
    value = os.environ.get(name) or default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a date as YYYY-MM-DD, not {value!r}.") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# pytest imports this module; the suite needs plain static storage and a fast password hasher.
TESTING = "pytest" in sys.modules

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-for-debug-and-tests"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "crispy_forms",
    "crispy_bootstrap5",
    "csp",
    # Two-factor authentication (TOTP apps and recovery codes) and sign-in lockout: see core.mfa and
    # core.accounts. axes comes before core so that its sign-in signal receivers run first.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "core",
    "subprojects",
    "enterprises",
    "monitoring",
    "verification",
    "safeguards",
    "grievances",
    "finance",
]

MIDDLEWARE = [
    # Every answer carries an X-Request-ID and every log line made meanwhile names it (core.request_context).
    "core.request_context.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages gzipped for slow links, after WhiteNoise (static files come pre-compressed, gzip and
    # brotli) and before every middleware that reads or changes the body. BREACH: Django masks the
    # CSRF token afresh in every response and pads compressed bodies with random bytes; pages that
    # show a secret (never_cache: no-store) are sent uncompressed (smart_portal.compression).
    "smart_portal.compression.PageCompressionMiddleware",
    # API GETs: ETag (of the body before compression: inside it), Last-Modified, 304 (smart_portal.sync).
    "smart_portal.sync.ConditionalGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # A NUL character in the URL is a 400 naming the parameter, before any view reads it.
    "smart_portal.middleware.RefuseNullCharactersMiddleware",
    # Errors: JSON under /api/ (500 included, with the request id); a page or API request refused by a
    # unique constraint (a concurrent identical save) is answered like a duplicate (core.integrity).
    "smart_portal.middleware.ErrorAnswersMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in user's pages in the language of their account, whatever the device (core.language).
    "core.language.UserLanguageMiddleware",
    # request.user.is_verified(): signed in with a second factor in this session.
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Bangla digits in the text of Bangla pages and HTMX fragments, per User.bangla_digits (core.digits).
    "core.digits.BanglaDigitsMiddleware",
    # Two-factor authentication where required; records each signed-in session (core.middleware).
    "core.middleware.AccountSecurityMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # API contract, once the caller is known (after CSRF and two-factor checks): 400 for a query
    # parameter the operation does not document (smart_portal.api_contract), and the first answer
    # replayed for a POST repeated with the same Idempotency-Key (smart_portal.idempotency).
    "smart_portal.api_contract.QueryParametersMiddleware",
    "smart_portal.idempotency.IdempotencyMiddleware",
    # The dashboards' and reports' reads from the read replica, when there is one (smart_portal.db_routers).
    "smart_portal.db_routers.ReplicaReadsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the "try again at" answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "smart_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.portal",
            ],
            # `|tr_name` everywhere: reference names (districts, sectors, indicators…) in the active
            # language (core.reference_names).
            "builtins": ["core.templatetags.reference"],
        },
    },
]

WSGI_APPLICATION = "smart_portal.wsgi.application"
ASGI_APPLICATION = "smart_portal.asgi.application"

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "")
# WAL lets readers go on while a write is under way; IMMEDIATE takes the write lock at the start of
# a transaction, so two requests never deadlock upgrading read locks ("database is locked"), and the
# timeout lets a writer wait its turn instead of failing at once.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}


def database_settings(url: str, conn_max_age: int = 60) -> dict:
    """The default database from DATABASE_URL ("" for the embedded SQLite file). SQLite gets the same
    safe options whether it is the default or named by a URL (options the URL gives win)."""
    if not url:
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            "OPTIONS": dict(SQLITE_OPTIONS),
        }
    config = dj_database_url.parse(url, conn_max_age=conn_max_age)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {**SQLITE_OPTIONS, **config.get("OPTIONS", {})}
        if config.get("NAME") == ":memory:":
            # WAL does not apply to an in-memory database.
            config["OPTIONS"]["init_command"] = "PRAGMA synchronous=NORMAL;"
    return config


DATABASES = {"default": database_settings(DATABASE_URL, env_int("DB_CONN_MAX_AGE", 60))}
# A kept connection is checked before a request reuses it: one the server dropped (restart,
# failover, idle timeout) is replaced instead of failing that request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails fast (health checks, requests) instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3)
    )
# An optional PostgreSQL read replica (a streaming standby of the primary, README "Read replica"):
# dashboards, reports and list downloads read from it (smart_portal.db_routers); every write, and any
# read that must see one, stays on the primary. Unset: one database, as before. The tests treat it as
# a mirror of the test database (DATABASE_REPLICA_URL set to the primary's URL).
DATABASE_REPLICA_URL = os.environ.get("DATABASE_REPLICA_URL", "")
DATABASE_ROUTERS: list[str] = []
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = database_settings(DATABASE_REPLICA_URL, env_int("DB_CONN_MAX_AGE", 60))
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
            "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3)
        )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
    DATABASE_ROUTERS = ["smart_portal.db_routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------------
CACHE_URL = os.environ.get("CACHE_URL", "")
# Redis down never fails a request: core.cache gives up quickly and answers as an empty cache.
CACHE_TIMEOUT_SECONDS = float(os.environ.get("CACHE_TIMEOUT_SECONDS", "0.5"))
CACHES = {
    "default": (
        {
            "BACKEND": "core.cache.ResilientRedisCache",
            "LOCATION": CACHE_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_TIMEOUT_SECONDS,
            },
        }
        if CACHE_URL
        # Room for the dashboard's cached fragments (about 20 per PO and language) beyond the 300 default.
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 5000}}
    )
}

# --- Authentication -------------------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)

AUTHENTICATION_BACKENDS = [
    # First: refuses every sign-in (even with the right password) while the account or the client
    # address is locked out after too many failures (django-axes, counting in its own tables).
    "core.accounts.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Reverse proxies in front of the portal that append the client's address to X-Forwarded-For.
# 0: none, the client is REMOTE_ADDR and X-Forwarded-For is ignored (anyone can write it).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
# Failed sign-ins (web, API token, wrong second factor) within LOGIN_LOCKOUT_MINUTES of each other
# that lock an account, or an address (higher: an office or a training room shares one address).
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 20)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 100)
LOGIN_LOCKOUT_MINUTES = env_int("LOGIN_LOCKOUT_MINUTES", 15)
AXES_HANDLER = "core.accounts.LockoutHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_LOCKOUT_MINUTES)
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.accounts.client_ip"
AXES_LOCKOUT_CALLABLE = "core.accounts.lockout_response"
# Successful sign-ins are the sessions of core.UserSession; refused ones go to the audit log.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["password", "otp_code", "code", "csrfmiddlewaretoken"]

# Two-factor authentication (TOTP app + recovery codes) is open to everyone; with MFA_REQUIRED it is
# required of these roles and of staff and superuser accounts. Off by default for `make run` and tests.
MFA_REQUIRED = env_bool("MFA_REQUIRED", not (DEBUG or TESTING))
MFA_REQUIRED_ROLES = env_list(
    "MFA_REQUIRED_ROLES", "pmu_officer,tec_member,world_bank,pksf_approver,finance_officer"
)
OTP_TOTP_ISSUER = "SMART Portal"
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# Each language named in itself, as language pickers do: a reader finds their own whichever is shown.
LANGUAGES = [("en", "English"), ("bn", "বাংলা")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Dates and lakh/crore grouping of numbers per language (smart_portal/formats/<lang>/formats.py); only
# explicit number filters (intcomma, floatformat "g") group, so numbers in URLs and attributes stay plain.
FORMAT_MODULE_PATH = ["smart_portal.formats"]
TIME_ZONE = "Asia/Dhaka"
USE_I18N = True
USE_TZ = True
USE_THOUSAND_SEPARATOR = False

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
# Django's, with "Choose…" / "(none)" for a drop-down's empty choice instead of "---------".
FORM_RENDERER = "core.forms_rendering.PortalFormRenderer"

# --- Static files and uploads ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploads are never under STATIC_ROOT and never served by WhiteNoise: a view checks who may see them.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if (DEBUG or TESTING)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Production: collectstatic writes each file under a name with its hash, plus brotli and gzip copies
# (brotli is a dependency for that); WhiteNoise serves the copy the browser accepts and marks hashed
# names `max-age=315360000, public, immutable`, so a second visit fetches only the page.
# Development and tests serve files straight from the source folders; production from STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
ATTACHMENT_MAX_MB = env_int("ATTACHMENT_MAX_MB", 10)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# --- Security -------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not TESTING)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG and not TESTING)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG and not TESTING)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if (DEBUG or TESTING) else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG and not TESTING)
# Behind a TLS-terminating proxy (docker-compose's web sits behind one) the scheme comes in a header.
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# /healthz is polled over plain HTTP by the container orchestrator.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
# Each check of /healthz and /readyz gives up after this long (core.health).
HEALTH_CHECK_TIMEOUT_SECONDS = float(os.environ.get("HEALTH_CHECK_TIMEOUT_SECONDS", "0.5"))

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # Leaflet and Swagger UI set inline styles; scripts stay strictly same-origin.
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- REST API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox tokens, refused for a role that needs two-factor authentication without it set up.
        "core.api.security.PortalTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Page numbers; keyset pages with a watermark when a list is asked with `cursor` or
    # `updated_since` (incremental sync, smart_portal.sync).
    "DEFAULT_PAGINATION_CLASS": "smart_portal.sync.SyncPagination",
    # Filters on related objects, and the browsable API's forms, offer and accept only what the user
    # may see (smart_portal.api, core.visibility).
    "DEFAULT_FILTER_BACKENDS": [
        "smart_portal.api.ScopedFilterBackend",
        "rest_framework.filters.SearchFilter",
        # DRF's, refusing (400) an ordering the list does not offer (smart_portal.api_contract).
        "smart_portal.api_contract.StrictOrderingFilter",
        # `updated_since` on the list of every resource with `updated_at` (smart_portal.sync).
        "smart_portal.sync.UpdatedSinceFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "smart_portal.api.ScopedBrowsableAPIRenderer",
    ],
    # Request bodies are JSON; the upload actions declare `parser_classes = [MultiPartParser]`.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    # Every operation documents the errors it can answer and the roles that may call it.
    "DEFAULT_SCHEMA_CLASS": "smart_portal.schema.PortalAutoSchema",
    "EXCEPTION_HANDLER": "smart_portal.api.exception_handler",
    # Requests per API token or session user: API_THROTTLE_RATE, and API_BULK_THROTTLE_RATE for the
    # bulk operations, which count apart (smart_portal.throttling).
    "DEFAULT_THROTTLE_CLASSES": [
        "smart_portal.throttling.TokenRateThrottle",
        "smart_portal.throttling.BulkRateThrottle",
    ],
    # Token requests per client address (auth) and per account, whatever the address (auth_account).
    "DEFAULT_THROTTLE_RATES": {
        "auth": os.environ.get("AUTH_THROTTLE_RATE", "20/minute"),
        "auth_account": os.environ.get("AUTH_ACCOUNT_THROTTLE_RATE", "20/minute"),
    },
    # The client address of a throttle: X-Forwarded-For only from the trusted proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# "<n>/<second|minute|hour|day>", or empty for no limit. The test suite makes many requests per
# user: unless set, it runs with limits it never reaches (tests/core/test_rate_limits.py sets its own).
API_THROTTLE_RATE = os.environ.get("API_THROTTLE_RATE", "100000/minute" if TESTING else "600/minute")
API_BULK_THROTTLE_RATE = os.environ.get("API_BULK_THROTTLE_RATE", "100000/minute" if TESTING else "60/minute")
# An API POST's Idempotency-Key and its answer are kept this long (smart_portal.idempotency).
IDEMPOTENCY_KEEP_HOURS = env_int("IDEMPOTENCY_KEEP_HOURS", 24)
# A bulk request of more items than this is answered 202 with a job (enterprises.bulk).
BULK_SYNC_MAX_ITEMS = env_int("BULK_SYNC_MAX_ITEMS", 2000)
# The most items one bulk request may carry.
BULK_MAX_ITEMS = env_int("BULK_MAX_ITEMS", 10000)
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 24 * 30)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SMART Portal API",
    "DESCRIPTION": (
        "REST API of the SMART Portal (PKSF, World Bank-financed SMART project). "
        "Authenticate with `POST /api/v1/auth/token/` and send `Authorization: Token <token>`. "
        "Transitions are `POST /api/v1/<resource>/<id>/<action>/` and answer 409 when not allowed."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several resources have a `status`; give each choice set its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CallStatusEnum": "subprojects.models.CallStatus",
        "ConceptNoteStatusEnum": "subprojects.models.NoteStatus",
        "ProposalStatusEnum": "subprojects.models.ProposalStatus",
        "SubProjectStatusEnum": "subprojects.models.SubProjectStatus",
        "ScoreSheetStatusEnum": "subprojects.models.ScoreSheetStatus",
        "ReportFormatEnum": "monitoring.models.ReportFormat",
        # Facilities appear in the field data and in the verifiers' work list.
        "FacilityKindEnum": "enterprises.models.FacilityKind",
        # Safeguards: several records have a "kind" or a "category".
        "IncidentKindEnum": "safeguards.models.IncidentKind",
        "ClearanceKindEnum": "safeguards.models.ClearanceKind",
        "EcrCategoryEnum": "safeguards.models.EcrCategory",
        "GrievanceCategoryEnum": "grievances.models.Category",
        # Statuses also answered by actions and summaries (not only by their own resource).
        "GrievanceStatusEnum": "grievances.models.GrievanceStatus",
        "EsReviewStatusEnum": "safeguards.models.EsReviewStatus",
        "SpendingReportStatusEnum": "finance.models.SpendingReportStatus",
        "AggregationRunStatusEnum": "monitoring.models.RunStatus",
        "MemberTotalStatusEnum": "subprojects.evaluation.MEMBER_STEPS",
    },
}

# --- Celery ---------------------------------------------------------------------------------------
# Without a broker every task runs in-process, synchronously: `make run` needs nothing else.
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("CELERY_BROKER_URL")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "memory://localhost/"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or (
    None if CELERY_TASK_ALWAYS_EAGER else CELERY_BROKER_URL
)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Nothing reads task results (jobs keep their state on their own rows; `ping` keeps its own).
CELERY_TASK_IGNORE_RESULT = True
# At-least-once: a task is acknowledged when it ends, and a task whose worker died is delivered
# again (every task is idempotent: a job is claimed by its lifecycle, core.outbox marks work done).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A web request never waits on a broker that is down: publishing fails fast and core.outbox's relay
# publishes the message later. An unacknowledged task comes back after the visibility timeout,
# longer than the longest task (CELERY_TASK_TIME_LIMIT).
BROKER_TIMEOUT_SECONDS = float(os.environ.get("BROKER_TIMEOUT_SECONDS", "1"))
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
    "socket_timeout": BROKER_TIMEOUT_SECONDS,
    # kombu waits ~2 s before reconnecting to publish: one attempt, then the outbox keeps it.
    "max_retries": 0,
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60,
}
CELERY_TASK_PUBLISH_RETRY = False
# The outbox relay (core.outbox): every few seconds, and at worker start.
OUTBOX_RELAY_SECONDS = env_int("OUTBOX_RELAY_SECONDS", 10)
# A message published this long ago and never done was lost by the broker: it is published again.
OUTBOX_REPUBLISH_AFTER_SECONDS = env_int("OUTBOX_REPUBLISH_AFTER_SECONDS", CELERY_TASK_TIME_LIMIT + 15 * 60)
# A task that raised is run again (later each time) this many times, then given up (core.outbox).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 5)
# The sweeper (core.jobs): fails the jobs whose worker died, this often and at every worker start.
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 60)
# Without PostgreSQL (whose advisory locks tell at once): a running job silent this long lost its worker.
JOB_HEARTBEAT_TIMEOUT_SECONDS = env_int("JOB_HEARTBEAT_TIMEOUT_SECONDS", 120)
CELERY_BEAT_SCHEDULE: dict[str, dict] = {
    "close-calls-past-deadline": {
        "task": "subprojects.tasks.close_calls_past_deadline",
        "schedule": 15 * 60,
    },
    "relay-outbox": {"task": "core.tasks.relay_outbox", "schedule": OUTBOX_RELAY_SECONDS},
    "sweep-stale-jobs": {"task": "core.tasks.sweep_stale_jobs", "schedule": JOB_SWEEP_SECONDS},
    "prune-outbox": {"task": "core.tasks.prune_outbox", "schedule": crontab(hour=3, minute=15)},
}

# Results monitoring: the nightly aggregation (Asia/Dhaka time). USD figures convert each amount at
# the rate of its own day, from the exchange-rate table the PMU keeps (finance.rates).
AGGREGATION_HOUR = env_int("AGGREGATION_HOUR", 1)
AGGREGATION_MINUTE = env_int("AGGREGATION_MINUTE", 30)
# The SMART project was implemented from August 2023: financing dated earlier is not project financing.
PROGRAMME_START = env_date("PROGRAMME_START", "2023-08-01")
# Data-quality panel: an ME with a KPI baseline is overdue without a reading in this many months.
MONITORING_READINGS_OVERDUE_MONTHS = env_int("READINGS_OVERDUE_MONTHS", 3)
CELERY_BEAT_SCHEDULE["nightly-indicators"] = {
    "task": "monitoring.tasks.nightly_aggregation",
    "schedule": crontab(hour=AGGREGATION_HOUR, minute=AGGREGATION_MINUTE),
}

# --- Safeguards and grievances (issue 13; SPEC 8) ----------------------------------------------------
# Grievances: acknowledged within, and resolved within, these many days of reaching a tier; a case past
# either deadline moves up a tier (grievances.tasks.escalate_overdue, every ESCALATION_MINUTES).
GRIEVANCE_ACKNOWLEDGE_DAYS = env_int("GRIEVANCE_ACKNOWLEDGE_DAYS", 7)
GRIEVANCE_RESOLVE_DAYS = env_int("GRIEVANCE_RESOLVE_DAYS", 30)
GRIEVANCE_ESCALATION_MINUTES = env_int("GRIEVANCE_ESCALATION_MINUTES", 60)
# The public grievance page and its API: lodgings and status lookups per address.
GRIEVANCE_LODGE_RATE = os.environ.get("GRIEVANCE_LODGE_RATE", "5/hour")
GRIEVANCE_LOOKUP_RATE = os.environ.get("GRIEVANCE_LOOKUP_RATE", "30/hour")
# E&S incidents: a PO reports within these many days of learning of one; the PMU notifies serious and
# severe ones to the Bank within these many hours of the report.
INCIDENT_REPORTING_DAYS = env_int("INCIDENT_REPORTING_DAYS", 3)
INCIDENT_BANK_NOTIFICATION_HOURS = env_int("INCIDENT_BANK_NOTIFICATION_HOURS", 48)
# Clearances: the PO is reminded this many days before a certificate expires (once per threshold).
CLEARANCE_REMINDER_DAYS = tuple(
    int(days) for days in os.environ.get("CLEARANCE_REMINDER_DAYS", "60,30,7").split(",") if days.strip()
)
CELERY_BEAT_SCHEDULE["escalate-overdue-grievances"] = {
    "task": "grievances.tasks.escalate_overdue",
    "schedule": GRIEVANCE_ESCALATION_MINUTES * 60,
}
CELERY_BEAT_SCHEDULE["clearance-expiry-reminders"] = {
    "task": "safeguards.tasks.send_clearance_reminders",
    "schedule": crontab(hour=7, minute=0),
}

# --- Email ----------------------------------------------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "SMART Portal <no-reply@smart.pksf.org.bd>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PORTAL_BASE_URL = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000")

# --- Logging --------------------------------------------------------------------------------------
# LOG_FORMAT=json: one JSON object per line (audit events with their fields), for a log collector.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "json": {"()": "core.audit.JsonFormatter"},
    },
    # Every line names the request (or task) it was written for (core.request_context).
    "filters": {"request_context": {"()": "core.request_context.RequestContextFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_context"]}
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # One line per task at INFO drowns everything else when tasks run in-process.
        "celery.app.trace": {"level": "WARNING"},
        # Refused transitions and logins (core.audit): kept whatever LOG_LEVEL says.
        "smart_portal.audit": {"level": "INFO"},
    },
}

# --- Enterprises and field data -------------------------------------------------------------------
# Spreadsheet imports: the largest file accepted and its rows (bigger lists are split into files).
ENTERPRISES_IMPORT_MAX_MB = env_int("ENTERPRISES_IMPORT_MAX_MB", 25)
ENTERPRISES_IMPORT_MAX_ROWS = env_int("ENTERPRISES_IMPORT_MAX_ROWS", 100_000)
# Rows an import writes at a time (one COPY and its follow-ups), with a progress report after each.
ENTERPRISES_IMPORT_WRITE_BATCH = env_int("ENTERPRISES_IMPORT_WRITE_BATCH", 5000)
# One loan or grant above this is refused as a likely typing error (BDT).
ENTERPRISES_MAX_SUPPORT_BDT = env_int("ENTERPRISES_MAX_SUPPORT_BDT", 5_000_000)
# Cluster suggestion: members lie within this radius of the centre, so a cluster spans about 5 km
# (the SME Foundation's definition), and a suggestion has at least this many enterprises.
ENTERPRISES_CLUSTER_RADIUS_KM = float(os.environ.get("ENTERPRISES_CLUSTER_RADIUS_KM", "2.5"))
ENTERPRISES_CLUSTER_MIN_MEMBERS = env_int("ENTERPRISES_CLUSTER_MIN_MEMBERS", 10)
# Field data has its own `status` choice sets: each gets its own name in the API schema.
SPECTACULAR_SETTINGS.setdefault("ENUM_NAME_OVERRIDES", {}).update(
    {
        "RecpProfileStatusEnum": "enterprises.models.ProfileStatus",
        "FacilityStatusEnum": "enterprises.models.FacilityStatus",
        "ClusterSuggestionStatusEnum": "enterprises.models.SuggestionStatus",
        "DuplicateSuspectStatusEnum": "enterprises.models.DuplicateStatus",
        "ImportJobStatusEnum": "enterprises.models.ImportStatus",
    }
)
# Safety net for duplicates entered by two POs at the same moment (each also re-checks after commit).
CELERY_BEAT_SCHEDULE["enterprises-sweep-duplicates"] = {
    "task": "enterprises.tasks.sweep_duplicates",
    "schedule": crontab(hour=2, minute=30),
}
CELERY_BEAT_SCHEDULE["enterprises-suggest-clusters"] = {
    "task": "enterprises.tasks.suggest_clusters",
    "schedule": 24 * 60 * 60,
}
# Enterprises follow their area's climate flag as soon as the PMU changes it; this nightly pass
# also catches flags changed in bulk (e.g. in the admin site) without that signal.
CELERY_BEAT_SCHEDULE["enterprises-refresh-climate-flags"] = {
    "task": "enterprises.tasks.refresh_climate_flags",
    "schedule": 24 * 60 * 60,
}

# --- Bad input and production surface (issue 11) ---------------------------------------------------
# Spreadsheet imports are measured before their rows are checked: a header wider than this is
# refused at once (the templates have at most a few dozen columns) ...
ENTERPRISES_IMPORT_MAX_COLUMNS = env_int("ENTERPRISES_IMPORT_MAX_COLUMNS", 100)
# ... and the whole check of a file keeps to this time budget (seconds), or the file is refused.
ENTERPRISES_IMPORT_PARSE_SECONDS = env_int("ENTERPRISES_IMPORT_PARSE_SECONDS", 300)
# Without a broker, imports run in a background thread so the upload answers at once; the tests run
# them inline (deterministic). Set to 1 to check files inside the request (not for production).
ENTERPRISES_IMPORTS_INLINE = env_bool("ENTERPRISES_IMPORTS_INLINE", TESTING)
# The OpenAPI schema (/api/schema/) and docs (/api/docs/) are for signed-in users, unless opened.
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", DEBUG)

# --- Money (issue 14; SPEC 8) ----------------------------------------------------------------------
# The release schedule an award sets (finance.releases): the advance, then one tranche per milestone,
# as percentages of the World Bank and PKSF shares (they must add up to 100).
FINANCE_DEFAULT_TRANCHES = tuple(
    int(share) for share in os.environ.get("FINANCE_DEFAULT_TRANCHES", "30,40,30").split(",") if share.strip()
)
# A quarter's spending report is due this many days after the quarter ends (reporting timeliness).
SPENDING_REPORT_DUE_DAYS = env_int("SPENDING_REPORT_DUE_DAYS", 30)
# A sub-project's spending "lags" when the share of its approved budget spent trails the share of its
# time elapsed by more than this many percentage points.
SPENDING_LAG_POINTS = env_int("SPENDING_LAG_POINTS", 20)
# Interim financial reports are due to the Bank this many days after each calendar quarter.
IFR_DUE_DAYS = env_int("IFR_DUE_DAYS", 45)
# PO scorecards are recomputed daily (Dhaka time) for the last complete quarter and the current one.
CELERY_BEAT_SCHEDULE["compute-scorecards"] = {
    "task": "finance.tasks.compute_scorecards",
    "schedule": crontab(hour=4, minute=15),
}
# Money's status enums, named apart from the other `status` fields of the schema.
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {
        "ScheduleMilestoneStatusEnum": "finance.models.MilestoneStatus",
        "ReleaseStatusEnum": "finance.models.ReleaseStatus",
        "FinancialReportStatusEnum": "finance.models.ReportStatus",
        "FundSourceEnum": "finance.models.FundSource",
        # The KPI readings' source keeps the name it had before fund receipts had one too.
        "SourceEnum": "enterprises.models.ReadingSource",
        "BudgetCategoryEnum": "subprojects.models.BudgetCategory",
    }
)

# --- Long work in the background (issue 15) ---------------------------------------------------------
# A list download of more rows than this is written in the background and kept under Downloads
# (core.export_jobs); smaller ones download at once.
EXPORT_INLINE_ROWS = env_int("EXPORT_INLINE_ROWS", 2000)
# Large lists (enterprises, readings, adoptions, attendance; pages and API) count no further than this
# ("more than 10,000") and page numbers reach no deeper; Next/Previous (a cursor) reach any depth.
LIST_COUNT_LIMIT = env_int("LIST_COUNT_LIMIT", 10_000)
# The PMU dashboard keeps its drawn cards and charts this long (seconds) in the cache, keyed by the
# snapshot they show (a new snapshot draws anew); 0 draws them on every request (issue 17).
DASHBOARD_CACHE_SECONDS = env_int("DASHBOARD_CACHE_SECONDS", 6 * 60 * 60)
# A page's CSV download is streamed at once whatever its length (the first byte goes out before the
# rows are read); off, a long CSV is written in the background like an XLSX (issue 17).
EXPORT_STREAM_CSV = env_bool("EXPORT_STREAM_CSV", True)
# Downloads written in the background are deleted this many days after they were asked for.
EXPORT_KEEP_DAYS = env_int("EXPORT_KEEP_DAYS", 7)
# Without a broker, large downloads are written in a background thread; the tests write them inline.
EXPORT_JOBS_INLINE = env_bool("EXPORT_JOBS_INLINE", TESTING)
CELERY_BEAT_SCHEDULE["prune-exports"] = {
    "task": "core.export_jobs.prune_exports",
    "schedule": crontab(hour=3, minute=45),
}

# --- Incremental sync (issue 16, smart_portal.sync) -------------------------------------------------
# A sync run's watermark is moved back this much: it covers the moment between Django stamping a row
# (`auto_now`, the application's clock) and the database seeing its transaction, and the skew of the
# two clocks. Changes made within it are listed by the next run.
SYNC_CLOCK_MARGIN_SECONDS = float(os.environ.get("SYNC_CLOCK_MARGIN_SECONDS", "2"))
# Deletions are listed (GET /api/v1/deletions/) this long, then forgotten by the nightly cleanup.
TOMBSTONE_KEEP_DAYS = env_int("TOMBSTONE_KEEP_DAYS", 90)
# Every API GET documents its ETag (and Last-Modified) and the 304 answer.
SPECTACULAR_SETTINGS.setdefault(
    "POSTPROCESSING_HOOKS", ["drf_spectacular.hooks.postprocess_schema_enums"]
).append("smart_portal.sync.document_conditional_requests")
