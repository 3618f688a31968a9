"""A small hand-written Wikidata-shaped Turtle graph (WDQS vocabulary) for unit tests.

Real QIDs and PIDs where it matters (countries, properties); the items are a handful of famous
French, Japanese, Indian and Israeli things, with labels, descriptions and aliases in several
languages, sitelink counts, P18 images and catalogue facts of every answer type.
"""

from __future__ import annotations

PREFIXES = """@prefix wd: <http://www.wikidata.org/entity/> .
@prefix wdt: <http://www.wikidata.org/prop/direct/> .
@prefix wikibase: <http://wikiba.se/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix schema: <http://schema.org/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix fp: <http://commons.wikimedia.org/wiki/Special:FilePath/> .
"""

BODY = """
wd:Q142 rdfs:label "France"@en, "France"@fr .
wd:Q17 rdfs:label "Japan"@en, "日本"@ja .
wd:Q668 rdfs:label "India"@en, "भारत"@hi .
wd:Q801 rdfs:label "Israel"@en, "ישראל"@he .
wd:Q90 rdfs:label "Paris"@en, "Paris"@fr ; wdt:P17 wd:Q142 .
wd:Q12323 rdfs:label "tower"@en, "tour"@fr .
wd:Q2977 rdfs:label "cathedral"@en, "cathédrale"@fr .
wd:Q3305213 rdfs:label "painting"@en, "peinture"@fr .
wd:Q46970 rdfs:label "Gothic architecture"@en, "architecture gothique"@fr .
wd:Q1011 rdfs:label "wrought iron"@en, "fer puddlé"@fr .
wd:Q20882 rdfs:label "Gustave Eiffel"@en, "Gustave Eiffel"@fr .

wd:Q243 rdfs:label "Eiffel Tower"@en, "tour Eiffel"@fr, "エッフェル塔"@ja ;
  schema:description "tower in Paris, France"@en, "tour de fer puddlé à Paris"@fr ;
  skos:altLabel "La dame de fer"@fr, "Iron Lady"@en ;
  wikibase:sitelinks "180"^^xsd:integer ;
  wdt:P31 wd:Q12323 ; wdt:P17 wd:Q142 ; wdt:P131 wd:Q90 ; wdt:P84 wd:Q20882 ;
  wdt:P186 wd:Q1011 ; wdt:P571 "1887-01-28T00:00:00Z"^^xsd:dateTime ;
  wdt:P2048 "330"^^xsd:decimal ; wdt:P1448 "Tour Eiffel"@fr ;
  wdt:P18 <http://commons.wikimedia.org/wiki/Special:FilePath/Tour%20Eiffel%20Wikimedia%20Commons.jpg> .

wd:Q2981 rdfs:label "Notre-Dame de Paris"@en, "cathédrale Notre-Dame de Paris"@fr ;
  schema:description "cathedral in Paris"@en ;
  wikibase:sitelinks "150"^^xsd:integer ;
  wdt:P31 wd:Q2977 ; wdt:P17 wd:Q142 ; wdt:P149 wd:Q46970 ;
  wdt:P18 fp:Notre-Dame%20de%20Paris%202013-07-24.jpg, fp:Notre%20Dame%20dalla%20Senna.jpg .

wd:Q12418 rdfs:label "Mona Lisa"@en, "La Joconde"@fr ;
  wikibase:sitelinks "160"^^xsd:integer ;
  wdt:P31 wd:Q3305213 ; wdt:P17 wd:Q142 ; wdt:P276 wd:Q19675 ;
  wdt:P18 fp:Mona%20Lisa.jpg .
wd:Q19675 rdfs:label "Louvre Museum"@en, "musée du Louvre"@fr .

wd:Q1000001 rdfs:label "Tour Sans Fait"@fr ; wikibase:sitelinks "3"^^xsd:integer ;
  wdt:P31 wd:Q12323 ; wdt:P17 wd:Q142 ; wdt:P18 fp:Tour%20sans%20fait.jpg .

wd:Q1000002 rdfs:label "Tour Sans Image"@fr ; wikibase:sitelinks "90"^^xsd:integer ;
  wdt:P31 wd:Q12323 ; wdt:P17 wd:Q142 ; wdt:P84 wd:Q20882 .

wd:Q1000003 rdfs:label "Tour Trois"@fr ; wikibase:sitelinks "20"^^xsd:integer ;
  wdt:P31 wd:Q12323 ; wdt:P17 wd:Q142 ; wdt:P84 wd:Q20882 ; wdt:P18 fp:Tour%20trois.jpg .

wd:Q1000004 rdfs:label "Tour Quatre"@fr ; wikibase:sitelinks "10"^^xsd:integer ;
  wdt:P31 wd:Q12323 ; wdt:P131 wd:Q90 ; wdt:P84 wd:Q20882 ; wdt:P18 fp:Tour%20quatre.jpg .

wd:Q39231 rdfs:label "Mount Fuji"@en, "富士山"@ja, "mont Fuji"@fr ;
  schema:description "highest mountain in Japan"@en, "日本最高峰の山"@ja ;
  skos:altLabel "Fuji-san"@en, "不二山"@ja ;
  wikibase:sitelinks "170"^^xsd:integer ;
  wdt:P31 wd:Q8502 ; wdt:P17 wd:Q17 ; wdt:P2044 "3776.24"^^xsd:decimal ;
  wdt:P18 fp:Views%20of%20Mount%20Fuji%20from%20%C5%8Cwakudani%2020211202.jpg .
wd:Q8502 rdfs:label "mountain"@en, "山"@ja .

wd:Q1208 rdfs:label "sushi"@en, "寿司"@ja ; wikibase:sitelinks "120"^^xsd:integer ;
  wdt:P31 wd:Q746549 ; wdt:P495 wd:Q17 ; wdt:P186 wd:Q5090 ; wdt:P18 fp:Sushi%20platter.jpg .
wd:Q746549 rdfs:label "dish"@en, "料理"@ja .
wd:Q5090 rdfs:label "rice"@en, "米"@ja, "चावल"@hi .

wd:Q9141 rdfs:label "Taj Mahal"@en, "ताज महल"@hi, "தாஜ் மகால்"@ta ;
  schema:description "mausoleum in Agra, India"@en ;
  wikibase:sitelinks "200"^^xsd:integer ;
  wdt:P31 wd:Q162875 ; wdt:P17 wd:Q668 ; wdt:P571 "1632-01-01T00:00:00Z"^^xsd:dateTime ;
  wdt:P18 fp:Taj%20Mahal%2C%20Agra%2C%20India%20edit3.jpg .
wd:Q162875 rdfs:label "mausoleum"@en, "मकबरा"@hi .

wd:Q160232 rdfs:label "Western Wall"@en, "הכותל המערבי"@he, "حائط البراق"@ar ;
  wikibase:sitelinks "100"^^xsd:integer ;
  wdt:P31 wd:Q88291 ; wdt:P17 wd:Q801 ; wdt:P140 wd:Q9268 ;
  wdt:P18 fp:Western%20Wall%2C%20Jerusalem.jpg .
wd:Q9268 rdfs:label "Judaism"@en, "יהדות"@he .
wd:Q88291 rdfs:label "wall"@en .
"""

TURTLE = (PREFIXES + BODY).encode("utf-8")


def snippet_store():
    """The snippet in an in-process pyoxigraph store."""
    return store_from_turtle(TURTLE)


def synthetic_country_turtle(
    country_qid: str, count: int, languages: tuple[str, ...], first_qid: int = 5_000_000
) -> bytes:
    """`count` Wikidata-shaped items of one country, labelled in every given (Wikidata) language.

    Each item has a class (one of 8), an image, a material (one of 60 value items, also labelled in
    every language), an inception date and a sitelink count; deterministic, for scale tests and the
    SPARQL benchmark.
    """
    lines = [PREFIXES]
    for index in range(60):
        labels = ", ".join(f'"material {index} {lang}"@{lang}' for lang in languages)
        lines.append(f"wd:Q{first_qid - 100 + index} rdfs:label {labels} .")
    for index in range(count):
        qid = first_qid + index
        labels = ", ".join(f'"item {index} {lang}"@{lang}' for lang in languages)
        descriptions = ", ".join(f'"thing number {index} ({lang})"@{lang}' for lang in languages)
        lines.append(
            f"wd:Q{qid} rdfs:label {labels} ; schema:description {descriptions} ;\n"
            f'  skos:altLabel "alias {index}"@{languages[0]} ;\n'
            f'  wikibase:sitelinks "{(index * 7919) % 997}"^^xsd:integer ;\n'
            f"  wdt:P31 wd:Q{first_qid - 200 + index % 8} ; wdt:P17 wd:{country_qid} ;\n"
            f"  wdt:P186 wd:Q{first_qid - 100 + index % 60} ;\n"
            f'  wdt:P571 "{1500 + index % 500}-01-01T00:00:00Z"^^xsd:dateTime ;\n'
            f"  wdt:P18 fp:Synthetic%20item%20{index}.jpg ."
        )
    return "\n".join(lines).encode("utf-8")


def store_from_turtle(data: bytes):
    """An in-process pyoxigraph store holding `data` (Turtle)."""
    import io

    from pyoxigraph import RdfFormat, Store

    store = Store()
    store.load(io.BytesIO(data), format=RdfFormat.TURTLE)
    return store
