"""Domain errors: each carries a message a user understands. The CLI maps them to exit codes."""


class C3Error(Exception):
    """Base of every error c3desk shows to a user instead of a traceback."""

    exit_code = 1


class InvalidInput(C3Error):
    """A value given by the user is wrong (a missing folder, an unknown id, a bad setting)."""

    exit_code = 2


class NotFound(InvalidInput):
    """A session, worker or other thing named by the user does not exist."""


class Refused(C3Error):
    """A valid request that the current state does not allow (removing an active session...)."""

    exit_code = 1
