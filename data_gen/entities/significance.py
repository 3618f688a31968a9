"""Regional significance: which of a country's candidates to keep first, and how far into the long tail.

The paper moves CulturalGround "from globally popular to regionally significant entities". Total
sitelinks (Wikipedia articles in every language) measure global popularity: ranked by them, a
country's cap fills with its world-famous items. Two choices, documented here because the paper
does not spell them out:

1. **Local share.** An item's *local sitelinks* are its articles in the Wikipedias of the country's
   own languages (`registries/countries.json`; English counts only where English is a language of
   the country, not because it is added to every country's labels). Rank key within a stratum:
   local ÷ total sitelinks (an item covered mostly at home first), then local sitelinks, then total,
   then QID. Read with one query per `facts_batch_size` items on the WDQS sitelink vocabulary,
   `?article schema:about ?item ; schema:isPartOf <https://xx.wikipedia.org/>`, which the RDF dumps
   (QLever, Oxigraph loads) carry too. An endpoint without article triples (the embedded sample)
   gives 0 local sitelinks everywhere: the strata below still apply, ties fall back to total sitelinks.
2. **Popularity strata.** The country's eligible candidates are cut into `popularity_bands` bands of
   equal size by total sitelinks; selection takes one item per band in turn (most popular band
   first), so every band gets an equal share of the cap and the long tail survives. 1 band = no strata.

`ranking=global` restores ranking by total sitelinks alone (the ablation). The effect is reported:
per country, the share of selected entities at or below the median total sitelinks of its eligible
candidates, as selected and as global ranking would have selected under the same caps ("at or
below": many items with an image have no Wikipedia article at all — 59 % of the synthetic scale
store's — so the median is often 0 and "strictly below" would always read 0 %).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import Protocol

from data_gen.wikidata.client import SparqlClient
from data_gen.wikidata.identifiers import PREFIXES, WD, qid_number, values_clause
from data_gen.wikidata.regions import Country, Regions

RANKINGS = ("regional", "global")
# Wikidata language tags whose Wikipedia lives under another subdomain.
WIKI_SUBDOMAINS = {"nb": "no"}


class Ranked(Protocol):
    qid: str
    sitelinks: int
    local_sitelinks: int


def country_wikis(country: Country, regions: Regions) -> tuple[str, ...]:
    """`https://<lang>.wikipedia.org/` for each of the country's own languages (first Wikidata tag each)."""
    sites = []
    for lang in country.languages:
        for tag in regions.wikidata_languages(lang):
            if "-" not in tag:
                sites.append(f"https://{WIKI_SUBDOMAINS.get(tag, tag)}.wikipedia.org/")
                break
    return tuple(dict.fromkeys(sites))


def local_sitelinks_query(qids: Sequence[str], sites: Sequence[str]) -> str:
    """Per item, its number of articles in the given Wikipedias (items without any are absent)."""
    for site in sites:
        if not (site.startswith("https://") and site.endswith(".wikipedia.org/") and " " not in site):
            raise ValueError(f"not a Wikipedia site IRI: {site!r}")
    wikis = ", ".join(f"<{site}>" for site in sites)
    # the wikis as a filter, not a second VALUES block: Oxigraph plans two VALUES blocks joined on
    # one pattern as a scan (0.165 s vs 0.028 s per 200 items on the 20k synthetic store; see facts_query)
    return PREFIXES + f"""SELECT ?item (COUNT(DISTINCT ?article) AS ?local) WHERE {{
  {values_clause("item", list(qids))}
  ?article schema:about ?item ; schema:isPartOf ?wiki .
  FILTER(?wiki IN ({wikis}))
}} GROUP BY ?item"""


def fetch_local_sitelinks(
    client: SparqlClient, candidates: Sequence[Ranked], sites: Sequence[str], batch_size: int
) -> None:
    """Set `local_sitelinks` on every candidate (0 when it has no article in `sites`)."""
    by_qid = {candidate.qid: candidate for candidate in candidates}
    if not sites:
        return
    qids = sorted(by_qid, key=qid_number)
    for start in range(0, len(qids), batch_size):
        for row in client.select(local_sitelinks_query(qids[start:start + batch_size], sites)):
            value = row.get("item", {}).get("value", "")
            qid = value[len(WD):] if value.startswith(WD) else ""
            if qid in by_qid:
                try:
                    by_qid[qid].local_sitelinks = max(0, int(row.get("local", {}).get("value", "0")))
                except ValueError:
                    by_qid[qid].local_sitelinks = 0


def popularity_bands(candidates: Sequence[Ranked], count: int) -> dict[str, int]:
    """QID → band (0 = least popular … count-1 = most), equal-size bands by total sitelinks."""
    ordered = sorted(candidates, key=lambda c: (c.sitelinks, -qid_number(c.qid)))
    total = len(ordered)
    return {candidate.qid: min(count - 1, index * count // max(total, 1)) for index, candidate in enumerate(ordered)}


def global_order(candidates: Iterable[Ranked]) -> list:
    """Most total sitelinks first (ties: lower QID)."""
    return sorted(candidates, key=lambda c: (-c.sitelinks, qid_number(c.qid)))


def _regional_key(candidate: Ranked) -> tuple:
    share = candidate.local_sitelinks / candidate.sitelinks if candidate.sitelinks else 0.0
    return (-share, -candidate.local_sitelinks, -candidate.sitelinks, qid_number(candidate.qid))


def regional_order(candidates: Sequence[Ranked], bands: dict[str, int], count: int) -> list:
    """One item per band in turn (most popular band first), each band in local-share order."""
    queues: list[list] = [[] for _ in range(count)]
    for candidate in sorted(candidates, key=_regional_key):
        queues[bands[candidate.qid]].append(candidate)
    ordered: list = []
    position = 0
    while len(ordered) < len(candidates):
        for band in range(count - 1, -1, -1):
            if position < len(queues[band]):
                ordered.append(queues[band][position])
        position += 1
    return ordered


def rank(candidates: Sequence[Ranked], ranking: str, band_count: int) -> tuple[list, dict[str, int]]:
    """Candidates in selection order for `ranking`, and each one's popularity band."""
    if ranking not in RANKINGS:
        raise ValueError(f"entities.ranking must be one of {RANKINGS}, got {ranking!r}")
    bands = popularity_bands(candidates, band_count)
    if ranking == "global":
        return global_order(candidates), bands
    return regional_order(candidates, bands, band_count), bands


@dataclass(frozen=True)
class LongTailReport:
    """How much of a country's selection lies at or below the median total sitelinks of its eligible candidates."""

    median_sitelinks: float
    selected: int
    at_or_below_median: int
    selected_by_global_ranking: int
    at_or_below_median_by_global_ranking: int

    def as_dict(self) -> dict[str, float | int]:
        def share(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 0.0

        return {
            "median_sitelinks": self.median_sitelinks,
            "selected": self.selected,
            "at_or_below_median": self.at_or_below_median,
            "at_or_below_median_share": share(self.at_or_below_median, self.selected),
            "selected_by_global_ranking": self.selected_by_global_ranking,
            "at_or_below_median_by_global_ranking": self.at_or_below_median_by_global_ranking,
            "at_or_below_median_share_by_global_ranking": share(
                self.at_or_below_median_by_global_ranking, self.selected_by_global_ranking
            ),
        }


def long_tail_report(
    eligible: Sequence[Ranked], selected: Sequence[Ranked], cap: Callable[[list], list]
) -> LongTailReport:
    """Compare `selected` with what `cap` keeps of the same candidates in global-sitelinks order."""
    middle = float(median(c.sitelinks for c in eligible)) if eligible else 0.0
    by_global = cap(global_order(eligible))
    return LongTailReport(
        median_sitelinks=middle,
        selected=len(selected),
        at_or_below_median=sum(c.sitelinks <= middle for c in selected),
        selected_by_global_ranking=len(by_global),
        at_or_below_median_by_global_ranking=sum(c.sitelinks <= middle for c in by_global),
    )
