"""data_gen throughput: shard writing MB/s against WebDataset's own `ShardWriter`.

Same samples (JPEG + contract JSON), same shard size, same disk: the project's writer
(`data_gen.shards.writer.write_shards`: contract check, canonical JSON, fixed tar metadata, fsync,
atomic rename, resumable progress file) against `webdataset.ShardWriter` (no checks, no fsync).
QA pairs/s and SPARQL queries per 1,000 entities join this file with their stages.

    python benchmarks/data_gen.py [--quick] [--samples N]
    python benchmarks/data_gen.py --qa [--quick]      # QA generation pairs/s on one core (see qa_main)
    python benchmarks/data_gen.py --sparql [--quick]  # label queries per 1,000 entities (see sparql_main)
    python benchmarks/data_gen.py --images [--quick]  # image fetch: files/s and connections per host (images_main)

The last line is `ratio_vs_reference=X.XX` (project MB/s over reference MB/s).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import webdataset as wds

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from data_gen.shards.writer import ShardSpec, write_shards
from tests.helpers.shard_samples import make_sample, tiny_jpeg


def _samples(count: int) -> list:
    image = tiny_jpeg(3, size=336)
    samples = [type(s)(s.key, s.sample, image) for s in (make_sample(i) for i in range(count))]
    return sorted(samples, key=lambda item: item.key)


def _folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.glob("*.tar")) / 1e6


def project_mb_per_s(samples: list, folder: Path) -> float:
    start = time.perf_counter()
    write_shards(samples, folder, ShardSpec(max_samples=1000))
    return _folder_mb(folder) / (time.perf_counter() - start)


def reference_mb_per_s(samples: list, folder: Path) -> float:
    folder.mkdir(parents=True)
    start = time.perf_counter()
    with wds.ShardWriter(str(folder / "ref-%06d.tar"), maxcount=1000, verbose=0) as sink:
        for item in samples:
            sink.write({"__key__": item.key, "jpg": item.image, "json": item.sample})
    return _folder_mb(folder) / (time.perf_counter() - start)


def near_duplicates_main(quick: bool) -> None:
    """Near-duplicate search of one country's pHashes: the stage's banded search against a full scan."""
    import random

    from data_gen.images.checks import near_duplicates

    def full_scan(hashes: list[str], max_distance: int) -> list[int | None]:
        """The reference: the stage's former search, every kept hash compared at once with numpy."""
        import numpy as np

        kept_values: list[int] = []
        kept_positions: list[int] = []
        found: list[int | None] = []
        for position, value in enumerate(hashes):
            number = int(value, 16)
            if kept_values:
                distances = np.bitwise_count(np.array(kept_values, dtype=np.uint64) ^ np.uint64(number))
                best = int(np.argmin(distances))
                if int(distances[best]) <= max_distance:
                    found.append(kept_positions[best])
                    continue
            kept_values.append(number)
            kept_positions.append(position)
            found.append(None)
        return found

    rng = random.Random(0)
    for count in (2000,) if quick else (2000, 20000):
        hashes = [f"{rng.getrandbits(64):016x}" for _ in range(count)]
        start = time.perf_counter()
        expected = full_scan(hashes, 4)
        reference = time.perf_counter() - start
        start = time.perf_counter()
        assert near_duplicates(hashes, 4) == expected
        banded = time.perf_counter() - start
        print(f"near duplicates, {count:,} hashes: full scan {reference:.2f} s, banded {banded:.3f} s, "
              f"ratio_vs_reference={reference / banded:.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qa", action="store_true", help="benchmark QA generation instead of shard writing")
    parser.add_argument("--sparql", action="store_true", help="label queries per 1,000 entities, batched vs per item")
    parser.add_argument("--images", action="store_true", help="image stage vs a per-item downloader, loopback Commons")
    parser.add_argument("--near-duplicates", action="store_true", help="banded pHash search vs a full scan")
    args = parser.parse_args()
    if args.near_duplicates:
        near_duplicates_main(args.quick)
        return
    if args.sparql:
        sparql_main(args.quick)
        return
    if args.images:
        images_main(args.quick)
        return
    if args.qa:
        qa_main(args.quick, args.rounds)
        return
    count, rounds = (2000, 1) if args.quick else (args.samples, args.rounds)
    samples = _samples(count)
    projects, references = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(rounds):
            references.append(reference_mb_per_s(samples, Path(tmp) / f"ref{index}"))
            projects.append(project_mb_per_s(samples, Path(tmp) / f"ours{index}"))
            size = _folder_mb(Path(tmp) / f"ours{index}")
            shutil.rmtree(Path(tmp) / f"ref{index}")
            shutil.rmtree(Path(tmp) / f"ours{index}")
    project, reference = statistics.median(projects), statistics.median(references)
    print(f"machine: {platform.machine()} python {platform.python_version()}; {count} samples, {size:.1f} MB")
    print(f"reference (webdataset.ShardWriter): {reference:.1f} MB/s")
    print(f"project (write_shards, checked + fsync + atomic): {project:.1f} MB/s")
    print(f"ratio_vs_reference={project / reference:.2f}")


# ---------------------------------------------------------------- QA generation (issue 4 §2)


def qa_inputs(per_country: int) -> tuple[dict, dict, dict]:
    """Synthetic entities (tests/helpers/qa_inputs.py: every value type) with two images each."""
    import random

    from data_gen.qa.generate import ImageRef
    from tests.helpers.qa_inputs import COUNTRY_LANGUAGES, make_entity, value_items

    rng, items = random.Random(0), value_items()
    ranks = range(1, per_country + 1)
    entities = {cc: [make_entity(rng, cc, rank, items) for rank in ranks] for cc in COUNTRY_LANGUAGES}
    languages = {cc: (*langs, "en") for cc, langs in COUNTRY_LANGUAGES.items()}
    provenance = {"file": "f.jpg", "url": "u", "author": "a", "license": "l", "placeholder": True}
    images = {
        cc: {e["qid"]: [ImageRef(f"images/{cc}/{e['qid']}-{i}.jpg", provenance) for i in range(2)] for e in ents}
        for cc, ents in entities.items()
    }
    return entities, languages, images


def qa_project(entities: dict, languages: dict, images: dict) -> int:
    """The project's generator (data_gen.qa.generate.QAGenerator): records built in memory; returns their number."""
    from collections import Counter

    from data_gen.qa.generate import DistractorPools, QAGenerator, QASettings
    from data_gen.qa.question_templates import load_language
    from data_gen.wikidata.properties import load_catalogue

    templates = {lang: load_language(lang) for langs in languages.values() for lang in langs}
    pools = DistractorPools(entities, templates)
    generator = QAGenerator(QASettings(mcq_fraction=0.4), templates, pools, load_catalogue().pids)
    count = 0
    for cc in sorted(entities):
        for _ in generator.country(cc, languages[cc], entities[cc], images[cc], Counter()):
            count += 1
    return count


def _reference_text(fact: dict, language: str, bce: str) -> str | None:
    from data_gen.qa.answer_texts import ValueSkip, format_quantity, format_time, value_text

    try:
        if fact["type"] == "time":
            return format_time.__wrapped__(fact["value"], language, bce).text  # Babel on every call
        if fact["type"] == "quantity":
            return format_quantity.__wrapped__(fact["value"], language).text
        return value_text(fact, language, bce).text
    except ValueSkip:
        return None


def qa_reference(entities: dict, languages: dict, images: dict) -> int:
    """A straightforward per-pair implementation of the same job, for the ratio.

    Per pair: format the value with Babel, fold and check the stem, filter the whole property pool
    against the answer, `random.sample` three distractors, insert the answer at a random letter,
    render the turns and build the record. Pools (text, folded text) are built once per (property, language).
    """
    import hashlib
    import random
    import unicodedata

    from data_gen.qa.question_templates import load_language

    def fold(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text)
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()

    rng, pools, count = random.Random(0), {}, 0
    for cc in sorted(entities):
        for entity in entities[cc]:
            for fact in entity["facts"]:
                for language in languages[cc]:
                    template = load_language(language)
                    stem = template.properties[fact["property"]].open[0]
                    answer = _reference_text(fact, language, template.values["bce_year"])
                    if answer is None or fold(answer) in fold(stem):
                        continue
                    key = (fact["property"], language)
                    if key not in pools:
                        texts = {_reference_text(f, language, template.values["bce_year"]) for ents in entities.values()
                                 for e in ents for f in e["facts"] if f["property"] == fact["property"]}  # fmt: skip
                        pools[key] = [(t, fold(t)) for t in sorted(t for t in texts if t)]
                    record = {"id": hashlib.sha256(f"{entity['qid']}{fact}{language}".encode()).hexdigest()[:16],
                              "qid": entity["qid"], "country": cc, "language": language, "answer": answer,
                              "question": stem, "image": images[cc][entity["qid"]][0].path}  # fmt: skip
                    record["conversations"] = [{"from": "human", "value": "<image>\n" + stem},
                                               {"from": "gpt", "value": answer}]  # fmt: skip
                    count += 1
                    if rng.random() < 0.4:
                        folded = fold(answer)
                        candidates = [t for t, k in pools[key] if k != folded]
                        if len(candidates) >= 3:
                            choices = rng.sample(candidates, 3)
                            choices.insert(rng.randrange(4), answer)
                            options = "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(choices))
                            mcq = {**record, "choices": choices, "question_type": "mcq"}
                            mcq["conversations"] = [
                                {"from": "human", "value": f"<image>\n{stem}\n{options}\n{template.mcq.instruction}"},
                                {"from": "gpt", "value": "ABCD"[choices.index(answer)]},
                            ]
                            count += 1
    return count


def _pairs_per_s(function: Callable[..., int], inputs: tuple) -> tuple[int, float]:
    """Pairs per CPU-second of this process (`process_time`): on a shared machine other processes
    stretch wall time, not the CPU time the work takes on its one core."""
    start = time.process_time()
    count = function(*inputs)
    return count, count / (time.process_time() - start)


def qa_main(quick: bool, rounds: int) -> None:
    """QA generation pairs per CPU-second on one core (pinned), project vs reference, alternating rounds, medians."""
    import os

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    per_country, rounds = (150, 1) if quick else (500, rounds)
    inputs = qa_inputs(per_country)
    qa_project(*qa_inputs(5))  # warm imports and template loading for both
    projects, references = [], []
    for _ in range(rounds):
        ref_pairs, reference = _pairs_per_s(qa_reference, inputs)
        pairs, project = _pairs_per_s(qa_project, inputs)
        references.append(reference)
        projects.append(project)
    project, reference = statistics.median(projects), statistics.median(references)
    entities = sum(len(e) for e in inputs[0].values())
    print(f"machine: {platform.machine()} python {platform.python_version()}; one core; {entities} entities")
    print(f"reference (per pair: Babel, pool filter, random.sample): {ref_pairs} pairs, {reference:,.0f} pairs/s")
    print(f"project (data_gen.qa.generate.QAGenerator, tiered distractors): {pairs} pairs, {project:,.0f} pairs/s")
    print(f"ratio_vs_reference={project / reference:.2f}")


# ---------------------------------------------------------------- SPARQL labels (issue 3)


def _label_turtle(count: int) -> tuple[Any, tuple[str, ...], bytes]:
    from data_gen.wikidata.regions import load_regions
    from tests.helpers.wikidata_snippet import synthetic_country_turtle

    regions = load_regions()
    india = regions.by_key("IN")
    tags = tuple(code for lang in india.label_languages() for code in regions.wikidata_languages(lang))
    return india, tags, synthetic_country_turtle(india.qid, count, tags)


def sparql_reference(client: Any, qids: list[str], value_qids: list[str], tags: tuple[str, ...]) -> int:
    """The naive way: one query per entity (labels, descriptions, aliases) and one per value item."""
    from data_gen.entities.selection import labels_query, texts_query

    rows = sum(len(client.select(texts_query([qid], tags))) for qid in qids)
    return rows + sum(len(client.select(labels_query([qid], tags))) for qid in value_qids)


def sparql_main(quick: bool) -> None:
    """Label queries per 1,000 entities for India (6 languages): the entities stage vs per-item queries.

    Both run against a real `oxigraph serve` on loopback through the project's SPARQL client, so the
    time includes what every query costs over HTTP (on WDQS add network latency and rate limits).
    """
    from data_gen.entities.selection import EntitySettings
    from data_gen.entities.stage import read_entities, run_entities
    from data_gen.wikidata.client import EndpointBackend, SparqlClient, SparqlSettings
    from tests.helpers.datagen_cli import TEST_AGENT
    from tests.helpers.oxigraph_server import OxigraphServer

    count = 1000 if quick else 3000
    india, tags, turtle = _label_turtle(count)
    with tempfile.TemporaryDirectory() as tmp, OxigraphServer(Path(tmp) / "db") as server:
        server.load_turtle(turtle)
        settings = SparqlSettings(url=server.query_url, user_agent=TEST_AGENT)
        client = SparqlClient(EndpointBackend(settings), settings)
        start = time.perf_counter()
        wide = EntitySettings(links=("P17",), max_per_class=count, max_per_country=count)
        manifest = run_entities(client, [india], wide, Path(tmp))
        project_s = time.perf_counter() - start
        records = read_entities(Path(tmp), "IN")
        qids = [r["qid"] for r in records]
        values = sorted({f["value"] for r in records for f in r["facts"] if f["type"] == "item"})
        reference = SparqlClient(EndpointBackend(settings), settings)
        start = time.perf_counter()
        sparql_reference(reference, qids, values, tags)
        reference_s = time.perf_counter() - start
    entities = manifest["countries"]["IN"]["entities"]
    project_queries = manifest["run"]["sparql"]["label_queries"]
    per_1000 = project_queries * 1000 / entities
    reference_per_1000 = reference.counters.queries * 1000 / entities
    print(f"machine: {platform.machine()} python {platform.python_version()}; {entities} entities of India, "
          f"labels/descriptions/aliases in {len(tags)} Wikidata languages, {len(values)} value items; "
          "oxigraph serve on loopback")
    print(f"reference (one query per entity and per value item): {reference.counters.queries} queries = "
          f"{reference_per_1000:.0f} per 1,000 entities, {reference_s:.1f} s")
    print(f"project (VALUES batches of 500, all languages at once): {project_queries} label queries = "
          f"{per_1000:.1f} per 1,000 entities (target ≤ 10); whole stage {manifest['run']['sparql']['queries']} "
          f"queries in {project_s:.1f} s")
    print(f"ratio_vs_reference={reference_per_1000 / per_1000:.2f}")


# ---------------------------------------------------------------- image fetching (issue 3)


def images_reference(server: Any, out: Path, files: list[str]) -> int:
    """The naive way: per file one API query, one download (redirects followed blindly), one decode."""
    import io
    import json
    import urllib.parse
    import urllib.request

    from PIL import Image

    from tests.helpers.datagen_cli import TEST_AGENT

    out.mkdir(parents=True)
    stored = 0
    for index, name in enumerate(files):
        query = urllib.parse.urlencode({"action": "query", "format": "json", "prop": "imageinfo",
                                        "iiprop": "url|extmetadata|size|mime", "titles": f"File:{name}"})
        headers = {"User-Agent": TEST_AGENT}
        with urllib.request.urlopen(urllib.request.Request(f"{server.api_url}?{query}", headers=headers)) as answer:
            json.load(answer)
        with urllib.request.urlopen(urllib.request.Request(server.file_url(name, 500), headers=headers)) as answer:
            image = Image.open(io.BytesIO(answer.read())).convert("RGB")
        image.save(out / f"{index}.jpg", quality=90)
        stored += 1
    return stored


def images_main(quick: bool) -> None:
    """Files/s and connections per host: the images stage (≤ 3 per host) vs a per-item downloader."""
    from data_gen.entities.selection import EntitySettings
    from data_gen.entities.stage import read_entities, run_entities
    from data_gen.images.commons_client import CommonsSettings
    from data_gen.images.stage import ImageSettings, make_source, run_images
    from data_gen.wikidata.client import SparqlClient, StoreBackend
    from data_gen.wikidata.regions import load_regions
    from tests.helpers.datagen_cli import TEST_AGENT
    from tests.helpers.image_server import FaultyImageServer
    from tests.helpers.wikidata_snippet import store_from_turtle, synthetic_country_turtle

    count, latency = (60, 0.05) if quick else (300, 0.05)
    france = load_regions().by_key("FR")
    store = store_from_turtle(synthetic_country_turtle(france.qid, count, ("fr", "en")))
    with tempfile.TemporaryDirectory() as tmp, FaultyImageServer(delay_s=latency) as server:
        out = Path(tmp) / "project"
        run_entities(SparqlClient(StoreBackend(store)), [france], EntitySettings(links=("P17",)), out)
        files = [r["images"][0] for r in read_entities(out, "FR")]
        start = time.perf_counter()
        images_reference(server, Path(tmp) / "reference", files)
        reference = len(files) / (time.perf_counter() - start)
        reference_peak = server.stats.max_active
        server.stats = type(server.stats)()
        settings = ImageSettings(origin="commons")
        commons = CommonsSettings(server.file_path_url, server.api_url, ("127.0.0.1",), allow_http=True)
        start = time.perf_counter()
        manifest = run_images(make_source(settings, commons, "endpoint", TEST_AGENT, out), ["FR"], settings, out)
        project = len(files) / (time.perf_counter() - start)
        stats = server.stats
    ok = manifest["totals"].get("ok", 0)
    print(f"machine: {platform.machine()} python {platform.python_version()}; {len(files)} files, loopback "
          f"Commons with {latency * 1000:.0f} ms per request (API + redirect + upload)")
    print(f"reference (per item: API query, download, decode, save; one connection): {reference:.1f} files/s, "
          f"peak {reference_peak} connection(s)")
    print(f"project (images stage: batched API, {settings.concurrency_per_host} per host, checks, pHash, journal): "
          f"{project:.1f} files/s, {ok} ok; server-measured peak {stats.max_active} connections (limit 3), "
          f"mean busy {stats.mean_busy:.2f}")
    print(f"ratio_vs_reference={project / reference:.2f}")


if __name__ == "__main__":
    main()
