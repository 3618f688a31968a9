"""`python -m data_gen` on bad input: one `error:` line on stderr, exit code 2, nothing half-written."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from omegaconf import open_dict

from data_gen.common.locks import LOCKS_FOLDER
from data_gen.pipeline.out_dir import LOCK, MARKER
from tests.helpers.datagen_cli import AGENT, run_cli
from tests.helpers.ports import free_loopback_port


def _files(folder: Path) -> list[Path]:
    """Output files: everything but the claim marker and the locks (data_gen/pipeline/out_dir.py, common/locks.py)."""
    own = (MARKER, LOCK)
    if not folder.exists():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and p.name not in own and p.parent.name != LOCKS_FOLDER]


def _assert_clean_failure(result: subprocess.CompletedProcess, out_dir: Path, *needles: str) -> None:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert _files(out_dir) == []


@pytest.mark.parametrize(
    ("overrides", "needles"),
    [
        (["countries=[FR,Atlantis]"], ["unknown country 'Atlantis'"]),
        (["source=endpoint", "endpoint.url=htp:/query.example", AGENT], ["malformed endpoint URL", "htp:/query"]),
        (["source=endpoint", "endpoint.url=http://127.0.0.1:99999/sparql", AGENT], ["malformed endpoint URL"]),
        (["source=endpoint", "endpoint.url=http://127.0.0.1:7878/sparql"], ["descriptive user_agent is required"]),
        (["source=wdqs"], ["unknown source 'wdqs'"]),
        (["entities.max_per_class=0"], ["must be positive"]),
        (["+entities.no_such_knob=1"], ["unknown setting(s) ['no_such_knob']"]),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, overrides, needles):
    out_dir = tmp_path / "out"
    result = run_cli("stage=entities", f"out_dir={out_dir}", *overrides)
    _assert_clean_failure(result, out_dir, *needles)


@pytest.mark.parametrize("host", ["loopback", "dns"])
def test_endpoint_down_is_reported_after_bounded_tries(tmp_path, host):
    out_dir = tmp_path / "out"
    # nothing listens on the loopback port; the `.invalid` name never resolves (RFC 2606): a DNS failure
    url = (f"http://127.0.0.1:{free_loopback_port()}/sparql" if host == "loopback"
           else "http://sparql.culturalpangea-test.invalid/sparql")
    result = run_cli(
        "stage=entities", f"out_dir={out_dir}", "source=endpoint", f"endpoint.url={url}", AGENT,
        "endpoint.max_attempts=2", "endpoint.backoff_base_s=0.01", "countries=FR",
    )
    _assert_clean_failure(result, out_dir, f"endpoint {url} unavailable after 2 attempts", "cannot connect")


def test_unwritable_out_dir(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli("stage=entities", f"out_dir={blocker / 'out'}", "countries=FR")
    _assert_clean_failure(result, blocker / "out", "out_dir", "is not writable")
    assert blocker.read_text() == "not a folder"


def test_no_out_dir_is_one_line_not_a_traceback(tmp_path):
    """Issue 19 §5: `python -m data_gen stage=qa` without out_dir ended in Hydra's MissingMandatoryValue traceback."""
    result = run_cli("stage=qa")
    _assert_clean_failure(result, tmp_path, "out_dir=<folder> is required", "stage=qa")


def test_help_lists_the_stages_and_main_settings_not_trainings_groups():
    """Issue 19 §7: `--help` listed training's config groups (configs/ is shared) and not the stages."""
    from data_gen.pipeline.cli import COMMANDS

    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ") and line.split()}
    assert set(COMMANDS) <= listed  # every stage the CLI knows
    for setting in ("out_dir=<dir>", "source=sample|endpoint", "refine.sample_fraction", "countries="):
        assert setting in result.stdout
    assert "model/llm" not in result.stdout and "experiment:" not in result.stdout


def test_unknown_stage(tmp_path):
    result = run_cli("stage=nonsense", f"out_dir={tmp_path / 'out'}")
    _assert_clean_failure(result, tmp_path / "out", "unknown stage 'nonsense'", "entities", "images")


def test_images_before_entities_is_refused(tmp_path):
    result = run_cli("stage=images", f"out_dir={tmp_path / 'out'}")
    _assert_clean_failure(result, tmp_path / "out", "entities/manifest.json is missing", "run stage=entities first")


def test_images_commons_origin_needs_a_user_agent(tmp_path):
    out_dir = tmp_path / "out"
    (out_dir / "entities").mkdir(parents=True)
    (out_dir / "entities" / "manifest.json").write_text('{"countries": {"FR": {}}}')
    (out_dir / "entities" / "FR.jsonl").write_text("")
    before = sorted(p.name for p in _files(out_dir))
    result = run_cli("stage=images", f"out_dir={out_dir}", "images.origin=commons", "countries=FR")
    assert result.returncode == 2 and result.stderr.startswith("error: a descriptive user_agent is required")
    assert sorted(p.name for p in _files(out_dir)) == before
    result = run_cli("stage=images", f"out_dir={out_dir}", "countries=JP")
    assert result.returncode == 2 and "no entities for JP" in result.stderr


def test_only_named_user_errors_become_one_line_a_bug_keeps_its_traceback(tmp_path, monkeypatch, capsys):
    from data_gen.pipeline import cli
    from tests.helpers.datagen_config import datagen_config

    cfg = datagen_config(tmp_path / "out")
    with open_dict(cfg):
        cfg.stage = "entities"

    def buggy(cfg):
        raise KeyError("an internal key")  # a bug: not a user mistake

    monkeypatch.setitem(cli.COMMANDS, "entities", buggy)
    with pytest.raises(KeyError, match="an internal key"):
        cli.run(cfg)

    def full_disk(cfg):
        raise OSError(28, "No space left on device", str(tmp_path / "out" / "entities" / "FR.jsonl"))

    monkeypatch.setitem(cli.COMMANDS, "entities", full_disk)
    assert cli.run(cfg) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: stage entities: [Errno 28] No space left on device:") and "FR.jsonl" in err
