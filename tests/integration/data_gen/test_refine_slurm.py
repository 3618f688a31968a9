"""slurm/refine_array.sh and slurm/filter_array.sh on the loopback SLURM cluster: arrays, then finalize.

refine (HTTP backend against the loopback OpenAI test server) and filter (HTTP, scripted
log-probabilities) each run as a 3-task array over 5 parts (2 parts per task), followed by a
dependent finalize job; the chain must produce exactly the files an in-process run produces.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.helpers.openai_server import OpenAITestServer, Reply, record_of, refined
from tests.helpers.refine_records import good_rewrite, make_record, run_stage, write_qa_stage

pytestmark = pytest.mark.slurm
REPO = Path(__file__).resolve().parents[3]
PARTS = {"FR": [4, 4, 4], "JP": [4, 4]}


def responder(body: dict) -> Reply:
    if body.get("logprobs"):  # the filter: P(yes) from the question's length, some above 0.5, some below
        text = body["messages"][1]["content"][2]["text"]
        p = 0.1 + 0.8 * (len(text) % 7) / 6
        return Reply("Yes", logprobs={"Yes": math.log(p), "No": math.log(1 - p)})
    question = record_of(body)["question"]
    number = next(i for i in range(20) if make_record(i)["question"] == question)
    source = make_record(number)
    return Reply(refined(good_rewrite(source), source["answer"]))


def overrides(out_dir: Path, url: str) -> list[str]:
    return [f"out_dir={out_dir}", "refine.backend=http", f"refine.url={url}", "refine.model=m",
            "filter.backend=http", f"filter.url={url}", "filter.model=v", "filter.threshold=0.5"]  # fmt: skip


def _files(out_dir: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out_dir)): p.read_bytes()
        for stage in ("refine", "filter")
        for p in sorted((out_dir / stage).rglob("*"))
        if p.is_file()
    }


def test_array_tasks_then_finalize_equal_one_in_process_run(slurm_cluster, tmp_path):
    reference, array = tmp_path / "reference", tmp_path / "array"
    write_qa_stage(reference, PARTS)
    write_qa_stage(array, PARTS)
    logs = tmp_path / "logs"
    logs.mkdir()
    with OpenAITestServer(responder=responder) as server:
        for stage in ("refine", "filter"):
            assert run_stage(stage, reference, *overrides(reference, server.url)[1:]) == 0
        args = overrides(array, server.url)
        env = {"PARTS_PER_TASK": "2", "CULTURALPANGEA_RUN_DIR": str(tmp_path / "run")}
        jobs: list[str] = []
        for stage in ("refine", "filter"):
            script = str(REPO / "slurm" / f"{stage}_array.sh")
            after = [f"--dependency=afterok:{jobs[-1]}"] if jobs else []
            jobs.append(slurm_cluster.submit([*after, "--array=0-2", f"--output={logs}/{stage}-%a.log", script,
                                              *args], cwd=REPO, env=env))  # fmt: skip
            jobs.append(slurm_cluster.submit([f"--dependency=afterok:{jobs[-1]}", f"--output={logs}/{stage}-final.log",
                                              script, *args, f"{stage}.finalize=true"], cwd=REPO, env=env))  # fmt: skip
        record = slurm_cluster.wait_for(jobs[-1], timeout=300)
    log_text = "\n".join(f"== {p.name}\n{p.read_text()}" for p in sorted(logs.iterdir()))
    assert record["JobState"] == "COMPLETED", log_text
    assert "refine: array task 2 of job" in log_text and "parts 4:6" in log_text
    assert "finalized: 5 parts" in (logs / "filter-final.log").read_text()
    assert _files(array) == _files(reference)
