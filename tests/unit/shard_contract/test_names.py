"""One naming of languages and countries for every report (issue 19 §6)."""

from __future__ import annotations

from shard_contract.names import country_label, country_name, language_label, language_name


def test_pangea_codes_and_wikidata_spellings_name_the_same_language():
    assert language_name("iw") == language_name("he") == "Hebrew"  # Pangea writes iw, Wikidata he
    assert language_label("iw") == "Hebrew (iw)"
    assert language_name("quz") == "Quechua"  # XM3600's Cusco Quechua
    assert language_label("ja") == "Japanese (ja)"


def test_countries_by_iso_code_and_unknown_keys_unchanged():
    assert country_label("JP") == "Japan (JP)" and country_name("KR") == "South Korea"
    assert country_label("Kenya") == "Kenya"  # a benchmark's own country name stays as it is
    assert language_label("xx-unknown") == "xx-unknown"
