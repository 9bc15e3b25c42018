"""WSGI entry point for gunicorn (``celltrace serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "celltrace.config.local")
application = get_wsgi_application()
