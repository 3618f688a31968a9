#!/bin/bash
# Evaluate a checkpoint on the culture benchmarks (one GPU is enough for 7B in bf16).
#   sbatch slurm/eval.sh checkpoint=<hf_dir> benchmark=all data_dir=<benchmarks> [overrides]
# Evaluation is resumable: a requeued job skips the items it already scored.
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

trap 'kill -TERM "$PID" 2>/dev/null; wait "$PID" || true; scontrol requeue "$SLURM_JOB_ID"; exit 0' USR1
srun --output="$RUN_DIR/task-%t.log" "$PYTHON" -m culturalpangea.eval "hydra.run.dir=$RUN_DIR" "$@" &
PID=$!
wait "$PID"
