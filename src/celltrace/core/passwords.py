"""Password rules after NIST SP 800-63B-4 (docs/design/reliability.md §7).

No composition rules and no expiry; a minimum length (settings), a generous maximum that is
never truncated, Django's common-password list, and a blocklist of context words.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

CONTEXT_WORDS = ("celltrace", "cellbank", "password", "cryo")


class MaximumLengthValidator:
    """Accept at least 64 characters; refuse absurd lengths that would only cost hashing time."""

    max_length = 1024

    def validate(self, password: str, user: Any = None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                _("This password is longer than %(n)d characters.") % {"n": self.max_length},
                code="password_too_long",
            )

    def get_help_text(self) -> str:
        return _("Up to %(n)d characters; spaces and any symbols are allowed.") % {
            "n": self.max_length
        }


class ContextBlocklistValidator:
    """Refuse passwords built on the product's or the user's organisation's name."""

    def validate(self, password: str, user: Any = None) -> None:
        lowered = password.casefold()
        words = list(CONTEXT_WORDS)
        org = getattr(user, "organisation", None) if user is not None else None
        if org is not None:
            words += [org.code.casefold(), org.name.casefold()]
        for word in words:
            if len(word) >= 4 and word in lowered:
                raise ValidationError(
                    _("This password contains a word that is easy to guess here: %(w)s.")
                    % {"w": word},
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return _("It must not contain the product name or your organisation's name.")
