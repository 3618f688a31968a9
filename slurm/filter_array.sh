#!/bin/bash
# VLM relevance filter (stage=filter, refine/ → filter/) as a SLURM array: one slice of parts per task.
#   sbatch --array=0-K slurm/filter_array.sh out_dir=D filter.backend=http \
#       filter.url=http://<server>:8000/v1 filter.model=Qwen/Qwen2.5-VL-72B-Instruct filter.threshold=0.5
#   sbatch --dependency=afterok:<array job id> slurm/filter_array.sh out_dir=D filter.finalize=true
# Task i takes parts [i*N, (i+1)*N), N = PARTS_PER_TASK (default 16); K = ceil(parts / N) - 1 with
# `parts` from D/refine/manifest.json. Resumable like slurm/refine_array.sh; images are read from
# D, so D must be on a filesystem the nodes share. GPUs only for backend=vllm/transformers
# (add --gpus-per-task=1). Site settings go on the sbatch line or in configs/local/.
#SBATCH --job-name=cg-filter
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
REPO_DIR="${CULTURALPANGEA_REPO:-${SLURM_SUBMIT_DIR:-$(pwd)}}"
exec bash "$REPO_DIR/slurm/record_stage_array.sh" filter "$@"
