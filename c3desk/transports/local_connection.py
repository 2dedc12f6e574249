"""The local machine as a worker connection: PTYs of this process, files of this file system.

Processes run in pseudo-terminals owned by this c3desk (:mod:`c3desk.transports.local`), which
end with it; or, given a tmux host and as the ``persistent_sessions`` setting says, in c3desk's
tmux server (:mod:`c3desk.transports.tmux_process`), where they outlive it and the next c3desk
reattaches them by their handle. Hook reports come back through ``c3desk hook``, which writes to
this instance's control socket.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import stat as st
import sys
from pathlib import Path

from c3desk.transports import tmux_process
from c3desk.transports.base import (
    ExitCallback,
    OutputCallback,
    Process,
    SpawnError,
    SpawnRequest,
)
from c3desk.transports.connection import (
    DirEntry,
    FileStat,
    WorkerConnection,
    WorkerInfo,
)
from c3desk.transports.local import LocalTransport
from c3desk.transports.shellpath import not_found, resolve_command
from c3desk.transports.tmux import TmuxError, TmuxHost, name_of


class LocalConnection(WorkerConnection):
    def __init__(self, worker: WorkerInfo, hosting: TmuxHost | None = None) -> None:
        super().__init__(worker)
        self._transport = LocalTransport()
        # With a tmux host, sessions run in c3desk's tmux server and survive c3desk.
        self.hosting = hosting

    async def connect(self) -> None:
        # Nothing to reach: this machine is here whenever c3desk runs.
        self._set_status("connected")

    async def close(self) -> None:
        self._set_status("disconnected", "c3desk stopped")

    async def spawn(
        self, request: SpawnRequest, on_output: OutputCallback, on_exit: ExitCallback
    ) -> Process:
        name = name_of(request.handle)
        if self.hosting is None or name is None:
            return await self._transport.spawn(request, on_output, on_exit)
        if not Path(request.cwd).is_dir():
            raise SpawnError(f"working directory {request.cwd} does not exist")
        if not request.argv:
            raise SpawnError("the agent command is empty")
        # As the bare PTY does: a missing command is said at once, with where it was looked for.
        path = request.env.get("PATH", "")
        exe = resolve_command(request.argv[0], path)
        if exe is None:
            raise SpawnError(not_found(request.argv[0], path))
        request = dataclasses.replace(request, argv=[exe, *request.argv[1:]])
        try:
            return await tmux_process.start(self.hosting, name, request, on_output, on_exit)
        except (OSError, TmuxError) as exc:
            raise SpawnError(f"cannot start the session in tmux: {exc}") from None

    async def hosted_handle(self, session_id: str) -> str | None:
        if self.hosting is None:
            return None
        return await self.hosting.hosts(self.persistence, session_id, "this machine")

    async def hosted_size(self, handle: str) -> tuple[int, int] | None:
        name = name_of(handle)
        if self.hosting is None or name is None:
            return None
        try:
            pane = await self.hosting.pane(name)
        except (OSError, TmuxError, ValueError):
            return None
        return None if pane is None else pane.size

    async def reattach(
        self,
        handle: str,
        on_output: OutputCallback,
        on_exit: ExitCallback,
        size: tuple[int, int] = (120, 40),
    ) -> Process | None:
        # A bare PTY's child died with the c3desk that opened it (its terminal hung up); a
        # session hosted in tmux is attached to again, if tmux still has it.
        name = name_of(handle)
        if self.hosting is None or name is None:
            return None
        # The client finds the server as every tmux command of c3desk's does: through this
        # process's environment (TMUX_TMPDIR says where the sockets are).
        env = dict(os.environ)
        try:
            return await tmux_process.attach(self.hosting, name, env, *size, on_output, on_exit)
        except (OSError, TmuxError, ValueError):
            return None

    async def read_file(self, path: str, limit: int, offset: int = 0) -> bytes:
        def read() -> bytes:
            with open(path, "rb") as f:
                if offset:
                    f.seek(offset)
                return f.read(max(0, limit))

        return await asyncio.get_running_loop().run_in_executor(None, read)

    async def list_dir(self, path: str) -> list[DirEntry]:
        def scan() -> list[DirEntry]:
            out: list[DirEntry] = []
            with os.scandir(path) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # removed meanwhile
                    out.append(
                        DirEntry(
                            entry.name,
                            st.S_ISDIR(info.st_mode),
                            info.st_size,
                            info.st_mtime,
                            info.st_ctime,
                            st.S_ISREG(info.st_mode),
                        )
                    )
            return out

        return await asyncio.get_running_loop().run_in_executor(None, scan)

    async def stat(self, path: str) -> FileStat | None:
        def look() -> FileStat | None:
            try:
                info = os.stat(path)
            except FileNotFoundError:
                return None
            return FileStat(
                st.S_ISDIR(info.st_mode),
                info.st_size,
                info.st_mtime,
                info.st_ctime,
                st.S_ISREG(info.st_mode),
            )

        return await asyncio.get_running_loop().run_in_executor(None, look)

    async def home(self) -> str:
        return str(Path.home())

    async def realpath(self, path: str) -> str:
        return os.path.realpath(path)

    def hook_command(self, home: Path, session_id: str) -> list[str] | None:
        # The same command c3desk.core.awareness.hook_settings writes into the agent's settings.
        # In a PyInstaller bundle the executable is c3desk itself, not a Python.
        program = (
            [sys.executable] if getattr(sys, "frozen", False) else [sys.executable, "-m", "c3desk"]
        )
        return [
            *program,
            "--home",
            str(home),
            "hook",
            "--session",
            session_id,
        ]
