"""Language negotiation (sq, sr, en) from ?lang= or Accept-Language, falling back to English."""

from flask import g, has_request_context, request

from civic_api.models import DEFAULT_LOCALE, LOCALES


def current_locale() -> str:
    """The request's language: ?lang= if supported, else the best Accept-Language match, else en."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if "locale" not in g:
        lang = request.args.get("lang", "").lower()
        if lang not in LOCALES:
            lang = request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE
        g.locale = lang
    return g.locale


def translate(translations: dict, locale: str | None = None) -> str:
    """Pick a translation, falling back to English, then to any language present."""
    locale = locale or current_locale()
    return (
        translations.get(locale)
        or translations.get(DEFAULT_LOCALE)
        or next(iter(translations.values()), "")
    )


def init_app(app) -> None:
    @app.after_request
    def content_language(response):
        if "locale" in g:
            response.headers["Content-Language"] = g.locale
            response.vary.add("Accept-Language")
        return response
