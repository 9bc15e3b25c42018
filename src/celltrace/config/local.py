"""The embedded single-machine installation (``make run``): plain HTTP on loopback.

Cookies are not marked Secure because the local server speaks HTTP; everything else matches
production. The secret key is generated once by ``celltrace setup`` and kept in the data dir.
"""

from __future__ import annotations

from celltrace.config.base import *  # noqa: F403
from celltrace.config.base import DATA_DIR
from celltrace.config.env import env
from celltrace.core.secrets import local_secret_key

SECRET_KEY = env.str("SECRET_KEY", default="") or local_secret_key(DATA_DIR)
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
# The demo logs in with passwords; set CELLTRACE_MFA_ROLES=admin,qa to require TOTP here too.
MFA_REQUIRED_ROLES = env.list("CELLTRACE_MFA_ROLES", default=[])
