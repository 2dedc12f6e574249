"""``c3desk ARGS...`` as its own process, without paying for a Python start each time.

The tests run the command line hundreds of times; each ``python -m c3desk`` spends most of its
0.3-0.8 s importing. A *zygote* (one process per test session that has imported c3desk's entry
point and nothing else, never running any of it) forks a child per command instead. The child is
a process of its own like any other: its environment, working folder, stdin (``/dev/null``),
stdout and stderr (files) set before ``c3desk.__main__.main(argv)`` runs, its exit code the one
``python -m c3desk`` would give (``sys.exit``, an uncaught exception's traceback and 1, atexit
handlers run). Only the imports are shared, and they are made before any command runs.

The zygote talks over its stdin and stdout, one JSON line per request; it answers with the
child's pid (so a timeout can kill it), then its exit code. One request at a time: a caller
that finds the zygote busy (another thread) runs ``python -m c3desk`` the usual way.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO


def _serve() -> None:
    """The zygote: import the entry point, then fork one child per request."""
    import atexit
    import traceback

    import c3desk.__main__ as entry
    import c3desk.cli  # noqa: F401  (what every command imports; imported once, here)

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    for line in requests:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.chdir(request["cwd"])
                os.environ.clear()
                os.environ.update(request["env"])
                for fd, path, flags in (
                    (0, os.devnull, os.O_RDONLY),
                    (1, request["stdout"], os.O_WRONLY | os.O_TRUNC),
                    (2, request["stderr"], os.O_WRONLY | os.O_TRUNC),
                ):
                    opened = os.open(path, flags)
                    os.dup2(opened, fd)
                    os.close(opened)
                sys.argv = [entry.__file__, *request["argv"]]
                try:
                    code = entry.main(request["argv"])
                except SystemExit as exc:
                    if exc.code is None or isinstance(exc.code, int):
                        code = exc.code or 0
                    else:
                        print(exc.code, file=sys.stderr)
                        code = 1
                except BaseException:
                    traceback.print_exc()
                    code = 1
                atexit._run_exitfuncs()
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
        replies.write(b"%d\n" % pid)
        replies.flush()
        _, status = os.waitpid(pid, 0)
        replies.write(b"%d\n" % os.waitstatus_to_exitcode(status))
        replies.flush()


# The zygotes' pids: processes the tests' own leftover check knows are meant to live on.
PIDS: set[int] = set()


class Zygote:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._files = tempfile.mkdtemp(prefix="c3-cli-")

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            here = str(Path(__file__).resolve().parent)
            self._proc = subprocess.Popen(
                [sys.executable, "-c", f"import sys; sys.path.insert(0, {here!r}); "
                 "import forkcli; forkcli._serve()"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=False,
            )  # fmt: skip
            PIDS.add(self._proc.pid)
        return self._proc

    def run(
        self, argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: str | None = None
    ) -> tuple[int, str, str]:
        """Run ``c3desk argv`` (exit code, stdout, stderr); TimeoutExpired after ``timeout``."""
        if not self._lock.acquire(blocking=False):
            proc = subprocess.run(
                [sys.executable, "-m", "c3desk", *argv],
                capture_output=True, text=True, env=dict(env), timeout=timeout,
                stdin=subprocess.DEVNULL, cwd=cwd,
            )  # fmt: skip
            return proc.returncode, proc.stdout, proc.stderr
        try:
            return self._run(argv, env, timeout, cwd)
        finally:
            self._lock.release()

    def _run(
        self, argv: Sequence[str], env: Mapping[str, str], timeout: float, cwd: str | None
    ) -> tuple[int, str, str]:
        out, err = Path(self._files, "stdout"), Path(self._files, "stderr")
        out.write_bytes(b"")
        err.write_bytes(b"")
        proc = self._process()
        request = {
            "argv": list(argv),
            "env": dict(env),
            "cwd": cwd or os.getcwd(),
            "stdout": str(out),
            "stderr": str(err),
        }
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        proc.stdin.flush()
        pid = int(_line(proc.stdout))
        expired: list[bool] = []

        def kill() -> None:
            expired.append(True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            code = int(_line(proc.stdout))
        finally:
            timer.cancel()
        stdout = out.read_text(errors="replace")
        stderr = err.read_text(errors="replace")
        if expired:
            raise subprocess.TimeoutExpired(["c3desk", *argv], timeout, stdout, stderr)
        return code, stdout, stderr

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()


def _line(stream: IO[bytes]) -> bytes:
    line = stream.readline()
    if not line:
        raise RuntimeError("the c3desk CLI zygote ended")
    return line
