"""Errors a user can act on, each with a documented exit code.

Exit codes (also in README.md):
  0  success
  1  a gate failed (a quality threshold a user asked for was not met)
  2  usage or input error: bad file, bad data, unknown board or example, unsupported model
  3  device error: no board on the port, link lost, board answered garbage
  4  missing tool: a toolchain, flasher or optional Python package is not installed
"""

from __future__ import annotations


class EdgekitError(Exception):
    """Base class: a one-line message saying what, where and what to do."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(EdgekitError):
    """Bad command-line usage or configuration."""


class InputFileError(EdgekitError):
    """A file is missing, unreadable, corrupt or of the wrong kind."""


class DataError(EdgekitError):
    """Data whose keys, shape or content do not fit what is asked of it."""


class ModelError(EdgekitError):
    """A model that cannot be used for this step (float where int8 is needed, unsupported op...)."""


class BoardError(EdgekitError):
    """Unknown board id or an invalid board file."""


class FitError(EdgekitError):
    """The model or firmware does not fit the board's flash or RAM."""


class BuildError(EdgekitError):
    """The compiler or linker failed (exit code 2, like other input errors)."""


class GateFailed(EdgekitError):
    """A quality gate the user asked for was not met."""

    exit_code = 1


class DeviceError(EdgekitError):
    """The board did not answer, answered garbage, or the link was lost."""

    exit_code = 3


class DeviceRefused(DeviceError):
    """The device answered a request with an ERROR reply: `code` and `detail` say why."""

    def __init__(self, message: str, *, code: int, detail: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.code = code
        self.detail = detail


class MissingToolError(EdgekitError):
    """A program or optional package needed for this step is not installed."""

    exit_code = 4
