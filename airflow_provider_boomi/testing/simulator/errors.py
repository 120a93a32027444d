"""The one exception type the simulator raises for Boomi-level errors."""

from __future__ import annotations


class SimulatorApiError(ValueError):
    """A Boomi API error: an HTTP status and the message of the ``{"@type": "Error"}`` body.

    Raised by the state mutators (``grant_role`` and friends) with exactly the status and message
    the HTTP API would answer with, so tests can exercise Boomi's rules without HTTP.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON error body Boomi sends."""
        return {"@type": "Error", "message": self.message}
