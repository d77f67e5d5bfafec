"""Categories (Open311 services): listing, localisation, deactivation, answer validation."""

import math

import pytest
from sqlalchemy import select

from civic_api.categories.models import Category, CategoryAttribute
from civic_api.categories.service import validate_answers
from civic_api.database import session

# Active categories ordered by group code, then code.
ALL_CODES = [
    "accessibility_obstacles",  # accessibility
    "illegal_dumping",  # environment
    "waste",
    "official_misconduct",  # governance
    "commenting",  # harassment
    "flashing",
    "homophobic_comments",
    "honking",
    "non_consensual_acts",
    "other_harassment",
    "photographing",
    "shouting",
    "stalking",
    "texting_calling_emailing",
    "touching",
    "whistling",
    "other",  # other
    "damaged_sidewalks",  # roads
    "road_signs",
    "roads_potholes",
    "illegal_construction",  # urban_planning
    "public_lighting",  # utilities
    "water_sewage",
]
HARASSMENT_CODES = ALL_CODES[4:16]

GENDER_VALUES = {
    "en": ["Man", "Woman", "Group of people", "I don't know"],
    "sq": ["Mashkull", "Grua", "Grup njerëzish", "Nuk e di"],
    "sr": ["Muškarac", "Žena", "Grupa ljudi", "Ne znam"],
}
GENDER_PROMPT = {
    "en": "Who harassed you?",
    "sq": "Kush ju ngacmoi?",
    "sr": "Ko vas je uznemiravao?",
}
COMMENTING = {"en": "Commenting", "sq": "Komente", "sr": "Komentarisanje"}
HARASSMENT = {"en": "Sexual harassment", "sq": "Ngacmim seksual", "sr": "Seksualno uznemiravanje"}


def codes(response) -> list[str]:
    return [c["code"] for c in response.json]


# --------------------------------------------------------------------------- listing


def test_lists_23_active_categories_ordered_by_group_then_code(client):
    r = client.get("/v1/categories")
    assert r.status_code == 200
    assert len(r.json) == 23
    assert codes(r) == ALL_CODES
    groups = [c["group"]["code"] for c in r.json]
    assert groups == sorted(groups)
    assert groups.count("harassment") == 12
    assert len(groups) - groups.count("harassment") == 11


def test_commenting_in_full(client):
    r = client.get("/v1/categories/commenting")
    assert r.status_code == 200
    assert list(r.json) == [
        "code",
        "name",
        "description",
        "group",
        "keywords",
        "sensitive",
        "response_target_hours",
        "attributes",
    ]
    assert r.json["code"] == "commenting"
    assert r.json["name"] == "Commenting"
    assert r.json["description"] == (
        "Someone made sexual, degrading or unwanted comments about your body or appearance."
    )
    assert r.json["group"] == {"code": "harassment", "name": "Sexual harassment"}
    assert r.json["keywords"] == [
        "koment",
        "komente",
        "komentar",
        "dobacivanje",
        "comment",
        "catcalling",
        "remarks",
    ]
    assert r.json["sensitive"] is True
    assert r.json["response_target_hours"] is None
    assert [a["code"] for a in r.json["attributes"]] == [
        "perpetrator_gender",
        "perpetrator_relationship",
        "place_type",
    ]


@pytest.mark.parametrize("lang", ["en", "sq", "sr"])
def test_attributes_have_the_open311_shape(client, lang):
    r = client.get(f"/v1/categories/commenting?lang={lang}")
    assert r.status_code == 200
    assert r.headers["Content-Language"] == lang
    assert r.json["attributes"][0] == {
        "code": "perpetrator_gender",
        "datatype": "singlevaluelist",
        "required": False,
        "order": 1,
        "description": GENDER_PROMPT[lang],
        "values": [
            {"key": key, "name": name}
            for key, name in zip(
                ["male", "female", "group", "unknown"], GENDER_VALUES[lang], strict=True
            )
        ],
    }


def test_attributes_of_every_datatype_are_listed(client):
    by_code = {c["code"]: c for c in client.get("/v1/categories").json}
    summary = {
        code: [(a["code"], a["datatype"], a["required"], a["order"]) for a in c["attributes"]]
        for code, c in by_code.items()
        if c["group"]["code"] != "harassment"
    }
    assert summary == {
        "accessibility_obstacles": [("severity", "singlevaluelist", False, 2)],
        "illegal_dumping": [("waste_type", "multivaluelist", False, 3)],
        "waste": [("waste_type", "multivaluelist", False, 3)],
        "official_misconduct": [("official_institution", "string", False, 5)],
        "other": [],
        "damaged_sidewalks": [("severity", "singlevaluelist", False, 2)],
        "road_signs": [("severity", "singlevaluelist", False, 2)],
        "roads_potholes": [("severity", "singlevaluelist", False, 2)],
        "illegal_construction": [("date_noticed", "datetime", False, 6)],
        "public_lighting": [
            ("severity", "singlevaluelist", False, 2),
            ("lights_out_count", "number", False, 4),
        ],
        "water_sewage": [
            ("water_issue", "singlevaluelist", True, 1),
            ("severity", "singlevaluelist", False, 2),
        ],
    }
    assert by_code["public_lighting"]["attributes"][1]["values"] == []


@pytest.mark.parametrize(
    ("query", "headers", "locale"),
    [
        ("", {}, "en"),
        ("?lang=sq", {}, "sq"),
        ("?lang=sr", {}, "sr"),
        ("", {"Accept-Language": "sq-AL,sq;q=0.9"}, "sq"),
        ("", {"Accept-Language": "sr;q=0.8, en;q=0.5"}, "sr"),
        ("?lang=en", {"Accept-Language": "sq-AL,sq;q=0.9"}, "en"),
        ("?lang=de", {}, "en"),
        ("", {"Accept-Language": "de"}, "en"),
    ],
)
def test_names_are_localised(client, query, headers, locale):
    r = client.get(f"/v1/categories{query}", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Language"] == locale
    commenting = next(c for c in r.json if c["code"] == "commenting")
    assert commenting["name"] == COMMENTING[locale]
    assert commenting["group"]["name"] == HARASSMENT[locale]
    assert commenting["attributes"][0]["description"] == GENDER_PROMPT[locale]
    assert [v["name"] for v in commenting["attributes"][0]["values"]] == GENDER_VALUES[locale]


def test_harassment_group_has_12_sensitive_categories(client):
    r = client.get("/v1/categories?group=harassment")
    assert r.status_code == 200
    assert codes(r) == HARASSMENT_CODES
    assert len(r.json) == 12
    assert {c["sensitive"] for c in r.json} == {True}
    assert {c["group"]["code"] for c in r.json} == {"harassment"}


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("roads", ["damaged_sidewalks", "road_signs", "roads_potholes"]),
        ("governance", ["official_misconduct"]),
        ("utilities", ["public_lighting", "water_sewage"]),
        ("no_such_group", []),
    ],
)
def test_filter_by_group(client, group, expected):
    r = client.get(f"/v1/categories?group={group}")
    assert r.status_code == 200
    assert codes(r) == expected


def test_only_official_misconduct_is_sensitive_outside_harassment(client):
    r = client.get("/v1/categories")
    sensitive = [c["code"] for c in r.json if c["sensitive"]]
    assert sensitive == ["official_misconduct", *HARASSMENT_CODES]


@pytest.mark.parametrize(
    ("code", "lang", "name"),
    [
        ("water_sewage", "en", "Water and sewage"),
        ("water_sewage", "sr", "Vodovod i kanalizacija"),
        ("waste", "sq", "Mbeturinat"),
    ],
)
def test_get_by_code(client, code, lang, name):
    r = client.get(f"/v1/categories/{code}?lang={lang}")
    assert r.status_code == 200
    assert r.json["code"] == code
    assert r.json["name"] == name


def test_unknown_code_is_404(client):
    r = client.get("/v1/categories/potholes")
    assert r.status_code == 404
    assert r.json == {
        "code": 404,
        "status": "Not Found",
        "message": "No active category has the code 'potholes'.",
    }


# --------------------------------------------------------------------------- inactive categories


def deactivate(code: str) -> None:
    category = session.scalars(select(Category).where(Category.code == code)).one()
    category.active = False
    session.commit()  # a savepoint, rolled back with the test


@pytest.mark.parametrize("code", ["commenting", "water_sewage"])
def test_inactive_category_disappears(client, submit, code):
    deactivate(code)
    listed = client.get("/v1/categories")
    assert len(listed.json) == 22
    assert codes(listed) == [c for c in ALL_CODES if c != code]

    r = client.get(f"/v1/categories/{code}")
    assert r.status_code == 404
    assert r.json["message"] == f"No active category has the code {code!r}."

    r = submit(category=code, attributes={})
    assert r.status_code == 422
    assert r.json["errors"] == {
        "json": {"category": [f"No active category has the code {code!r}."]}
    }


def test_inactive_category_disappears_from_its_group(client):
    deactivate("touching")
    r = client.get("/v1/categories?group=harassment")
    assert len(r.json) == 11
    assert "touching" not in codes(r)


def test_other_categories_still_accept_reports_after_deactivation(submit):
    deactivate("touching")
    r = submit(category="commenting")
    assert r.status_code == 201, r.json


# --------------------------------------------------------------------------- answers through the API


def test_required_answer_missing_in_a_report(submit):
    r = submit(category="water_sewage", attributes={"severity": "high"})
    assert r.status_code == 422
    assert r.json == {
        "code": 422,
        "status": "Unprocessable Entity",
        "message": "Some attribute answers are invalid.",
        "errors": {"json": {"attributes": {"water_issue": ["An answer is required."]}}},
    }


def test_valid_answers_are_accepted_in_a_report(submit):
    r = submit(
        category="public_lighting",
        attributes={"severity": "dangerous", "lights_out_count": 4},
    )
    assert r.status_code == 201, r.json


def test_unknown_attribute_in_a_report(submit):
    r = submit(category="commenting", attributes={"perpetrator_gender": "alien"})
    assert r.status_code == 422
    assert r.json["errors"] == {
        "json": {
            "attributes": {"perpetrator_gender": ["Must be one of: male, female, group, unknown."]}
        }
    }


# --------------------------------------------------------------------------- validate_answers


def attribute(code, datatype, required=False, keys=()) -> CategoryAttribute:
    """A transient attribute definition (never persisted)."""
    return CategoryAttribute(
        code=code,
        datatype=datatype,
        required=required,
        order=1,
        description={"sq": code, "sr": code, "en": code},
        values=[{"key": k, "name": {"sq": k, "sr": k, "en": k.title()}} for k in keys],
    )


DEFINITIONS = {
    "string": attribute("institution", "string"),
    "text": attribute("notes", "text"),
    "number": attribute("count", "number"),
    "datetime": attribute("noticed", "datetime"),
    "singlevaluelist": attribute(
        "gender", "singlevaluelist", keys=["male", "female", "group", "unknown"]
    ),
    "multivaluelist": attribute(
        "waste", "multivaluelist", keys=["household", "construction", "bulky"]
    ),
}
GENDER_ERROR = "Must be one of: male, female, group, unknown."


@pytest.mark.parametrize(
    ("datatype", "value", "clean"),
    [
        ("string", "Ministry of Health", "Ministry of Health"),
        ("string", "  padded\t\n", "padded"),
        ("string", "a" * 255, "a" * 255),
        ("string", "  " + "a" * 255 + "  ", "a" * 255),
        ("string", "Prishtinë – Gračanica – Грачаница", "Prishtinë – Gračanica – Грачаница"),
        ("text", "line one\nline two\r\n\tindented", "line one\nline two\r\n\tindented"),
        ("text", "b" * 4000, "b" * 4000),
        ("number", 3, 3),
        ("number", 0, 0),
        ("number", -2.5, -2.5),
        ("number", 1e300, 1e300),
        ("datetime", "2026-05-01T18:30:00+02:00", "2026-05-01T16:30:00+00:00"),
        ("datetime", "2026-05-01T18:30:00Z", "2026-05-01T18:30:00+00:00"),
        ("datetime", "2026-05-01T23:30:00.25-05:30", "2026-05-02T05:00:00.250000+00:00"),
        ("datetime", "2026-05-01T18:30:00+00:00", "2026-05-01T18:30:00+00:00"),
        ("singlevaluelist", "group", "group"),
        ("singlevaluelist", "unknown", "unknown"),
        ("multivaluelist", ["bulky", "household"], ["bulky", "household"]),
        ("multivaluelist", ["construction"], ["construction"]),
    ],
)
def test_valid_answer_is_cleaned(datatype, value, clean):
    definition = DEFINITIONS[datatype]
    assert validate_answers([definition], {definition.code: value}) == (
        {definition.code: clean},
        {},
    )


@pytest.mark.parametrize(
    ("datatype", "value", "message"),
    [
        ("string", "a" * 256, "Must be at most 255 characters long."),
        ("string", 42, "Must be text."),
        ("string", ["a"], "Must be text."),
        ("string", "nul\x00byte", "Must not contain control characters."),
        ("string", "bell\x07", "Must not contain control characters."),
        ("string", "esc\x1b[31mred", "Must not contain control characters."),
        ("string", "del\x7fete", "Must not contain control characters."),
        ("string", "unit\x1fseparator", "Must not contain control characters."),
        ("text", "b" * 4001, "Must be at most 4000 characters long."),
        ("text", "form\x0cfeed inside", "Must not contain control characters."),
        ("text", {"nested": "object"}, "Must be text."),
        ("number", True, "Must be a number."),
        ("number", False, "Must be a number."),
        ("number", "5", "Must be a number."),
        ("number", [5], "Must be a number."),
        ("number", math.nan, "Must be a finite number."),
        ("number", math.inf, "Must be a finite number."),
        ("number", -math.inf, "Must be a finite number."),
        (
            "datetime",
            "2026-05-01T18:30:00",
            "Must include a UTC offset, e.g. 2026-05-01T18:30:00+02:00.",
        ),
        ("datetime", "2026-05-01", "Must include a UTC offset, e.g. 2026-05-01T18:30:00+02:00."),
        ("datetime", "yesterday", "Must be an ISO 8601 date-time string."),
        ("datetime", "2026-13-01T10:00:00+01:00", "Must be an ISO 8601 date-time string."),
        ("datetime", 1777660200, "Must be an ISO 8601 date-time string."),
        ("singlevaluelist", "Male", GENDER_ERROR),
        ("singlevaluelist", "alien", GENDER_ERROR),
        ("singlevaluelist", ["male"], GENDER_ERROR),
        ("singlevaluelist", 1, GENDER_ERROR),
        ("multivaluelist", "household", "Must be a list of keys."),
        ("multivaluelist", {"household": True}, "Must be a list of keys."),
        ("multivaluelist", ["household", 3], "Must be a list of keys."),
        (
            "multivaluelist",
            ["household", "tyres", "oil"],
            "Unknown keys ['tyres', 'oil']; allowed: household, construction, bulky.",
        ),
        ("multivaluelist", ["household", "bulky", "household"], "Must not repeat a key."),
    ],
)
def test_invalid_answer_is_refused(datatype, value, message):
    definition = DEFINITIONS[datatype]
    assert validate_answers([definition], {definition.code: value}) == (
        {},
        {definition.code: [message]},
    )


@pytest.mark.parametrize("datatype", sorted(DEFINITIONS))
@pytest.mark.parametrize("answers", [{}, {"x": None}, {"x": ""}, {"x": []}], ids=repr)
def test_required_answer_missing(datatype, answers):
    definition = attribute("x", datatype, required=True, keys=["a", "b"])
    assert validate_answers([definition], answers) == ({}, {"x": ["An answer is required."]})


@pytest.mark.parametrize("datatype", sorted(DEFINITIONS))
@pytest.mark.parametrize("answers", [{}, {"x": None}, {"x": ""}, {"x": []}], ids=repr)
def test_optional_answer_missing_is_left_out(datatype, answers):
    definition = attribute("x", datatype, required=False, keys=["a", "b"])
    assert validate_answers([definition], answers) == ({}, {})


def test_unknown_attribute_code():
    definitions = [DEFINITIONS["singlevaluelist"]]
    assert validate_answers(definitions, {"gender": "female", "colour": "red"}) == (
        {"gender": "female"},
        {"colour": ["This category has no such attribute."]},
    )


def test_no_definitions_refuse_every_answer():
    assert validate_answers([], {"a": 1, "b": None}) == (
        {},
        {
            "a": ["This category has no such attribute."],
            "b": ["This category has no such attribute."],
        },
    )


def test_several_answers_at_once():
    definitions = [
        attribute("water_issue", "singlevaluelist", required=True, keys=["leak", "no_water"]),
        DEFINITIONS["number"],
        DEFINITIONS["datetime"],
        DEFINITIONS["multivaluelist"],
        DEFINITIONS["string"],
    ]
    clean, errors = validate_answers(
        definitions,
        {
            "count": 7,
            "noticed": "2026-01-31T23:59:59-01:00",
            "waste": ["bulky", "bulky"],
            "institution": "  Komuna  ",
            "bogus": "?",
        },
    )
    assert clean == {
        "count": 7,
        "noticed": "2026-02-01T00:59:59+00:00",
        "institution": "Komuna",
    }
    assert errors == {
        "bogus": ["This category has no such attribute."],
        "water_issue": ["An answer is required."],
        "waste": ["Must not repeat a key."],
    }


def test_number_too_large_for_a_float_is_refused():
    definition = DEFINITIONS["number"]
    assert validate_answers([definition], {"count": 10**400}) == (
        {},
        {"count": ["Must be a finite number."]},
    )


def test_blank_answer_to_required_text_is_missing():
    definition = attribute("notes", "text", required=True)
    assert validate_answers([definition], {"notes": "   \n\t "}) == (
        {},
        {"notes": ["An answer is required."]},
    )


@pytest.mark.parametrize("path", ["/v1/categories/a%00b", "/v1/categories/UPPER"])
def test_junk_category_codes_are_404(client, path):
    assert client.get(path).status_code == 404


def test_junk_group_filter_is_422(client):
    r = client.get("/v1/categories?group=a%00b")
    assert r.status_code == 422
    assert r.json["errors"] == {
        "query": {"group": ["Must be plain text without control characters."]}
    }


def test_nul_in_category_of_a_report_is_422(client):
    r = client.post(
        "/v1/reports",
        json={"category": "a\u0000", "location": {"lat": 42.6629, "lon": 21.1655}},
    )
    assert r.status_code == 422
    assert r.json["errors"]["json"]["category"] == [
        "Must not contain NUL or unpaired surrogate characters."
    ]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_datetime_answer_out_of_range_is_refused(value):
    from civic_api.categories.models import CategoryAttribute
    from civic_api.categories.service import validate_answers

    attribute = CategoryAttribute(code="when", datatype="datetime", required=False, values=[])
    assert validate_answers([attribute], {"when": value}) == (
        {},
        {"when": ["Must be a date-time between the years 1 and 9999."]},
    )
