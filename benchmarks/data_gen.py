"""data_gen throughput: shard writing MB/s against WebDataset's own `ShardWriter`.

Same samples (JPEG + contract JSON), same shard size, same disk: the project's writer
(`data_gen.shards.write_shards`: contract check, canonical JSON, fixed tar metadata, fsync,
atomic rename, resumable progress file) against `webdataset.ShardWriter` (no checks, no fsync).
QA pairs/s and SPARQL queries per 1,000 entities join this file with their stages.

    python benchmarks/data_gen.py [--quick] [--samples N]

The last line is `ratio_vs_reference=X.XX` (project MB/s over reference MB/s).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import webdataset as wds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_gen.shards import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample, tiny_jpeg


def _samples(count: int) -> list:
    image = tiny_jpeg(3, size=336)
    samples = [type(s)(s.key, s.sample, image) for s in (make_sample(i) for i in range(count))]
    return sorted(samples, key=lambda item: item.key)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("*.tar")) / 1e6


def project_mb_per_s(samples: list, folder: Path) -> float:
    start = time.perf_counter()
    write_shards(samples, folder, ShardSpec(max_samples=1000))
    return _folder_mb(folder) / (time.perf_counter() - start)


def reference_mb_per_s(samples: list, folder: Path) -> float:
    folder.mkdir(parents=True)
    start = time.perf_counter()
    with wds.ShardWriter(str(folder / "ref-%06d.tar"), maxcount=1000, verbose=0) as sink:
        for item in samples:
            sink.write({"__key__": item.key, "jpg": item.image, "json": item.sample})
    return _folder_mb(folder) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    count, rounds = (2000, 1) if args.quick else (args.samples, args.rounds)
    samples = _samples(count)
    projects, references = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            references.append(reference_mb_per_s(samples, Path(tmp) / f"ref{index}"))
            projects.append(project_mb_per_s(samples, Path(tmp) / f"ours{index}"))
            size = _folder_mb(Path(tmp) / f"ours{index}")
            shutil.rmtree(Path(tmp) / f"ref{index}")
            shutil.rmtree(Path(tmp) / f"ours{index}")
    project, reference = statistics.median(projects), statistics.median(references)
    print(f"machine: {platform.machine()} python {platform.python_version()}; {count} samples, {size:.1f} MB")
    print(f"reference (webdataset.ShardWriter): {reference:.1f} MB/s")
    print(f"project (write_shards, checked + fsync + atomic): {project:.1f} MB/s")
    print(f"ratio_vs_reference={project / reference:.2f}")


if __name__ == "__main__":
    main()
