"""The New session dialog: a queued session's title, folder, worker, agent, prompt and pin."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from c3desk.config import Paths
from c3desk.core import sessions as sess
from c3desk.core.agents import BUILTIN_PROFILES, DEFAULT_PROFILE, AgentsFileError, load_profiles
from c3desk.core.views import dialogs as views
from c3desk.core.worktrees import validate_branch
from c3desk.errors import C3Error
from c3desk.ui.dialogs.common import FieldError, route_error, set_buddy, with_error

ANY_WORKER: Final = "Any worker"


class NewSessionDialog(QDialog):
    """Title, folder, worker, agent profile, initial prompt and pin of a new queued session.

    ``created(session_id)`` is emitted once the session is in the queue; the dialog then closes
    (``accept()``). Nothing is created while a field is invalid.
    """

    created = Signal(str)

    _ROUTES: Final = (
        ("title", "title"),
        ("working directory", "folder"),
        ("no worker named", "worker"),
        ("unknown agent profile", "agent"),
        ("branch name", "worktree"),
        ("cannot isolate", "worktree"),
    )

    def __init__(
        self,
        paths: Paths,
        parent: QWidget | None = None,
        *,
        folder: str | None = None,
        worker: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.paths = paths
        self.setWindowTitle("New session")
        self.setMinimumWidth(520)
        self.folder_picker: QFileDialog | None = None
        self._touched: set[str] = set()

        self.title_edit = QLineEdit()
        self.title_edit.setPlaceholderText("What the session is about")
        self.title_edit.setMaxLength(sess.MAX_TITLE)
        self.folder_edit = QLineEdit(folder or "")
        self.folder_edit.setPlaceholderText("/absolute/path/to/the/project")
        self.browse_button = QPushButton("Browse…")
        self.worker_combo = QComboBox()
        self.agent_combo = QComboBox()
        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("Optional: the first message to the agent")
        self.prompt_edit.setTabChangesFocus(True)
        self.prompt_edit.setMinimumHeight(110)
        self.pin_check = QCheckBox("Pin: keep this session visible in the grid")
        # Isolation: a git worktree of the folder's repository, on a new branch.
        self.worktree_check = QCheckBox("Isolate in a git &worktree on a new branch")
        self.worktree_check.setToolTip(
            "c3desk makes a worktree of the folder's repository when the session starts "
            "(beside the repository, or under the worktree_root setting) and runs it there"
        )
        self.branch_edit = QLineEdit()
        self.branch_edit.setPlaceholderText("Branch (default: c3/<title>-<id>)")
        self.branch_edit.setEnabled(False)

        self.errors: dict[str, FieldError] = {
            name: FieldError()
            for name in ("title", "folder", "worker", "agent", "worktree", "general")
        }
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(self.browse_button)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("&Title:", with_error(self.title_edit, self.errors["title"]))
        form.addRow("&Folder:", with_error(folder_row, self.errors["folder"]))
        form.addRow("&Worker:", with_error(self.worker_combo, self.errors["worker"]))
        form.addRow("&Agent:", with_error(self.agent_combo, self.errors["agent"]))
        form.addRow("&Prompt:", self.prompt_edit)
        form.addRow("", self.pin_check)
        form.addRow("", self.worktree_check)
        form.addRow("&Branch:", with_error(self.branch_edit, self.errors["worktree"]))
        for buddy in (
            self.title_edit,
            self.folder_edit,
            self.worker_combo,
            self.agent_combo,
            self.prompt_edit,
            self.branch_edit,
        ):
            set_buddy(form, buddy)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.create_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.create_button.setText("&Create")
        self.buttons.rejected.connect(self.reject)
        self.create_button.clicked.connect(self.submit)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.errors["general"])
        layout.addWidget(self.buttons)

        self._load_workers(worker)
        self._load_agents()
        self.title_edit.textEdited.connect(lambda _t: self._touch("title"))
        self.folder_edit.textEdited.connect(lambda _t: self._touch("folder"))
        self.title_edit.textChanged.connect(self._validate_live)
        self.folder_edit.textChanged.connect(self._validate_live)
        self.worker_combo.currentIndexChanged.connect(self._validate_live)
        self.worktree_check.toggled.connect(self.branch_edit.setEnabled)
        self.worktree_check.toggled.connect(lambda _on: self._validate_live())
        self.branch_edit.textChanged.connect(self._validate_live)
        self.browse_button.clicked.connect(self.browse)
        self._validate_live()

    # The values as the user gave them.
    def title(self) -> str:
        return self.title_edit.text()

    def folder(self) -> str:
        return self.folder_edit.text().strip()

    def worker(self) -> str | None:
        """The chosen worker's name, or None for any worker."""
        data = self.worker_combo.currentData()
        return data if isinstance(data, str) else None

    def agent(self) -> str:
        data = self.agent_combo.currentData()
        return data if isinstance(data, str) else DEFAULT_PROFILE

    def prompt(self) -> str | None:
        text = self.prompt_edit.toPlainText()
        return text if text.strip() else None

    def worktree(self) -> str | None:
        """None: the session runs in the folder; else the new branch ("": the default)."""
        if not self.worktree_check.isChecked():
            return None
        return self.branch_edit.text().strip()

    def _load_workers(self, preferred: str | None) -> None:
        self.worker_combo.clear()
        self.worker_combo.addItem(ANY_WORKER, None)
        self._workers: dict[str, views.WorkerRow] = {}
        for w in views.workers():
            self._workers[w.name] = w
            label = f"{w.name} (this computer)" if w.local else f"{w.name} ({w.status})"
            self.worker_combo.addItem(label, w.name)
        if preferred is not None:
            index = self.worker_combo.findData(preferred)
            if index >= 0:
                self.worker_combo.setCurrentIndex(index)

    def _load_agents(self) -> None:
        try:
            profiles = load_profiles(self.paths.agents_file)
        except AgentsFileError as exc:
            profiles = dict(BUILTIN_PROFILES)
            self.errors["agent"].show_error(f"{exc} (using the built-in profiles)")
        self._agents = set(profiles)
        names = sorted(profiles, key=lambda n: (n != DEFAULT_PROFILE, n))
        for name in names:
            self.agent_combo.addItem(name, name)

    def _touch(self, field: str) -> None:
        self._touched.add(field)

    def _remote(self) -> bool:
        name = self.worker()
        row = self._workers.get(name) if name is not None else None
        return row is not None and row.type == "remote"

    def _check(self) -> dict[str, str]:
        """The cheap checks, field by field: what is wrong (empty when all is well)."""
        problems: dict[str, str] = {}
        try:
            sess.validate_title(self.title())
        except C3Error as exc:
            problems["title"] = str(exc)
        folder = self.folder()
        if not folder:
            problems["folder"] = "choose the folder the session works in"
        elif not Path(folder).expanduser().is_absolute():
            problems["folder"] = f"{folder!r} is not an absolute path"
        elif not self._remote() and not Path(folder).expanduser().is_dir():
            problems["folder"] = f"{folder!r} does not exist or is not a folder"
        branch = self.worktree()
        if branch:
            try:
                validate_branch(branch)
            except C3Error as exc:
                problems["worktree"] = str(exc)
        return problems

    def _validate_live(self) -> None:
        problems = self._check()
        self.errors["worktree"].show_error(problems.get("worktree"))
        for field in ("title", "folder"):
            # A field the user has not typed in yet is not shouted at; Create is off regardless.
            shown = problems.get(field) if field in self._touched else None
            self.errors[field].show_error(shown)
        self.errors["general"].show_error(None)
        self.create_button.setEnabled(not problems)
        remote = self._remote()
        self.folder_edit.setToolTip(
            "Checked on the worker when the session starts" if remote else ""
        )

    def browse(self) -> None:
        """Open the folder picker without blocking; the choice fills the folder field."""
        if self.folder_picker is None:
            picker = QFileDialog(self, "Choose the session's folder")
            picker.setFileMode(QFileDialog.FileMode.Directory)
            picker.setOption(QFileDialog.Option.ShowDirsOnly, True)
            picker.fileSelected.connect(self._folder_chosen)
            self.folder_picker = picker
        start = self.folder()
        if start and Path(start).is_dir():
            self.folder_picker.setDirectory(start)
        self.folder_picker.open()

    def _folder_chosen(self, path: str) -> None:
        if path:
            self._touch("folder")
            self.folder_edit.setText(path)

    def submit(self) -> None:
        """Validate everything, create the session, emit ``created`` and close; else show why."""
        self._touched.update(("title", "folder"))
        problems = self._check()
        worker = self.worker()
        if worker is not None and views.worker(worker) is None:
            problems["worker"] = f"no worker named {worker!r}; it was removed (choose another)"
        agent = self.agent()
        if agent not in self._agents:
            problems["agent"] = f"unknown agent profile {agent!r}"
        for name, label in self.errors.items():
            if name != "agent" or problems.get("agent"):
                label.show_error(problems.get(name))
        if problems:
            self.create_button.setEnabled(False)
            self._focus_first(problems)
            return
        try:
            session = sess.create_session(
                title=self.title(),
                working_directory=str(Path(self.folder()).expanduser()),
                prompt=self.prompt(),
                worker=worker,
                agent=agent,
                lock=self.pin_check.isChecked(),
                known_agents=self._agents,
                worktree=self.worktree(),
            )
        except C3Error as exc:
            field = route_error(str(exc), self._ROUTES, "general")
            self.errors[field].show_error(str(exc))
            self._focus_first({field: str(exc)})
            return
        except views.STORAGE_ERRORS as exc:  # the database is locked or gone: say so, stay open
            self.errors["general"].show_error(f"the session could not be saved: {exc}")
            return
        self.created.emit(str(session.id))
        self.accept()

    def _focus_first(self, problems: dict[str, str]) -> None:
        widgets = {
            "title": self.title_edit,
            "folder": self.folder_edit,
            "worker": self.worker_combo,
            "agent": self.agent_combo,
            "worktree": self.branch_edit,
        }
        for name, widget in widgets.items():
            if name in problems:
                widget.setFocus()
                return


__all__ = ["ANY_WORKER", "NewSessionDialog"]
