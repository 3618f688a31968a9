"""Wikidata identifiers and the checks that guard every value spliced into SPARQL text.

Queries are built as text (SPARQLWrapper and the endpoints take text, not parameters), so every
QID, PID and language code is checked against a strict pattern first: a value that does not match
can never reach a query, whatever config or file it came from. The IRI prefixes are the WDQS ones,
which local Oxigraph / QLever loads of the dumps share.
"""

from __future__ import annotations

import re

WD = "http://www.wikidata.org/entity/"
WDT = "http://www.wikidata.org/prop/direct/"
PREFIXES = """PREFIX wd: <http://www.wikidata.org/entity/>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
PREFIX wikibase: <http://wikiba.se/ontology#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <http://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
"""
QID_RE = re.compile(r"^Q[1-9][0-9]{0,11}$")
PID_RE = re.compile(r"^P[1-9][0-9]{0,7}$")
# BCP 47-ish, as Wikidata uses them: "en", "zh-hans", "sr-el", "be-tarask".
LANG_RE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
# A property path over truthy properties only: `wdt:P1|wdt:P2/wdt:P3` (no spaces, no other syntax).
PATH_RE = re.compile(r"^wdt:P[1-9][0-9]{0,7}([/|]wdt:P[1-9][0-9]{0,7})*$")


def check_qid(value: str) -> str:
    """Return `value` if it is an item ID like Q42, else raise ValueError."""
    if not isinstance(value, str) or not QID_RE.match(value):
        raise ValueError(f"not a Wikidata item ID: {value!r}")
    return value


def check_pid(value: str) -> str:
    if not isinstance(value, str) or not PID_RE.match(value):
        raise ValueError(f"not a Wikidata property ID: {value!r}")
    return value


def check_lang(value: str) -> str:
    if not isinstance(value, str) or not LANG_RE.match(value):
        raise ValueError(f"not a language code: {value!r}")
    return value


def check_path(value: str) -> str:
    if not isinstance(value, str) or not PATH_RE.match(value):
        raise ValueError(f"not a truthy property path (wdt:P… joined by / or |): {value!r}")
    return value


def qid_of(iri: str) -> str | None:
    """`http://www.wikidata.org/entity/Q42` → `Q42`; None for any other IRI."""
    if iri.startswith(WD):
        tail = iri[len(WD):]
        if QID_RE.match(tail):
            return tail
    return None


def qid_number(qid: str) -> int:
    """Numeric part of a QID, for a stable natural order (Q9 before Q10)."""
    return int(check_qid(qid)[1:])


def values_clause(variable: str, qids: list[str]) -> str:
    """`VALUES ?item { wd:Q1 wd:Q2 }` with every QID checked."""
    if not re.match(r"^[a-z][a-zA-Z0-9_]*$", variable):
        raise ValueError(f"bad SPARQL variable name {variable!r}")
    return f"VALUES ?{variable} {{ {' '.join('wd:' + check_qid(q) for q in qids)} }}"


def lang_list(codes: list[str]) -> str:
    """`"en", "fr"` for `FILTER(LANG(?x) IN (…))`, every code checked."""
    return ", ".join(f'"{check_lang(code)}"' for code in codes)
