class StackError(Exception):
    """A failure the user can act on: the message says what went wrong and how to fix it."""
