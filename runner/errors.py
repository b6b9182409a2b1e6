"""The one error type the CLI turns into a clear message (no traceback)."""


class MedrunError(Exception):
    """Bad input or an unmet precondition, with a message that names the file/field and the fix."""
