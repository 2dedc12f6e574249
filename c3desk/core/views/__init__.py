"""Read models: the queries the window, the queue dock, the grid and the dialogs need.

The UI reads the store only through these (never ``c3desk.store.models`` directly) and changes
things only through the operations the command line also uses (``core.sessions``,
``core.settings``, ``core.workers`` and the engine's methods). One module per consumer.
"""
