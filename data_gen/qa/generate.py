"""Template QA generation: open-ended pairs and multiple-choice questions from entity facts.

For every entity with at least one usable image, and every language among its country's languages
plus English, the generator asks
- an **entity-recognition** question ("What is shown in this image?" → the entity's label), and
- one question per catalogue property, as an open-ended pair and, for a deterministic
  `mcq_fraction` of them, as a 4-option MCQ. A property with several values (Yeats: poet and
  playwright) is asked once: its first value (in their sorted order) is the answer, and up to
  `max_values_per_property` − 1 other values are accepted answers (aliases): asking the same
  question twice with two different answers taught a contradiction (issue 17 (b)). Pairs whose
  answer is the pictured entity itself are skipped (`pair:answer_is_entity`).

**Distractors** are other answers to the same property in the same language and option group
(values.py: a year is never offered next to full dates): first from the same country (hard
negatives), then from every other country that the entities stage wrote, never equal, after
folding case and diacritics, to the answer, one of its aliases or another true value of the same
entity. Recognition distractors are other entities' labels: same country and a shared P31 class
first, then the same country, then anywhere. Too few candidates → the MCQ is skipped and counted.

**Determinism.** Each country is one stream driven by one `random.Random`, seeded from
`sha256(seed, country)`; entities come in file (rank) order, facts in their sorted order, pools are
sorted lists. Nothing iterates a set or depends on PYTHONHASHSEED, so the same inputs and seed give
the same records in any process, and a country can be regenerated alone (SLURM, resume).

**Letter balance** is by construction, not luck: answer positions are dealt from shuffled blocks
of (A, B, C, D), so every run of 4k consecutive MCQs of a country holds each letter exactly k times.

**Images.** An entity with several usable images spreads its (value, language) pairs over them in
turn; the open and MCQ variants of one pair share an image.

**Keys.** `id = <10 hex of blake2b(seed, rest)>_<CC>_<QID>_<PID|ER>_<value index>_<lang>_<o|m>`:
stable, unique, and sorting by it interleaves countries, languages and properties pseudo-randomly,
which is the order the shards stage writes (a shard is a mixed sample, not one country).

Every skip is counted by reason: `entity:*` per entity, `pair:*` per (value, language),
`mcq:*` per multiple-choice question not made.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from data_gen.common.text import fold
from data_gen.common.writing_systems import letter_scripts
from data_gen.qa.answer_texts import MAX_ANSWER_CHARS, ValueSkip, ValueText, clean_label, value_text
from data_gen.qa.conversation import human_turn
from data_gen.qa.question_templates import LanguageTemplates, template_id

RECOGNITION_PROPERTY = "entity_recognition"
RECOGNITION_KEY = "ER"
MIN_ALIAS_CHECK = 4  # aliases shorter than this are not searched for in the stem (too many false hits)

Record = dict[str, Any]
Option = tuple[str, str]  # (text, folded key)
OPEN_ONLY, OPEN_AND_MCQ = ("open",), ("open", "mcq")
KEPT_REASON = {"open": "kept:open", "mcq": "kept:mcq"}
LEAK_REASON = {"open": "pair:answer_in_question", "mcq": "mcq:answer_in_question"}


@dataclass(frozen=True)
class QASettings:
    """The `qa:` block of configs/data_gen.yaml."""

    seed: int = 0
    mcq_fraction: float = 0.4
    num_choices: int = 4
    max_values_per_property: int = 3
    recognition: bool = True
    label_fallback: tuple[str, ...] = ()
    skip_properties: tuple[str, ...] = ()
    chunk_size: int = 10_000

    def __post_init__(self) -> None:
        if not 0.0 <= self.mcq_fraction <= 1.0:
            raise ValueError(f"qa.mcq_fraction must be within [0, 1], got {self.mcq_fraction}")
        if not 2 <= self.num_choices <= 8:
            raise ValueError(f"qa.num_choices must be 2 to 8, got {self.num_choices}")
        if self.max_values_per_property < 1 or self.chunk_size < 1:
            raise ValueError("qa.max_values_per_property and qa.chunk_size must be positive")


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from any parts, independent of PYTHONHASHSEED."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big")


class BalancedPositions:
    """Answer positions dealt from shuffled blocks of 0..n-1: exact balance every n questions."""

    def __init__(self, rng: random.Random, n: int) -> None:
        self.rng, self.n, self.block = rng, n, []

    def next(self) -> int:
        if not self.block:
            self.block = list(range(self.n))
            self.rng.shuffle(self.block)
        return self.block.pop()


def pick_distinct(
    rng: random.Random,
    tiers: Sequence[Sequence[Option]],
    excluded: set[str],
    k: int,
    accept: Callable[[str], bool] | None = None,
) -> list[str]:
    """Up to `k` option texts drawn tier by tier, none of whose keys is excluded or repeated (and, with
    `accept`, each accepted by it: the answer's writing system).

    Within a tier: up to `2k + 2` uniform random draws (rejecting excluded or repeated keys), then, if
    those were unlucky (a tier nearly all excluded), a scan of the whole tier from a random offset,
    so a tier with enough usable options always yields them.
    """
    chosen: list[str] = []
    taken = set(excluded)
    random_ = rng.random
    for tier in tiers:
        n = len(tier)
        if n == 0:
            continue
        for _ in range(2 * k + 2):
            text, key = tier[int(random_() * n)]
            if key not in taken:
                taken.add(key)
                if accept is not None and not accept(text):
                    continue
                chosen.append(text)
                if len(chosen) == k:
                    return chosen
        start = int(random_() * n)
        for step in range(n):
            text, key = tier[(start + step) % n]
            if key not in taken:
                taken.add(key)
                if accept is not None and not accept(text):
                    continue
                chosen.append(text)
                if len(chosen) == k:
                    return chosen
    return chosen


# Scripts one language mixes in ordinary writing count as one family when options are compared.
SCRIPT_FAMILIES = {"Han": "CJK", "Hiragana": "CJK", "Katakana": "CJK"}


@functools.lru_cache(maxsize=200_000)
def writing_family(text: str) -> str | None:
    """The script most of `text`'s letters are in (Han and kana as one family); None for no letters."""
    counts = letter_scripts(text)
    if not counts:
        return None
    script = counts.most_common(1)[0][0]
    return SCRIPT_FAMILIES.get(script, script)


def same_writing(answer: str) -> Callable[[str], bool]:
    """Accepts an option written in the answer's script family (numbers and dates, with no letters, always):
    a Javanese-script answer among Latin options gave itself away (issue 17 (c))."""
    family = writing_family(answer)

    def accept(option: str) -> bool:
        other = writing_family(option)
        return family is None or other is None or other == family

    return accept


class ChainedOptions(Sequence[Option]):
    """Several option lists read as one, without copying them: a recognition tier is the options of
    each of the entity's classes in turn, and copying them into one list on every question cost time
    proportional to the class's size per question — quadratic in a country's entities at scale."""

    def __init__(self, parts: Iterable[Sequence[Option]]) -> None:
        self.parts = [part for part in parts if part]
        self.ends = list(itertools.accumulate(len(part) for part in self.parts))

    def __len__(self) -> int:
        return self.ends[-1] if self.ends else 0

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        part = bisect.bisect_right(self.ends, index)
        return self.parts[part][index - (self.ends[part - 1] if part else 0)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ChainedOptions({list(self)!r})"


@dataclass
class _Pool:
    by_country: dict[str, list[Option]] = field(default_factory=dict)
    everywhere: list[Option] = field(default_factory=list)


class DistractorPools:
    """Candidate option texts per (property, language, group), built lazily from every country's facts."""

    def __init__(
        self,
        entities_by_country: Mapping[str, Iterable[Mapping[str, Any]]],
        templates: Mapping[str, LanguageTemplates],
        label_fallback: tuple[str, ...] = (),
    ) -> None:
        """Index every country's entities once; each country's iterable is read once, in country order.

        Only what the pools need is kept — each distinct fact value, and each entity's labels and
        classes (for recognition options) — never whole entity records, so the QA stage can stream
        a country's records from disk (at 100k entities the whole-record index was most of its memory).
        """
        self.templates, self.fallback = templates, label_fallback
        # pid -> distinct value -> (the value with labels merged over its occurrences, countries it occurs in)
        self.values: dict[str, dict[tuple, tuple[dict[str, Any], dict[str, None]]]] = {}
        self.entities: list[tuple[str, dict[str, str], tuple[str, ...]]] = []  # country, labels, classes
        for country in sorted(entities_by_country):
            for entity in entities_by_country[country]:
                self.entities.append((country, dict(entity.get("labels") or {}), tuple(entity.get("classes") or ())))
                for fact in entity.get("facts", ()):
                    self._add_value(country, fact)
        self._pools: dict[tuple[str, str], dict[str, _Pool]] = {}
        self._recognition: dict[str, dict[str, Any]] = {}

    def _add_value(self, country: str, fact: Mapping[str, Any]) -> None:
        """Index a distinct value once (labels of an item merged: each entity carries only its languages)."""
        key = (fact.get("type"), fact.get("value"), fact.get("lang"))
        per_property = self.values.setdefault(fact["property"], {})
        if key not in per_property:
            per_property[key] = ({**fact, "labels": dict(fact.get("labels") or {})}, {})
        merged, countries = per_property[key]
        for language, label in (fact.get("labels") or {}).items():
            merged["labels"].setdefault(language, label)
        countries[country] = None

    def _build(self, pid: str, language: str) -> dict[str, _Pool]:
        bce = self.templates[language].values.get("bce_year", "{year} BC")
        groups: dict[str, dict[str, dict[str, str]]] = {}  # group -> country -> key -> text
        for fact, countries in self.values.get(pid, {}).values():
            try:
                value = value_text(fact, language, bce, self.fallback)
            except ValueSkip:
                continue
            key = fold(value.text)
            for country in countries:
                groups.setdefault(value.group, {}).setdefault(country, {}).setdefault(key, value.text)
        pools = {}
        for group, per_country in groups.items():
            pool = _Pool()
            everywhere: dict[str, str] = {}
            for country, texts in sorted(per_country.items()):
                pool.by_country[country] = sorted(((text, key) for key, text in texts.items()), key=lambda o: o[1])
                for key, text in texts.items():
                    everywhere.setdefault(key, text)
            pool.everywhere = sorted(((text, key) for key, text in everywhere.items()), key=lambda o: o[1])
            pools[group] = pool
        return pools

    def retain(self, languages: Iterable[str]) -> None:
        """Drop the built option lists of other languages (rebuilt on demand, identically): the
        lists of every language seen so far would otherwise all stay in memory until the end. The
        stage passes the languages of the countries still to generate (data_gen/qa/stage.py,
        `generation_order`), so a list is dropped after its last use and built once per run."""
        keep = set(languages)
        self._pools = {key: pools for key, pools in self._pools.items() if key[1] in keep}
        self._recognition = {lang: index for lang, index in self._recognition.items() if lang in keep}

    def property_tiers(self, pid: str, language: str, group: str, country: str) -> list[list[Option]]:
        key = (pid, language)
        if key not in self._pools:
            self._pools[key] = self._build(pid, language)
        pool = self._pools[key].get(group)
        if pool is None:
            return []
        return [pool.by_country.get(country, []), pool.everywhere]

    def _recognition_index(self, language: str) -> dict[str, Any]:
        if language not in self._recognition:
            by_country: dict[str, list[Option]] = {}
            by_class: dict[tuple[str, str], list[Option]] = {}
            class_anywhere: dict[str, list[Option]] = {}
            everywhere: dict[str, str] = {}
            for country, labels, classes in self.entities:
                label = labels.get(language)
                if not label or not label.split() or len(" ".join(label.split())) > MAX_ANSWER_CHARS:
                    continue
                label = " ".join(label.split())  # one line, as answers are (answer_texts.clean_label)
                option = (label, fold(label))
                by_country.setdefault(country, []).append(option)
                for cls in classes:
                    by_class.setdefault((country, cls), []).append(option)
                    class_anywhere.setdefault(cls, []).append(option)
                everywhere.setdefault(option[1], label)
            self._recognition[language] = {
                "country": by_country,
                "class": by_class,
                "class_anywhere": class_anywhere,
                "everywhere": sorted(((t, k) for k, t in everywhere.items()), key=lambda o: o[1]),
            }
        return self._recognition[language]

    def recognition_tiers(self, language: str, country: str, classes: Sequence[str]) -> list[list[Option]]:
        """Other entities' labels: same country and class, then the same class anywhere (a shrine for a
        shrine, issue 17 (c)), then the same country, then anywhere."""
        index = self._recognition_index(language)
        same_class = ChainedOptions(index["class"].get((country, cls), ()) for cls in classes)
        class_anywhere = ChainedOptions(index["class_anywhere"].get(cls, ()) for cls in classes)
        return [same_class, class_anywhere, index["country"].get(country, []), index["everywhere"]]


@dataclass(frozen=True)
class ImageRef:
    """A usable image of an entity: its path under out_dir and its provenance."""

    path: str
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Question:
    """One thing to ask about an entity: a property value (or recognition) with its index."""

    pid: str | None
    index: int
    fact: Mapping[str, Any] | None
    all_facts: tuple[Mapping[str, Any], ...] = ()


def entity_questions(entity: Mapping[str, Any], settings: QASettings, known: set[str]) -> list[Question]:
    """The questions for one entity, in a fixed order: recognition, then facts by property."""
    questions = [Question(None, 0, None)] if settings.recognition else []
    by_property: dict[str, list[Mapping[str, Any]]] = {}
    for fact in entity.get("facts", ()):
        pid = fact.get("property")
        if pid in known and pid not in settings.skip_properties:
            by_property.setdefault(pid, []).append(fact)
    for pid, facts in by_property.items():
        ordered = sorted(facts, key=lambda f: (str(f.get("value")), str(f.get("lang", ""))))
        questions.append(Question(pid, 0, ordered[0], tuple(ordered)))  # one question; other values: aliases
    return questions


def entity_label(entity: Mapping[str, Any], language: str) -> str | None:
    """The entity's English label (else its label in the record's language): named to the relevance filter."""
    labels = entity.get("labels") or {}
    return labels.get("en") or labels.get(language) or None


def own_names(entity: Mapping[str, Any], language: str) -> set[str]:
    """The entity's own label and aliases in `language` and English, folded (never an answer or distractor
    of a question about one of its properties)."""
    labels, aliases = entity.get("labels") or {}, entity.get("aliases") or {}
    names = [labels.get(code) for code in (language, "en")] + [*aliases.get(language, ()), *aliases.get("en", ())]
    return {fold(name) for name in names if name}


def _key_hash(seed: int, rest: str) -> str:
    return hashlib.blake2b(f"{seed}|{rest}".encode(), digest_size=5).hexdigest()


def answer_in_question(stem: str, answer: str, aliases: Sequence[str]) -> bool:
    """True when the folded answer (or a folded alias of 4+ characters) occurs inside the folded stem."""
    folded = fold(stem)
    if fold(answer) in folded:
        return True
    for alias in aliases:
        key = fold(alias)
        if len(key) >= MIN_ALIAS_CHECK and key in folded:
            return True
    return False


class QAGenerator:
    """Turns one country's entities (and their images) into QA records; see the module docstring."""

    def __init__(
        self,
        settings: QASettings,
        templates: Mapping[str, LanguageTemplates],
        pools: DistractorPools,
        known_properties: Iterable[str],
    ) -> None:
        self.settings, self.templates, self.pools = settings, templates, pools
        self.known = set(known_properties)
        self.bce = {lang: t.values.get("bce_year", "{year} BC") for lang, t in templates.items()}

    def country(
        self,
        country: str,
        languages: Sequence[str],
        entities: Iterable[Mapping[str, Any]],
        images: Mapping[str, Sequence[ImageRef]],
        counts: Counter,
    ) -> Iterator[Record]:
        """Records of one country in their fixed order; skips are added to `counts` by reason."""
        rng = random.Random(derive_seed(self.settings.seed, country))
        positions = BalancedPositions(rng, self.settings.num_choices)
        for entity in entities:
            refs = images.get(entity["qid"], ())
            if not refs:
                counts["entity:no_image"] += 1
                continue
            counts["entity:used"] += 1
            turn = 0
            for question in entity_questions(entity, self.settings, self.known):
                for language in languages:
                    image = refs[turn % len(refs)]
                    made = self._pair(rng, positions, country, entity, question, language, image, counts)
                    if made:
                        turn += 1
                        yield from made

    def _answer(self, entity: Mapping[str, Any], question: Question, language: str) -> ValueText:
        if question.fact is None:
            label = (entity.get("labels") or {}).get(language)
            if not label or not label.split():
                raise ValueSkip("entity_label_missing")
            label = clean_label(label)
            aliases = tuple(a for a in (entity.get("aliases") or {}).get(language, ()) if a != label)
            return ValueText(label, aliases, "entity")
        if question.fact.get("value") == entity.get("qid"):
            raise ValueSkip("answer_is_entity")  # e.g. Kano "located in" Kano: the picture is the answer
        answer = value_text(question.fact, language, self.bce[language], self.settings.label_fallback)
        if fold(answer.text) in own_names(entity, language):
            raise ValueSkip("answer_is_entity")  # e.g. the official name: the entity's own label again
        others = [*answer.aliases]
        for fact in question.all_facts[1 : self.settings.max_values_per_property]:
            try:
                other = value_text(fact, language, self.bce[language], self.settings.label_fallback)
            except ValueSkip:
                continue
            others += [other.text, *other.aliases]
        accepted = tuple(dict.fromkeys(text for text in others if fold(text) != fold(answer.text)))
        return ValueText(answer.text, accepted, answer.group) if accepted != answer.aliases else answer

    def _pair(
        self,
        rng: random.Random,
        positions: BalancedPositions,
        country: str,
        entity: Mapping[str, Any],
        question: Question,
        language: str,
        image: ImageRef,
        counts: Counter,
    ) -> list[Record]:
        templates = self.templates.get(language)
        stems = templates.stems(question.pid) if templates else None
        if stems is None:
            counts["pair:no_template"] += 1
            return []
        try:
            answer = self._answer(entity, question, language)
        except ValueSkip as skip:
            counts[f"pair:{skip.reason}"] += 1
            return []
        made: list[Record] = []
        for question_type in OPEN_AND_MCQ if rng.random() < self.settings.mcq_fraction else OPEN_ONLY:
            variants = stems.mcq if question_type == "mcq" else stems.open
            index = rng.randrange(len(variants)) if len(variants) > 1 else 0
            stem = variants[index]
            if answer_in_question(stem, answer.text, answer.aliases):
                counts[LEAK_REASON[question_type]] += 1
                if question_type == "open":
                    return made
                continue
            choices, position = None, 0
            if question_type == "mcq":
                picked = self._choices(rng, positions, country, entity, question, language, answer)
                if picked is None:
                    counts["mcq:too_few_distractors"] += 1
                    continue
                choices, position = picked
            counts[KEPT_REASON[question_type]] += 1
            record = self._record(country, entity, question, language, question_type, stem, index, answer, image)
            self._render(record, templates, choices, position)
            made.append(record)
        return made

    def _excluded(self, entity: Mapping[str, Any], question: Question, language: str, answer: ValueText) -> set[str]:
        keys = {fold(answer.text), *map(fold, answer.aliases), *own_names(entity, language)}  # never itself
        if question.fact is None:
            keys.update(fold(a) for a in (entity.get("aliases") or {}).get(language, ()))
            return keys
        for fact in question.all_facts:
            if fact is not question.fact:
                try:
                    other = value_text(fact, language, self.bce[language], self.settings.label_fallback)
                except ValueSkip:
                    continue
                keys.add(fold(other.text))
        return keys

    def _choices(
        self,
        rng: random.Random,
        positions: BalancedPositions,
        country: str,
        entity: Mapping[str, Any],
        question: Question,
        language: str,
        answer: ValueText,
    ) -> tuple[list[str], int] | None:
        if question.fact is None:
            tiers = self.pools.recognition_tiers(language, country, entity.get("classes", ()))
        else:
            tiers = self.pools.property_tiers(question.pid or "", language, answer.group, country)
        wanted = self.settings.num_choices - 1
        distractors = pick_distinct(
            rng, tiers, self._excluded(entity, question, language, answer), wanted, accept=same_writing(answer.text)
        )
        if len(distractors) < wanted:
            return None
        position = positions.next()
        return [*distractors[:position], answer.text, *distractors[position:]], position

    def _record(
        self,
        country: str,
        entity: Mapping[str, Any],
        question: Question,
        language: str,
        question_type: str,
        stem: str,
        stem_index: int,
        answer: ValueText,
        image: ImageRef,
    ) -> Record:
        pid_key = question.pid or RECOGNITION_KEY
        rest = f"{country}_{entity['qid']}_{pid_key}_{question.index}_{language}_{question_type[0]}"
        record: Record = {
            "id": f"{_key_hash(self.settings.seed, rest)}_{rest}",
            "qid": entity["qid"],
            "country": country,
            "language": language,
            "property": question.pid or RECOGNITION_PROPERTY,
            "question_type": question_type,
            "answer": answer.text,
            "answer_aliases": list(answer.aliases),
            "question": stem,
            "image": image.path,
            "provenance": {
                "template": template_id(language, question.pid, question_type, stem_index),
                "refined": False,
                "filter_score": None,
                "image": image.provenance,
                "entity_label": entity_label(entity, language),
            },
        }
        return record

    @staticmethod
    def _render(record: Record, templates: LanguageTemplates, choices: list[str] | None, position: int) -> None:
        """Add choices and the rendered turns (qa_format's renderer, fed the known answer position)."""
        fmt = templates.mcq
        gpt = record["answer"]
        if choices is not None:
            record["choices"] = choices
            gpt = fmt.letters[position]
        human = human_turn(record["question"], choices, fmt)
        record["conversations"] = [{"from": "human", "value": human}, {"from": "gpt", "value": gpt}]
