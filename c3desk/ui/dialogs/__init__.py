"""The New session, Settings and Workers dialogs: one module each, ``common`` for what they share.

All three are non-modal in the event-loop sense: the app shows them with ``open()`` or ``show()``
and listens to their signals; nothing here calls ``exec()`` (a nested loop under qasync, qasync#59).
File pickers are ``QFileDialog.open()`` with a ``fileSelected`` connection for the same reason.
Errors from the core are shown next to the field they concern; the dialogs stay open.

The dialogs read workers and settings through ``c3desk.core.views.dialogs`` (plain rows, never the
store's models) and change them only through the operations the command line uses.
"""

from __future__ import annotations

from c3desk.ui.dialogs.common import FieldError
from c3desk.ui.dialogs.new_session import ANY_WORKER, NewSessionDialog
from c3desk.ui.dialogs.settings import (
    KEY_FONT_FAMILY,
    KEY_FONT_SIZE,
    KEY_NOTIFY_NEEDS_INPUT,
    KEY_NOTIFY_SOUND,
    SettingsDialog,
    UiPreferences,
    load_ui_preferences,
    ui_store,
)
from c3desk.ui.dialogs.workers import WorkerForm, WorkersDialog

__all__ = [
    "ANY_WORKER",
    "KEY_FONT_FAMILY",
    "KEY_FONT_SIZE",
    "KEY_NOTIFY_NEEDS_INPUT",
    "KEY_NOTIFY_SOUND",
    "FieldError",
    "NewSessionDialog",
    "SettingsDialog",
    "UiPreferences",
    "WorkerForm",
    "WorkersDialog",
    "load_ui_preferences",
    "ui_store",
]
