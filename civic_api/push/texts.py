"""What report notifications say, in sq, sr (Latin) and en.

They never include the report's category, description or the response text: a lock
screen is public, and a harassment report's category alone can out the reporter. The app
opens the report (with its follow-up token) to show the details.
"""

from civic_api.i18n import translate

REPORT_TITLE = {
    "sq": "Përditësim për raportin tuaj",
    "sr": "Novosti o vašoj prijavi",
    "en": "Update on your report",
}
STATUS_BODY = {
    "sq": "Statusi tani është: {status}.",
    "sr": "Status je sada: {status}.",
    "en": "Its status is now: {status}.",
}
RESPONSE_BODY = {
    "sq": "Komuna iu përgjigj raportit tuaj. Hapeni aplikacionin për ta lexuar.",
    "sr": "Opština je odgovorila na vašu prijavu. Otvorite aplikaciju da pročitate odgovor.",
    "en": "Your municipality has responded to your report. Open the app to read it.",
}
FEEDBACK_TITLE = {
    "sq": "Si shkoi?",
    "sr": "Kako je prošlo?",
    "en": "How did it go?",
}
FEEDBACK_BODY = {
    "sq": "Raporti juaj u mbyll. A u rregullua problemi? Na tregoni në aplikacion.",
    "sr": "Vaša prijava je zatvorena. Da li je problem rešen? Recite nam u aplikaciji.",
    "en": "Your report was closed. Was the problem fixed? Tell us in the app.",
}
STATUS_NAMES = {
    "submitted": {"sq": "Dërguar", "sr": "Poslata", "en": "Submitted"},
    "acknowledged": {"sq": "Pranuar", "sr": "Primljena", "en": "Acknowledged"},
    "in_progress": {"sq": "Në proces", "sr": "U obradi", "en": "In progress"},
    "resolved": {"sq": "Zgjidhur", "sr": "Rešena", "en": "Resolved"},
    "rejected": {"sq": "Refuzuar", "sr": "Odbijena", "en": "Rejected"},
    "duplicate": {"sq": "Dublikatë", "sr": "Duplikat", "en": "Duplicate"},
    "reopened": {"sq": "Rihapur", "sr": "Ponovo otvorena", "en": "Reopened"},
}


def report_status(locale: str, payload: dict) -> tuple[str, str]:
    """(title, body) telling the reporter their report's new status."""
    status = str(payload.get("status") or "")
    name = translate(STATUS_NAMES[status], locale) if status in STATUS_NAMES else status
    return translate(REPORT_TITLE, locale), translate(STATUS_BODY, locale).format(status=name)


def report_response(locale: str, payload: dict) -> tuple[str, str]:
    """(title, body) telling the reporter the municipality responded publicly."""
    return translate(REPORT_TITLE, locale), translate(RESPONSE_BODY, locale)


def feedback_request(locale: str, payload: dict) -> tuple[str, str]:
    """(title, body) asking the reporter of a closed report for feedback."""
    return translate(FEEDBACK_TITLE, locale), translate(FEEDBACK_BODY, locale)
