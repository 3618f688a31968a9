"""data_gen at scale (issue 17 §4): synthetic Wikidata → local `oxigraph serve` → entities … shards, measured.

    nice -n 10 python benchmarks/scale.py --sizes 10000,100000 [--work DIR] [--keep] [--json OUT]
    python benchmarks/scale.py --quick        # 2,000 entities, every stage (a smoke run)

Per size N: `benchmarks/synthetic_wikidata.py` writes N entities as N-Triples, `oxigraph load`
bulk-loads them, `oxigraph serve-read-only` serves them on loopback, then each stage runs as
`python -m data_gen stage=<s> source=endpoint endpoint.url=… images.origin=placeholder
refine.backend=none filter.backend=none …` in its own process, with the entity caps raised to N
so the selection grows with N. Each step is measured for wall time and peak RSS (`os.wait4` on the
child), output bytes (its folder under out_dir), and the entities stage for the SPARQL queries it
sent (its manifest's `run.sparql`). Generation and loading are measured too but are not pipeline
stages: on a real run they are a Wikidata dump import, done once.

The reference each size is compared with is linear growth from the size below, measured in the
same run: `growth = time(10·N) / (10 · time(N))` per stage (target ≤ 1.15). The last line prints
`ratio_vs_reference=` the worst growth of the pipeline total over consecutive sizes.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # before benchmarks/ (which holds a data_gen.py of its own)

from benchmarks.synthetic_wikidata import output_path  # noqa: E402
from tests.helpers.datagen_cli import TEST_AGENT  # noqa: E402
from tests.helpers.oxigraph_server import OxigraphServer, _oxigraph_binary  # noqa: E402

STAGES = ("entities", "images", "qa", "refine", "filter", "shards")
FOLDERS = {"entities": "entities", "images": "images", "qa": "qa", "refine": "refine", "filter": "filter",
           "shards": "shards"}  # fmt: skip


@dataclass
class Step:
    name: str
    wall_s: float
    peak_rss_mib: float
    user_s: float
    sys_s: float
    output_bytes: int = 0
    server_cpu_s: float = 0.0  # CPU the SPARQL server spent while the step ran
    load_avg: float = 0.0  # 1-minute load average at the end (the machine is shared)
    notes: dict[str, Any] = field(default_factory=dict)


def measured(name: str, command: list[str], log: Path, env: dict[str, str] | None = None) -> Step:
    """Run `command` to completion: wall time, and the child's peak RSS and CPU from `wait4`."""
    with open(log, "wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"{name} failed (exit {process.returncode}):\n{tail}")
    return Step(name, round(wall, 2), round(usage.ru_maxrss / 1024, 1), round(usage.ru_utime, 2),
                round(usage.ru_stime, 2), load_avg=round(os.getloadavg()[0], 2))  # fmt: skip


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


class ReadOnlyServer(OxigraphServer):
    """`oxigraph serve-read-only` on a loopback port, with its CPU time and peak RSS read from /proc."""

    def __init__(self, location: Path) -> None:
        super().__init__(location, timeout_s=60, read_only=True)
        self.url = self.query_url

    def cpu_s(self) -> float:
        """User + system CPU seconds of the server so far (/proc/<pid>/stat fields 14 and 15)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_rss_mib(self) -> float:
        """The server's peak RSS so far (VmHWM), to read before it stops."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "DATAGEN_USER_AGENT": ""}
    env.pop("DATAGEN_TRACEBACK", None)
    return env


def stage_overrides(stage: str, out: Path, url: str, entities: int) -> list[str]:
    common = [f"stage={stage}", f"out_dir={out}", "source=endpoint", f"endpoint.url={url}",
              f"user_agent='{TEST_AGENT}'", "progress=false"]  # fmt: skip
    extra = {
        "entities": [f"entities.candidates_per_link={entities}", f"entities.max_per_country={entities}",
                     f"entities.max_per_class={entities}"],
        "images": ["images.origin=placeholder"],
        "refine": ["refine.backend=none"],
        "filter": ["filter.backend=none"],
    }  # fmt: skip
    return common + extra.get(stage, [])


def _manifest(out: Path, stage: str) -> dict[str, Any]:
    path = out / stage / "manifest.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def stage_notes(out: Path, stage: str) -> dict[str, Any]:
    """The counts each stage's manifest gives (entities, images, records, samples, SPARQL queries)."""
    manifest = _manifest(out, stage)
    if stage == "entities":
        sparql = manifest.get("run", {}).get("sparql", {})
        return {"entities": manifest.get("total_entities"), "images_referenced": manifest.get("total_images"),
                "queries": sparql.get("queries"), "label_queries": sparql.get("label_queries"),
                "requests": sparql.get("requests"), "cache_bytes": folder_bytes(out / "cache")}  # fmt: skip
    if stage == "images":
        counts: dict[str, int] = {}
        for entry in manifest.get("countries", {}).values():
            for status, number in (entry.get("status") or entry.get("statuses") or {}).items():
                counts[status] = counts.get(status, 0) + number
        return {"statuses": counts, "placeholder_bytes": folder_bytes(out / "placeholder_commons")}
    if stage == "shards":
        return {key: value for key, value in manifest.items() if key in ("folders", "totals", "samples")}
    keys = ("records", "total_records", "open", "mcq", "totals")
    return {key: manifest[key] for key in keys if key in manifest}


def build_store(entities: int, work: Path, seed: int, env: dict[str, str]) -> list[Step]:
    """Generate the N-Triples, bulk-load them, then compact the store (`oxigraph optimize`).

    The compaction is not optional at scale: a freshly bulk-loaded store keeps its files unmerged, and
    at 1M entities the first candidate query (Bangladesh, 46k rows) took 119 s on it — past the
    stage's 60 s timeout, five times — while Nigeria's took 11.4 s before and 0.6 s after. Oxigraph's
    own `load` says to optimize before a read-heavy workload; this is one.
    """
    python, steps = sys.executable, []
    rdf = work / "rdf"
    generator = [python, str(ROOT / "benchmarks" / "synthetic_wikidata.py"), "--entities", str(entities)]
    gen = measured("generate", [*generator, "--out", str(rdf), "--seed", str(seed)], work / "generate.log", env)
    nt = output_path(rdf, entities, seed, False)
    gen.output_bytes = nt.stat().st_size
    gen.notes = {k: v for k, v in json.loads(nt.with_name(nt.name.split(".nt")[0] + ".stats.json").read_text()).items()
                 if k in ("triples", "articles", "value_items", "with_image")}  # fmt: skip
    steps.append(gen)
    db = work / "db"
    shutil.rmtree(db, ignore_errors=True)
    load = measured("load", [_oxigraph_binary(), "load", "--location", str(db), "--file", str(nt)], work / "load.log")
    load.output_bytes = folder_bytes(db)
    steps.append(load)
    nt.unlink()  # the store holds it now; the text is only needed again for a re-load
    optimize = measured("optimize", [_oxigraph_binary(), "optimize", "--location", str(db)], work / "optimize.log")
    optimize.output_bytes = folder_bytes(db)
    steps.append(optimize)
    return steps


def run_size(
    entities: int,
    work: Path,
    seed: int,
    overrides: tuple[str, ...] = (),
    stages: tuple[str, ...] = STAGES,
    reuse_store: bool = False,
) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    env, python = _env(), sys.executable
    steps: list[Step] = []
    db, marker = work / "db", work / "store.json"
    wanted = {"entities": entities, "seed": seed, "optimized": True}
    if reuse_store and marker.exists() and json.loads(marker.read_text()) == wanted and db.is_dir():
        print(f"  {entities:>9,} store     reused: {db} (generated, loaded and optimized by an earlier run)")
    else:
        marker.unlink(missing_ok=True)
        steps += build_store(entities, work, seed, env)
        marker.write_text(json.dumps(wanted) + "\n")
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    with ReadOnlyServer(db) as server:
        for stage in stages:
            command = [python, "-m", "data_gen", *stage_overrides(stage, out, server.url, entities), *overrides]
            before = server.cpu_s()
            step = measured(stage, command, work / f"{stage}.log", env)
            step.server_cpu_s = round(server.cpu_s() - before, 2)
            step.output_bytes = folder_bytes(out / FOLDERS[stage])
            step.notes = stage_notes(out, stage)
            steps.append(step)
            print(f"  {entities:>9,} {stage:<9} {step.wall_s:8.1f} s (CPU {step.user_s + step.sys_s:.1f} s + server "
                  f"{step.server_cpu_s:.1f} s, load {step.load_avg}) {step.peak_rss_mib:6.0f} MiB "
                  f"{step.output_bytes / 1e6:10.1f} MB  {json.dumps(step.notes)[:160]}", flush=True)  # fmt: skip
        server_rss = server.peak_rss_mib()
    return {"entities": entities, "seed": seed, "overrides": list(overrides), "steps": [asdict(s) for s in steps],
            "server_peak_rss_mib": server_rss, "stages": list(stages),
            "pipeline_wall_s": round(sum(s.wall_s for s in steps if s.name in STAGES), 2)}  # fmt: skip


def facts_plan(entities: int, work: Path, seed: int) -> None:
    """Time `facts_query` (data_gen/entities/selection.py) at several batch sizes on a store of N entities.

    Oxigraph 0.5 plans `VALUES ?item {…} VALUES ?p {139 properties} ?item ?p ?value` as a scan of every
    catalogue predicate once the item list passes ~130 (its time then grows with the store, not the
    batch); the same query with `FILTER(?p IN (…))` instead of `VALUES ?p` stays a per-item lookup.
    """
    from pyoxigraph import Store

    from data_gen.entities.selection import facts_query
    from data_gen.wikidata.properties import load_catalogue

    work.mkdir(parents=True, exist_ok=True)
    generator = [sys.executable, str(ROOT / "benchmarks" / "synthetic_wikidata.py"), "--entities", str(entities)]
    measured("generate", [*generator, "--out", str(work / "rdf"), "--seed", str(seed)], work / "generate.log", _env())
    db = work / "db"
    shutil.rmtree(db, ignore_errors=True)
    nt = output_path(work / "rdf", entities, seed, False)
    measured("load", [_oxigraph_binary(), "load", "--location", str(db), "--file", str(nt)], work / "load.log")
    store = Store.read_only(str(db))
    qids = [f"Q{100_000_001 + i}" for i in range(0, entities, max(1, entities // 400))][:200]
    pids = sorted({*load_catalogue().pids, "P31", "P18"}, key=lambda pid: int(pid[1:]))

    def timed(query: str) -> tuple[int, float]:
        start = time.perf_counter()
        rows = sum(1 for _ in store.query(query))
        return rows, time.perf_counter() - start

    def two_values_blocks(items: list[str]) -> str:
        """The reference: the form facts_query had before, properties as a second VALUES block."""
        properties = " ".join(f"wdt:{pid}" for pid in pids)
        query = facts_query(items, pids)
        head = query.split("  FILTER(?p IN (", 1)[0]
        return head.replace("?item ?p ?value .", f"VALUES ?p {{ {properties} }}\n  ?item ?p ?value .") + "}"

    for size in (100, 130, 140, 200):
        rows, seconds = timed(facts_query(qids[:size], pids))
        ref_rows, ref_seconds = timed(two_values_blocks(qids[:size]))
        assert rows == ref_rows, (rows, ref_rows)
        print(
            f"{entities:,} entities: facts_query, {size} items × {len(pids)} properties: {rows} rows, {seconds:.3f} s "
            f"(FILTER(?p IN …)); two VALUES blocks: {ref_seconds:.3f} s; ratio {ref_seconds / max(seconds, 1e-9):.1f}×"
        )


def growth(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """time(b) / ((N_b / N_a) · time(a)) per stage for consecutive sizes (1.0 = linear)."""
    rows = []
    for small, big in itertools.pairwise(results):
        factor = big["entities"] / small["entities"]
        times_small = {s["name"]: s["wall_s"] for s in small["steps"]} | {"pipeline": small["pipeline_wall_s"]}
        times_big = {s["name"]: s["wall_s"] for s in big["steps"]} | {"pipeline": big["pipeline_wall_s"]}
        rows.append({"from": small["entities"], "to": big["entities"],
                     "growth": {k: round(times_big[k] / (factor * times_small[k]), 2)
                                for k in times_big if times_small.get(k)}})  # fmt: skip
    return rows


def print_table(results: list[dict[str, Any]]) -> None:
    print(
        f"{'entities':>9} {'step':<9} {'wall s':>8} {'CPU s':>8} {'server s':>8} {'peak RSS MiB':>13} {'output MB':>10}"
    )
    for result in results:
        for step in result["steps"]:
            cpu = step["user_s"] + step["sys_s"]
            mib, mb = step["peak_rss_mib"], step["output_bytes"] / 1e6
            print(f"{result['entities']:>9,} {step['name']:<9} {step['wall_s']:8.1f} {cpu:8.1f} "
                  f"{step['server_cpu_s']:8.1f} {mib:13.0f} {mb:10.1f}")  # fmt: skip
        print(f"{result['entities']:>9,} {'pipeline':<9} {result['pipeline_wall_s']:8.1f}   "
              f"(oxigraph serve peak RSS {result['server_peak_rss_mib']:.0f} MiB)")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated entity counts")
    parser.add_argument("--quick", action="store_true", help="one size of 2,000 entities")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep each size's store and outputs")
    parser.add_argument("--reuse-store", action="store_true",
                        help="with --work: the store a --keep run left for the same size and seed")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="write the measurements here")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="extra data_gen override for every stage: entities.facts_batch_size=100")  # fmt: skip
    parser.add_argument("--stages", default=",".join(STAGES),
                        help="the data_gen stages to run, in order (a prefix of the pipeline: its inputs)")  # fmt: skip
    parser.add_argument("--facts-plan", type=int, default=0, metavar="N",
                        help="only time the facts query at several batch sizes on N entities")  # fmt: skip
    args = parser.parse_args(argv)
    if args.facts_plan:
        with tempfile.TemporaryDirectory(prefix="dg_facts_") as tmp:
            facts_plan(args.facts_plan, Path(tmp), args.seed)
        return 0
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    base = args.work or Path(tempfile.mkdtemp(prefix="dg_scale_"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"work folder {base}; overrides {args.overrides}", flush=True)  # fmt: skip
    results = []
    try:
        for size in sizes:
            stages = tuple(args.stages.split(","))
            results.append(run_size(size, base / f"n{size}", args.seed, tuple(args.overrides), stages,
                                    args.reuse_store))
            if not args.keep:
                shutil.rmtree(base / f"n{size}", ignore_errors=True)
            if args.json:
                args.json.write_text(json.dumps({"results": results, "growth": growth(results)}, indent=1) + "\n")
    finally:
        if args.work is None and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print_table(results)
    rows = growth(results)
    for row in rows:
        print(f"growth {row['from']:,} → {row['to']:,} (time(10N)/(10·time(N)), target ≤ 1.15): "
              + ", ".join(f"{k} {v:.2f}" for k, v in row["growth"].items()))  # fmt: skip
    if rows:
        print(f"ratio_vs_reference={max(row['growth']['pipeline'] for row in rows):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
