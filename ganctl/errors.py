"""The one exception type that means "the user asked for something we cannot do".

The CLI turns it into a single line on stderr and exit code 2; anything else is a bug and keeps its traceback.
Every layer may raise it, so it lives at the package top, outside the concern folders.
"""


class UserError(Exception):
    """Bad input: the message says what is wrong and how to fix it, in one line."""


def one_line(error: BaseException | str, limit: int | None = None) -> str:
    """An exception's message on one line (whitespace runs, newlines included, become one space), at most `limit`
    characters; the exception's type name when it has no message. For wrapping another library's error in ours."""
    text = " ".join(str(error).split()) or (type(error).__name__ if isinstance(error, BaseException) else "")
    return text if limit is None else text[:limit]
