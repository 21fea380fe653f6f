"""Errors raised by graph surgery."""


class SurgeryError(ValueError):
    """An architecture cannot be turned into a working student (the reason says why)."""
