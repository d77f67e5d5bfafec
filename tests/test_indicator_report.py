"""The quarterly M&E report: HTML and PDF in three languages, read back with pypdf."""

import io

import pytest
from pypdf import PdfReader
from test_indicators import fixture  # noqa: F401  (the hand-computed Q3 2026 reports)

NAMES = {"sq": "Prishtinë", "sr": "Priština", "en": "Prishtina"}
TITLES = {
    "sq": "Raporti tremujor i treguesve të ndikimit",
    "sr": "Tromesečni izveštaj o pokazateljima uticaja",
    "en": "Quarterly impact indicators report",
}


@pytest.mark.parametrize("lang", ["sq", "sr", "en"])
def test_the_pdf_names_the_municipality_and_the_period(fixture, client, lang):  # noqa: F811
    response = client.get(
        f"/v1/indicators/report?period=2026-Q3&municipality=prishtina&lang={lang}&format=pdf"
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(response.data))
    text = " ".join(page.extract_text() for page in reader.pages)
    assert NAMES[lang] in text
    assert "2026-Q3" in text and "2026-07-01" in text and "2026-09-30" in text
    assert TITLES[lang] in " ".join(text.split())
    # Charts are images drawn by matplotlib, embedded in the PDF.
    assert sum(len(page.images) for page in reader.pages) >= 3


def test_the_html_report_holds_the_figures_and_the_league(fixture, client):  # noqa: F811
    response = client.get("/v1/indicators/report?period=2026-Q3&municipality=prishtina&lang=en")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "<h1>Quarterly impact indicators report</h1>" in html
    assert "National league table of municipalities" in html
    # Hours to acknowledgement: Drenas 3.0 ranks first, Prishtina 10.0 second.
    assert html.index("Drenas") < html.index('class="me"')
    assert "<td>10.0</td>" in html
    assert html.count('src="data:image/png;base64,') == 3
    assert "Public figures" in html


def test_the_albanian_report_formats_numbers_locally(fixture, client):  # noqa: F811
    html = client.get(
        "/v1/indicators/report?period=2026-Q3&municipality=prishtina&lang=sq"
    ).get_data(as_text=True)
    assert "<td>40,0 %</td>" in html  # resolution rate 0.4
    assert "Tabela kombëtare e komunave" in html


def test_staff_get_their_exact_report(fixture, staff_client):  # noqa: F811
    staff = staff_client("staff", ["prishtina"])
    html = staff.get(
        "/v1/indicators/report?period=2026-Q3&municipality=prishtina&lang=en"
    ).get_data(as_text=True)
    assert "Exact figures for your municipality" in html


@pytest.mark.parametrize(
    "query, status",
    [
        ("period=2026-Q3", 422),
        ("municipality=prishtina", 422),
        ("period=2026-Q3&municipality=prishtina&lang=de", 422),
        ("period=2026-Q3&municipality=atlantis", 404),
        ("period=2026-Q9&municipality=prishtina", 422),
    ],
)
def test_bad_report_requests(client, query, status):
    response = client.get(f"/v1/indicators/report?{query}")
    assert response.status_code == status
    assert response.json["code"] == status
