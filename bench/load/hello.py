"""The peer for the load benchmark: the smallest WSGI app, under the same gunicorn config."""

BODY = b'{"ok": true}'


def app(environ, start_response):
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]
    start_response("200 OK", headers)
    return [BODY]
