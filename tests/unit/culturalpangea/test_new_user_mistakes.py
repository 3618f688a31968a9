"""Issue 19 §5: the usual first mistakes with `python -m culturalpangea.train`, run as a user types them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def _train(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "offline", "PYTHONPATH": str(REPO / "src") + os.pathsep + str(REPO)}
    env.pop("CULTURALPANGEA_TRACEBACK", None)
    return subprocess.run([sys.executable, "-m", "culturalpangea.train", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_paths_data_dir_is_where_the_demo_reads_its_shards(tmp_path):
    """`paths.data_dir=<empty>` with experiment=demo used to be ignored (the demo read outputs/demo/data)."""
    empty = tmp_path / "empty"
    empty.mkdir()
    result = _train("experiment=demo", f"paths.data_dir={empty}", f"paths.root_dir={tmp_path}",
                    f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: source 'culturalground_oe'") and str(empty / "shards" / "open") in last
    assert not (tmp_path / "run" / "checkpoints").exists()  # stopped before any model was built


def test_the_paper_recipe_without_its_data_or_checkpoint_names_what_is_missing(tmp_path):
    result = _train("experiment=culturalpangea", f"paths.data_dir={tmp_path / 'data'}", f"paths.root_dir={tmp_path}",
                    f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert str(tmp_path / "data" / "culturalground" / "open") in last and "does not exist" in last
    assert "config.json" not in last
