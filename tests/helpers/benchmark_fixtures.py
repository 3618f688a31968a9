"""Benchmark fixtures for tests: every benchmark in its own published format, a training manifest,
and a deterministic scripted generator for testing the scoring and resume logic (not generation).

The format writers live in the package (`culturalpangea_demo.benchmark_fixtures`) because the offline demo
uses them too; this module adds what only tests need: a training shard folder whose manifest
names a known set of languages (so zero-shot marks are predictable), and `ScriptedGenerator`,
which answers by rule from the prompt and counts every request it sees.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from culturalpangea.eval.runner import EvalRequest
from culturalpangea_demo.benchmark_fixtures import write_fixtures

# Languages the fake training data has: ja, hi, en, iw, fr (so zh, sw, id, th, ur … are zero-shot).
TRAINING_LANGUAGES = ("en", "fr", "hi", "iw", "ja")


def write_training_shards(out: Path) -> Path:
    """A tiny contract-valid shard folder whose manifest counts TRAINING_LANGUAGES; returns the folder."""
    from data_gen.shards.writer import ShardSample, write_shards
    from tests.helpers.shard_samples import tiny_jpeg

    samples = []
    for i, language in enumerate(TRAINING_LANGUAGES):
        key = f"TR-{i:04d}-{language}"
        sample = {"id": key, "qid": None, "country": None, "language": language, "property": None,
                  "question_type": "open", "answer": "x",
                  "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
                                    {"from": "gpt", "value": "x"}],
                  "provenance": {"template": None, "refined": False, "filter_score": None, "image": None}}
        samples.append(ShardSample(key, sample, tiny_jpeg(i)))
    write_shards(samples, out)
    return out


def write_benchmarks(root: Path, bad: bool = False, benchmarks: list[str] | None = None) -> dict[str, Path]:
    """All (or some) benchmark fixtures under `root`, with broken rows when `bad`."""
    return write_fixtures(root, benchmarks, bad=bad)


# (marker in the prompt, answer), first match wins.
RULES: tuple[tuple[str, str], ...] = (
    ("Options: (a) false (b) true", "(b)"),
    ("Answer with the option's letter", "A"),
    ("letter (A, B", "A"),
    ("\n(A) ", "A"),
    ("Multiple Choice Question", "A"),
    ("True/False question", "Yes"),
    ("in French.", "Rouge."),
    ("single word or phrase", "I am not sure"),
    ("caption", "A red house with a car."),
    ("東京", "Tokyo"),
    ("English Wikipedia title", "Unknown"),
)


def rule_answer(prompt: str) -> str:
    """A fixed answer per prompt kind: option A, '(b)' (true), 'Rouge.', a caption, an entity."""
    return next((answer for marker, answer in RULES if marker in prompt), "I do not know")


class ScriptedGenerator:
    """Answers each request with `rule(prompt)`; counts calls and requests; can fail on cue."""

    def __init__(self, rule: Callable[[str], str] = rule_answer, stop_after_calls: int | None = None) -> None:
        self.rule = rule
        self.stop_after_calls = stop_after_calls
        self.calls = 0
        self.prompts: list[str] = []

    def __call__(self, requests: list[EvalRequest], *, max_new_tokens: int) -> list[str]:
        if self.stop_after_calls is not None and self.calls >= self.stop_after_calls:
            raise KeyboardInterrupt("simulated kill")
        self.calls += 1
        answers = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            assert prompt.count("<image>") == len(request.images)
            self.prompts.append(prompt)
            answers.append(self.rule(prompt))
        return answers
