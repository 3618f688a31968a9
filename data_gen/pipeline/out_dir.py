"""The output folder: claimed before any stage runs, never shared by two runs, never a system folder.

`out_dir` is data_gen's to write and to clean (stale shards, leftover images, temp files), so
before a stage runs:

- a system folder (`/`, `/etc`, `/usr`, the home folder itself …) is refused;
- a folder that holds files data_gen did not write is refused, naming them: data_gen marks the
  folders it owns with `.data_gen.json`. An unmarked folder is accepted when it is empty or holds
  only data_gen's own layout (an output folder from before the marker existed) and is marked then;
- a lock (`.data_gen.lock`, `flock`) is taken for the run: exclusive, so a second run on the same
  folder fails at once with a clear message instead of racing on the same temp files. A SLURM
  array task of a record stage (`refine`/`filter` with `parts=START:END`) takes it shared: array
  tasks of one job run side by side by design (each writes its own parts), while a whole-folder
  run still excludes them all.

The lock is an advisory `flock` held by the process, so a killed run leaves nothing to clean up.
On file systems without `flock` (some NFS mounts) the lock degrades to a warning.
"""

from __future__ import annotations

import errno
import fcntl
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from data_gen.common.errors import DataGenError
from data_gen.common.layout import STAGE_FOLDERS

MARKER = ".data_gen.json"
LOCK = ".data_gen.lock"
# What an output folder of data_gen holds at its top level (see common/layout.py and configs/data_gen.yaml).
OWN_NAMES = frozenset({*STAGE_FOLDERS, "cache", "imported", "tiny_models", "placeholder_commons", ".multirun",
                       MARKER, LOCK})
SYSTEM_TREES = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/dev", "/proc", "/sys",
                "/run")
SYSTEM_FOLDERS = ("/", "/var", "/opt", "/home", "/root", "/srv", "/mnt", "/media", "/tmp")


class OutDirError(DataGenError):
    """An out_dir data_gen must not write to (a system folder, someone else's files, or in use)."""


def _refuse_system_folder(path: Path) -> None:
    resolved = path.resolve()
    home = Path.home().resolve()
    if str(resolved) in SYSTEM_FOLDERS or resolved == home:
        raise OutDirError(f"out_dir {str(path)!r} is {resolved}, a system or home folder: use a folder of its own")
    for tree in SYSTEM_TREES:
        if resolved == Path(tree) or Path(tree) in resolved.parents:
            raise OutDirError(f"out_dir {str(path)!r} is inside {tree}, a system folder: use a folder of its own")


def _is_own(entry: Path) -> bool:
    return entry.name in OWN_NAMES or (entry.name.startswith(".") and entry.name.endswith(".tmp"))


def claim(path: Path) -> Path:
    """Create `path` if needed, refuse a system folder or foreign files, mark it as data_gen's."""
    path = Path(str(path)).expanduser()
    _refuse_system_folder(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        marker = path / MARKER
        if not marker.exists():
            foreign = sorted(entry.name for entry in path.iterdir() if not _is_own(entry))
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise OutDirError(f"out_dir {str(path)!r} holds files data_gen did not write ({shown}): data_gen "
                                  "cleans the folders it writes, so give it an empty folder or one of its own")
            marker.write_text(json.dumps({"written_by": "data_gen", "format": 1}) + "\n", encoding="utf-8")
    except OSError as error:
        raise DataGenError(f"out_dir {str(path)!r} is not writable: {error.strerror or error}") from None
    return path


@contextmanager
def locked(path: Path, shared: bool = False) -> Iterator[None]:
    """Hold `path`'s run lock (exclusive, or shared for array tasks) until the block ends."""
    handle = open(Path(path) / LOCK, "a+")  # noqa: SIM115 - held for the whole run
    try:
        try:
            fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise OutDirError(f"out_dir {str(path)!r} is in use by another data_gen run (lock {LOCK}); "
                                  "wait for it to finish or use another out_dir") from None
            print(f"warning: cannot lock out_dir {path} ({error.strerror}); make sure no other run uses it",
                  file=sys.stderr)
        yield
    finally:
        handle.close()  # releases the lock
