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
            lang = _from_accept_language()
        g.locale = lang
    return g.locale


# Speakers of the closely related BCMS languages read Serbian (Latin) more easily than English.
RELATED = {"bs": "sr", "hr": "sr", "sh": "sr", "cnr": "sr"}


def _from_accept_language() -> str:
    # Match on the primary subtag, in the client's order of preference (sr-Latn-RS → sr).
    for value, quality in request.accept_languages:
        primary = value.replace("_", "-").split("-")[0].lower()
        primary = RELATED.get(primary, primary)
        if quality > 0 and primary in LOCALES:
            return primary
    return DEFAULT_LOCALE


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


def localise(value, locale: str | None = None):
    """An error message (or a nest of field messages) in the request's language.

    Messages are written in English in the code; `civic_api.messages` holds their Albanian
    and Serbian texts, with `{}` for the parts that vary (slugs, codes, numbers).
    """
    from civic_api.messages import translate_message

    locale = locale or current_locale()
    if locale == DEFAULT_LOCALE:
        return value
    if isinstance(value, str):
        return translate_message(value, locale)
    if isinstance(value, dict):
        return {key: localise(item, locale) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [localise(item, locale) for item in value]
    return value
