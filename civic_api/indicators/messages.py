"""What the quarterly report says, in sq, sr (Latin) and en."""

TEXT: dict[str, dict[str, str]] = {
    "title": {
        "sq": "Raporti tremujor i treguesve të ndikimit",
        "sr": "Tromesečni izveštaj o pokazateljima uticaja",
        "en": "Quarterly impact indicators report",
    },
    "period": {"sq": "Periudha", "sr": "Period", "en": "Period"},
    "previous": {"sq": "Periudha e mëparshme", "sr": "Prethodni period", "en": "Previous period"},
    "generated": {"sq": "Përgatitur më", "sr": "Pripremljeno", "en": "Generated"},
    "population": {"sq": "Popullsia", "sr": "Stanovništvo", "en": "Population"},
    "audience_public": {
        "sq": "Shifra publike: kategoritë e ndjeshme vetëm nga publikimet mujore me zhurmë.",
        "sr": "Javni podaci: osetljive kategorije samo iz mesečnih objava sa šumom.",
        "en": "Public figures: sensitive categories only from the noisy monthly releases.",
    },
    "audience_staff": {
        "sq": "Shifra të sakta për komunën tuaj (konfidenciale).",
        "sr": "Tačni podaci za vašu opštinu (poverljivo).",
        "en": "Exact figures for your municipality (confidential).",
    },
    "key_figures": {
        "sq": "Shifrat kryesore (kategoritë jo të ndjeshme)",
        "sr": "Ključni podaci (neosetljive kategorije)",
        "en": "Key figures (non-sensitive categories)",
    },
    "indicator": {"sq": "Treguesi", "sr": "Pokazatelj", "en": "Indicator"},
    "this_period": {"sq": "Kjo periudhë", "sr": "Ovaj period", "en": "This period"},
    "median": {
        "sq": "Mesorja e komunave",
        "sr": "Medijana opština",
        "en": "Median of municipalities",
    },
    "rank": {"sq": "Renditja", "sr": "Rang", "en": "Rank"},
    "by_group": {
        "sq": "Sipas grupit të kategorive",
        "sr": "Po grupi kategorija",
        "en": "By category group",
    },
    "group": {"sq": "Grupi", "sr": "Grupa", "en": "Group"},
    "sensitive_section": {
        "sq": "Kategoritë e ndjeshme (ngacmimi, keqpërdorimi)",
        "sr": "Osetljive kategorije (uznemiravanje, zloupotrebe)",
        "en": "Sensitive categories (harassment, misconduct)",
    },
    "league": {
        "sq": "Tabela kombëtare e komunave",
        "sr": "Nacionalna tabela opština",
        "en": "National league table of municipalities",
    },
    "league_note": {
        "sq": "Renditur sipas kohës mesatare deri te pranimi; pa renditje nën minimumin n.",
        "sr": "Po medijani vremena do potvrde prijema; bez ranga ispod minimalnog n.",
        "en": "Ranked by median time to acknowledgement; no position below the minimum n.",
    },
    "municipality": {"sq": "Komuna", "sr": "Opština", "en": "Municipality"},
    "chart_months": {
        "sq": "Raportet e pranuara sipas muajit",
        "sr": "Primljene prijave po mesecu",
        "en": "Reports received per month",
    },
    "chart_hours": {
        "sq": "Kur ndodhin problemet (dita e javës × ora)",
        "sr": "Kada se problemi dešavaju (dan × sat)",
        "en": "When problems occur (weekday × hour)",
    },
    "chart_league": {
        "sq": "Orët mesatare deri te pranimi, të gjitha komunat",
        "sr": "Medijana sati do potvrde, sve opštine",
        "en": "Median hours to acknowledgement, all municipalities",
    },
    "withheld": {"sq": "e mbajtur", "sr": "uskraćeno", "en": "withheld"},
    "method": {"sq": "Metoda", "sr": "Metodologija", "en": "Method"},
    "method_text": {
        "sq": "Periudhat janë muaj të plotë sipas orës lokale (Europe/Belgrade). Raportet"
        " numërohen në periudhën kur u dërguan. Normat, mesoret dhe renditjet kërkojnë të"
        " paktën {min_n} raporte; nën këtë vlerë ato mbahen. Popullsia: regjistri i komunës"
        " (regjistrimi i vitit 2011 i ASK; vlerësime të OSBE-së për katër komunat e veriut,"
        " ku pjesëmarrja në regjistrimin e vitit 2024 ishte e ulët): shifrat për 10 000"
        " banorë atje janë të përafërta.",
        "sr": "Periodi su celi meseci po lokalnom vremenu (Europe/Belgrade). Prijave se"
        " računaju u periodu kada su poslate. Stope, medijane i rangovi traže najmanje"
        " {min_n} prijava; ispod toga se uskraćuju. Stanovništvo: evidencija opštine (popis"
        " ASK iz 2011; procene OEBS-a za četiri opštine na severu, gde je odziv na popisu"
        " 2024. bio nizak): podaci na 10.000 stanovnika su tamo približni.",
        "en": "Periods are whole local months (Europe/Belgrade). Reports count in the period"
        " in which they were submitted. Rates, medians and ranks need at least {min_n}"
        " reports; below that they are withheld. Population: the municipality record (the"
        " Kosovo Agency of Statistics' 2011 census; OSCE estimates for the four northern"
        " municipalities, where turnout in the 2024 census was low), so per-10,000 figures"
        " there are approximate.",
    },
    "weekdays": {
        "sq": "Hë,Ma,Më,En,Pr,Sh,Di",
        "sr": "Po,Ut,Sr,Če,Pe,Su,Ne",
        "en": "Mon,Tue,Wed,Thu,Fri,Sat,Sun",
    },
    "hour": {"sq": "Ora", "sr": "Sat", "en": "Hour"},
    "all_non_sensitive": {
        "sq": "Të gjitha jo të ndjeshmet",
        "sr": "Sve neosetljive",
        "en": "All non-sensitive",
    },
}

INDICATOR_NAMES: dict[str, dict[str, str]] = {
    "reports_received": {
        "sq": "Raporte të pranuara",
        "sr": "Primljene prijave",
        "en": "Reports received",
    },
    "reports_per_10000": {
        "sq": "Raporte për 10 000 banorë",
        "sr": "Prijave na 10.000 stanovnika",
        "en": "Reports per 10,000 inhabitants",
    },
    "acknowledgement_hours_median": {
        "sq": "Orë deri te pranimi (mesorja)",
        "sr": "Sati do potvrde (medijana)",
        "en": "Hours to acknowledgement (median)",
    },
    "acknowledgement_hours_p90": {
        "sq": "Orë deri te pranimi (p90)",
        "sr": "Sati do potvrde (p90)",
        "en": "Hours to acknowledgement (p90)",
    },
    "response_hours_median": {
        "sq": "Orë deri te përgjigjja publike (mesorja)",
        "sr": "Sati do javnog odgovora (medijana)",
        "en": "Hours to public response (median)",
    },
    "response_hours_p90": {
        "sq": "Orë deri te përgjigjja publike (p90)",
        "sr": "Sati do javnog odgovora (p90)",
        "en": "Hours to public response (p90)",
    },
    "resolution_hours_median": {
        "sq": "Orë deri te zgjidhja (mesorja)",
        "sr": "Sati do rešenja (medijana)",
        "en": "Hours to resolution (median)",
    },
    "resolution_hours_p90": {
        "sq": "Orë deri te zgjidhja (p90)",
        "sr": "Sati do rešenja (p90)",
        "en": "Hours to resolution (p90)",
    },
    "acknowledged_within_target_rate": {
        "sq": "Pranuar brenda afatit",
        "sr": "Potvrđeno u roku",
        "en": "Acknowledged within target",
    },
    "backlog_at_period_end": {
        "sq": "Të hapura në fund të periudhës",
        "sr": "Otvorene na kraju perioda",
        "en": "Backlog at period end",
    },
    "overdue_at_period_end": {
        "sq": "Me vonesë në fund të periudhës",
        "sr": "Zakasnele na kraju perioda",
        "en": "Overdue at period end",
    },
    "no_response": {
        "sq": "Pa asnjë përgjigje",
        "sr": "Bez ikakvog odgovora",
        "en": "No response at all",
    },
    "resolution_rate": {
        "sq": "Norma e zgjidhjes",
        "sr": "Stopa rešavanja",
        "en": "Resolution rate",
    },
    "rejection_rate": {"sq": "Norma e refuzimit", "sr": "Stopa odbijanja", "en": "Rejection rate"},
    "reopen_rate": {
        "sq": "Norma e rihapjes",
        "sr": "Stopa ponovnog otvaranja",
        "en": "Reopen rate",
    },
    "duplicate_rate": {
        "sq": "Norma e dublikatave",
        "sr": "Stopa duplikata",
        "en": "Duplicate rate",
    },
    "confirmed_fixed_rate": {
        "sq": "Rregulluar sipas raportuesit",
        "sr": "Rešeno po prijavljivaču",
        "en": "Reporter-confirmed fixed",
    },
    "feedback_rate": {
        "sq": "Raporte të mbyllura me vlerësim",
        "sr": "Zatvorene prijave s ocenom",
        "en": "Closed reports rated",
    },
    "rating_mean": {
        "sq": "Vlerësimi mesatar (1–5)",
        "sr": "Prosečna ocena (1–5)",
        "en": "Mean rating (1–5)",
    },
    "rating_4_5_rate": {"sq": "Vlerësime 4–5", "sr": "Ocene 4–5", "en": "Ratings of 4–5"},
    "fixed_yes": {"sq": "U rregullua: po", "sr": "Rešeno: da", "en": "Fixed: yes"},
    "fixed_no": {"sq": "U rregullua: jo", "sr": "Rešeno: ne", "en": "Fixed: no"},
    "fixed_dont_know": {
        "sq": "U rregullua: nuk e di",
        "sr": "Rešeno: ne znam",
        "en": "Fixed: don't know",
    },
    "active_devices": {"sq": "Pajisje aktive", "sr": "Aktivni uređaji", "en": "Active devices"},
    "reports_per_active_device": {
        "sq": "Raporte për pajisje aktive",
        "sr": "Prijave po aktivnom uređaju",
        "en": "Reports per active device",
    },
    "followed_rate": {
        "sq": "Raporte të ndjekura me pajisje",
        "sr": "Prijave praćene uređajem",
        "en": "Reports followed by a device",
    },
    "reporter_comments": {
        "sq": "Komente të raportuesve",
        "sr": "Komentari prijavljivača",
        "en": "Reporter comments",
    },
    "first_time_reporters": {
        "sq": "Raportues për herë të parë",
        "sr": "Prvi put prijavljuju",
        "en": "First-time reporters",
    },
    "top_cells_share": {
        "sq": "Raporte në 10 % të qelizave kryesore",
        "sr": "Prijave u gornjih 10 % ćelija",
        "en": "Reports in the top 10 % of cells",
    },
    "hotspots_cooled_rate": {
        "sq": "Pikat e nxehta që u ftohën",
        "sr": "Žarišta koja su se ohladila",
        "en": "Last period's hotspots that cooled",
    },
}
