"""The OGC API's own definition: the /ogc operations of the API's OpenAPI document, with
paths relative to the landing page (servers: /ogc), as OGC API – Features clients and
OGC's test suite discover them (abstract test A.4.3)."""

import copy
import re

PREFIX = "/ogc"


def _refs(node) -> set[str]:
    """Every "#/components/..." reference inside a JSON value."""
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_refs(v) for v in node))
    return set()


def _components(spec: dict, roots) -> dict:
    """The components that `roots` reference, directly or through other components."""
    wanted: dict = {}
    pending = _refs(roots)
    while pending:
        ref = pending.pop()
        match = re.fullmatch(r"#/components/([^/]+)/([^/]+)", ref)
        if not match:
            continue
        kind, name = match.groups()
        if name in wanted.get(kind, {}):
            continue
        target = spec.get("components", {}).get(kind, {}).get(name)
        if target is None:
            continue
        wanted.setdefault(kind, {})[name] = target
        pending |= _refs(target)
    return wanted


def ogc_definition(spec: dict, title: str, description: str, max_limit: int) -> dict:
    """The OGC operations of `spec` (an OpenAPI 3.0 document as a dict) as a document of
    their own, whose paths start at the landing page: /ogc is "/", /ogc/conformance is
    "/conformance".

    `limit` gets the `maximum` of OGC's own definition of the parameter: there it is the
    most a page holds (larger values are served as the maximum, /req/core/fc-limit-response-1),
    and OGC clients and the test suite read it so. The whole API's document leaves it out,
    as JSON Schema would make a larger value invalid, which it is not."""
    paths = {}
    for path, item in spec["paths"].items():
        if path == PREFIX or path.startswith(PREFIX + "/"):
            paths[path[len(PREFIX) :] or "/"] = copy.deepcopy(item)
    for item in paths.values():
        for parameter in item.get("get", {}).get("parameters", []):
            if parameter["name"] == "limit" and parameter["in"] == "query":
                parameter["schema"]["maximum"] = max_limit
    tags = [t for t in spec.get("tags", []) if t["name"] == "ogc"]
    document = {
        "openapi": spec["openapi"],
        "info": {**spec["info"], "title": title, "description": description},
        "servers": [{"url": PREFIX, "description": "This OGC API – Features service"}],
        "tags": tags,
        "paths": paths,
    }
    components = _components(spec, paths)
    if components:
        document["components"] = components
    return document
