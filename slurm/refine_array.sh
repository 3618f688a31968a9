#!/bin/bash
# LLM refinement (stage=refine, qa/ → refine/) as a SLURM array: one slice of qa/ parts per task.
#   sbatch --array=0-K slurm/refine_array.sh out_dir=D refine.backend=http \
#       refine.url=http://<server>:8000/v1 refine.model=Qwen/Qwen2.5-72B-Instruct
#   sbatch --dependency=afterok:<array job id> slurm/refine_array.sh out_dir=D refine.finalize=true
# Task i takes parts [i*N, (i+1)*N), N = PARTS_PER_TASK (default 16, exported to sbatch); choose
# K = ceil(parts / N) - 1, with `parts` from D/qa/manifest.json. Resumable: finished parts are
# skipped, so a requeued or re-submitted task redoes only its unfinished part. With backend=http the
# tasks need no GPU (the vLLM/SGLang server has them); for backend=vllm or transformers add e.g.
# --gpus-per-task=1 to the sbatch line. Site settings (partition, account) go on the sbatch line or
# in configs/local/, never in this file.
#SBATCH --job-name=cg-refine
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
exec bash "$REPO_DIR/slurm/record_stage_array.sh" refine "$@"
