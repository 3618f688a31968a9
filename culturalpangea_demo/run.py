"""`make demo`: the main job end to end on the embedded default, with a Markdown report.

Each step is the real command-line entry point a user would run, started as a subprocess with
its whole output kept in `<out_dir>/logs/<step>.log`; the console shows what the steps say about
their progress (`[data_gen] <stage>: …`, `[eval] …` lines, and the data stages' progress bars when
the console is a terminal) and one `[demo] <step>: …` line with its counts as each step ends. The
demo only chains the steps and collects what they wrote into `<out_dir>/REPORT.md` (dataset
statistics, training loss curve, evaluation table). A failing step stops the demo with its log
tail and a non-zero exit; an output folder that cannot be written is one `error:` line, exit 2.
Steps are skipped when their output is already complete, so a second `make demo` is quick
(`fresh=true` starts over); the report keeps the time of the run that did each step's work
(`logs/timings.json`).

Usage: `python -m culturalpangea_demo [out_dir=outputs/demo] [fresh=true] [size=full|small]`

`size=small` runs the same steps on two of the sample's countries (Japan, India: still seven
languages) and a few training steps; the test suite uses it so that `make test` stays well
within its time budget while going through every step.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from culturalpangea_demo.steps import STEPS, Step
from shard_contract.atomic import atomic_write_text

EXIT_USER_ERROR = 2
CONSOLE_LINE = re.compile(rb"^\[(data_gen|eval|train)\] ")  # step output the console shows as it comes
TIMINGS = "timings.json"
USAGE = "usage: python -m culturalpangea_demo [out_dir=outputs/demo] [fresh=true|false] [size=full|small]"


@dataclass
class DemoRun:
    out_dir: Path
    small: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    reused: set[str] = field(default_factory=set)
    sections: list[str] = field(default_factory=list)
    console_is_terminal: bool = False

    @property
    def timings_path(self) -> Path:
        return self.out_dir / "logs" / TIMINGS

    def load_timings(self) -> dict[str, float]:
        try:
            stored = json.loads(self.timings_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): float(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def save_timings(self) -> None:
        atomic_write_text(self.timings_path, json.dumps(self.timings, indent=1) + "\n")


def _relay(stream: IO[bytes], log_file: IO[bytes], show_bars: bool) -> None:
    """Copy a step's output into its log; echo its progress lines (and bars, on a terminal) to the console."""
    pending = b""
    bar_shown = False
    while chunk := stream.read1(65536):  # type: ignore[attr-defined] - a BufferedReader: whatever is there
        log_file.write(chunk)
        pending += chunk
        pieces = re.split(rb"(\r|\n)", pending)
        pending = pieces.pop()  # the unfinished tail
        for text, end in zip(pieces[0::2], pieces[1::2], strict=True):
            if end == b"\r" and show_bars and text.strip():
                sys.stderr.write("\r" + text.decode("utf-8", "replace")[-120:])
                sys.stderr.flush()
                bar_shown = True
            elif end == b"\n" and CONSOLE_LINE.match(text):
                if bar_shown:
                    sys.stderr.write("\r\033[K")
                    bar_shown = False
                print(text.decode("utf-8", "replace"), flush=True)
    log_file.write(pending)
    if bar_shown:
        sys.stderr.write("\r\033[K")


def _run_step(step: Step, run: DemoRun, stored: dict[str, float]) -> None:
    logs = run.out_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if step.done(run.out_dir):
        run.timings[step.name] = stored.get(step.name, float("nan"))
        run.reused.add(step.name)
        print(f"[demo] {step.name}: already complete, reusing it", flush=True)
    else:
        command = [*step.command(run.out_dir), *(step.small_args if run.small else ()),
                   *(step.terminal_args if run.console_is_terminal else ())]
        print(f"[demo] {step.name}: {' '.join(command)}", flush=True)
        start = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(logs / f"{step.name}.log", "wb") as log_file:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
            assert process.stdout is not None
            _relay(process.stdout, log_file, show_bars=run.console_is_terminal)
            returncode = process.wait()
        run.timings[step.name] = time.monotonic() - start
        if returncode != 0:
            tail = (logs / f"{step.name}.log").read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            message = f"[demo] step {step.name!r} failed (exit {returncode}); log tail:\n"
            raise SystemExit(message + "\n".join(tail))
        run.save_timings()
        print(f"[demo] {step.name}: {step.summary(run.out_dir)} ({run.timings[step.name]:.0f} s)", flush=True)
    run.sections.append(step.report(run.out_dir))


STAGE_LINE = re.compile(r"^\[data_gen\] (\w+): .*\((\d+(?:\.\d+)?) s\)$", re.MULTILINE)


def data_stage_seconds(out_dir: Path) -> dict[str, float]:
    """Seconds of each data_gen stage, from the `[data_gen]` lines of the data step's log."""
    log = out_dir / "logs" / "data.log"
    text = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    return {name: float(seconds) for name, seconds in STAGE_LINE.findall(text)}


def _model_stage_share(run: DemoRun) -> str:
    stages = data_stage_seconds(run.out_dir)
    total = sum(seconds for seconds in run.timings.values() if not math.isnan(seconds))
    if "refine" not in stages or "filter" not in stages or not total:
        return ""
    spent = stages["refine"] + stages["filter"]
    return (f"\n\nInside the data step: refinement and filtering {spent:.1f} s (refine {stages['refine']:.1f} s, "
            f"filter {stages['filter']:.1f} s), {100 * spent / total:.0f} % of the demo's {total:.1f} s.")


def _timing_rows(run: DemoRun) -> str:
    rows = []
    for name, seconds in run.timings.items():
        shown = "–" if math.isnan(seconds) else f"{seconds:.1f} s"  # NaN: reused output of an unknown run
        rows.append(f"| {name} | {shown} | {'earlier run (output reused)' if name in run.reused else 'this run'} |")
    return "\n".join(rows)


def _write_report(run: DemoRun) -> Path:
    text = "\n\n".join([
        "# CulturalPangea demo report",
        "The embedded default: the shipped Wikidata sample, tiny random-weight models, CPU.",
        *run.sections,
        "## Step timings\n\n| step | time | measured in |\n| --- | ---: | --- |\n" + _timing_rows(run)
        + _model_stage_share(run),
    ]) + "\n"
    path = run.out_dir / "REPORT.md"
    atomic_write_text(path, text)
    return path


def _parse_args(argv: list[str]) -> dict[str, str]:
    options = {"out_dir": "outputs/demo", "fresh": "false", "size": "full"}
    for arg in argv:
        if arg in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        key, sep, value = arg.partition("=")
        if not sep or key not in options:
            raise SystemExit(f"unknown argument {arg!r}\n{USAGE}")
        options[key] = value
    if options["size"] not in ("full", "small"):
        raise SystemExit(f"size={options['size']!r}: expected full or small\n{USAGE}")
    return options


def _run(options: dict[str, str]) -> int:
    out_dir = Path(options["out_dir"]).resolve()
    if options["fresh"].lower() == "true" and out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = DemoRun(out_dir, small=options["size"] == "small", console_is_terminal=sys.stderr.isatty())
    (out_dir / "logs").mkdir(exist_ok=True)
    stored = run.load_timings()
    start = time.monotonic()
    for step in STEPS:
        _run_step(step, run, stored)
    report = _write_report(run)
    print(f"[demo] done in {time.monotonic() - start:.0f} s: {report}")
    return 0


def main(argv: list[str] | None = None) -> int:
    options = _parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _run(options)
    except OSError as error:  # a read-only or full disk, a file where the folder should be
        where = error.filename or options["out_dir"]
        print(f"error: cannot write the demo's output under out_dir={options['out_dir']} ({where}: "
              f"{error.strerror or error}); choose a writable out_dir=<folder>", file=sys.stderr)
        return EXIT_USER_ERROR
