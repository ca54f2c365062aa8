"""The one error type for bad user input, and the one way to check for it: the CLI turns an
InputError into one line and exit status 2."""


class InputError(ValueError):
    """A user-supplied value (benchmark, key, path, field) is wrong; the message names it."""


def require(condition: bool, *message: str) -> None:
    """Raises InputError unless `condition`; the message parts are joined by spaces, so a spec
    check reads `require(ok, "strategies.ft.lr", "must be > 0")`."""
    if not condition:
        raise InputError(" ".join(message))
