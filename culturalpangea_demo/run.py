"""`make demo`: the main job end to end on the embedded default, with a Markdown report.

Each step is the real command-line entry point a user would run, started as a subprocess with
its output kept in `<out_dir>/logs/<step>.log`; the demo only chains them and collects what they
wrote into `<out_dir>/REPORT.md` (dataset statistics, training loss, evaluation table). A failing
step stops the demo with its log tail and a non-zero exit. Steps are skipped when their output is
already complete, so a second `make demo` is quick; `fresh=true` starts over.

Usage: `python -m culturalpangea_demo [out_dir=outputs/demo] [fresh=true] [size=full|small]`

`size=small` runs the same steps on two of the sample's countries (Japan, India: still seven
languages) and a few training steps; the test suite uses it so that `make test` stays well
within its time budget while going through every step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from culturalpangea_demo.steps import STEPS, Step
from shard_contract.atomic import atomic_write_text


@dataclass
class DemoRun:
    out_dir: Path
    small: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    sections: list[str] = field(default_factory=list)


def _run_step(step: Step, run: DemoRun) -> None:
    logs = run.out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if step.done(run.out_dir):
        print(f"[demo] {step.name}: already complete, reusing it")
        run.timings[step.name] = 0.0
    else:
        command = [*step.command(run.out_dir), *(step.small_args if run.small else ())]
        print(f"[demo] {step.name}: {' '.join(command)}", flush=True)
        start = time.monotonic()
        with open(logs / f"{step.name}.log", "w", encoding="utf-8") as log_file:
            result = subprocess.run(command, stdout=log_file, stderr=subprocess.STDOUT, check=False, env=os.environ)
        run.timings[step.name] = time.monotonic() - start
        if result.returncode != 0:
            tail = (logs / f"{step.name}.log").read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            message = f"[demo] step {step.name!r} failed (exit {result.returncode}); log tail:\n"
            raise SystemExit(message + "\n".join(tail))
    run.sections.append(step.report(run.out_dir))


def _write_report(run: DemoRun) -> Path:
    timing_rows = "\n".join(f"| {name} | {seconds:.1f} s |" for name, seconds in run.timings.items())
    text = "\n\n".join([
        "# CulturalPangea demo report",
        "The embedded default: the shipped Wikidata sample, tiny random-weight models, CPU.",
        *run.sections,
        "## Step timings\n\n| step | time |\n| --- | ---: |\n" + timing_rows,
    ]) + "\n"
    path = run.out_dir / "REPORT.md"
    atomic_write_text(path, text)
    return path


def _parse_args(argv: list[str]) -> dict[str, str]:
    options = {"out_dir": "outputs/demo", "fresh": "false", "size": "full"}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key not in options:
            raise SystemExit(f"unknown argument {arg!r}; expected out_dir=<dir>, fresh=true|false, size=full|small")
        options[key] = value
    return options


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    out_dir = Path(options["out_dir"]).resolve()
    if options["fresh"].lower() == "true" and out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if options["size"] not in ("full", "small"):
        raise SystemExit(f"size={options['size']!r}: expected full or small")
    run = DemoRun(out_dir, small=options["size"] == "small")
    start = time.monotonic()
    for step in STEPS:
        _run_step(step, run)
    report = _write_report(run)
    print(f"[demo] done in {time.monotonic() - start:.0f} s: {report}")
    return 0

