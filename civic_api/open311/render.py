"""GeoReport v2 documents as XML (with the spec's root and item elements) or bare JSON."""

import json
from xml.etree import ElementTree as ET

from flask import Response

MEDIA_TYPES = {"xml": "text/xml", "json": "application/json"}
# The element of each item of a list-valued member.
ITEM_ELEMENTS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
}


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for key, member in value.items():
            if member is not None:
                _fill(ET.SubElement(element, key), member)
    elif isinstance(value, list):
        item = ITEM_ELEMENTS[element.tag]
        for member in value:
            _fill(ET.SubElement(element, item), member)
    else:
        element.text = _text(value)


def to_xml(root: str, item: str | None, data) -> bytes:
    """`data` (a list of items, or one document when `item` is None) under `root`."""
    element = ET.Element(root)
    if item is None:
        _fill(element, data)
    else:
        for member in data:
            _fill(ET.SubElement(element, item), member)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(element, encoding="utf-8")


def to_json(data) -> bytes:
    """Bare arrays and objects; members without a value are left out, as in the XML."""

    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return json.dumps(clean(data), ensure_ascii=False).encode()


def respond(fmt: str, root: str, item: str | None, data, status: int = 200) -> Response:
    body = to_xml(root, item, data) if fmt == "xml" else to_json(data)
    return Response(body, status=status, content_type=f"{MEDIA_TYPES[fmt]}; charset=utf-8")


def errors(fmt: str, status: int, descriptions: list[str], headers=None) -> Response:
    """The spec's error list: one {code, description} per problem, code being the status."""
    data = [{"code": status, "description": d} for d in descriptions]
    response = respond(fmt, "errors", "error", data, status)
    response.headers.update(headers or {})
    return response
