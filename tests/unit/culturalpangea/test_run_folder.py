"""Run IDs follow the recipe, the resolved config is saved, credentials never are."""

from __future__ import annotations

import yaml

from culturalpangea.run_folder import run_id, scrub_secrets, write_run_files

CONFIG = {
    "task_name": "demo",
    "optim": {"lr": 1e-3},
    "paths": {"root_dir": "/a"},
    "logger": {"wandb": {"api_key": "abc123", "project": "p"}},
    "data": {"sources": {"s": {"path": "/x", "hf_token": "hf_secret"}}},
}


def test_run_id_depends_on_the_recipe_not_on_paths_or_loggers():
    moved = {**CONFIG, "paths": {"root_dir": "/elsewhere"}, "logger": {}}
    assert run_id(CONFIG, "demo") == run_id(moved, "demo")
    assert run_id(CONFIG, "demo") != run_id({**CONFIG, "optim": {"lr": 2e-3}}, "demo")
    assert run_id(CONFIG, "demo").startswith("demo-") and len(run_id(CONFIG, "demo")) == 13


def test_secrets_are_scrubbed_everywhere():
    clean = scrub_secrets(CONFIG)
    assert clean["logger"]["wandb"]["api_key"] == "***"
    assert clean["data"]["sources"]["s"]["hf_token"] == "***"
    assert clean["logger"]["wandb"]["project"] == "p"
    assert "abc123" not in str(clean) and "hf_secret" not in str(clean)


def test_run_files_are_written(tmp_path):
    identifier = write_run_files(tmp_path / "run", CONFIG, "demo")
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["optim"]["lr"] == 1e-3 and saved["logger"]["wandb"]["api_key"] == "***"
    assert (tmp_path / "run" / "run_id.txt").read_text().strip() == identifier
    assert "abc123" not in (tmp_path / "run" / "config.yaml").read_text()
