"""`python -m simplecnn …`: the CLI, ending without Python's slow teardown once its work is done.

Why: with torch loaded, the interpreter's own shutdown (a final garbage collection over every module's objects,
module teardown, then the C++ libraries' static destructors) is a large share of a short CLI call
(docs/performance.md has the figures). By then everything the CLI writes is closed (checkpoints are
fsynced and renamed into place). So the last exit handler flushes stdout/stderr and leaves with os._exit:
registered before anything else, it runs after every other atexit handler (logging, temporary folders, Ray's
shutdown), and the exit status is the one the CLI returned.
"""

from __future__ import annotations

import atexit
import os
import sys

_status = 1  # an uncaught exception (its traceback already printed) exits 1, as Python would


def _exit_now() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`… | head`) or a closed stream: nothing left to say
            pass
    os._exit(_status)


atexit.register(_exit_now)  # first registered, so last to run

from simplecnn.cli import main  # noqa: E402  (after the handler: the imports below may register their own)

try:
    code: str | int | None = main()
except SystemExit as exc:  # argparse's --help and usage errors
    code = exc.code
_status = 0 if code is None else code if isinstance(code, int) else 1  # sys.exit("text") prints it, exits 1
sys.exit(code)
