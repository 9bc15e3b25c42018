"""Settings shared by every environment. ``local``, ``production`` and ``test`` override a few.

Values that vary come from the environment through :mod:`celltrace.config.env`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from csp.constants import NONE, SELF
from django.utils.translation import gettext_lazy as _

from celltrace.config.env import data_dir, env

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = data_dir()

SECRET_KEY = env.str("SECRET_KEY", default="")
DEBUG = env.bool("CELLTRACE_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "csp",
    "ninja",
    "celltrace.core",
    "celltrace.audit",
    "celltrace.bank",
    "celltrace.storage",
    "celltrace.qc",
    "celltrace.metabolism",
    "celltrace.monitoring",
    "celltrace.imports",
    "celltrace.api",
    "celltrace.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "celltrace.core.middleware.SecurityHeadersMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "celltrace.core.middleware.SessionLifetimeMiddleware",
    "celltrace.core.middleware.PasswordChangeRequiredMiddleware",
    "celltrace.core.middleware.MfaRequiredMiddleware",
    "celltrace.core.middleware.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "celltrace.config.urls"
WSGI_APPLICATION = "celltrace.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "celltrace.web.context_processors.navigation",
            ],
        },
    }
]


def sqlite_database(path: Path) -> dict[str, Any]:
    """SQLite as docs/design/reliability.md §1.2 requires: WAL, IMMEDIATE, FULL, busy timeout."""
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;"
            ),
        },
    }


if env.str("CELLTRACE_VERIFY_DATABASE", default=""):
    # `celltrace audit verify --database FILE`: check a backup or restored SQLite copy
    DATABASES = {"default": sqlite_database(Path(env.str("CELLTRACE_VERIFY_DATABASE")))}
elif env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {"default": sqlite_database(DATA_DIR / "celltrace.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "core.User"

# --- authentication (docs/design/reliability.md §7) -----------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 15},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "celltrace.core.passwords.MaximumLengthValidator"},
    {"NAME": "celltrace.core.passwords.ContextBlocklistValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:login"

# Roles that work only with a second factor (TOTP): they enrol an authenticator before anything
# else and log in with its code (docs/design/reliability.md §7). The embedded demo installation
# (config/local.py) leaves it empty unless set, so the tour logs in with passwords.
MFA_REQUIRED_ROLES: list[str] = env.list("CELLTRACE_MFA_ROLES", default=["admin", "qa"])

AXES_FAILURE_LIMIT = env.int("CELLTRACE_LOCKOUT_FAILURES", default=5)
AXES_COOLOFF_TIME = env.float("CELLTRACE_LOCKOUT_HOURS", default=0.5)
# Reverse proxies in front of the application (docs/operations.md): the client's address is
# then read from X-Forwarded-For (core.middleware.client_ip), for the ledger and for lockouts.
PROXY_COUNT = env.int("CELLTRACE_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "celltrace.core.middleware.client_ip"
# Lock a username after repeated failures. Locking an address that fails across many usernames
# is on only where the address is the client's own (CELLTRACE_LOCKOUT_BY_ADDRESS): behind a
# proxy left unconfigured every user shares the proxy's address, and five failures on any
# usernames would lock everybody out.
AXES_LOCKOUT_PARAMETERS: list[str] = ["username"] + (
    ["ip_address"] if env.bool("CELLTRACE_LOCKOUT_BY_ADDRESS", default=False) else []
)
# axes.W006 warns that a lockout without the address can be dodged by rotating user agents or
# cookies: true of lockouts keyed on those, not of one keyed on the username alone.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "celltrace.web.views.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False

SESSION_COOKIE_AGE = 30 * 60  # idle timeout: every request pushes expiry forward
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_ABSOLUTE_LIMIT_SECONDS = 12 * 60 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "celltrace.web.views.csrf_failure"

# --- internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- static and uploaded files --------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5000

# --- security headers (docs/design/reliability.md §7) ---------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- celltrace ------------------------------------------------------------------------------
CELLTRACE_ORIGIN = env.str("CELLTRACE_LEDGER_ORIGIN", default="celltrace.local/ledger")
CELLTRACE_SIGNING_KEY = Path(
    env.str("CELLTRACE_SIGNING_KEY", default=str(DATA_DIR / "keys" / "checkpoint.key"))
)
CELLTRACE_VERIFY_KEY = Path(
    env.str("CELLTRACE_VERIFY_KEY", default=str(DATA_DIR / "keys" / "checkpoint.pub"))
)
CELLTRACE_CHECKPOINT_DIR = Path(
    env.str("CELLTRACE_CHECKPOINT_DIR", default=str(DATA_DIR / "checkpoints"))
)
# The public address of this installation, printed in QR codes on certificates.
CELLTRACE_PUBLIC_URL = env.str("CELLTRACE_PUBLIC_URL", default="")
# Test-only hook used by the race tests to widen the window between check and write.
CELLTRACE_RACE_SLEEP = 0.0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("CELLTRACE_LOG_LEVEL", default="WARNING")},
    "loggers": {"axes": {"level": "WARNING"}},
}
