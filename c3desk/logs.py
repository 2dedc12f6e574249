"""Logging to a rotating file in the data directory; ``--verbose`` mirrors it to stderr."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path


class _LogFile(logging.handlers.RotatingFileHandler):
    """The log file; one that cannot be written (a full disk, a read-only folder) drops the
    record. logging's default prints a traceback on stderr for each, above the one line a
    command prints for the problem."""

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def setup(log_dir: Path | None, verbose: bool = False) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_dir is not None:
        try:
            log_dir.mkdir(parents=True, exist_ok=True)
            handler: logging.Handler = _LogFile(
                log_dir / "c3desk.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
            )
            handler.setFormatter(fmt)
            root.addHandler(handler)
        except OSError:
            pass  # an unwritable data dir must not stop the command; the error shows later
    if verbose:
        stream = logging.StreamHandler()
        stream.setFormatter(fmt)
        root.addHandler(stream)
