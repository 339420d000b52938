"""The one error type for user mistakes.

Raise :class:`NerfplexError` when the user can fix the problem (a missing folder, a malformed file, a
bad config value). The message says what is wrong and how to fix it. The CLI prints it without a
traceback and exits with status 2. Programming errors stay ordinary exceptions.
"""


class NerfplexError(Exception):
    """A user-facing error: the message says what is wrong and how to fix it."""
