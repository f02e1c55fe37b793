"""Errors that end a command with exit code 2: bad input the user can fix."""


class InputError(Exception):
    """A usage or input problem; its message is the one line the user sees."""
