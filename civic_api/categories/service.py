"""Category look-ups, profile seeding and validation of citizens' attribute answers."""

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import select

from civic_api.audit import service as audit
from civic_api.cache import VersionedCache
from civic_api.categories.models import (
    CODE_FORMAT,
    Category,
    CategoryAttribute,
    CategoryGroup,
    CategoryVersion,
)
from civic_api.database import session
from civic_api.errors import Conflict, NotFound
from civic_api.models import TEXT_MAX

STRING_MAX = 255
# NUL cannot be stored by PostgreSQL; other control characters have no place in plain text.
FORBIDDEN_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def list_categories(group: str | None = None) -> list[Category]:
    """Active categories, ordered by group then code."""
    query = (
        select(Category)
        .join(Category.group)
        .where(Category.active)
        .order_by(CategoryGroup.code, Category.code)
    )
    if group is not None:
        if not re.fullmatch(CODE_FORMAT, group):
            return []
        query = query.where(CategoryGroup.code == group)
    return list(session.scalars(query))


def get_category(code: str, active_only: bool = True) -> Category | None:
    if not re.fullmatch(CODE_FORMAT, code):
        return None  # also keeps NUL and other junk away from the database
    query = select(Category).where(Category.code == code)
    if active_only:
        query = query.where(Category.active)
    return session.scalars(query).first()


class CatalogueEntry(NamedTuple):
    """Every category, active or not, as the aggregates need it."""

    id: int
    code: str
    group_id: int
    group_code: str
    sensitive: bool


def load_catalogue() -> tuple[CatalogueEntry, ...]:
    rows = session.execute(
        select(Category.id, Category.code, CategoryGroup.id, CategoryGroup.code, Category.sensitive)
        .join(CategoryGroup)
        .order_by(Category.id)
    ).all()
    return tuple(CatalogueEntry(*row) for row in rows)


@dataclass(frozen=True)
class AttributeDefinition:
    code: str
    datatype: str
    required: bool
    values: list


@dataclass(frozen=True)
class ActiveCategory:
    """What report submission needs of an active category, detached from any session."""

    id: int
    code: str
    response_target_hours: int | None
    attributes: tuple[AttributeDefinition, ...]


class CategoryCache(VersionedCache):
    """Categories held in the process (civic_api.cache): the active ones for report
    submission, the whole catalogue for the aggregates."""

    version_query = select(CategoryVersion.version)

    def __init__(self, max_age: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(max_age, clock)
        self._by_code: dict[str, ActiveCategory] = {}
        self._catalogue: tuple[CatalogueEntry, ...] = ()

    def get(self, code: str) -> ActiveCategory | None:
        """The active category with this code, or None."""
        if not re.fullmatch(CODE_FORMAT, code):
            return None
        self._fresh()
        return self._by_code.get(code)

    def catalogue(self) -> tuple[CatalogueEntry, ...]:
        """Every category, by id."""
        self._fresh()
        return self._catalogue

    def _load(self) -> None:
        self._by_code = {c.code: _detached(c) for c in list_categories()}
        self._catalogue = load_catalogue()


def _detached(category: Category) -> ActiveCategory:
    return ActiveCategory(
        id=category.id,
        code=category.code,
        response_target_hours=category.response_target_hours,
        attributes=tuple(
            AttributeDefinition(a.code, a.datatype, a.required, a.values)
            for a in category.attributes
        ),
    )


def validate_answers(
    definitions: "list[CategoryAttribute] | tuple[AttributeDefinition, ...]",
    answers: dict[str, Any],
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check answers against a category's Open311 attribute definitions.

    Returns (clean answers, errors by attribute code). Unanswered optional attributes are
    left out; datetimes are normalised to UTC ISO 8601.
    """
    by_code = {d.code: d for d in definitions}
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for code in answers:
        if code not in by_code:
            errors[code] = ["This category has no such attribute."]
    for definition in definitions:
        value = answers.get(definition.code)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "" or value == []:
            if definition.required:
                errors[definition.code] = ["An answer is required."]
            continue
        try:
            clean[definition.code] = _check(definition, value)
        except ValueError as exc:
            errors[definition.code] = [str(exc)]
    return clean, errors


def _check(definition: "CategoryAttribute | AttributeDefinition", value: Any) -> Any:
    keys = [v["key"] for v in definition.values]
    match definition.datatype:
        case "string" | "text":
            limit = STRING_MAX if definition.datatype == "string" else TEXT_MAX
            if not isinstance(value, str):
                raise ValueError("Must be text.")
            if FORBIDDEN_CHARACTERS.search(value):
                raise ValueError("Must not contain control characters.")
            if len(value) > limit:
                raise ValueError(f"Must be at most {limit} characters long.")
            return value
        case "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError("Must be a number.")
            try:
                finite = math.isfinite(value)
            except OverflowError:  # an integer too large for a float
                finite = False
            if not finite:
                raise ValueError("Must be a finite number.")
            return value
        case "datetime":
            if not isinstance(value, str):
                raise ValueError("Must be an ISO 8601 date-time string.")
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError("Must be an ISO 8601 date-time string.") from None
            if parsed.tzinfo is None:
                raise ValueError("Must include a UTC offset, e.g. 2026-05-01T18:30:00+02:00.")
            try:
                return parsed.astimezone(UTC).isoformat()
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00
                raise ValueError("Must be a date-time between the years 1 and 9999.") from None
        case "singlevaluelist":
            if not isinstance(value, str) or value not in keys:
                raise ValueError(f"Must be one of: {', '.join(keys)}.")
            return value
        case "multivaluelist":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("Must be a list of keys.")
            unknown = [v for v in value if v not in keys]
            if unknown:
                raise ValueError(f"Unknown keys {unknown}; allowed: {', '.join(keys)}.")
            if len(set(value)) != len(value):
                raise ValueError("Must not repeat a key.")
            return value
    raise ValueError(f"Unsupported datatype {definition.datatype}.")


def seed_profile(profile: dict) -> list[str]:
    """Add a deployment profile's groups, categories and attributes that are missing;
    return its category codes. What exists is left as it is: seeding runs on every start
    (`flask seed demo`) and must never undo what an admin changed (a category marked
    sensitive, switched off or given another response target)."""
    groups = {}
    for spec in profile["groups"]:
        group = session.scalars(select(CategoryGroup).filter_by(code=spec["code"])).first()
        if group is None:
            group = CategoryGroup(code=spec["code"], name=spec["name"])
            session.add(group)
        groups[spec["code"]] = group
    codes = []
    for spec in profile["categories"]:
        category = get_category(spec["code"], active_only=False)
        if category is None:
            category = Category(
                code=spec["code"],
                group=groups[spec["group"]],
                name=spec["name"],
                description=spec["description"],
                keywords=spec["keywords"],
                sensitive=spec["sensitive"],
                response_target_hours=spec["response_target_hours"],
                active=True,
            )
            session.add(category)
        present = {a.code for a in category.attributes}
        for code in spec["attributes"]:
            if code not in present:
                definition = profile["attributes"][code]
                category.attributes.append(_attribute(CategoryAttribute(code=code), definition))
        codes.append(spec["code"])
    session.flush()
    return codes


def _attribute(attribute: CategoryAttribute, definition: dict) -> CategoryAttribute:
    attribute.datatype = definition["datatype"]
    attribute.required = definition["required"]
    attribute.order = definition["order"]
    attribute.description = definition["description"]
    attribute.values = definition["values"]
    return attribute


def category_snapshot(category: Category) -> dict:
    return {
        "active": category.active,
        "sensitive": category.sensitive,
        "response_target_hours": category.response_target_hours,
    }


def update_category(actor_id: int, code: str, changes: dict) -> Category:
    """Admins switch categories on and off, set response targets, or mark them sensitive."""
    category = get_category(code, active_only=False)
    if category is None:
        raise NotFound(f"No category has the code {code!r}.")
    if changes.get("sensitive") is False and category.sensitive:
        # Its reports were accepted on the promise of never being published as points.
        raise Conflict("A sensitive category cannot be made non-sensitive.")
    before = category_snapshot(category)
    for key, value in changes.items():
        setattr(category, key, value)
    session.flush()
    audit.record(
        actor_id,
        "category.update",
        "category",
        code,
        before=before,
        after=category_snapshot(category),
    )
    return category
