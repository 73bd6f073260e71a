"""The ALT model's error type: a user error (exit 2) raised by alt_model's own modules."""

from alt_common.errors import UserError


class ModelError(UserError):
    """An unsupported model, a bad option or a bad corpus bundle; the message says what to change."""
