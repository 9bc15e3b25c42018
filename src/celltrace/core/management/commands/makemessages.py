"""``makemessages`` that also extracts the project's translation aliases.

Django's command passes xgettext the standard keywords (``gettext``, ``gettext_lazy``,
``pgettext``, ...; ``_`` is xgettext's own). Modules that need both the eager and the lazy
function import ``gettext as _`` and ``gettext_lazy as _l``; without ``--keyword=_l`` their
``_l("...")`` strings were never extracted and shipped untranslated. This command replaces
Django's (an app command of the same name takes precedence) and is what ``make messages``
runs; use only ``_``, ``_l`` or the full function names to mark strings.
"""

from __future__ import annotations

from django.core.management.commands import makemessages

#: Extra xgettext keywords: the aliases used in ``src/celltrace`` (``gettext_lazy as _l``).
KEYWORDS = ("--keyword=_l",)


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, *KEYWORDS]
