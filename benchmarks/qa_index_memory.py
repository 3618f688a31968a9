"""Memory of qa's distractor index on a finished entities stage, without the images stage.

    python benchmarks/qa_index_memory.py <out_dir>

Builds `DistractorPools` over every country's entity records as `run_qa` does (streamed), then every
option list and recognition index of the languages alive at the widest point of the generation order
(India's six on the 42 countries), and prints the time and the peak RSS after each. This is most of
the qa stage's memory: what a country's generation adds on top is its image references and one part
of records. Used for the 1M-entity figure in RESULTS.md ("At 1M entities …").
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from data_gen.qa.generate import DistractorPools  # noqa: E402
from data_gen.qa.question_templates import load_language  # noqa: E402
from data_gen.qa.stage import country_entities, generation_order  # noqa: E402
from data_gen.wikidata.regions import load_regions  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def alive_at(order: list[str], sets: dict[str, tuple[str, ...]], position: int) -> set[str]:
    """Languages whose lists are built when order[position] is generated (DistractorPools.retain)."""
    before = {lang for code in order[:position] for lang in sets[code]}
    from_here = {lang for code in order[position:] for lang in sets[code]}
    return set(sets[order[position]]) | (before & from_here)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    countries = sorted(path.stem for path in (out / "entities").glob("*.jsonl"))
    if not countries:
        print(f"no entities/<CC>.jsonl under {out}: run stage=entities first", file=sys.stderr)
        return 1
    regions = load_regions()
    sets = {code: regions.by_key(code).label_languages(regions.always_include) for code in countries}
    templates = {lang: load_language(lang) for lang in sorted({lang for langs in sets.values() for lang in langs})}
    start = time.time()
    pools = DistractorPools({code: country_entities(out, code) for code in countries}, templates)
    values = sum(len(per_property) for per_property in pools.values.values())
    print(f"index: {len(pools.entities):,} entities, {values:,} distinct values in {time.time() - start:.1f} s; "
          f"peak RSS {peak_rss_mib():,.0f} MiB", flush=True)  # fmt: skip
    order = generation_order(countries, sets)
    widest = max(range(len(order)), key=lambda position: len(alive_at(order, sets, position)))
    alive, start = sorted(alive_at(order, sets, widest)), time.time()
    for language in alive:
        for pid in pools.values:
            pools.property_tiers(pid, language, "item", order[widest])
        pools.recognition_tiers(language, order[widest], ())
    print(f"+ the lists of {', '.join(alive)} (alive at {order[widest]}) in {time.time() - start:.1f} s; "
          f"peak RSS {peak_rss_mib():,.0f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
