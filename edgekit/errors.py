"""Errors a user can act on, each with a documented exit code.

Exit codes (also in README.md):
  0  success
  1  a gate failed (a quality threshold a user asked for was not met)
  2  usage or input error: bad file, bad data, unknown board or example, unsupported model
  3  device error: no board on the port, link lost, board answered garbage
  4  missing tool: a toolchain, flasher or optional Python package is not installed
  5  the machine refused a file: no space left, read-only file system, permission denied,
     file name too long
"""

from __future__ import annotations

import errno


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


class FileSystemError(EdgekitError):
    """The machine refused to read or write a file: disk full, read-only, permission, name too long."""

    exit_code = 5


# errno -> what the user can do about it
_FS_FAULTS = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EROFS: "write to a writable directory",
    errno.EACCES: "check the permissions, or write elsewhere",
    errno.EPERM: "check the permissions, or write elsewhere",
    errno.ENAMETOOLONG: "use a shorter file or directory name",
}


def filesystem_error(exc: OSError) -> FileSystemError | None:
    """The one-line error for an OSError the machine raised about a file (None for other
    OSErrors, which are bugs or reported where they happen)."""
    hint = _FS_FAULTS.get(exc.errno or 0)
    if hint is None:
        return None
    where = exc.filename if exc.filename is not None else "a file"
    name = str(where)
    if len(name) > 120:   # a name too long to read: its start and end say where it is
        name = name[:50] + "…" + name[-50:]
    verb = "write" if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) else "use"
    return FileSystemError(f"cannot {verb} {name}: {exc.strerror or errno.errorcode.get(exc.errno or 0)}",
                           hint=hint)
