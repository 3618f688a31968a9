"""The output folder: claimed before any stage runs, never shared by two runs, never a system folder.

`out_dir` is data_gen's to write and to clean (stale shards, leftover images, temp files), so
before a stage runs:

- a system folder (`/`, `/etc`, `/usr`, the home folder itself …) is refused;
- a folder that holds files data_gen did not write is refused, naming them: data_gen marks the
  folders it owns with `.data_gen.json`. An unmarked folder is accepted when it is empty or holds
  only data_gen's own layout (an output folder from before the marker existed) and is marked then;
- a lock (`.data_gen.lock`, `flock`) is taken for the run: exclusive, so a second run on the same
  folder fails at once with a clear message instead of racing on the same files. A SLURM array
  task takes it shared: a record stage over its parts (`refine`/`filter` with `parts=START:END`),
  or a country stage (`entities`/`images`/`qa`) over an explicit `countries=` list, which also
  takes a lock per country it writes (`common/locks.py`). Array tasks of one job run side by side
  by design (each writes its own parts or countries), while a whole-folder run excludes them all.

The lock is an advisory `flock` held by the process, so a killed run leaves nothing to clean up.
On file systems without `flock` (some NFS mounts) the lock degrades to a warning.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

from data_gen.common.errors import DataGenError
from data_gen.common.layout import STAGE_FOLDERS
from data_gen.common.locks import LOCKS_FOLDER, file_lock

MARKER = ".data_gen.json"
LOCK = ".data_gen.lock"
# What an output folder of data_gen holds at its top level (see common/layout.py and configs/data_gen.yaml).
OWN_NAMES = frozenset({*STAGE_FOLDERS, "cache", "imported", "tiny_models", "placeholder_commons", ".multirun",
                       MARKER, LOCK, LOCKS_FOLDER})
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


def locked(path: Path, shared: bool = False) -> AbstractContextManager[None]:
    """Hold `path`'s run lock (exclusive, or shared for array tasks) until the block ends."""
    busy = OutDirError(f"out_dir {str(path)!r} is in use by another data_gen run (lock {LOCK}); wait for it to "
                       "finish or use another out_dir")
    return file_lock(Path(path) / LOCK, shared=shared, busy=busy)
