"""Gunicorn access logging that cannot tie a client to a report."""

import re

from gunicorn.glogging import Logger

UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class RedactingLogger(Logger):
    """Replaces ids in logged paths with {id}: reading a report must not be linkable to it."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = UUID.sub("{id}", atoms["U"])
        atoms["r"] = UUID.sub("{id}", atoms["r"])
        return atoms
