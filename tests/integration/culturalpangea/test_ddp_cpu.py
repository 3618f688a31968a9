"""Two-process DDP on CPU (gloo) through the same module and data path as a cluster run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample

SCRIPT = Path(__file__).resolve().parents[2] / "helpers" / "ddp_text_run.py"


def test_two_process_ddp_trains_on_disjoint_shards_and_checkpoints_both_positions(tmp_path, tiny_stack):
    shards = tmp_path / "shards"
    write_shards([make_sample(i, with_image=False) for i in range(32)], shards, ShardSpec(max_samples=4))
    stack_dir = tiny_stack.llm_dir.parent
    result = subprocess.run([sys.executable, str(SCRIPT), str(stack_dir), str(shards), str(tmp_path / "out")],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    ranks = [json.loads((tmp_path / "out" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(rank["world"] == 2 for rank in ranks)
    keys0, keys1 = set(ranks[0]["keys"]), set(ranks[1]["keys"])
    assert len(ranks[0]["keys"]) == len(ranks[1]["keys"]) == 8 and not keys0 & keys1
    saved = torch.load(tmp_path / "out" / "ckpt" / "last.ckpt", weights_only=False, map_location="cpu")
    assert saved["global_step"] == 4
    assert set(saved["culturalpangea"]["data_position"]) == {"0", "1"}
