"""WSGI entry point: `gunicorn wsgi:app`."""

from civic_api import create_app

app = create_app()
