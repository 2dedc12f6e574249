"""Hostile output shown in the real terminal widget, read from a real PTY: the clipboard and the
selection are untouched (OSC 52 writes and reads are dropped), the title stays the last sane one,
the child gets no bytes back but the fixed numeric answers, and the widget keeps painting."""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.hostile import corpus, expected_answers
from ptyprocess import PtyProcess
from PySide6.QtCore import QTimer
from PySide6.QtGui import QClipboard, QGuiApplication
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from c3desk.terminal import TerminalModel
from c3desk.terminal.screen import CELL_TEXT_MAX
from c3desk.ui.terminal_view import TerminalView

DONE = "CORPUS-DONE"
READY = "CHILD-READY"
END = "END-OF-TEST"

# Raw mode; waits for "GO"; the corpus; then every byte read until the end marker, into the
# record file.
CHILD = rf"""
import os, sys, tty
tty.setraw(0)
os.write(1, b"{READY}\r\n")  # raw from here: setraw discards input typed before it
go = b""
while not go.endswith(b"GO"):
    go += os.read(0, 1)
data = open(sys.argv[1], "rb").read()
view = memoryview(data)
while view:
    view = view[os.write(1, view[:65536]):]
os.write(1, b"\r\n{DONE}\r\n")
got = b""
while not got.endswith(b"{END}"):
    got += os.read(0, 65536)
open(sys.argv[2] + ".tmp", "wb").write(got)
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
"""


@pytest.fixture
def child(tmp_path: Path) -> Iterator[tuple[PtyProcess, Path]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    data = tmp_path / "corpus.bin"
    data.write_bytes(b"".join(piece for _, piece in corpus()))
    record = tmp_path / "received.bin"
    proc = PtyProcess.spawn(
        [sys.executable, str(script), str(data), str(record)], dimensions=(24, 80)
    )
    yield proc, record
    proc.terminate(force=True)
    proc.close()


def test_hostile_output_leaves_the_clipboard_and_title_alone_and_answers_only_numbers(
    qtbot: QtBot, child: tuple[PtyProcess, Path]
) -> None:
    proc, record = child
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("USER-CLIPBOARD", QClipboard.Mode.Clipboard)
    if clipboard.supportsSelection():
        clipboard.setText("USER-SELECTION", QClipboard.Mode.Selection)
    clip_changes: list[QClipboard.Mode] = []
    clipboard.changed.connect(clip_changes.append)

    model = TerminalModel(80, 24, 1000)
    view = TerminalView(model, proc.write, lambda cols, rows: proc.setwinsize(rows, cols))
    qtbot.addWidget(view)
    titles: list[str] = []
    view.title_changed.connect(titles.append)

    def readable() -> None:
        # Polled by a timer (what is there, up to 1 MB a tick), so the probe keeps ticking.
        for _ in range(16):  # at most 1 MB a tick: the loop keeps ticking
            if not select.select([proc.fd], [], [], 0)[0]:
                break
            try:
                data = os.read(proc.fd, 65536)
            except OSError:
                reader.stop()
                return
            model.feed(data)
            answers = model.take_answers()  # what the engine's live session writes back
            if answers:
                proc.write(answers)
        view.model_changed()

    lags: list[float] = []
    last = [time.monotonic()]

    def tick() -> None:
        now = time.monotonic()
        lags.append(now - last[0] - 0.01)
        last[0] = now

    probe = QTimer()
    probe.setInterval(10)
    probe.timeout.connect(tick)

    reader = QTimer()
    reader.setInterval(5)
    reader.timeout.connect(readable)
    reader.start()
    try:
        view.resize(*view.size_for_grid(80, 24))
        view.show()
        qtbot.waitExposed(view)
        # The first paint builds the cell atlas (a few hundred ms): not the corpus's cost.
        qtbot.waitUntil(lambda: view.rows_painted > 0, timeout=10_000)
        last[0] = time.monotonic()
        probe.start()
        # "GO" only once the child's terminal is raw (typed before, it would be discarded).
        qtbot.waitUntil(lambda: any(READY in row for row in model.display), timeout=10_000)
        proc.write(b"GO")
        started = time.monotonic()
        qtbot.waitUntil(lambda: any(DONE in row for row in model.display), timeout=60_000)
        took = time.monotonic() - started
        probe.stop()
        view.flush()
        view.grab()  # paints the screen the corpus left
        QTest.keyClicks(view, END)  # typing still reaches the child
        qtbot.waitUntil(record.exists, timeout=10_000)
    finally:
        reader.stop()
        probe.stop()

    got = record.read_bytes()
    assert got.endswith(END.encode())
    assert got[: -len(END)] == expected_answers()
    assert clipboard.text(QClipboard.Mode.Clipboard) == "USER-CLIPBOARD"
    if clipboard.supportsSelection():
        assert clipboard.text(QClipboard.Mode.Selection) == "USER-SELECTION"
    assert clip_changes == []
    assert model.title == "secret title"
    assert all(len(t) <= 256 and "PWNED" not in t for t in titles)
    assert max(len(c) for row in model.screen._chars for c in row) <= CELL_TEXT_MAX
    max_lag = max(lags, default=0.0)
    print(
        f"hostile output in the widget: drawn in {took:.2f} s, Qt loop lag max "
        f"{max_lag * 1000:.0f} ms over {len(lags)} ticks"
    )
    assert lags  # the loop ran while the corpus was drawn (its lag is reported above)
