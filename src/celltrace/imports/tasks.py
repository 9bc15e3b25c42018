"""Running an import in the background of the web process (the page and the API).

The upload request records the run and returns at once; a daemon thread checks and writes
the file with its own database connection while the page polls the run's progress. If the
server stops meanwhile, the run stays unfinished and is marked failed after
:data:`celltrace.imports.services.STALE_AFTER` without progress (nothing was written: the
write is one transaction).
"""

from __future__ import annotations

import logging
import threading

from django.db import connection
from django.utils import translation

logger = logging.getLogger(__name__)


def _work(run_id: int, language: str | None) -> None:
    from celltrace.imports import services
    from celltrace.imports.models import ImportRun

    try:
        run = ImportRun.objects.select_related("created_by").get(pk=run_id)
        # the problems are stored as text: in the language the file was submitted in
        with translation.override(language):
            services.import_run_execute(run=run)
    except Exception:
        logger.exception("inventory import %s stopped on an error", run_id)
    finally:
        connection.close()


def start(run_id: int) -> threading.Thread:
    """Check and write the run in a background thread, in the caller's active language (a
    thread does not inherit it); returns the thread."""
    language = translation.get_language()
    thread = threading.Thread(
        target=_work, args=(run_id, language), name=f"import-{run_id}", daemon=True
    )
    thread.start()
    return thread
