"""What every dialog shares: the error line under a field and the small form helpers."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QFormLayout,
    QLabel,
    QLayout,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from c3desk.ui.theme import current_theme, theme_colors


class FieldError(QLabel):
    """A red, word-wrapped error line under a field; hidden while it has nothing to say."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("fieldError")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        # The theme's stylesheet colours #fieldError; the palette covers an unthemed app.
        pal = self.palette()
        pal.setColor(QPalette.ColorRole.WindowText, QColor(theme_colors(current_theme())["error"]))
        self.setPalette(pal)
        self.hide()

    def show_error(self, message: str | None) -> None:
        """Show ``message`` (capitalised as a sentence), or hide the label for None/empty."""
        if message:
            self.setText(message[0].upper() + message[1:])
            self._fit_height()
            self.show()
        else:
            self.clear()
            self.hide()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_height()

    def _fit_height(self) -> None:
        """As tall as its wrapped lines at its width: a form row asks a label for one line's
        height, and a second line was drawn under the next row."""
        if self.width() > 0:
            self.setMinimumHeight(max(0, self.heightForWidth(self.width())))

    @property
    def message(self) -> str:
        """The error shown, or "" when the field is fine."""
        return self.text() if not self.isHidden() else ""


def with_error(widget: QWidget | QLayout, error: FieldError) -> QWidget:
    """A form row's content: the widget (or layout) with its error line below it."""
    box = QWidget()
    column = QVBoxLayout(box)
    column.setContentsMargins(0, 0, 0, 0)
    column.setSpacing(2)
    if isinstance(widget, QLayout):
        column.addLayout(widget)
    else:
        column.addWidget(widget)
    column.addWidget(error)
    return box


def route_error(message: str, rules: tuple[tuple[str, str], ...], default: str) -> str:
    """The field an error message concerns: the first rule whose prefix starts it."""
    lowered = message.lower()
    for prefix, field in rules:
        if lowered.startswith(prefix):
            return field
    return default


def not_default(*buttons: QAbstractButton) -> None:
    """Make push buttons ignore Enter."""
    # Enter in a line edit must finish editing, not press a dialog button.
    for button in buttons:
        if isinstance(button, QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)


def set_buddy(form: QFormLayout, widget: QWidget) -> None:
    """Make the label of the row holding ``widget`` its buddy (its &-shortcut focuses it)."""
    for row in range(form.rowCount()):
        field = form.itemAt(row, QFormLayout.ItemRole.FieldRole)
        holder = field.widget() if field is not None else None
        if holder is not None and (holder is widget or holder.isAncestorOf(widget)):
            label = form.itemAt(row, QFormLayout.ItemRole.LabelRole)
            label_widget = label.widget() if label is not None else None
            if isinstance(label_widget, QLabel):
                label_widget.setBuddy(widget)
            return


__all__ = ["FieldError", "not_default", "route_error", "set_buddy", "with_error"]
