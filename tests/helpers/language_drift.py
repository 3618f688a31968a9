"""Hand-written questions for the `wrong_language` guard: eight questions in each of six languages.

Written for this project (none is a template stem), in the style of a refined question: 5–12 words,
deictic ("this temple"), no answer. Rows are parallel (id/ms/jv/en, and pt/es), so a row in language X
stands for a rewrite of a language-L question that drifted into X. Used by
`tests/unit/data_gen/test_guards.py` and `benchmarks/language_guard.py`.
"""

from __future__ import annotations

DRIFT_QUESTIONS: dict[str, tuple[str, ...]] = {
    "id": (
        "Di provinsi manakah candi ini berada?",
        "Siapa arsitek yang merancang gedung ini?",
        "Pada tahun berapa masjid ini selesai dibangun?",
        "Terbuat dari bahan apa patung yang terlihat di foto ini?",
        "Hidangan dalam gambar ini berasal dari daerah mana?",
        "Alat musik tradisional ini biasanya dimainkan di acara apa?",
        "Kantor pusat perusahaan ini terletak di kota mana?",
        "Bagian mana dari kota ini yang ditampilkan dalam foto?",
    ),
    "ms": (
        "Di negeri manakah kuil ini terletak?",
        "Siapakah arkitek yang mereka bentuk bangunan ini?",
        "Pada tahun berapakah masjid ini siap dibina?",
        "Daripada bahan apakah patung dalam gambar ini diperbuat?",
        "Hidangan dalam gambar ini berasal dari negeri mana?",
        "Alat muzik tradisional ini lazimnya dimainkan dalam majlis apa?",
        "Ibu pejabat syarikat ini terletak di bandar mana?",
        "Bahagian manakah bandar ini yang dipaparkan dalam foto?",
    ),
    "jv": (
        "Candhi iki dumunung ing provinsi endi?",
        "Sapa arsitèk sing ngrancang gedhung iki?",
        "Masjid iki rampung dibangun ing taun pira?",
        "Reca ing foto iki digawe saka bahan apa?",
        "Panganan ing gambar iki asalé saka dhaérah endi?",
        "Gamelan iki biasané ditabuh ing acara apa?",
        "Kantor pusat perusahaan iki ana ing kutha endi?",
        "Perangan endi saka kutha iki sing katon ing foto?",
    ),
    "pt": (
        "Em que cidade fica esta igreja?",
        "Quem projetou o edifício mostrado nesta foto?",
        "Em que ano foi concluída a construção deste mosteiro?",
        "De que material é feita a estátua desta imagem?",
        "De qual região do país vem este prato típico?",
        "Qual é o estilo arquitetônico deste palácio?",
        "Onde nasceu a pessoa retratada nesta pintura?",
        "Que instrumento esta pessoa costuma tocar nos concertos?",
    ),
    "es": (
        "¿En qué ciudad se encuentra esta iglesia?",
        "¿Quién diseñó el edificio que aparece en esta foto?",
        "¿En qué año se terminó de construir este monasterio?",
        "¿De qué material está hecha la estatua de esta imagen?",
        "¿De qué región del país proviene este plato típico?",
        "¿Cuál es el estilo arquitectónico de este palacio?",
        "¿Dónde nació la persona retratada en este cuadro?",
        "¿Qué instrumento suele tocar esta persona en los conciertos?",
    ),
    "en": (
        "In which province is this temple located?",
        "Who was the architect that designed this building?",
        "In what year was this mosque finished?",
        "What material is the statue in this photo made of?",
        "Which region does the dish in this picture come from?",
        "At what events is this traditional instrument usually played?",
        "In which city is the headquarters of this company?",
        "Which part of the city is shown in the photo?",
    ),
}
# (record language, language the rewrite drifted into): the pairs issue 17 names, and English drift.
DRIFT_PAIRS = (("id", "ms"), ("jv", "id"), ("pt", "es"), ("ms", "id"), ("es", "pt"), ("id", "en"), ("pt", "en"))
