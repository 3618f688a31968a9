#!/bin/bash
# Multi-node training: one task per GPU, launched by srun, Lightning reads the SLURM environment.
#   sbatch slurm/train.sh experiment=culturalpangea [hydra overrides]
#   sbatch --nodes=4 --gpus-per-node=8 --ntasks-per-node=8 slurm/train.sh experiment=culturalpangea
# Site settings (partition, account, paths) belong in configs/local/default.yaml or on the sbatch
# command line, never in this file. Pre-emption: SLURM sends USR1 to this shell 120 s before the
# time limit; the shell forwards it to the tasks, which write checkpoints/last.ckpt at the next
# optimizer step and stop; the shell then requeues the job, and the restart resumes from the run
# folder (ckpt_path=last), which stays the same across requeues.
#SBATCH --job-name=culturalpangea
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --signal=B:USR1@120
#SBATCH --open-mode=append
set -uo pipefail

REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$REPO_DIR" || exit 1
# shellcheck source=slurm/common.sh
source "$REPO_DIR/slurm/common.sh"
export WANDB_RESUME="${WANDB_RESUME:-allow}"

PREEMPTED=0
on_preemption() {
    PREEMPTED=1
    echo "[$(date -Is)] job ${SLURM_JOB_ID:-?}: pre-emption signal, asking the tasks to checkpoint and stop" >&2
    kill -USR1 "$SRUN_PID" 2>/dev/null || true
}
trap on_preemption USR1

NTASKS="${SLURM_NTASKS_PER_NODE:-${SLURM_NTASKS:-1}}"
echo "[$(date -Is)] job ${SLURM_JOB_ID:-local} (restart ${SLURM_RESTART_COUNT:-0}) in $RUN_DIR" >&2
srun --kill-on-bad-exit=1 --output="$RUN_DIR/task-%t.log" --open-mode=append "$PYTHON" -m culturalpangea.train \
    "hydra.run.dir=$RUN_DIR" \
    "trainer.num_nodes=${SLURM_JOB_NUM_NODES:-1}" \
    "trainer.devices=$NTASKS" \
    "ckpt_path=last" \
    "$@" &
SRUN_PID=$!
# `wait` returns early when the trap runs; keep waiting until srun itself has ended.
while true; do
    wait "$SRUN_PID"
    STATUS=$?
    kill -0 "$SRUN_PID" 2>/dev/null || break
done
if [ "$PREEMPTED" = 1 ]; then
    echo "[$(date -Is)] tasks stopped (exit $STATUS); requeueing job $SLURM_JOB_ID" >&2
    scontrol requeue "$SLURM_JOB_ID"
    exit 0
fi
exit "$STATUS"
