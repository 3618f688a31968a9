#!/bin/bash
# Multi-node training: one task per GPU, launched by srun, Lightning reads the SLURM environment.
#   sbatch slurm/train.sh experiment=culturalpangea [hydra overrides]
#   sbatch --nodes=4 --gpus-per-node=8 --ntasks-per-node=8 slurm/train.sh experiment=culturalpangea
# Site settings (partition, account, paths) belong in configs/local/default.yaml or on the sbatch
# command line, never in this file. On the pre-emption/time-limit signal the job requeues itself
# and resumes from the run folder's last checkpoint (ckpt_path=last).
#SBATCH --job-name=culturalpangea
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#SBATCH --open-mode=append
set -euo pipefail

REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$REPO_DIR"
# shellcheck source=slurm/common.sh
source "$REPO_DIR/slurm/common.sh"
export WANDB_RUN_ID="${WANDB_RUN_ID:-${SLURM_JOB_ID:-local}}"
export WANDB_RESUME="${WANDB_RESUME:-allow}"

requeue() {
    echo "[$(date -Is)] caught pre-emption signal: asking SLURM to requeue job $SLURM_JOB_ID" >&2
    # Lightning's SLURM plugin saves an HPC checkpoint on SIGUSR1 in each task; the batch shell
    # forwards the signal, waits for the tasks, then requeues.
    kill -USR1 "$SRUN_PID" 2>/dev/null || true
    wait "$SRUN_PID" || true
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
}
trap requeue USR1

NTASKS="${SLURM_NTASKS_PER_NODE:-${SLURM_NTASKS:-1}}"
srun --kill-on-bad-exit=1 --output="$RUN_DIR/task-%t.log" "$PYTHON" -m culturalpangea.train \
    "hydra.run.dir=$RUN_DIR" \
    "trainer.num_nodes=${SLURM_JOB_NUM_NODES:-1}" \
    "trainer.devices=$NTASKS" \
    "ckpt_path=last" \
    "$@" &
SRUN_PID=$!
wait "$SRUN_PID"
