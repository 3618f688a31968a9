"""Question templates as data: one JSON file per language in `data_gen/qa/templates/`, validated on load.

A language file holds everything language-specific that QA generation and rendering need:

- `properties`: per catalogue property, open-ended question stems (`open`) and, where a different
  phrasing reads better with options, multiple-choice stems (`mcq`; defaults to `open`);
- `recognition`: the entity-recognition stems ("What is shown in this image?" → the entity's label);
- `mcq`: the LLaVA-style instruction line, the option format (`{letter}`, `{text}`) and the letters;
- `values`: formats for values Babel cannot render (a year before the common era: `{year}`).
- `provenance`: how the file was produced ("hand-checked", or e.g. "machine-translated, unreviewed").

**How a question refers to the pictured entity.** Deictically, with the subject written into each
stem ("this building", "this person", "what is shown here"), never by a placeholder. Reasons:
(1) a placeholder noun or name would need case, gender and article agreement the generator cannot
get right in most of the 39 languages (French "de la tour", Russian genitive, German articles), while
a stem written whole by a person is grammatical by construction; (2) the entity records carry direct
P31 classes only, not the catalogue's class tags, so a per-class noun would often be wrong, whereas
each property's `applies_to` tells the template writer which subject noun fits; (3) naming the
entity would make the question answerable from the text alone, and the point of the data is to tie
the cultural fact to what the image shows. Consequently stems contain no placeholders at all, and
the answer can never be templated into a question; generation still checks every pair for an answer
that happens to occur in the stem.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from data_gen.common.errors import DataGenError
from data_gen.wikidata.identifiers import check_pid

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
QUESTION_PLACEHOLDERS: frozenset[str] = frozenset()  # stems are complete sentences (see module docstring)
OPTION_PLACEHOLDERS = frozenset({"letter", "text"})
VALUE_FORMATS = {"bce_year": frozenset({"year"})}
PROVENANCE_HAND_CHECKED = "hand-checked"
RECOGNITION = "recognition"
MAX_CHOICES = 8


class TemplateError(DataGenError, ValueError):
    """A template file that breaks the format; the message names the file and the entry."""


@dataclass(frozen=True)
class Stems:
    """The stems of one question kind: open-ended and multiple-choice variants."""

    open: tuple[str, ...]
    mcq: tuple[str, ...]

    def for_type(self, question_type: str) -> tuple[str, ...]:
        return self.mcq if question_type == "mcq" else self.open


@dataclass(frozen=True)
class McqFormat:
    instruction: str
    option: str
    letters: tuple[str, ...]

    def render_options(self, choices: list[str] | tuple[str, ...]) -> list[str]:
        if len(choices) > len(self.letters):
            raise ValueError(f"{len(choices)} choices but only {len(self.letters)} letters")
        pairs = zip(self.letters, choices, strict=False)
        return [self.option.format(letter=letter, text=text) for letter, text in pairs]


@dataclass(frozen=True)
class LanguageTemplates:
    language: str
    provenance: str
    mcq: McqFormat
    recognition: Stems
    properties: dict[str, Stems]
    values: dict[str, str]

    def stems(self, pid: str | None) -> Stems | None:
        """The stems for a property, or the recognition stems for `pid=None`; None when missing."""
        return self.recognition if pid is None else self.properties.get(pid)

    @property
    def hand_checked(self) -> bool:
        return self.provenance == PROVENANCE_HAND_CHECKED


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a format string (raises ValueError on unbalanced braces)."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _check_text(text: Any, allowed: frozenset[str], where: str, required: frozenset[str] = frozenset()) -> str:
    if not isinstance(text, str) or not text.strip():
        raise TemplateError(f"{where}: must be a non-empty string")
    if text != text.strip() or "\n" in text:
        raise TemplateError(f"{where}: no surrounding whitespace or line breaks allowed")
    try:
        found = placeholders(text)
    except ValueError as error:
        raise TemplateError(f"{where}: bad braces ({error})") from None
    unknown = found - allowed
    if unknown:
        raise TemplateError(f"{where}: unknown placeholder(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    missing = required - found
    if missing:
        raise TemplateError(f"{where}: missing placeholder(s) {sorted(missing)}")
    return text


def _stems(entry: Any, where: str) -> Stems:
    if not isinstance(entry, dict) or "open" not in entry or set(entry) - {"open", "mcq"}:
        raise TemplateError(f"{where}: must be an object with 'open' (and optionally 'mcq') lists")
    kinds = {}
    for kind in ("open", "mcq"):
        texts = entry.get(kind, entry["open"])
        if not isinstance(texts, list) or not texts:
            raise TemplateError(f"{where}.{kind}: must be a non-empty list of stems")
        checked = tuple(_check_text(t, QUESTION_PLACEHOLDERS, f"{where}.{kind}[{i}]") for i, t in enumerate(texts))
        if len(set(checked)) != len(checked):
            raise TemplateError(f"{where}.{kind}: duplicate stems")
        kinds[kind] = checked
    return Stems(open=kinds["open"], mcq=kinds["mcq"])


def _mcq_format(block: Any, where: str) -> McqFormat:
    if not isinstance(block, dict):
        raise TemplateError(f"{where}: must be an object with instruction, option, letters")
    instruction = _check_text(block.get("instruction"), frozenset(), f"{where}.instruction")
    option = _check_text(block.get("option"), OPTION_PLACEHOLDERS, f"{where}.option", OPTION_PLACEHOLDERS)
    letters = block.get("letters")
    if not isinstance(letters, list) or not 4 <= len(letters) <= MAX_CHOICES or len(set(letters)) != len(letters):
        raise TemplateError(f"{where}.letters: must list 4 to {MAX_CHOICES} distinct letters")
    for letter in letters:
        _check_text(letter, frozenset(), f"{where}.letters")
    return McqFormat(instruction=instruction, option=option, letters=tuple(letters))


def parse_language_templates(data: Any, where: str, pids: tuple[str, ...] | None = None) -> LanguageTemplates:
    """Validate one language file's JSON object; `pids` (the catalogue) rejects unknown properties."""
    if not isinstance(data, dict):
        raise TemplateError(f"{where}: must be a JSON object")
    unknown = set(data) - {"language", "provenance", "notes", "mcq", "recognition", "properties", "values"}
    if unknown:
        raise TemplateError(f"{where}: unknown top-level key(s) {sorted(unknown)}")
    language = data.get("language")
    if not isinstance(language, str) or not language:
        raise TemplateError(f"{where}: 'language' must name the language code")
    provenance = _check_text(data.get("provenance"), frozenset(), f"{where}.provenance")
    properties = {}
    for pid, entry in sorted(dict(data.get("properties") or {}).items()):
        try:
            check_pid(pid)
        except ValueError:
            raise TemplateError(f"{where}.properties: {pid!r} is not a property ID") from None
        if pids is not None and pid not in pids:
            raise TemplateError(f"{where}.properties.{pid}: not in the property catalogue")
        properties[pid] = _stems(entry, f"{where}.properties.{pid}")
    values = {}
    for name, text in dict(data.get("values") or {}).items():
        if name not in VALUE_FORMATS:
            raise TemplateError(f"{where}.values: unknown format {name!r}; known: {sorted(VALUE_FORMATS)}")
        values[name] = _check_text(text, VALUE_FORMATS[name], f"{where}.values.{name}", VALUE_FORMATS[name])
    return LanguageTemplates(
        language=language,
        provenance=provenance,
        mcq=_mcq_format(data.get("mcq"), f"{where}.mcq"),
        recognition=_stems(data.get("recognition"), f"{where}.recognition"),
        properties=properties,
        values=values,
    )


def template_path(language: str, folder: Path | None = None) -> Path:
    return Path(folder or TEMPLATE_DIR) / f"{language}.json"


@lru_cache(maxsize=128)
def load_language(language: str, folder: Path | None = None) -> LanguageTemplates:
    """The validated templates of one language (cached); a TemplateError names a bad file or entry."""
    from data_gen.wikidata.properties import load_catalogue

    path = template_path(language, folder)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateError(f"no templates for language {language!r} ({path} is missing)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise TemplateError(f"{path}: not valid UTF-8 JSON ({error})") from None
    templates = parse_language_templates(data, str(path.name), load_catalogue().pids)
    if templates.language != language:
        raise TemplateError(f"{path.name}: says language {templates.language!r}, expected {language!r}")
    return templates


def template_id(language: str, pid: str | None, question_type: str, index: int) -> str:
    """The provenance ID of one stem, e.g. `fr/P149/open/0` or `ja/recognition/mcq/0`."""
    return f"{language}/{pid or RECOGNITION}/{question_type}/{index}"
