"""The corpus builder's error type: a user error (exit 2) raised by corpus_builder's own modules."""

from alt_common.errors import UserError


class CorpusError(UserError):
    """A problem with the user's input or environment; the CLI prints it as one line, exit code 2."""
