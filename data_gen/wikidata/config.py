"""From the Hydra config to Wikidata: the selected countries and the SPARQL client for `source=`.

`source=sample` is the embedded store (no cache, offline); `source=endpoint` is a remote or local
SPARQL endpoint through SPARQLWrapper with an on-disk answer cache, its URL and User-Agent checked
before the first query.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from data_gen.common.errors import DataGenError
from data_gen.common.settings import settings_from
from data_gen.wikidata.client import SparqlClient, SparqlSettings, make_client
from data_gen.wikidata.regions import Country, load_regions


def selected_countries(cfg: DictConfig) -> tuple[Country, ...]:
    """The countries of `countries=` (codes, QIDs or names; `all` by default), in registry order;
    with `country_index=i` (a SLURM array task, slurm/country_array.sh) only the i-th of them."""
    keys = cfg.get("countries", "all")
    if not isinstance(keys, str) and keys is not None:
        keys = [str(key) for key in keys]
    chosen = load_regions().select(keys)
    index = cfg.get("country_index")
    if index is None:
        return chosen
    if isinstance(index, bool) or not str(index).strip().isdigit() or int(index) >= len(chosen):
        raise DataGenError(f"country_index={index} is not one of the {len(chosen)} countries selected "
                           f"({','.join(c.code for c in chosen)}): an array over them is --array=0-{len(chosen) - 1}")
    return (chosen[int(index)],)


def explicit_countries(cfg: DictConfig) -> tuple[Country, ...] | None:
    """The countries a run is limited to (`countries=` a list, or `country_index=`), or None for all."""
    every = str(cfg.get("countries", "all")).strip().casefold() == "all"
    return None if every and cfg.get("country_index") is None else selected_countries(cfg)


def sparql_settings(cfg: DictConfig) -> SparqlSettings:
    return settings_from(SparqlSettings, cfg.endpoint, user_agent=cfg.get("user_agent"))


def sparql_client(cfg: DictConfig) -> SparqlClient:
    """The client for `source=sample` (embedded store) or `source=endpoint` (with on-disk cache)."""
    settings = sparql_settings(cfg)
    source = str(cfg.source)
    if source == "endpoint":
        settings.checked_url()
        settings.checked_user_agent()
    if source != "sample":
        return make_client(source, settings, cache_dir=Path(str(cfg.cache.dir)))
    from data_gen.wikidata.sample_store import SampleError

    try:
        return make_client(source, settings, cache_dir=None)
    except SampleError as error:  # the embedded sample is missing or broken
        raise DataGenError(str(error)) from None
