"""The loopback SLURM cluster itself: multi-task steps run, and a signalled job requeues and resumes.

The requeue case is the mechanism slurm/train.sh relies on, shown with a plain script so a failure
here points at the cluster set-up, not at training.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slurm

REQUEUE_SCRIPT = """#!/bin/bash
#SBATCH --ntasks=1
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output={out}/job.log
count_file={out}/count
n=$(cat "$count_file" 2>/dev/null || echo 0)
echo "start $n restarts=${{SLURM_RESTART_COUNT:-0}}"
requeue() {{ echo "signal at $n"; echo $n > "$count_file"; scontrol requeue "$SLURM_JOB_ID"; exit 0; }}
trap requeue USR1
while [ "$n" -lt {steps} ]; do n=$((n + 1)); echo $n > "$count_file"; sleep 0.2 & wait $!; done
echo "done $n"
"""


def test_two_task_step_runs_on_the_node(slurm_cluster, tmp_path):
    script = tmp_path / "tasks.sh"
    script.write_text(f"#!/bin/bash\n#SBATCH --ntasks=2\n#SBATCH --output={tmp_path}/out.log\n"
                      "srun bash -c 'echo task=$SLURM_PROCID ntasks=$SLURM_NTASKS'\n")
    job = slurm_cluster.submit([str(script)], cwd=tmp_path)
    record = slurm_cluster.wait_for(job, timeout=120)
    assert record["JobState"] == "COMPLETED", record
    lines = sorted(line for line in (tmp_path / "out.log").read_text().splitlines() if line.startswith("task="))
    assert lines == ["task=0 ntasks=2", "task=1 ntasks=2"]


def test_signalled_job_requeues_and_continues_from_its_state(slurm_cluster, tmp_path):
    script = tmp_path / "requeue.sh"
    script.write_text(REQUEUE_SCRIPT.format(out=tmp_path, steps=60))
    job = slurm_cluster.submit([str(script)], cwd=tmp_path)
    slurm_cluster.wait_for(job, {"RUNNING"}, timeout=60)
    log = tmp_path / "job.log"
    slurm_cluster._wait(lambda: log.exists() and "start" in log.read_text(), 30, "job did not start")
    slurm_cluster.signal(job, "USR1", batch_only=True)
    slurm_cluster.release_requeued(job)
    record = slurm_cluster.wait_for(job, timeout=180)
    text = log.read_text()
    assert record["JobState"] == "COMPLETED", (record, text)
    assert int(record["Restarts"]) == 1
    signalled_at = int(text.split("signal at ")[1].split()[0])
    assert 0 < signalled_at < 60
    assert f"start {signalled_at} restarts=1" in text
    assert "done 60" in text
