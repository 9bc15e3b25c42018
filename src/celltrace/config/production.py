"""Production: behind a TLS-terminating reverse proxy, secrets only from the environment.

Passes ``manage.py check --deploy --fail-level WARNING``.
"""

from __future__ import annotations

from celltrace.config.base import *  # noqa: F403
from celltrace.config.env import env

SECRET_KEY = env.str("SECRET_KEY")
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"

# Demo data (accounts with a published password) is refused here unless asked for explicitly,
# e.g. for a demonstration server (core.demo.refusal).
ALLOW_DEMO_DATA = env.bool("CELLTRACE_ALLOW_DEMO", default=False)
