#!/bin/bash
# A country stage (entities, images or qa) as a SLURM array: one country per task, every task in the
# same out_dir, side by side (each locks the country it writes; the stage manifest is rewritten by
# every task that finishes, under a lock, from every country present, so the last one covers all).
#   sbatch --array=0-41 slurm/country_array.sh entities out_dir=D recipe=culturalground
#   sbatch --array=0-41 --dependency=afterok:<entities job> slurm/country_array.sh images out_dir=D ...
#   sbatch --array=0-41 --dependency=afterok:<images job> slurm/country_array.sh qa out_dir=D
# Task i runs the i-th country of `countries` in registry order (`country_index=i`): all 42 by
# default, or a subset, e.g. `countries=[FR,JP,IN]` with --array=0-2. Resumable: a requeued or
# re-submitted task redoes only what its country still lacks. images against Commons: Wikimedia
# allows ≤ 3 connections per client, so give each task `images.concurrency_per_host=1` and run at
# most 3 at a time (--array=0-41%3); with placeholders or a local mirror any width is fine. Site
# settings (partition, account) go on the sbatch line or in configs/local/, never in this file.
#SBATCH --job-name=cg-countries
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
STAGE="${1:?usage: country_array.sh <entities|images|qa> [overrides]}"
shift
case "$STAGE" in entities|images|qa) ;; *) echo "country_array.sh runs entities, images or qa, not '$STAGE'" >&2; exit 2 ;; esac
REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$REPO_DIR"
# shellcheck source=slurm/common.sh
source "$REPO_DIR/slurm/common.sh"

INDEX=()
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    INDEX=("country_index=$SLURM_ARRAY_TASK_ID")
    echo "[$(date -Is)] $STAGE: array task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?}" >&2
fi
exec "$PYTHON" -m data_gen "stage=$STAGE" progress=false "${INDEX[@]}" "$@"
