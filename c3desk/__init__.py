"""c3desk: run, queue and watch many Claude Code CLI sessions from one desktop window."""

__version__ = "0.1.0"
