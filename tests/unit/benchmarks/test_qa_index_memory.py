"""benchmarks/qa_index_memory.py: qa's distractor index built from a finished entities stage (without
images), with the option lists of the languages alive at the widest point of the generation order."""

from __future__ import annotations

from benchmarks.qa_index_memory import alive_at, main
from tests.helpers.qa_inputs import write_inputs


def test_it_reports_the_index_and_the_widest_set_of_lists(tmp_path, capsys) -> None:
    out = write_inputs(tmp_path / "run", per_country=5, countries=("FR", "IN", "JP", "LK"))
    assert main([str(out)]) == 0
    index_line, lists_line = capsys.readouterr().out.strip().splitlines()
    assert index_line.startswith("index: 20 entities, ") and "peak RSS" in index_line
    assert lists_line.startswith("+ the lists of bn, en, hi, ta, te, ur (alive at IN) in ")  # Sinhala: built for LK
    sets = {"FR": ("fr", "en"), "IN": ("hi", "ta", "en"), "LK": ("si", "ta", "en")}
    assert alive_at(["IN", "LK", "FR"], sets, 1) == {"si", "ta", "en"}
    assert alive_at(["IN", "FR", "LK"], sets, 1) == {"fr", "ta", "en"}


def test_no_entities_is_an_error_not_a_report(tmp_path, capsys) -> None:
    assert main([str(tmp_path)]) == 1
    assert "run stage=entities first" in capsys.readouterr().err
