"""Errors that reach the user as one message (CLI exit status 2, a dialog in the app)."""


class InputError(ValueError):
    """Bad user input: the message names the problem (CLI exit status 2)."""
