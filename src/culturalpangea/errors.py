"""The errors a culturalpangea user can fix, as named types: the command lines print them as one line.

`python -m culturalpangea.train`, `.eval` and `.convert` end with `error: …` and exit status 2 on a
`UserError` (a setting, a path, a checkpoint or data file in the wrong form), on an operating-system
error (a missing file, a full disk) and on a broken shard manifest (`shard_contract`). Anything
else is a bug and ends in its traceback. Set CULTURALPANGEA_TRACEBACK=1 to see tracebacks always.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

from omegaconf.errors import MissingMandatoryValue

from shard_contract.manifest import ManifestError

T = TypeVar("T")
EXIT_USER_ERROR = 2


class UserError(Exception):
    """A problem the user can fix; its message says what to change."""


class ModelConfigError(UserError, ValueError):
    """A model config or checkpoint that describes something this code does not support or contradicts."""


USER_ERRORS = (UserError, ManifestError, MissingMandatoryValue, OSError)


def run_reporting_user_errors(work: Callable[[], T], legacy_env: str | None = None) -> T | int:
    """`work()`, or EXIT_USER_ERROR after one `error: …` line on stderr when it raises a user error."""
    try:
        return work()
    except USER_ERRORS as error:
        if os.environ.get("CULTURALPANGEA_TRACEBACK") or (legacy_env and os.environ.get(legacy_env)):
            raise
        print(f"error: {' '.join(str(error).split()) or type(error).__name__}", file=sys.stderr)
        return EXIT_USER_ERROR
