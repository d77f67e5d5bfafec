# One image for the API (gunicorn), the notification worker, retention and migrations.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
# Dependencies first: the layer is rebuilt only when the pins change.
COPY pyproject.toml requirements.lock README.md ./
COPY civic_api civic_api
COPY geo geo
COPY notifications notifications
COPY migrations migrations
COPY alembic.ini wsgi.py gunicorn.conf.py ./
# Editable, so that `flask db upgrade` finds alembic.ini and migrations/ in /app.
RUN pip install -c requirements.lock -e . \
    && useradd --system --uid 10001 --home-dir /app civic \
    && mkdir -p /app/instance /var/lib/civic/photos /var/lib/civic/metrics \
    && chown -R civic /app/instance /var/lib/civic
USER civic

ENV FLASK_APP=wsgi \
    CIVIC_BIND=0.0.0.0:8000 \
    CIVIC_PHOTO_DIRECTORY=/var/lib/civic/photos \
    PROMETHEUS_MULTIPROC_DIR=/var/lib/civic/metrics
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"]
