#!/bin/bash
# Evaluate a checkpoint on the culture benchmarks (one GPU is enough for 7B in bf16):
#   sbatch --gpus=1 slurm/eval.sh checkpoint=<hf_or_project_dir> benchmark=all data_dir=<benchmarks> \
#       training_manifest=<train_shards>/manifest.json [compare_to=<other_run>/report.json] [overrides]
#   sbatch --gpus=1 slurm/eval.sh checkpoint=<dir> 'benchmark=[cvqa,maxm]' data_dir=<benchmarks>
# The run folder stays the same across requeues of one job (slurm/common.sh), and evaluation is
# resumable: on the pre-emption/time-limit signal the job stops, requeues itself, and the requeued
# run skips every item already committed to <run folder>/predictions/<benchmark>.jsonl.
# Site settings (partition, account, benchmark paths) belong in configs/local/ or on the command line.
#SBATCH --job-name=culturalpangea-eval
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --signal=B:USR1@60
#SBATCH --open-mode=append
set -euo pipefail

REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$REPO_DIR"
# shellcheck source=slurm/common.sh
source "$REPO_DIR/slurm/common.sh"

requeue() {
    echo "[$(date -Is)] caught pre-emption signal: stopping evaluation, requeueing job $SLURM_JOB_ID" >&2
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" || true
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
}
trap requeue USR1

srun --output="$RUN_DIR/task-%t.log" "$PYTHON" -m culturalpangea.eval "hydra.run.dir=$RUN_DIR" "$@" &
PID=$!
wait "$PID"
