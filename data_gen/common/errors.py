"""The errors a data_gen user can fix, as named types: the command line prints them as one line.

Every failure that comes from the input, the configuration or the outside world (an endpoint that
is down, a full disk, a broken shard) is raised as a `DataGenError` subclass whose message names
what to change. Anything else is a bug: `python -m data_gen` lets it end in its traceback rather
than dressing it up as a user mistake.
"""

from __future__ import annotations


class DataGenError(RuntimeError):
    """A problem the user can fix (bad input, missing prerequisite); printed as one line."""


class SettingsError(DataGenError, ValueError):
    """A configuration block with unknown keys or values out of range."""


class StageIOError(DataGenError, ValueError):
    """A stage's files are missing, incomplete or unreadable; the message names the file (and line)."""


class RecordError(DataGenError, ValueError):
    """A record in a stage's input that lacks a field or holds the wrong type; the message names its ID."""
