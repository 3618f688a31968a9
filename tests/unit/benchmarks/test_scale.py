"""The scale benchmark's driver (benchmarks/scale.py) end to end at 300 entities: the real `oxigraph`
CLI loads and compacts the synthetic store, serves it read-only, and the real `entities` stage runs
against it as its own process; a second run with `--reuse-store` serves the same store without
generating, loading or compacting it again, and selects the same entities."""

from __future__ import annotations

import json

from benchmarks.scale import main, run_size

N = 300


def test_the_store_is_built_compacted_and_reused_and_the_stage_runs_on_it(tmp_path, capsys) -> None:
    first = run_size(N, tmp_path / f"n{N}", seed=1, stages=("entities",))
    steps = [step["name"] for step in first["steps"]]
    assert steps == ["generate", "load", "optimize", "entities"]
    assert json.loads((tmp_path / f"n{N}" / "store.json").read_text()) == {"entities": N, "seed": 1, "optimized": True}
    entities = first["steps"][-1]["notes"]["entities"]
    assert entities and entities > 0.3 * N and first["steps"][-1]["notes"]["queries"] > 42
    again = run_size(N, tmp_path / f"n{N}", seed=1, stages=("entities",), reuse_store=True)
    assert [step["name"] for step in again["steps"]] == ["entities"]
    assert again["steps"][0]["notes"]["entities"] == entities
    other_seed = run_size(N, tmp_path / f"n{N}", seed=2, stages=("entities",), reuse_store=True)  # not the stored one
    assert [step["name"] for step in other_seed["steps"]][:3] == ["generate", "load", "optimize"]
    capsys.readouterr()
    assert main(["--sizes", str(N), "--stages", "entities", "--work", str(tmp_path), "--keep", "--reuse-store",
                 "--seed", "2"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "store     reused" in printed and f"{N:>9,} entities" in printed
