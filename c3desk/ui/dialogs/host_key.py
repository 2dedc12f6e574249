"""The host-key dialog: a server's key that c3desk refused, shown so the user can check it.

An unknown key may be trusted, but only after the user compared its SHA256 fingerprint with what
the server itself prints (``ssh-keygen -lf`` on the server's host key file): the first connection
is exactly when an attacker in the middle would offer their own key. A changed or revoked key is
shown with the reason and offers no way to trust it here: that is a decision to take on the
server and in the known-hosts file, not with one click.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from c3desk.core.views.dialogs import CheckResult
from c3desk.ui.dialogs.common import FieldError


def _selectable(text: str, mono: bool = False) -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if mono:
        label.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
    return label


class HostKeyDialog(QDialog):
    """Shows the host key a test was refused for; ``trustRequested`` when the user trusts it.

    Opened with ``open()`` (never ``exec()``); the Workers dialog does the trusting and reports a
    failure back with :meth:`show_error`, so this dialog stays open until it worked.
    """

    trustRequested = Signal()

    def __init__(self, result: CheckResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.check = result
        trustable = result.unknown_key and not result.bad_key
        self.setWindowTitle(
            f"Trust the host key of {result.worker}?"
            if trustable
            else f"Host key of {result.worker} refused"
        )
        self.setObjectName("hostKeyDialog")
        where = f"{result.host} port {result.port}"
        if trustable:
            heading = (
                f"<b>The server of the worker {html.escape(result.worker)} "
                f"({html.escape(where)}) is not known yet.</b>"
            )
            advice = (
                "Before trusting it, compare the fingerprint with what the server itself says. "
                "On the server, run:"
            )
        else:
            heading = (
                f"<b>c3desk refuses to connect to {html.escape(result.worker)} "
                f"({html.escape(where)}).</b>"
            )
            advice = result.reason or result.message
            advice = advice[:1].upper() + advice[1:]  # a sentence of its own here
        self.heading = QLabel(heading)
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.advice = QLabel(advice)
        self.advice.setTextFormat(Qt.TextFormat.PlainText)  # reasons hold paths and quotes
        self.advice.setWordWrap(True)
        self.advice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.fingerprint = _selectable(result.fingerprint or "(not known)", mono=True)
        self.fingerprint.setObjectName("hostKeyFingerprint")
        form = QFormLayout()
        form.addRow("Host:", _selectable(result.host))
        form.addRow("Port:", _selectable(str(result.port)))
        form.addRow("Key type:", _selectable(result.key_type or "(not known)"))
        form.addRow("Fingerprint:", self.fingerprint)

        self.command = _selectable(f"ssh-keygen -lf {result.server_key_file}", mono=True)
        self.command.setObjectName("hostKeyCommand")
        self.command.setContentsMargins(16, 0, 0, 0)
        self.verdict = QLabel(
            "It prints the same SHA256:… fingerprint when this is really your server. If it "
            "differs, do not trust this key: someone may be intercepting the connection."
        )
        self.verdict.setWordWrap(True)
        self.error = FieldError()

        self.buttons = QDialogButtonBox()
        self.trust_button: QPushButton | None = None
        if trustable:
            self.trust_button = self.buttons.addButton(
                "&Trust this key", QDialogButtonBox.ButtonRole.AcceptRole
            )
            self.trust_button.setAutoDefault(False)
            cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
            cancel.setDefault(True)  # Enter must not trust a key nobody compared
            self.trust_button.clicked.connect(self._trust)
            cancel.clicked.connect(self.reject)
        else:
            close = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
            close.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(form)
        layout.addSpacing(6)
        layout.addWidget(self.advice)
        if trustable:
            layout.addWidget(self.command)
            layout.addSpacing(4)
            layout.addWidget(self.verdict)
        layout.addWidget(self.error)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)

    @property
    def trustable(self) -> bool:
        return self.trust_button is not None

    def _trust(self) -> None:
        self.error.show_error(None)
        self.trustRequested.emit()

    def show_error(self, message: str) -> None:
        """Trusting failed (the key changed meanwhile, the file cannot be written...)."""
        self.error.show_error(message)


__all__ = ["HostKeyDialog"]
