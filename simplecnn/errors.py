"""Errors that carry a typed code beside their message: the message is one line of English (the CLI and the
logs show it); `code` (an enum) and `params` let a UI say the same in its visitor's language. Torch-free.

`incident()` is for failures nobody foresaw: the traceback goes to the log under a short random id, and the
visitor (or the CLI's user) sees only the id. `StorageError` turns the operating system's "disk full" and
"read-only" into one line that never names a server path.
"""

from __future__ import annotations

import enum
import errno
import logging
import secrets
from typing import Any

log = logging.getLogger("simplecnn.errors")


class CodedError(Exception):
    """An error with a one-line English message, a typed `code` and the `params` its sentence needs."""

    code: enum.Enum | None = None  # a subclass's default code

    def __init__(self, message: str, code: enum.Enum | None = None, **params: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, Any] = params

    def __reduce__(self) -> tuple[Any, ...]:  # pickles with its code and params (Ray, multiprocessing)
        return _rebuild, (type(self), str(self), self.code, self.params)


def _rebuild(cls: type[CodedError], message: str, code: enum.Enum | None, params: dict[str, Any]) -> CodedError:
    return cls(message, code, **params)


def incident(exc: BaseException, where: str = "") -> str:
    """Log `exc` with its traceback under a fresh id; return the id (8 hex digits) to show instead."""
    error_id = secrets.token_hex(4)
    log.error("error %s%s: %s", error_id, f" in {where}" if where else "", type(exc).__name__, exc_info=exc)
    return error_id


class StorageProblem(enum.StrEnum):
    """Why a file could not be written (values are catalog keys under errors.)."""

    DISK_FULL = "storage.disk_full"
    READ_ONLY = "storage.read_only"
    NO_PERMISSION = "storage.no_permission"
    FAILED = "storage.failed"


_MESSAGES = {
    StorageProblem.DISK_FULL: "the disk is full: the {what} could not be written",
    StorageProblem.READ_ONLY: "the {what} folder is read-only",
    StorageProblem.NO_PERMISSION: "no permission to write the {what} folder",
    StorageProblem.FAILED: "the {what} could not be written ({reason})",
}
_BY_ERRNO = {
    errno.ENOSPC: StorageProblem.DISK_FULL,
    errno.EDQUOT: StorageProblem.DISK_FULL,
    errno.EFBIG: StorageProblem.DISK_FULL,
    errno.EROFS: StorageProblem.READ_ONLY,
    errno.EACCES: StorageProblem.NO_PERMISSION,
    errno.EPERM: StorageProblem.NO_PERMISSION,
}


class StorageError(OSError):
    """Writing a file failed: str() is one line without any path; `code` and `params` (what, reason) for other
    languages. An OSError, so code that already copes with one copes with this."""

    def __init__(self, code: StorageProblem, what: str = "file", reason: str = "") -> None:
        super().__init__(_MESSAGES[code].format(what=what, reason=reason))
        self.code, self.params = code, {"what": what, "reason": reason}

    def __str__(self) -> str:
        return str(self.args[0])

    def __reduce__(self) -> tuple[Any, ...]:  # pickles with its code (Ray, multiprocessing)
        return StorageError, (self.code, self.params["what"], self.params["reason"])


def storage_error(exc: OSError, what: str = "file") -> StorageError:
    """The OS error of a write as a StorageError (`what`: the kind of file, e.g. "runs")."""
    if isinstance(exc, StorageError):
        return exc
    code = _BY_ERRNO.get(exc.errno or 0, StorageProblem.FAILED)
    reason = "" if code is not StorageProblem.FAILED else (exc.strerror or type(exc).__name__)
    return StorageError(code, what, reason)
