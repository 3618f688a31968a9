"""A small training workspace for entry-point tests: image+text shards and the overrides that use them.

The overrides point `experiment=demo` at the session's tiny stack and at shards written here, keep
the run short and log to CSV, so that `python -m culturalpangea.train`, `slurm/train.sh` and Hydra
sweeps all run the real code path in seconds.
"""

from __future__ import annotations

from pathlib import Path

from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_samples

REPO = Path(__file__).resolve().parents[2]


def write_training_shards(folder: Path, count: int = 64, per_shard: int = 8) -> Path:
    if not (folder / "manifest.json").exists():
        write_shards(make_samples(count), folder, ShardSpec(max_samples=per_shard))
    return folder


def demo_overrides(root: Path, tiny_root: Path, shards: Path, max_steps: int, every: int = 2) -> list[str]:
    """Hydra overrides for a short `experiment=demo` run on `shards` with the tiny stack."""
    return [
        "experiment=demo",
        f"paths.root_dir={root}",
        f"model.tiny_root={tiny_root}",
        "~data.sources",
        f"+data.sources={{cg: {{path: '{shards}', weight: 1.0}}}}",
        f"trainer.max_steps={max_steps}",
        "trainer.enable_progress_bar=false",
        "logger=csv",
        f"callbacks.checkpoint.every_n_train_steps={every}",
        f"callbacks.sample_generations.every_n_steps={every}",
        "callbacks.sample_generations.num_samples=2",
        "global_batch_size=4",
        "micro_batch_size=2",
    ]
