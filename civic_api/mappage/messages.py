"""The map page's interface text in Albanian, Serbian (Latin) and English.

Plural forms are keyed by CLDR category (Intl.PluralRules in the browser): Serbian has
`one`, `few` and `other`; Albanian and English have `one` and `other`.
"""

# (code, autonym) in the switcher's order.
LANGUAGES: tuple[tuple[str, str], ...] = (("sq", "Shqip"), ("sr", "Srpski"), ("en", "English"))

# The page's <html lang>: the Serbian text is in Latin script.
HTML_LANG = {"sq": "sq", "sr": "sr-Latn", "en": "en"}

# Rendered on the server.
PAGE: dict[str, dict[str, str]] = {
    "en": {
        "title": "Reports map",
        "intro": "Reports of harassment and municipal problems in Kosovo, counted by "
        "hexagonal cells.",
        "language": "Language",
        "filters": "Filters",
        "group": "Category group",
        "all_groups": "All groups",
        "category": "Category",
        "all_categories": "All categories",
        "from": "From",
        "to": "To",
        "dates_hint": "Dates are rounded to whole months.",
        "status": "Status",
        "status_all": "All",
        "status_open": "Open",
        "status_resolved": "Resolved",
        "layer": "Show",
        "layer_live": "Live counts (non-sensitive categories)",
        "layer_released": "Monthly releases (sensitive categories)",
        "reset": "Reset filters",
        "legend": "Reports per cell",
        "privacy": "Only counts per cell are shown, never individual reports or exact locations.",
        "noscript": "This map needs JavaScript.",
        "loading": "Loading…",
        "dates": "Period",
        "show_table": "Show as table",
        "by_municipality": "Reports per municipality in this view",
        "by_group": "Reports per category group in this view",
        "municipality": "Municipality",
        "reports": "Reports",
        "cells_withheld": "Cells withheld",
        "table_note": "Reports are the sum of the cells shown on the map; cells with too few "
        "reports are withheld and not counted.",
        "downloads": "Data for this view",
        "ogc": "OGC API Features",
    },
    "sq": {
        "title": "Harta e raporteve",
        "intro": "Raportet për ngacmime dhe probleme komunale në Kosovë, të numëruara "
        "sipas qelizave gjashtëkëndore.",
        "language": "Gjuha",
        "filters": "Filtrat",
        "group": "Grupi i kategorive",
        "all_groups": "Të gjitha grupet",
        "category": "Kategoria",
        "all_categories": "Të gjitha kategoritë",
        "from": "Nga",
        "to": "Deri",
        "dates_hint": "Datat rrumbullakohen në muaj të plotë.",
        "status": "Statusi",
        "status_all": "Të gjitha",
        "status_open": "Të hapura",
        "status_resolved": "Të zgjidhura",
        "layer": "Shfaq",
        "layer_live": "Numra të drejtpërdrejtë (kategori jo të ndjeshme)",
        "layer_released": "Publikime mujore (kategori të ndjeshme)",
        "reset": "Rivendos filtrat",
        "legend": "Raporte për qelizë",
        "privacy": "Shfaqen vetëm numrat për qelizë, kurrë raporte të veçanta apo "
        "vendndodhje të sakta.",
        "noscript": "Kjo hartë kërkon JavaScript.",
        "loading": "Duke u ngarkuar…",
        "dates": "Periudha",
        "show_table": "Shfaq si tabelë",
        "by_municipality": "Raporte sipas komunës në këtë pamje",
        "by_group": "Raporte sipas grupit të kategorive në këtë pamje",
        "municipality": "Komuna",
        "reports": "Raporte",
        "cells_withheld": "Qeliza të fshehura",
        "table_note": "Raportet janë shuma e qelizave të shfaqura në hartë; qelizat me shumë "
        "pak raporte fshihen dhe nuk numërohen.",
        "downloads": "Të dhënat e kësaj pamjeje",
        "ogc": "OGC API Features",
    },
    "sr": {
        "title": "Mapa prijava",
        "intro": "Prijave uznemiravanja i komunalnih problema na Kosovu, prebrojane po "
        "šestougaonim ćelijama.",
        "language": "Jezik",
        "filters": "Filteri",
        "group": "Grupa kategorija",
        "all_groups": "Sve grupe",
        "category": "Kategorija",
        "all_categories": "Sve kategorije",
        "from": "Od",
        "to": "Do",
        "dates_hint": "Datumi se zaokružuju na cele mesece.",
        "status": "Status",
        "status_all": "Sve",
        "status_open": "Otvorene",
        "status_resolved": "Rešene",
        "layer": "Prikaži",
        "layer_live": "Trenutni brojevi (kategorije koje nisu osetljive)",
        "layer_released": "Mesečna izdanja (osetljive kategorije)",
        "reset": "Poništi filtere",
        "legend": "Prijava po ćeliji",
        "privacy": "Prikazuju se samo brojevi po ćeliji, nikada pojedinačne prijave ni "
        "tačne lokacije.",
        "noscript": "Ova mapa zahteva JavaScript.",
        "loading": "Učitavanje…",
        "dates": "Period",
        "show_table": "Prikaži kao tabelu",
        "by_municipality": "Prijave po opštini u ovom prikazu",
        "by_group": "Prijave po grupi kategorija u ovom prikazu",
        "municipality": "Opština",
        "reports": "Prijave",
        "cells_withheld": "Sakrivene ćelije",
        "table_note": "Prijave su zbir ćelija prikazanih na mapi; ćelije sa premalo prijava "
        "su sakrivene i nisu uračunate.",
        "downloads": "Podaci za ovaj prikaz",
        "ogc": "OGC API Features",
    },
}

# Handed to map.js as JSON; {k}, {n} and {size} are filled in there.
CLIENT: dict[str, dict] = {
    "en": {
        "threshold": {
            "one": "Areas with fewer than {k} report are not shown.",
            "other": "Areas with fewer than {k} reports are not shown.",
        },
        "hidden": {
            "zero": "No cells are hidden in this view.",
            "one": "{n} cell is hidden in this view.",
            "other": "{n} cells are hidden in this view.",
        },
        "legend_empty": "No cells to show in this view.",
        "cell_size": "Each hexagon is about {size} across.",
        "date_order": "The start date must not be after the end date.",
        "date_incomplete": "Enter the whole date: day, month and year.",
        "date_range": "Enter a date from {min} to {max}.",
        "withheld": "withheld",
        "release": "Sensitive categories: the monthly release of {months}, with random noise "
        "added; values below {t} are not shown.",
        "no_release": "Sensitive categories: no monthly release covers these dates yet.",
        "unreleased": "Not released yet: {months}.",
        "release_status": "Releases count reports whatever their status.",
        "released_suffix": "(monthly release)",
        "table_release_note": "Released values are sums of the cells shown, with noise; — means "
        "that no cell reached the release's threshold.",
        "not_published": "not published",
        "table_loading": "Counting the reports in this view…",
        "table_ready": "Counts for this view.",
        "error": "The map data could not be loaded. Try again later.",
        "no_webgl": "This browser cannot show the map (WebGL is not available).",
        "attribution": "Boundaries: © OpenStreetMap contributors, geoBoundaries",
        "maplibre": {
            "Map.Title": "Map of Kosovo with the number of reports per hexagonal cell",
            "NavigationControl.ZoomIn": "Zoom in",
            "NavigationControl.ZoomOut": "Zoom out",
            "NavigationControl.ResetBearing": "Drag to rotate map, click to reset north",
            "AttributionControl.ToggleAttribution": "Toggle attribution",
            "LogoControl.Title": "MapLibre logo",
        },
    },
    "sq": {
        "threshold": {
            "one": "Zonat me më pak se {k} raport nuk shfaqen.",
            "other": "Zonat me më pak se {k} raporte nuk shfaqen.",
        },
        "hidden": {
            "zero": "Asnjë qelizë nuk është fshehur në këtë pamje.",
            "one": "{n} qelizë është fshehur në këtë pamje.",
            "other": "{n} qeliza janë fshehur në këtë pamje.",
        },
        "legend_empty": "Nuk ka qeliza për t'u shfaqur në këtë pamje.",
        "cell_size": "Çdo gjashtëkëndësh është rreth {size} i gjerë.",
        "date_order": "Data e fillimit nuk mund të jetë pas datës së mbarimit.",
        "date_incomplete": "Shkruani datën e plotë: ditën, muajin dhe vitin.",
        "date_range": "Shkruani një datë nga {min} deri më {max}.",
        "withheld": "e fshehur",
        "release": "Kategoritë e ndjeshme: publikimi mujor i {months}, me zhurmë të rastësishme "
        "të shtuar; vlerat nën {t} nuk shfaqen.",
        "no_release": "Kategoritë e ndjeshme: ende asnjë publikim mujor nuk i mbulon këto data.",
        "unreleased": "Ende të papublikuara: {months}.",
        "release_status": "Publikimet numërojnë raportet pavarësisht statusit të tyre.",
        "released_suffix": "(publikim mujor)",
        "table_release_note": "Vlerat e publikuara janë shuma të qelizave të shfaqura, me "
        "zhurmë; — do të thotë se asnjë qelizë nuk e arriti pragun e publikimit.",
        "not_published": "nuk publikohet",
        "table_loading": "Duke numëruar raportet në këtë pamje…",
        "table_ready": "Numrat për këtë pamje.",
        "error": "Të dhënat e hartës nuk u ngarkuan. Provoni përsëri më vonë.",
        "no_webgl": "Ky shfletues nuk mund ta shfaqë hartën (WebGL nuk është i disponueshëm).",
        "attribution": "Kufijtë: © OpenStreetMap contributors, geoBoundaries",
        "maplibre": {
            "Map.Title": "Harta e Kosovës me numrin e raporteve për secilën qelizë gjashtëkëndore",
            "NavigationControl.ZoomIn": "Zmadho",
            "NavigationControl.ZoomOut": "Zvogëlo",
            "NavigationControl.ResetBearing": "Tërhiqni për ta rrotulluar hartën, klikoni "
            "për ta kthyer veriun lart",
            "AttributionControl.ToggleAttribution": "Shfaq ose fshih burimet",
            "LogoControl.Title": "Logoja e MapLibre",
        },
    },
    "sr": {
        "threshold": {
            "one": "Oblasti sa manje od {k} prijave nisu prikazane.",
            "few": "Oblasti sa manje od {k} prijave nisu prikazane.",
            "other": "Oblasti sa manje od {k} prijava nisu prikazane.",
        },
        "hidden": {
            "zero": "U ovom prikazu nijedna ćelija nije sakrivena.",
            "one": "U ovom prikazu sakrivena je {n} ćelija.",
            "few": "U ovom prikazu sakrivene su {n} ćelije.",
            "other": "U ovom prikazu sakriveno je {n} ćelija.",
        },
        "legend_empty": "U ovom prikazu nema ćelija za prikaz.",
        "cell_size": "Svaki šestougao je širok oko {size}.",
        "date_order": "Početni datum ne može biti posle krajnjeg.",
        "date_incomplete": "Unesite ceo datum: dan, mesec i godinu.",
        "date_range": "Unesite datum od {min} do {max}.",
        "withheld": "sakriveno",
        "release": "Osetljive kategorije: mesečno izdanje za {months}, sa dodatim slučajnim "
        "šumom; vrednosti ispod {t} nisu prikazane.",
        "no_release": "Osetljive kategorije: nijedno mesečno izdanje još ne pokriva ove datume.",
        "unreleased": "Još nije objavljeno: {months}.",
        "release_status": "Izdanja broje prijave bez obzira na njihov status.",
        "released_suffix": "(mesečno izdanje)",
        "table_release_note": "Objavljene vrednosti su zbirovi prikazanih ćelija, sa šumom; — "
        "znači da nijedna ćelija nije dostigla prag izdanja.",
        "not_published": "nije objavljeno",
        "table_loading": "Brojanje prijava u ovom prikazu…",
        "table_ready": "Brojevi za ovaj prikaz.",
        "error": "Podaci mape nisu mogli da se učitaju. Pokušajte ponovo kasnije.",
        "no_webgl": "Ovaj pregledač ne može da prikaže mapu (WebGL nije dostupan).",
        "attribution": "Granice: © OpenStreetMap contributors, geoBoundaries",
        "maplibre": {
            "Map.Title": "Mapa Kosova sa brojem prijava po šestougaonoj ćeliji",
            "NavigationControl.ZoomIn": "Uvećaj",
            "NavigationControl.ZoomOut": "Umanji",
            "NavigationControl.ResetBearing": "Prevucite da rotirate mapu, kliknite da "
            "vratite sever gore",
            "AttributionControl.ToggleAttribution": "Prikaži ili sakrij izvore",
            "LogoControl.Title": "MapLibre logo",
        },
    },
}
