"""The one error type for bad user input: the CLI turns it into one line and exit status 2."""


class InputError(ValueError):
    """A user-supplied value (benchmark, key, path, field) is wrong; the message names it."""
