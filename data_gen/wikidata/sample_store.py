"""The embedded Wikidata sample: the default, offline SPARQL endpoint of data_gen.

`data_gen/wikidata/sample/wikidata_sample.ttl.gz` holds a few hundred real Wikidata items (with images)
from a dozen countries in WDQS's own RDF vocabulary (`wd:`, `wdt:`, `rdfs:label`,
`schema:description`, `skos:altLabel`, `wikibase:sitelinks`); `data_gen/wikidata/sample/README.md` says
what is in it and where the facts come from. The readable sources are the per-country Turtle files
in `data_gen/wikidata/sample/sources/`; the shipped `.gz` is built from them, reproducibly, by

    python -m data_gen.wikidata.sample_store build      # sources/*.ttl → wikidata_sample.ttl.gz
    python -m data_gen.wikidata.sample_store check      # exit 1 if the shipped file differs from a fresh build

Trade-offs:
- The build concatenates the sources in sorted name order (each keeps its own `@prefix` lines,
  which Turtle allows) and gzips with mtime 0 and no file name, so the same sources always give
  the same bytes; a test compares the shipped file with a fresh build, so they cannot drift.
- Each source is parsed on its own before anything is written, so a typo is reported with the
  source file and line, and a broken build never replaces the shipped file (atomic write).
- `load_sample_store()` parses once per process and caches the store (about a second of work);
  callers share it and must treat it as read-only.
"""

from __future__ import annotations

import argparse
import gzip
import io
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from data_gen.common.errors import DataGenError
from shard_contract.atomic import atomic_write_bytes

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"
SAMPLE_FILE = SAMPLE_DIR / "wikidata_sample.ttl.gz"
SOURCES_DIR = SAMPLE_DIR / "sources"
MAX_SAMPLE_BYTES = 2 * 1024 * 1024


class SampleError(DataGenError):
    """The sample (or one of its sources) is missing, unreadable or not valid Turtle."""


def sample_path() -> Path:
    """Path of the shipped sample; a clear error if it is missing."""
    if not SAMPLE_FILE.is_file():
        raise SampleError(
            f"the embedded Wikidata sample {SAMPLE_FILE} is missing; "
            "rebuild it with `python -m data_gen.wikidata.sample_store build`"
        )
    return SAMPLE_FILE


def _gunzip(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise SampleError(f"{path}: not a readable gzip file ({error})") from error


def sample_turtle_bytes(path: Path | None = None) -> bytes:
    """The sample as Turtle bytes (decompressed)."""
    return _gunzip(Path(path) if path is not None else sample_path())


def _parse_into(store: Any, data: bytes, where: Path) -> None:
    """Load Turtle `data` into `store`; a syntax error names `where` and the line."""
    from pyoxigraph import RdfFormat

    try:
        store.load(data, format=RdfFormat.TURTLE)
    except SyntaxError as error:
        position = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], tuple) else ()
        line = f" line {position[1]}" if len(position) > 1 and position[1] is not None else ""
        message = error.args[0] if error.args else str(error)
        raise SampleError(f"{where}:{line}: invalid Turtle: {message}") from error


def parse_turtle(data: bytes, where: Path) -> Any:
    """A fresh in-memory pyoxigraph Store holding `data` (Turtle); errors name `where`."""
    from pyoxigraph import Store

    store = Store()
    _parse_into(store, data, where)
    return store


@lru_cache(maxsize=1)
def load_sample_store() -> Any:
    """The sample in an in-process pyoxigraph Store, parsed once per process (shared, read-only)."""
    path = sample_path()
    return parse_turtle(sample_turtle_bytes(path), path)


def source_files(sources_dir: Path) -> list[Path]:
    """The `*.ttl` sources in build order (sorted by name)."""
    files = sorted(Path(sources_dir).glob("*.ttl"))
    if not files:
        raise SampleError(f"no *.ttl sources in {sources_dir}")
    return files


def build_bytes(sources_dir: Path) -> bytes:
    """The gzipped sample built from `sources_dir`, byte-identical for identical sources."""
    parts = []
    for path in source_files(sources_dir):
        data = path.read_bytes()
        parse_turtle(data, path)  # report the source file and line, not the concatenation
        parts.append(f"# ---- source: {path.name}\n".encode() + data.rstrip(b"\n") + b"\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(b"\n".join(parts))
    return buffer.getvalue()


def build_sample(sources_dir: Path = SOURCES_DIR, out_path: Path = SAMPLE_FILE) -> Path:
    """Build the sample from `sources_dir` into `out_path` (atomic write); return `out_path`."""
    data = build_bytes(sources_dir)
    if len(data) > MAX_SAMPLE_BYTES:
        raise SampleError(f"the built sample is {len(data)} bytes, over the {MAX_SAMPLE_BYTES}-byte budget")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out_path, data)
    return out_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_gen.wikidata.sample_store",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["build", "check"])
    parser.add_argument("--sources", type=Path, default=SOURCES_DIR, help="folder of *.ttl sources")
    parser.add_argument("--out", type=Path, default=SAMPLE_FILE, help="the .ttl.gz to write or check")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            out = build_sample(args.sources, args.out)
            print(f"wrote {out} ({out.stat().st_size} bytes) from {len(source_files(args.sources))} sources")
            return 0
        fresh = build_bytes(args.sources)
        shipped = args.out.read_bytes() if args.out.is_file() else b""
        if fresh != shipped:
            print(f"{args.out} differs from a fresh build of {args.sources}; run the build command", file=sys.stderr)
            return 1
        print(f"{args.out} matches its sources")
        return 0
    except SampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
