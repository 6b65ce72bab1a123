"""The one exception type that means "the user asked for something we cannot do".

The CLI turns it into a single line on stderr and exit code 2; anything else is a bug and keeps its traceback.
Every layer may raise it, so it lives at the package top, outside the concern folders.
"""


class UserError(Exception):
    """Bad input: the message says what is wrong and how to fix it, in one line."""
