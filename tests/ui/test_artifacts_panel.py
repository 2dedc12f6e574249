"""The artifacts panel on real files: PNG, PDF, diff, text, binary and a missing file; a remote
session's files copied over SFTP from a real loopback sshd for their previews."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from helpers.qtloop import until
from helpers.sshd import Sshd, sshd  # noqa: F401 (fixture)
from PySide6.QtCore import QUrl
from PySide6.QtGui import QColor, QImage, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core.artifact_watch import ArtifactWatcher
from c3desk.core.worker_files import RemoteCopies
from c3desk.store.models import Artifact, Session, Worker
from c3desk.transports.connection import WorkerInfo
from c3desk.transports.ssh_connection import SSHConnection
from c3desk.transports.ssh_trust import TrustStore
from c3desk.ui.artifacts_panel import (
    TEXT_PREVIEW_BYTES,
    ArtifactsPanel,
    describe_event,
    diff_preview,
    pdf_preview,
    source_note,
)
from c3desk.ui.diff_highlighter import DiffHighlighter, line_kind
from c3desk.ui.theme import theme_colors

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

DIFF = """\
diff --git a/app.py b/app.py
index 3b18e51..a9c4f0d 100644
--- a/app.py
+++ b/app.py
@@ -1,3 +1,3 @@ def main():
 import sys
-print("old")
+print("new")
"""


def make_png(path: Path, width: int, height: int) -> Path:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("#3b78d8"))
    assert image.save(str(path), "PNG")
    return path


def make_pdf(path: Path) -> Path:
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A6))
    painter = QPainter(writer)
    painter.fillRect(200, 200, 1200, 800, QColor("#d64541"))
    painter.drawText(200, 1400, "first page")
    writer.newPage()
    painter.drawText(200, 200, "second page")
    painter.end()
    return path


class Opened:
    def __init__(self) -> None:
        self.urls: list[QUrl] = []

    def __call__(self, url: QUrl) -> bool:
        self.urls.append(url)
        return True


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "changes.diff").write_text(DIFF)
    (folder / "notes.txt").write_text("héllo\n" * 400)  # more than a KB, non-ASCII
    (folder / "blob.bin").write_bytes(bytes(range(256)) * 8)
    return {
        "image": make_png(folder / "chart.png", 64, 48),
        "pdf": make_pdf(folder / "report.pdf"),
        "diff": folder / "changes.diff",
        "text": folder / "notes.txt",
        "binary": folder / "blob.bin",
        "missing": folder / "gone.png",
    }


@pytest.fixture
def session(db: Paths, files: dict[str, Path]) -> Session:
    s = sess.create_session(title="Make a report", working_directory=str(files["image"].parent))
    for kind, key in (
        ("image", "image"),
        ("image", "missing"),
        ("pdf", "pdf"),
        ("diff", "diff"),
        ("file", "text"),
        ("file", "binary"),
    ):
        Artifact.create(id=str(uuid.uuid4()), session=s.id, type=kind, path=str(files[key]))
    sess.transition(s.id, "active", pid=4242)
    sess.record_event(
        s.id,
        "auto_approved",
        {"reason": "tool-permission", "prompt": "Bash command\n  rm -rf build\nProceed?"},
    )
    sess.transition(s.id, "failed", exit_code=3, failure_reason="agent exited with status 3")
    return s


@pytest.fixture
def panel(qtbot: QtBot) -> ArtifactsPanel:
    widget = ArtifactsPanel(open_url=Opened())
    qtbot.addWidget(widget)
    widget.resize(900, 640)
    widget.show()
    return widget


def test_lists_artifacts_grouped_by_type(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    items = panel.artifact_items()
    assert list(items) == ["image", "pdf", "diff", "file"]
    assert sorted(items["image"]) == sorted([str(files["image"]), str(files["missing"])])
    assert items["pdf"] == [str(files["pdf"])]
    assert items["diff"] == [str(files["diff"])]
    assert sorted(items["file"]) == sorted([str(files["text"]), str(files["binary"])])

    panel.type_filter.setCurrentIndex(panel.type_filter.findData("pdf"))
    assert panel.artifact_items() == {"pdf": [str(files["pdf"])]}
    panel.type_filter.setCurrentIndex(0)
    assert len(panel.artifact_items()) == 4


def test_image_preview_has_the_image_size(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    assert panel.select_path(str(files["image"]))
    assert panel.stack.currentWidget() is panel.image_scroll
    pixmap = panel.image_view.pixmap()
    assert not pixmap.isNull()
    # Small enough to fit: shown at its own size, never enlarged.
    assert (pixmap.width(), pixmap.height()) == (64, 48)
    assert "64 × 48 px" in panel.info.text()


def test_large_image_is_scaled_to_fit_keeping_its_shape(
    panel: ArtifactsPanel, db: Paths, tmp_path: Path
) -> None:
    big = make_png(tmp_path / "big.png", 4000, 1000)
    s = sess.create_session(title="big", working_directory=str(tmp_path))
    Artifact.create(id=str(uuid.uuid4()), session=s.id, type="image", path=str(big))
    panel.show_session(s.id)
    pixmap = panel.image_view.pixmap()
    assert 0 < pixmap.width() <= panel.image_view.width()
    assert abs(pixmap.width() / pixmap.height() - 4.0) < 0.05
    assert "4000 × 1000 px" in panel.info.text()


def test_pdf_preview_renders_the_first_page(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    assert panel.select_path(str(files["pdf"]))
    assert panel.stack.currentWidget() is panel.image_scroll
    assert "Page 1 of 2 pages" in panel.info.text()
    image = panel.image_view.image()
    assert not image.isNull()
    # A6 is taller than wide; the page is white with a red block drawn on it.
    assert image.height() > image.width()
    colors = {
        image.pixelColor(x, y).name()
        for x in range(0, image.width(), 8)
        for y in range(0, image.height(), 8)
    }
    assert "#ffffff" in colors
    reds = [c for c in colors if QColor(c).red() > 180 and QColor(c).green() < 120]
    assert reds, "the red block of the first page is rendered"


def test_broken_pdf_is_reported_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4 this is not really a pdf")
    preview = pdf_preview(bad)
    assert preview.kind == "message"
    assert "PDF" in preview.message


def test_diff_lines_are_coloured(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    assert panel.select_path(str(files["diff"]))
    assert panel.stack.currentWidget() is panel.diff_view
    assert panel.diff_view.isReadOnly()
    colors = theme_colors(panel.theme)
    document = panel.diff_view.document()
    seen: dict[str, str] = {}
    block = document.begin()
    while block.isValid():
        formats = block.layout().formats()
        if formats:
            seen[block.text()] = formats[0].format.foreground().color().name()
        block = block.next()
    assert seen['+print("new")'] == colors["diff_added"]
    assert seen['-print("old")'] == colors["diff_removed"]
    assert seen["@@ -1,3 +1,3 @@ def main():"] == colors["diff_hunk"]
    assert seen["+++ b/app.py"] == colors["diff_header"]
    assert seen["--- a/app.py"] == colors["diff_header"]
    assert " import sys" not in seen  # context lines keep the view's colours

    other = "light" if panel.theme == "dark" else "dark"
    panel.set_theme(other)
    added = panel.diff_view.document().findBlockByNumber(7)
    assert added.text() == '+print("new")'
    formats = added.layout().formats()
    assert formats[0].format.foreground().color().name() == theme_colors(other)["diff_added"]


def test_highlighter_follows_the_theme(qtbot: QtBot) -> None:
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    highlighter = DiffHighlighter(document, "light")
    added = highlighter.format_for("added")
    assert added is not None
    assert added.foreground().color().name() == theme_colors("light")["diff_added"]
    highlighter.set_theme("dark")
    added = highlighter.format_for("added")
    assert added is not None
    assert added.foreground().color().name() == theme_colors("dark")["diff_added"]
    assert highlighter.format_for("context") is None
    assert [line_kind(t) for t in ("+a", "-b", "@@ x", "+++ b", " c", "\\ No newline")] == [
        "added",
        "removed",
        "hunk",
        "header",
        "context",
        "note",
    ]


def test_large_diff_is_truncated_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "huge.diff"
    path.write_text(DIFF + "".join(f"+line {i}\n" for i in range(20_000)))
    preview = diff_preview(path, limit=4096)
    assert preview.kind == "diff"
    assert len(preview.text) <= 4096
    assert preview.text.endswith("\n")
    assert preview.message.startswith("Truncated")


def test_text_and_binary_files(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    assert panel.select_path(str(files["text"]))
    assert panel.stack.currentWidget() is panel.text_view
    shown = panel.text_view.toPlainText()
    assert shown.startswith("héllo\n")
    assert len(shown.encode()) <= TEXT_PREVIEW_BYTES
    assert "first 1.0 KB" in panel.info.text()

    assert panel.select_path(str(files["binary"]))
    assert panel.stack.currentWidget() is panel.placeholder
    assert "2.0 KB" in panel.placeholder.text()


def test_missing_file_is_shown_as_missing(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    panel.show_session(session.id)
    assert panel.select_path(str(files["missing"]))
    item = panel.tree.currentItem()
    assert item is not None and "(missing)" in item.text(0)
    assert panel.stack.currentWidget() is panel.placeholder
    assert "Missing" in panel.placeholder.text()
    assert not panel.open_button.isEnabled()
    assert panel.reveal_button.isEnabled()  # its folder is still there


def test_open_and_reveal_use_file_urls(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path]
) -> None:
    opened = panel._open_url
    assert isinstance(opened, Opened)
    panel.show_session(session.id)
    panel.select_path(str(files["pdf"]))
    panel.open_button.click()
    panel.reveal_button.click()
    assert [u.toLocalFile() for u in opened.urls] == [str(files["pdf"]), str(files["pdf"].parent)]
    assert all(u.scheme() == "file" for u in opened.urls)


def test_events_are_listed_newest_first(panel: ArtifactsPanel, session: Session) -> None:
    panel.show_session(session.id)
    rows = panel.event_rows()
    kinds = [kind for kind, _ in rows]
    assert kinds == ["state", "auto_approved", "state", "created"]
    assert "active → failed" in rows[0][1]
    assert "exit code 3" in rows[0][1]
    assert "auto-approved (tool-permission): Bash command" in rows[1][1]
    assert panel.events.topLevelItem(1).toolTip(2).endswith("rm -rf build\nProceed?")


def test_refresh_picks_up_new_artifacts_and_keeps_the_selection(
    panel: ArtifactsPanel, session: Session, files: dict[str, Path], tmp_path: Path
) -> None:
    panel.show_session(session.id)
    panel.select_path(str(files["diff"]))
    extra = make_png(tmp_path / "later.png", 10, 10)
    Artifact.create(id=str(uuid.uuid4()), session=session.id, type="image", path=str(extra))
    panel.refresh()
    assert str(extra) in panel.artifact_items()["image"]
    assert panel.current_path() == str(files["diff"])


def test_no_session_and_deleted_session(panel: ArtifactsPanel, session: Session) -> None:
    panel.show_session(None)
    assert panel.artifact_items() == {}
    assert panel.event_rows() == []
    assert not panel.open_button.isEnabled()
    panel.show_session(session.id)
    sess.remove_session(session.id)
    panel.refresh()
    assert panel.heading.text() == "Session not found"
    assert panel.artifact_items() == {}


def test_describe_event_handles_odd_details() -> None:
    assert describe_event("state", "not json")[0] == "state: not json"
    assert describe_event("custom", '{"b": 2, "a": 1}')[0] == "custom: a=1, b=2"
    assert describe_event("locked", None)[0] == "pinned"
    summary, _ = describe_event("launch", '{"argv": ["claude", "a b"], "mode": "new"}')
    assert summary == "launched (new): claude 'a b'"


def test_a_cut_folder_scan_is_shown(panel: ArtifactsPanel, db: Paths, tmp_path: Path) -> None:
    """A real watcher scans a tree larger than its bound; the panel says the list is partial."""
    root = tmp_path / "big"
    for n in range(300):
        (root / f"d{n % 7}").mkdir(parents=True, exist_ok=True)
        (root / f"d{n % 7}" / f"f{n}.txt").write_text("x")
    sid = str(sess.create_session(title="Big", working_directory=str(root), agent="shell").id)

    async def look() -> None:
        watcher = ArtifactWatcher(db.artifacts_dir, max_files=100)
        watcher.start(sid, str(root))
        (root / "d0" / "new.txt").write_text("made after the start\n")
        await watcher.scan(sid)
        await watcher.close()

    asyncio.run(look())
    panel.show_session(sid)
    note = panel.source_text()
    assert note.startswith("The scan stopped after 100 files: some files may be missing.")
    assert panel.source_label.isVisible()
    warning = theme_colors(panel.theme)["needs_input"]
    assert warning in panel.source_label.styleSheet()
    kinds = [kind for kind, _ in panel.event_rows()]
    assert "artifacts" in kinds
    panel.set_theme("light")
    assert theme_colors("light")["needs_input"] in panel.source_label.styleSheet()


def test_where_the_files_came_from(panel: ArtifactsPanel, session: Session) -> None:
    panel.show_session(session.id)
    assert panel.source_text() == ""  # nothing recorded: nothing claimed
    assert not panel.source_label.isVisible()
    sess.record_event(session.id, "artifacts", {"source": "transcript", "transcript": "/t.jsonl"})
    panel.refresh()
    assert panel.source_text() == "Files the agent reported writing (its transcript's tool calls)."
    assert theme_colors(panel.theme)["dim_text"] in panel.source_label.styleSheet()
    panel.show_session(None)
    assert panel.source_text() == ""


@pytest.mark.parametrize(
    ("detail", "start", "warning"),
    [
        ({"source": "scan", "limit": None}, "Found by scanning the session's folder", False),
        (
            {"source": "scan", "limit": "time", "budget_s": 5.0, "scanned": 12345},
            "The scan stopped after 5.0 s (12,345 files): some files may be missing.",
            True,
        ),
        (
            {"source": "scan", "limit": "depth", "max_depth": 12},
            "The scan went no deeper than 12 folders: some files may be missing.",
            True,
        ),
        (
            {"source": "scan", "limit": "files", "max_files": 50000},
            "The scan stopped after 50,000 files",
            True,
        ),
        ({"source": "elsewhere"}, "", False),
    ],
)
def test_source_note(detail: dict[str, object], start: str, warning: bool) -> None:
    text, warn = source_note(json.dumps(detail))
    assert text.startswith(start)
    assert bool(text) == bool(start)
    assert warn is warning
    assert source_note("not json") == ("", False)
    assert source_note('"a string"') == ("", False)


# --- a session on an SSH worker: previews of copies ---------------------------------------------


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    """qasync's loop, as the app runs: the panel copies remote files on it."""
    loop = qasync.QEventLoop(qapp, already_running=False)
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


def test_a_remote_artifact_is_previewed_from_a_copy_downloaded_over_sftp(
    qtbot: QtBot,
    qloop: asyncio.AbstractEventLoop,
    db: Paths,
    tmp_path: Path,
    sshd: Sshd,  # noqa: F811
) -> None:
    server = tmp_path / "server"  # the worker's files, reached over SFTP only
    server.mkdir()
    png = make_png(server / "chart.png", 64, 48)
    big = server / "dump.txt"
    big.write_bytes(b"y" * (1536 * 1024))
    Worker.create(id="w-box", name="box", type="remote", ssh_host=sshd.host, ssh_port=sshd.port)
    s = sess.create_session(title="remote", working_directory=str(server), worker="box")
    for kind, path in (("image", png), ("file", big), ("file", server / "gone.txt")):
        Artifact.create(id=str(uuid.uuid4()), session=s.id, type=kind, path=str(path))
    trust = TrustStore(tmp_path / "known_hosts", tmp_path / "user_known_hosts")
    kind, blob = sshd.host_key.with_suffix(".pub").read_text().split()[:2]
    trust.own.write_text(f"[{sshd.host}]:{sshd.port} {kind} {blob}\n")
    info = WorkerInfo("w-box", "box", "remote", sshd.host, sshd.port, sshd.user, str(sshd.user_key))
    conn = SSHConnection(info, trust)
    opened = Opened()
    panel = ArtifactsPanel(
        open_url=opened, fetcher=RemoteCopies(db.home, {"w-box": conn}.get, limit=1024 * 1024)
    )
    qtbot.addWidget(panel)
    panel.resize(900, 640)
    panel.show()

    async def scenario() -> None:
        await conn.connect()
        assert conn.status == "connected", conn.reason
        panel.show_session(s.id)
        # Listed by name, not looked for on this machine; named worker:path.
        assert sorted(panel.artifact_items()["file"]) == sorted(
            [str(big), str(server / "gone.txt")]
        )
        assert panel.select_path(str(png))
        assert panel.is_remote(str(png))
        assert panel.path_label.text() == f"box:{png} (a file on the remote worker)"
        assert panel.source_text() == (
            "The files are on the worker box: a preview copies the file here first."
        )
        # The copy is made on the loop: the panel says so and answers meanwhile.
        assert panel.placeholder.text() == f"Copying box:{png} for its preview…"
        assert not panel.open_button.isEnabled()
        await until(lambda: panel.stack.currentWidget() is panel.image_scroll)
        assert "64 × 48 px" in panel.info.text() and f"copy of box:{png}" in panel.info.text()
        copy = panel.local_copy(str(png))
        assert copy == db.home / "cache" / "remote" / s.id / str(png).lstrip("/")
        assert copy.read_bytes() == png.read_bytes()
        assert panel.open_button.isEnabled()
        panel.open_current()
        assert opened.urls[-1] == QUrl.fromLocalFile(str(copy))

        done: list[str] = []
        panel.remotePreviewDone.connect(done.append)
        assert panel.select_path(str(big))
        await until(lambda: done)
        assert panel.stack.currentWidget() is panel.placeholder
        assert panel.placeholder.text() == (
            f"box:{big} is 1.5 MB: previews copy remote files of at most 1.0 MB"
        )
        assert panel.local_copy(str(big)) is None and not panel.open_button.isEnabled()
        assert panel.select_path(str(server / "gone.txt"))
        await until(lambda: len(done) == 2)
        assert panel.placeholder.text() == f"Missing: box:{server}/gone.txt no longer exists"
        await conn.close()

    qloop.run_until_complete(scenario())


def test_a_remote_artifact_without_a_fetcher_is_named_not_previewed(
    panel: ArtifactsPanel, db: Paths, tmp_path: Path
) -> None:
    Worker.create(id="w-far", name="far", type="remote", ssh_host="example.invalid")
    s = sess.create_session(title="far away", working_directory="/srv/proj", worker="far")
    Artifact.create(id=str(uuid.uuid4()), session=s.id, type="file", path="/srv/proj/a.txt")
    (tmp_path / "a.txt").write_text("local, not the worker's")
    panel.show_session(s.id)
    assert panel.artifact_items() == {"file": ["/srv/proj/a.txt"]}
    assert panel.current_path() == "/srv/proj/a.txt"
    assert panel.placeholder.text() == "far:/srv/proj/a.txt is on a remote worker: no preview here"
    assert panel.path_label.text() == "far:/srv/proj/a.txt (a file on the remote worker)"
    assert not panel.open_button.isEnabled() and not panel.reveal_button.isEnabled()


def test_a_long_path_and_title_never_widen_the_panel_and_the_note_has_a_line_of_its_own(
    db: Paths, panel: ArtifactsPanel, tmp_path: Path
) -> None:
    """Seen under Xvfb: a diff's long path grew the window past the screen's edge, and the
    image note beside the buttons wrapped one word per line."""
    deep = tmp_path.joinpath(*[f"folder-with-a-long-name-{n}" for n in range(12)])
    deep.mkdir(parents=True)
    image = make_png(deep / "chart.png", 16, 16)
    s = sess.create_session(title="A long title " * 15, working_directory=str(deep))
    Artifact.create(id=str(uuid.uuid4()), session=s.id, type="image", path=str(image))
    panel.resize(520, 500)
    panel.show_session(s.id)
    assert panel.select_path(str(image))
    assert panel.path_label.text() == str(image)  # whole, though shown shortened
    assert panel.path_label.is_shortened()  # and then its tooltip shows it whole
    assert len(str(image)) * panel.fontMetrics().averageCharWidth() > 1000
    # What a dock (and the window around it) must give the panel at least:
    for label in (panel.path_label, panel.heading):
        assert label.minimumSizeHint().width() < 100, label.text()
    assert panel.info.text().startswith("16 × 16 px")
    assert panel.info.width() > panel.width() // 2  # not squeezed beside the buttons
