"""Gazetteer of Kosovo's 38 municipalities: trilingual names, source-name aliases, population and centre."""

# Sources and caveats:
# - Names: official Albanian and Serbian (Latin) municipal names as used by the
#   Government of Kosovo (Law No. 03/L-041 on Administrative Municipal Boundaries)
#   and the Kosovo Agency of Statistics (ASK/KAS); English = commonly used form.
# - source_names: include the exact `name` property of each feature in
#   /work/shared/data/kosovo-municipalities.geojson (geoBoundaries ADM2), plus
#   common spelling variants.
# - population: 2011 Population and Housing Census, Kosovo Agency of Statistics
#   (final results; the 34 enumerated municipalities sum to 1,739,825).
#   The 2011 census was NOT conducted in the four northern municipalities
#   (North Mitrovica, Leposaviq, Zubin Potok, Zveçan); their figures are the
#   commonly cited OSCE municipal-profile estimates and are approximate.
#   All figures should be verified against the 2024 census results before any
#   per-capita indicators are published.
# - centre: (lon, lat) of the municipal seat's town centre, WGS84, 4 decimals;
#   each point has been checked to lie inside its municipality's polygon in the
#   geojson above.

import unicodedata

MUNICIPALITIES: list[dict] = [
    {"slug": "prishtina",
     "source_names": ["Pristina", "Prishtina", "Prishtinë", "Priština", "Prishtine", "Pristine"],
     "name": {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"},
     "population": 198897, "centre": (21.1655, 42.6629)},
    {"slug": "prizren",
     "source_names": ["Prizren", "Prizreni"],
     "name": {"sq": "Prizren", "sr": "Prizren", "en": "Prizren"},
     "population": 177781, "centre": (20.7397, 42.2139)},
    {"slug": "peja",
     "source_names": ["Peja", "Pejë", "Peje", "Peć", "Pec"],
     "name": {"sq": "Pejë", "sr": "Peć", "en": "Peja"},
     "population": 96450, "centre": (20.2887, 42.6593)},
    {"slug": "gjakova",
     "source_names": ["Gjakova", "Gjakovë", "Gjakove", "Đakovica", "Djakovica", "Dakovica"],
     "name": {"sq": "Gjakovë", "sr": "Đakovica", "en": "Gjakova"},
     "population": 94556, "centre": (20.4308, 42.3803)},
    {"slug": "mitrovica-south",
     "source_names": ["Mitrovica", "Mitrovicë", "Mitrovice", "Mitrovica South", "South Mitrovica",
                      "Mitrovica e Jugut", "Mitrovicë e Jugut", "Južna Mitrovica",
                      "Kosovska Mitrovica"],
     "name": {"sq": "Mitrovicë e Jugut", "sr": "Južna Mitrovica", "en": "Mitrovica South"},
     "population": 71909, "centre": (20.8667, 42.8872)},
    {"slug": "mitrovica-north",
     "source_names": ["North Mitrovica", "Mitrovica North", "Mitrovica e Veriut",
                      "Mitrovicë e Veriut", "Severna Mitrovica", "Northern Mitrovica"],
     "name": {"sq": "Mitrovicë e Veriut", "sr": "Severna Mitrovica", "en": "Mitrovica North"},
     "population": 29460, "centre": (20.8650, 42.8950)},
    {"slug": "ferizaj",
     "source_names": ["Ferizaj", "Ferizaji", "Uroševac", "Urosevac"],
     "name": {"sq": "Ferizaj", "sr": "Uroševac", "en": "Ferizaj"},
     "population": 108610, "centre": (21.1553, 42.3703)},
    {"slug": "gjilan",
     "source_names": ["Gjilan", "Gjilani", "Gnjilane"],
     "name": {"sq": "Gjilan", "sr": "Gnjilane", "en": "Gjilan"},
     "population": 90178, "centre": (21.4694, 42.4636)},
    {"slug": "podujeva",
     "source_names": ["Podujeva", "Podujevë", "Podujeve", "Podujevo"],
     "name": {"sq": "Podujevë", "sr": "Podujevo", "en": "Podujeva"},
     "population": 88499, "centre": (21.1933, 42.9103)},
    {"slug": "vushtrri",
     "source_names": ["Vushtrri", "Vushtrria", "Vučitrn", "Vucitrn"],
     "name": {"sq": "Vushtrri", "sr": "Vučitrn", "en": "Vushtrri"},
     "population": 69870, "centre": (20.9678, 42.8231)},
    {"slug": "suhareka",
     "source_names": ["Suhareka", "Suharekë", "Suhareke", "Suva Reka", "Theranda"],
     "name": {"sq": "Suharekë", "sr": "Suva Reka", "en": "Suhareka"},
     "population": 59722, "centre": (20.8250, 42.3589)},
    {"slug": "rahovec",
     "source_names": ["Rahovec", "Rahoveci", "Orahovac"],
     "name": {"sq": "Rahovec", "sr": "Orahovac", "en": "Rahovec"},
     "population": 56208, "centre": (20.6547, 42.3992)},
    {"slug": "drenas",
     "source_names": ["Drenas", "Drenasi", "Gllogoc", "Gllogovc", "Glogovac"],
     "name": {"sq": "Drenas", "sr": "Glogovac", "en": "Drenas"},
     "population": 58531, "centre": (20.8928, 42.6264)},
    {"slug": "lipjan",
     "source_names": ["Lipjan", "Lipjani", "Lipljan"],
     "name": {"sq": "Lipjan", "sr": "Lipljan", "en": "Lipjan"},
     "population": 57605, "centre": (21.1250, 42.5217)},
    {"slug": "malisheva",
     "source_names": ["Malisheva", "Malishevë", "Malisheve", "Mališevo", "Malisevo"],
     "name": {"sq": "Malishevë", "sr": "Mališevo", "en": "Malisheva"},
     "population": 54613, "centre": (20.7458, 42.4822)},
    {"slug": "kamenica",
     "source_names": ["Kamenica", "Kamenicë", "Kamenice"],
     "name": {"sq": "Kamenicë", "sr": "Kamenica", "en": "Kamenica"},
     "population": 36085, "centre": (21.5750, 42.5781)},
    {"slug": "viti",
     "source_names": ["Viti", "Vitia", "Vitina"],
     "name": {"sq": "Viti", "sr": "Vitina", "en": "Viti"},
     "population": 46987, "centre": (21.3583, 42.3214)},
    {"slug": "decan",
     "source_names": ["Deçan", "Decan", "Deçani", "Decani", "Dečani"],
     "name": {"sq": "Deçan", "sr": "Dečani", "en": "Decan"},
     "population": 40019, "centre": (20.2875, 42.5403)},
    {"slug": "istog",
     "source_names": ["Istog", "Istogu", "Istok"],
     "name": {"sq": "Istog", "sr": "Istok", "en": "Istog"},
     "population": 39289, "centre": (20.4875, 42.7806)},
    {"slug": "klina",
     "source_names": ["Klina", "Klinë", "Kline"],
     "name": {"sq": "Klinë", "sr": "Klina", "en": "Klina"},
     "population": 38496, "centre": (20.5775, 42.6217)},
    {"slug": "skenderaj",
     "source_names": ["Skenderaj", "Skënderaj", "Skenderaji", "Skënderaji", "Srbica"],
     "name": {"sq": "Skënderaj", "sr": "Srbica", "en": "Skenderaj"},
     "population": 50858, "centre": (20.7894, 42.7467)},
    {"slug": "dragash",
     "source_names": ["Dragash", "Dragashi", "Dragaš", "Dragas"],
     "name": {"sq": "Dragash", "sr": "Dragaš", "en": "Dragash"},
     "population": 33997, "centre": (20.6528, 42.0625)},
    {"slug": "fushe-kosova",
     "source_names": ["Fushë Kosovë", "Fushe Kosove", "Fushë Kosova", "Fushe Kosova",
                      "Fushë-Kosovë", "Kosovo Polje"],
     "name": {"sq": "Fushë Kosovë", "sr": "Kosovo Polje", "en": "Fushe Kosova"},
     "population": 34827, "centre": (21.0961, 42.6392)},
    {"slug": "kacanik",
     "source_names": ["Kaçanik", "Kacanik", "Kaçaniku", "Kačanik"],
     "name": {"sq": "Kaçanik", "sr": "Kačanik", "en": "Kacanik"},
     "population": 33409, "centre": (21.2583, 42.2319)},
    {"slug": "shtime",
     "source_names": ["Shtime", "Shtimja", "Shtimje", "Štimlje", "Stimlje"],
     "name": {"sq": "Shtime", "sr": "Štimlje", "en": "Shtime"},
     "population": 27324, "centre": (21.0397, 42.4331)},
    {"slug": "obiliq",
     "source_names": ["Obiliq", "Obiliqi", "Obilić", "Obilic"],
     "name": {"sq": "Obiliq", "sr": "Obilić", "en": "Obiliq"},
     "population": 21549, "centre": (21.0703, 42.6869)},
    {"slug": "novoberda",
     "source_names": ["Novobërdë", "Novoberde", "Novobërda", "Novoberda", "Novo Brdo"],
     "name": {"sq": "Novobërdë", "sr": "Novo Brdo", "en": "Novo Brdo"},
     "population": 6729, "centre": (21.4336, 42.6153)},
    {"slug": "gracanica",
     "source_names": ["Gracanica", "Graçanicë", "Gracanice", "Graçanica", "Gračanica"],
     "name": {"sq": "Graçanicë", "sr": "Gračanica", "en": "Gracanica"},
     "population": 10675, "centre": (21.1944, 42.6003)},
    {"slug": "hani-i-elezit",
     "source_names": ["Han i Elezit", "Hani i Elezit", "Elez Han", "General Janković",
                      "Đeneral Janković"],
     "name": {"sq": "Hani i Elezit", "sr": "Elez Han", "en": "Hani i Elezit"},
     "population": 9403, "centre": (21.2967, 42.1500)},
    {"slug": "junik",
     "source_names": ["Junik", "Juniku"],
     "name": {"sq": "Junik", "sr": "Junik", "en": "Junik"},
     "population": 6084, "centre": (20.2772, 42.4761)},
    {"slug": "mamusha",
     "source_names": ["Mamusha", "Mamushë", "Mamushe", "Mamuša", "Mamusa", "Mamuşa"],
     "name": {"sq": "Mamushë", "sr": "Mamuša", "en": "Mamusha"},
     "population": 5507, "centre": (20.7267, 42.3236)},
    {"slug": "shterpca",
     "source_names": ["Shtërpcë", "Shterpce", "Shtërpca", "Shterpca", "Štrpce", "Strpce"],
     "name": {"sq": "Shtërpcë", "sr": "Štrpce", "en": "Shterpca"},
     "population": 6949, "centre": (21.0283, 42.2392)},
    {"slug": "kllokot",
     "source_names": ["Kllokot", "Kllokoti", "Klokot"],
     "name": {"sq": "Kllokot", "sr": "Klokot", "en": "Kllokot"},
     "population": 2556, "centre": (21.3731, 42.3694)},
    {"slug": "ranillug",
     "source_names": ["Ranillug", "Ranillugu", "Ranilug"],
     "name": {"sq": "Ranillug", "sr": "Ranilug", "en": "Ranillug"},
     "population": 3866, "centre": (21.6000, 42.4922)},
    {"slug": "partesh",
     "source_names": ["Partesh", "Parteshi", "Parteš", "Partes"],
     "name": {"sq": "Partesh", "sr": "Parteš", "en": "Partesh"},
     "population": 1787, "centre": (21.4350, 42.4019)},
    {"slug": "leposaviq",
     "source_names": ["Leposaviq", "Leposaviqi", "Leposavić", "Leposavic", "Albanik"],
     "name": {"sq": "Leposaviq", "sr": "Leposavić", "en": "Leposavic"},
     "population": 18600, "centre": (20.8014, 43.1039)},
    {"slug": "zubin-potok",
     "source_names": ["Zubin Potok", "Zubin Potoku"],
     "name": {"sq": "Zubin Potok", "sr": "Zubin Potok", "en": "Zubin Potok"},
     "population": 15200, "centre": (20.6897, 42.9142)},
    {"slug": "zvecan",
     "source_names": ["Zveçan", "Zvecan", "Zveçani", "Zvečan"],
     "name": {"sq": "Zveçan", "sr": "Zvečan", "en": "Zvecan"},
     "population": 16650, "centre": (20.8397, 42.9075)},
]


def _fold(text: str) -> str:
    """Lowercase and strip accents/diacritics (đ -> d) for tolerant matching."""
    text = text.strip().casefold().replace("đ", "d").replace("ð", "d")
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# Built at import. source_names take precedence; slugs and display names are
# added afterwards as extra aliases only where they do not clash.
_LOOKUP: dict[str, dict] = {}
for _entry in MUNICIPALITIES:
    for _alias in _entry["source_names"]:
        _LOOKUP.setdefault(_fold(_alias), _entry)
for _entry in MUNICIPALITIES:
    for _alias in (_entry["slug"], *_entry["name"].values()):
        _LOOKUP.setdefault(_fold(_alias), _entry)
del _entry, _alias


def by_source_name(name: str) -> dict | None:
    """Return the gazetteer entry whose source_names contain `name` (case- and accent-insensitive)."""
    if not name:
        return None
    return _LOOKUP.get(_fold(name))
