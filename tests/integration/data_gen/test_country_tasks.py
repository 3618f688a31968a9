"""Country stages as array tasks: one process per country, all at once, in one out_dir.

Before: every stage took the out_dir lock exclusively, so the documented SLURM array over countries
(one task per country, one output folder) lost all but the first task at once ("in use by another
data_gen run"); and with the lock out of the way two tasks would have shared one temp-file name for
the same manifest or placeholder, and a starting task deleted the temp files a sibling was writing.
Here entities, images and qa each run as three processes started together, and then as a real
SLURM array (slurm/country_array.sh on the loopback cluster); both must give exactly the files of
one whole run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.datagen_cli import ROOT, cli_env, run_cli

COUNTRIES = "countries=[FR,JP,IN]"
STAGES = ("entities", "images", "qa")
RUN_KEYS = {"run", "config"}  # what differs by design: the run's own counters and its command line


def outputs(out_dir: Path, stage: str) -> dict[str, bytes]:
    """Every file a stage wrote, by path; the manifest without the per-run keys and the folder's own path."""
    files = {}
    for path in sorted((out_dir / stage).rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            if path.name == "manifest.json":
                manifest = {k: v for k, v in json.loads(data).items() if k not in RUN_KEYS}
                data = json.dumps(manifest, sort_keys=True).replace(str(out_dir), "<out_dir>").encode()
            files[str(path.relative_to(out_dir))] = data
    return files


def whole_run(out_dir: Path) -> None:
    for stage in STAGES:
        result = run_cli(f"stage={stage}", f"out_dir={out_dir}", COUNTRIES, "progress=false")
        assert result.returncode == 0, result.stderr


def side_by_side(stage: str, out_dir: Path, tasks: int = 3) -> list[subprocess.CompletedProcess]:
    """`tasks` processes of one stage started together, task i on the i-th country."""
    command = [sys.executable, "-m", "data_gen", f"stage={stage}", f"out_dir={out_dir}", COUNTRIES, "progress=false"]
    running = [subprocess.Popen([*command, f"country_index={i}"], cwd=ROOT, env=cli_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(tasks)]  # fmt: skip
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in running]


def test_country_tasks_started_together_give_the_files_of_one_whole_run(tmp_path):
    reference, array = tmp_path / "reference", tmp_path / "array"
    whole_run(reference)
    for stage in STAGES:
        results = side_by_side(stage, array)
        assert [r.returncode for r in results] == [0, 0, 0], "\n".join(r.stderr for r in results)
        assert outputs(array, stage) == outputs(reference, stage), stage
    entities = json.loads((array / "entities" / "manifest.json").read_text())
    assert sorted(entities["countries"]) == ["FR", "IN", "JP"]  # the last task's manifest covers all three
    assert json.loads((array / "qa" / "manifest.json").read_text())["countries"].keys() == {"FR", "IN", "JP"}
    assert not list(array.rglob(".*.tmp")) and not list(array.rglob(".*.journal.jsonl"))


@pytest.mark.slurm
def test_slurm_country_arrays_entities_images_qa_equal_one_whole_run(slurm_cluster, tmp_path):
    reference, array, logs = tmp_path / "reference", tmp_path / "array", tmp_path / "logs"
    whole_run(reference)
    logs.mkdir()
    script = str(ROOT / "slurm" / "country_array.sh")
    env = {**cli_env(), "CULTURALPANGEA_PYTHON": sys.executable, "CULTURALPANGEA_RUN_DIR": str(tmp_path / "run")}
    jobs: list[str] = []
    for stage in STAGES:
        after = [f"--dependency=afterok:{jobs[-1]}", "--kill-on-invalid-dep=yes"] if jobs else []
        sbatch = [*after, "--array=0-2", "--cpus-per-task=1", f"--output={logs}/{stage}-%a.log", script, stage]
        jobs.append(slurm_cluster.submit([*sbatch, f"out_dir={array}", COUNTRIES], cwd=ROOT, env=env))
    states = [slurm_cluster.wait_for(f"{jobs[-1]}_{task}", timeout=600)["JobState"] for task in range(3)]
    log_text = "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted(logs.iterdir()))
    assert states == ["COMPLETED"] * 3, log_text
    assert "qa: array task 2 of job" in log_text
    for stage in STAGES:
        assert outputs(array, stage) == outputs(reference, stage), stage


def test_overlapping_or_out_of_range_country_tasks_stop_with_one_line(tmp_path):
    from data_gen.common.locks import country_locks
    from data_gen.pipeline.out_dir import claim, locked

    claim(tmp_path)
    with locked(tmp_path, shared=True), country_locks(tmp_path, "entities", ["FR"]):  # a task writing FR
        overlapping = run_cli("stage=entities", f"out_dir={tmp_path}", "countries=[JP,FR]")
        whole = run_cli("stage=entities", f"out_dir={tmp_path}")
    assert overlapping.returncode == 2
    assert overlapping.stderr.startswith(f"error: country FR of stage entities is being written by another run in "
                                         f"{tmp_path}")  # fmt: skip
    assert whole.returncode == 2 and "is in use by another data_gen run" in whole.stderr
    assert not (tmp_path / "entities" / "JP.jsonl").exists()  # stopped before any work
    beyond = run_cli("stage=entities", f"out_dir={tmp_path}", COUNTRIES, "country_index=3")  # indexes registry order
    assert beyond.returncode == 2
    assert "country_index=3 is not one of the 3 countries selected (FR,IN,JP): an array over them is --array=0-2" \
        in beyond.stderr
