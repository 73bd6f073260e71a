"""The one exception type of the ALT model: a message a user can act on."""


class ModelError(Exception):
    """An unsupported model, a bad option or a bad corpus bundle; the message says what to change."""
