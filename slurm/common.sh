# Shared by the sbatch scripts (sourced, not run): where the repo and its Python are, and a run
# folder that stays the same across requeues of one job, so a resumed job finds its checkpoints.
# Expects REPO_DIR to be set and to be the current directory; sets PYTHON and RUN_DIR.
PYTHON="${CULTURALPANGEA_PYTHON:-$REPO_DIR/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python)"
RUN_DIR="${CULTURALPANGEA_RUN_DIR:-outputs/slurm_runs/${SLURM_JOB_NAME:-job}-${SLURM_JOB_ID:-local}}"
mkdir -p "$RUN_DIR"
