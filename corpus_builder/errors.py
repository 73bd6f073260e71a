"""The one exception type of the corpus builder: a message a user can act on."""


class CorpusError(Exception):
    """A problem with the user's input or environment; the CLI prints it as one line, exit code 2."""
