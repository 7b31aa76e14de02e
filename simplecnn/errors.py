"""Errors that carry a typed code beside their message: the message is one line of English (the CLI and the
logs show it); `code` (an enum) and `params` let a UI say the same in its visitor's language. Torch-free."""

from __future__ import annotations

import enum
from typing import Any


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
