#!/bin/bash
# Shared body of slurm/refine_array.sh and slurm/filter_array.sh (run, not sourced):
#   bash slurm/record_stage_array.sh <stage> [hydra overrides]
# As an array task it runs the stage over its slice of input parts, task i taking
# [i*N, (i+1)*N) with N = PARTS_PER_TASK (default 16); the slice goes in as `<stage>.parts=START:END`.
# Outside an array it runs every part that is still missing. Either way finished parts are skipped,
# so a requeued, pre-empted or re-submitted task resumes where it stopped, and the run that
# completes the set writes the stage manifest. `<stage>.finalize=true` (a plain job, usually with
# --dependency=afterok:<array job>) only checks that every part exists and writes the manifest.
set -euo pipefail
STAGE="${1:?usage: record_stage_array.sh <refine|filter> [overrides]}"
shift
REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
cd "$REPO_DIR"
# shellcheck source=slurm/common.sh
source "$REPO_DIR/slurm/common.sh"
N="${PARTS_PER_TASK:-16}"
case "$N" in ''|*[!0-9]*|0) echo "PARTS_PER_TASK must be a positive integer, got '$N'" >&2; exit 2 ;; esac

SLICE=()
if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    START=$((SLURM_ARRAY_TASK_ID * N))
    END=$(((SLURM_ARRAY_TASK_ID + 1) * N))
    SLICE=("$STAGE.parts=$START:$END")
    echo "[$(date -Is)] $STAGE: array task $SLURM_ARRAY_TASK_ID of job ${SLURM_ARRAY_JOB_ID:-?}, parts $START:$END" >&2
fi
exec "$PYTHON" -m data_gen "stage=$STAGE" progress=false "${SLICE[@]}" "$@"
