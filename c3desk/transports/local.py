"""Sessions on this machine: a pseudo-terminal from ptyprocess, read on the asyncio loop.

Output is read with ``loop.add_reader``, in reads of up to 64 KiB until the terminal is empty
(at most 256 KiB a turn); input is written without
blocking (what the terminal cannot take at once waits for ``add_writer``). The process's exit is
noticed through a pidfd where the kernel has them, else by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
from collections import deque
from pathlib import Path

from ptyprocess import PtyProcess

from c3desk.transports.base import (
    ExitCallback,
    ExitStatus,
    ExitWaiters,
    OutputCallback,
    Process,
    SpawnError,
    SpawnRequest,
    Transport,
)
from c3desk.transports.shellpath import not_found, resolve_command

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
READ_BURST = 256 * 1024  # most read per readiness callback, so one busy session cannot hog a turn


class LocalProcess(Process):
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        proc: PtyProcess,
        on_output: OutputCallback,
        on_exit: ExitCallback,
    ) -> None:
        self._loop = loop
        self._proc = proc
        self.pid = proc.pid
        # A bare PTY's child cannot be reattached by a new c3desk; the pid names it in logs.
        self.handle = f"pty:{proc.pid}"
        self._fd: int | None = proc.fd
        self._on_output = on_output
        self._on_exit = on_exit
        self._reading = False
        self._outbox: deque[memoryview] = deque()
        self._writing = False
        self._status: ExitStatus | None = None
        self._waiters = ExitWaiters(loop)
        self._pidfd: int | None = None
        self._poll_handle: asyncio.TimerHandle | None = None
        os.set_blocking(proc.fd, False)
        self.resume_reading()
        self._watch_exit()

    # -- output ------------------------------------------------------------------------------

    def pause_reading(self) -> None:
        if self._reading and self._fd is not None:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def resume_reading(self) -> None:
        if not self._reading and self._fd is not None:
            self._loop.add_reader(self._fd, self._read_ready)
            self._reading = True

    def _read_ready(self) -> None:
        """Read what the terminal holds now, in reads of up to 64 KiB, up to READ_BURST.

        One read returns at most what the kernel's line discipline buffers (about 4 KiB when
        the writer is ahead), so a 90 KB synchronized frame took some twenty loop turns to
        arrive, a turn being several milliseconds while nine sessions stream. Reading again
        at once usually finds the rest already moved in. Each chunk is delivered as read, so
        a consumer that pauses reading (backpressure) overshoots by one read at most.
        """
        got = 0
        while self._reading and self._fd is not None and got < READ_BURST:
            try:
                data = os.read(self._fd, READ_SIZE)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno != errno.EIO:  # EIO: every slave side closed
                    log.warning("reading pty of %s: %s", self.pid, exc)
                data = b""
            if not data:
                # End of output. The process may still be running (it closed the terminal,
                # or a grandchild holds it); its exit is noticed separately.
                self.pause_reading()
                return
            got += len(data)
            self._on_output(data)

    def _drain(self) -> None:
        """Read what output remains after the process ended."""
        if self._fd is None:
            return
        for _ in range(256):  # bounded: a grandchild could keep writing forever
            try:
                data = os.read(self._fd, READ_SIZE)
            except OSError:
                return
            if not data:
                return
            self._on_output(data)

    # -- input -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self._fd is None or not data:
            return
        self._outbox.append(memoryview(bytes(data)))
        self._flush_outbox()

    def _flush_outbox(self) -> None:
        while self._outbox and self._fd is not None:
            chunk = self._outbox[0]
            try:
                n = os.write(self._fd, chunk)
            except BlockingIOError:
                n = 0
            except OSError as exc:
                log.info("writing to pty of %s: %s", self.pid, exc)
                self._outbox.clear()
                break
            if n < len(chunk):
                self._outbox[0] = chunk[n:]
                if not self._writing:
                    self._loop.add_writer(self._fd, self._flush_outbox)
                    self._writing = True
                return
            self._outbox.popleft()
        if self._writing and self._fd is not None:
            self._loop.remove_writer(self._fd)
            self._writing = False

    def resize(self, cols: int, rows: int) -> None:
        if self._status is None:
            with contextlib.suppress(OSError):
                self._proc.setwinsize(rows, cols)

    # -- exit --------------------------------------------------------------------------------

    def _watch_exit(self) -> None:
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except (AttributeError, OSError):
            self._pidfd = None
        if self._pidfd is not None:
            self._loop.add_reader(self._pidfd, self._check_exit)
        else:
            self._poll_handle = self._loop.call_later(0.05, self._check_exit)

    def _check_exit(self) -> None:
        try:
            alive = self._proc.isalive()
        except Exception:  # ptyprocess raises if waitpid fails oddly; treat as gone
            alive = False
        if alive:
            if self._pidfd is None:
                self._poll_handle = self._loop.call_later(0.05, self._check_exit)
            return
        self._finish()

    def _finish(self) -> None:
        if self._status is not None:
            return
        proc = self._proc
        code = proc.exitstatus
        sig = proc.signalstatus
        self._status = ExitStatus(code if sig is None else None, sig)
        if self._pidfd is not None:
            self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._poll_handle is not None:
            self._poll_handle.cancel()
        self._drain()
        self.pause_reading()
        if self._writing and self._fd is not None:
            self._loop.remove_writer(self._fd)
            self._writing = False
        # Closing the master hangs up anything still attached to the terminal. The process has
        # exited already, so ptyprocess's sleep before checking on it is not needed.
        proc.delayafterclose = 0
        with contextlib.suppress(Exception):
            proc.close(force=True)
        self._fd = None
        self._waiters.release(self._status)
        self._on_exit(self._status)

    @property
    def exited(self) -> bool:
        return self._status is not None

    async def wait(self) -> ExitStatus:
        if self._status is not None:
            return self._status
        return await self._waiters.wait()

    async def terminate(self, grace: float = 1.0) -> ExitStatus:
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGKILL):
            if self._status is not None:
                break
            self._signal_group(sig)
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(asyncio.shield(self.wait()), grace)
        return await self.wait()

    def _signal_group(self, sig: int) -> None:
        # The child is a session leader, so its process group holds what it started too.
        try:
            os.killpg(self._proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(OSError):
                os.kill(self._proc.pid, sig)


class LocalTransport(Transport):
    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        if not Path(request.cwd).is_dir():
            raise SpawnError(f"working directory {request.cwd} does not exist")
        if not request.argv:
            raise SpawnError("the agent command is empty")
        exe = resolve_command(request.argv[0], request.env.get("PATH", ""))
        if exe is None:
            raise SpawnError(not_found(request.argv[0], request.env.get("PATH", "")))
        argv = [exe, *request.argv[1:]]
        loop = asyncio.get_running_loop()
        # fork and exec of a large process take tens of milliseconds: keep them off the loop,
        # so starting nine sessions at once does not stall the window.
        try:
            proc = await loop.run_in_executor(
                None,
                lambda: PtyProcess.spawn(
                    argv,
                    cwd=request.cwd,
                    env=dict(request.env),
                    dimensions=(request.rows, request.cols),
                ),
            )
        except (OSError, ValueError) as exc:
            raise SpawnError(f"cannot start {request.argv[0]}: {exc}") from None
        return LocalProcess(loop, proc, on_output, on_exit)
