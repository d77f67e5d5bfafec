"""Staff accounts: passwords, sign-in with throttling, tokens, and management within a scope."""

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from civic_api.audit import service as audit
from civic_api.database import session
from civic_api.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from civic_api.municipalities.models import Municipality
from civic_api.staff.models import ROLES, StaffAccount, StaffToken

SCOPES = (
    "reports:read",
    "reports:write",
    "announcements:write",
    "staff:write",
    "audit:read",
    "catalog:write",
    "analytics:read",
)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "manager": frozenset(
        {
            "reports:read",
            "reports:write",
            "announcements:write",
            "staff:write",
            "audit:read",
            "analytics:read",
        }
    ),
    "staff": frozenset({"reports:read", "reports:write"}),
    "researcher": frozenset({"analytics:read"}),
}
# Roles tied to municipalities; admins and researchers are national.
MUNICIPAL_ROLES = ("manager", "staff")
TOKEN_PREFIX = {"access": "cva_", "refresh": "cvr_", "personal": "cvp_"}
BAD_CREDENTIALS = "The email or password is wrong."


@dataclass(frozen=True)
class AuthPolicy:
    """Sign-in settings, built from the app configuration (services never read it themselves)."""

    secret: bytes
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=14)
    personal_token_max_days: int = 365
    password_min_length: int = 12
    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    @classmethod
    def from_config(cls, config) -> "AuthPolicy":
        return cls(
            secret=config["SECRET_KEY"].encode(),
            access_ttl=timedelta(minutes=config["ACCESS_TOKEN_MINUTES"]),
            refresh_ttl=timedelta(days=config["REFRESH_TOKEN_DAYS"]),
            personal_token_max_days=config["PERSONAL_TOKEN_MAX_DAYS"],
            password_min_length=config["PASSWORD_MIN_LENGTH"],
            hasher=PasswordHasher(
                time_cost=config["PASSWORD_HASH_TIME_COST"],
                memory_cost=config["PASSWORD_HASH_MEMORY_KIB"],
            ),
        )

    @cached_property
    def decoy_hash(self) -> str:
        """Verified for unknown emails, so they take as long as wrong passwords."""
        return self.hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class Principal:
    """Who is calling: the account, its role and reach, and what the token may do."""

    staff_id: int
    role: str
    # None: every municipality (admins).
    municipality_ids: frozenset[int] | None
    scopes: frozenset[str]
    token_id: int
    session_id: uuid.UUID | None

    def can_see(self, municipality_id: int) -> bool:
        return self.municipality_ids is None or municipality_id in self.municipality_ids


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int


def normalise_email(email: str) -> str:
    return email.strip().lower()


def token_hash(token: str) -> bytes:
    # Tokens carry 256 random bits, so a fast hash is safe.
    return hashlib.sha256(token.encode()).digest()


def password_problems(policy: AuthPolicy, password: str, email: str) -> list[str]:
    problems = []
    if len(password) < policy.password_min_length:
        problems.append(f"Must be at least {policy.password_min_length} characters long.")
    if len(password) > 1024:
        problems.append("Must be at most 1024 characters long.")
    local = email.split("@")[0]
    if len(local) >= 4 and local in password.lower():
        problems.append("Must not contain the email address.")
    if len(set(password)) < 5:
        problems.append("Must not repeat so few characters.")
    return problems


def _check_password(policy: AuthPolicy, password: str, email: str, field: str) -> None:
    problems = password_problems(policy, password, email)
    if problems:
        raise InvalidInput("The password is too weak.", {"json": {field: problems}})


def _verify(policy: AuthPolicy, password_hash: str, password: str) -> bool:
    try:
        return policy.hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Accounts


def snapshot(staff: StaffAccount) -> dict:
    """The audited state of an account (never its password hash)."""
    return {
        "email": staff.email,
        "name": staff.name,
        "role": staff.role,
        "active": staff.active,
        "municipalities": [m.slug for m in staff.municipalities],
    }


def municipalities_by_slug(slugs: list[str], field: str = "municipalities") -> list[Municipality]:
    found = session.scalars(select(Municipality).where(Municipality.slug.in_(slugs))).all()
    missing = sorted(set(slugs) - {m.slug for m in found})
    if missing:
        raise InvalidInput.field(field, f"Unknown municipalities: {', '.join(missing)}.")
    return sorted(found, key=lambda m: m.slug)


def _check_reach(actor: Principal | None, role: str, municipalities: list[Municipality]) -> None:
    """Role/municipality consistency, and that a manager only hands out what they hold."""
    if role in MUNICIPAL_ROLES and not municipalities:
        raise InvalidInput.field("municipalities", f"A {role} needs at least one municipality.")
    if role not in MUNICIPAL_ROLES and municipalities:
        raise InvalidInput.field("municipalities", f"A {role} works for every municipality.")
    if actor is None or actor.municipality_ids is None:
        return
    if role not in MUNICIPAL_ROLES:
        raise Forbidden(f"Only admins can give the {role} role.")
    if not {m.id for m in municipalities} <= actor.municipality_ids:
        raise Forbidden("Managers can only give access to their own municipalities.")


def create_staff(
    policy: AuthPolicy,
    actor: Principal | None,
    *,
    email: str,
    name: str,
    role: str,
    password: str,
    municipalities: list[str] = (),
) -> StaffAccount:
    """Create an account (actor None: the command line)."""
    email = normalise_email(email)
    assert role in ROLES
    places = municipalities_by_slug(list(municipalities))
    _check_reach(actor, role, places)
    _check_password(policy, password, email, "password")
    if session.scalar(select(StaffAccount.id).where(StaffAccount.email == email)) is not None:
        raise Conflict("An account with this email exists.", {"json": {"email": ["Taken."]}})
    staff = StaffAccount(
        email=email,
        name=name,
        role=role,
        password_hash=policy.hasher.hash(password),
        active=True,
        municipalities=places,
    )
    session.add(staff)
    session.flush()
    audit.record(
        actor and actor.staff_id,
        "staff.create",
        "staff",
        staff.id,
        municipality_ids=[m.id for m in places],
        after=snapshot(staff),
    )
    return staff


def visible_staff_query(actor: Principal):
    query = select(StaffAccount).order_by(StaffAccount.id)
    if actor.municipality_ids is not None:
        query = query.where(
            StaffAccount.municipalities.any(Municipality.id.in_(actor.municipality_ids))
        )
    return query


def get_staff_for(actor: Principal, staff_id: int) -> StaffAccount:
    staff = session.scalar(visible_staff_query(actor).where(StaffAccount.id == staff_id))
    if staff is None:
        raise NotFound("No staff account with this id in your municipalities.")
    return staff


def update_staff(
    policy: AuthPolicy, actor: Principal, staff: StaffAccount, changes: dict, now: datetime
) -> StaffAccount:
    """Change name, role, municipalities or active; deactivation revokes every token."""
    before, before_ids = snapshot(staff), {m.id for m in staff.municipalities}
    if actor.municipality_ids is not None:
        # Managers manage staff and managers that work only in their municipalities.
        _check_reach(actor, staff.role, staff.municipalities)
    if staff.id == actor.staff_id and (
        changes.get("active") is False or changes.get("role", staff.role) != staff.role
    ):
        raise Forbidden("You cannot deactivate yourself or change your own role.")
    role = changes.get("role", staff.role)
    places = (
        municipalities_by_slug(changes["municipalities"])
        if "municipalities" in changes
        else staff.municipalities
    )
    if "role" in changes or "municipalities" in changes:
        _check_reach(actor, role, places)
    staff.name = changes.get("name", staff.name)
    staff.role = role
    staff.municipalities = places
    if "active" in changes:
        staff.active = changes["active"]
    if "password" in changes:
        _check_password(policy, changes["password"], staff.email, "password")
        staff.password_hash = policy.hasher.hash(changes["password"])
        staff.password_changed_at = now
    if not staff.active or "password" in changes or before["role"] != staff.role:
        revoke_all(staff.id, now)
    session.flush()
    after = snapshot(staff)
    if "password" in changes:
        after["password_changed"] = True
    audit.record(
        actor.staff_id,
        "staff.update",
        "staff",
        staff.id,
        municipality_ids={m.id for m in places} | before_ids,
        before=before,
        after=after,
    )
    return staff


def change_own_password(
    policy: AuthPolicy, principal: Principal, current: str, new: str, now: datetime
) -> None:
    staff = session.get(StaffAccount, principal.staff_id)
    if not _verify(policy, staff.password_hash, current):
        raise InvalidInput.field("current_password", "This is not your current password.")
    if current == new:
        raise InvalidInput.field("new_password", "Must differ from the current password.")
    _check_password(policy, new, staff.email, "new_password")
    staff.password_hash = policy.hasher.hash(new)
    staff.password_changed_at = now
    revoke_all(staff.id, now)
    audit.record(
        staff.id,
        "staff.password_change",
        "staff",
        staff.id,
        municipality_ids=[m.id for m in staff.municipalities],
    )


# Sign-in


def login(policy: AuthPolicy, email: str, password: str, now: datetime) -> TokenPair:
    """Sign in. Raises Unauthorized for any bad credentials (the same for unknown emails);
    the caller counts failures per client and account (staff.auth)."""
    email = normalise_email(email)
    staff = session.scalar(select(StaffAccount).where(StaffAccount.email == email))
    valid = _verify(policy, staff.password_hash if staff else policy.decoy_hash, password)
    if not valid or staff is None or not staff.active:
        raise Unauthorized(BAD_CREDENTIALS)
    if policy.hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = policy.hasher.hash(password)
    return issue_session(policy, staff, now)


def _new_token(
    staff_id: int,
    kind: str,
    scopes: frozenset[str],
    expires_at: datetime,
    *,
    session_id: uuid.UUID | None = None,
    name: str | None = None,
) -> tuple[StaffToken, str]:
    token = TOKEN_PREFIX[kind] + secrets.token_urlsafe(32)
    row = StaffToken(
        token_hash=token_hash(token),
        staff_id=staff_id,
        kind=kind,
        session_id=session_id,
        name=name,
        scopes=sorted(scopes),
        expires_at=expires_at,
    )
    session.add(row)
    return row, token


def issue_session(
    policy: AuthPolicy, staff: StaffAccount, now: datetime, session_id: uuid.UUID | None = None
) -> TokenPair:
    session_id = session_id or uuid.uuid4()
    scopes = ROLE_SCOPES[staff.role]
    _, access = _new_token(
        staff.id, "access", scopes, now + policy.access_ttl, session_id=session_id
    )
    _, refresh = _new_token(
        staff.id, "refresh", scopes, now + policy.refresh_ttl, session_id=session_id
    )
    session.flush()
    return TokenPair(
        access_token=access,
        refresh_token=refresh,
        expires_in=int(policy.access_ttl.total_seconds()),
        refresh_expires_in=int(policy.refresh_ttl.total_seconds()),
    )


def refresh(policy: AuthPolicy, token: str, now: datetime) -> TokenPair:
    """Rotate: a refresh token works once; presenting a used one revokes its whole session."""
    row = session.scalar(
        select(StaffToken)
        .where(StaffToken.token_hash == token_hash(token), StaffToken.kind == "refresh")
        .with_for_update(of=StaffToken)
    )
    if row is None or row.expires_at <= now or not row.staff.active:
        raise Unauthorized("This refresh token is not valid; sign in again.")
    if row.revoked_at is not None:
        # Reuse of a rotated token: it may have been stolen. End the session for everyone.
        _revoke(StaffToken.session_id == row.session_id, now)
        raise Unauthorized("This refresh token was already used; sign in again.")
    _revoke(StaffToken.session_id == row.session_id, now)
    return issue_session(policy, row.staff, now, session_id=row.session_id)


def _revoke(condition, now: datetime) -> None:
    session.execute(
        update(StaffToken)
        .where(condition, StaffToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_all(staff_id: int, now: datetime) -> None:
    _revoke(StaffToken.staff_id == staff_id, now)


def logout(principal: Principal, now: datetime) -> None:
    if principal.session_id is not None:
        _revoke(StaffToken.session_id == principal.session_id, now)
    else:
        _revoke(StaffToken.id == principal.token_id, now)


def authenticate(token: str, now: datetime) -> Principal | None:
    """The principal for a bearer (access or personal) token, or None."""
    row = session.execute(
        select(StaffToken, StaffAccount)
        .join(StaffAccount, StaffAccount.id == StaffToken.staff_id)
        .where(
            StaffToken.token_hash == token_hash(token),
            StaffToken.kind.in_(("access", "personal")),
            StaffToken.revoked_at.is_(None),
            StaffToken.expires_at > now,
            StaffAccount.active,
        )
    ).first()
    if row is None:
        return None
    token_row, staff = row
    municipal = staff.role in MUNICIPAL_ROLES
    return Principal(
        staff_id=staff.id,
        role=staff.role,
        municipality_ids=frozenset(m.id for m in staff.municipalities) if municipal else None,
        # A role change after the token was made narrows what the token may do.
        scopes=frozenset(token_row.scopes) & ROLE_SCOPES[staff.role],
        token_id=token_row.id,
        session_id=token_row.session_id,
    )


# Personal API tokens


def create_personal_token(
    policy: AuthPolicy,
    principal: Principal,
    *,
    name: str,
    scopes: list[str],
    expires_in_days: int,
    now: datetime,
) -> tuple[StaffToken, str]:
    if principal.session_id is None:
        raise Forbidden("Personal tokens can only be made from a signed-in session.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput.field("scopes", f"Unknown scopes: {', '.join(unknown)}.")
    beyond = sorted(set(scopes) - ROLE_SCOPES[principal.role])
    if beyond:
        raise InvalidInput.field("scopes", f"Your role does not have: {', '.join(beyond)}.")
    if expires_in_days > policy.personal_token_max_days:
        raise InvalidInput.field(
            "expires_in_days", f"Must be at most {policy.personal_token_max_days}."
        )
    row, token = _new_token(
        principal.staff_id,
        "personal",
        frozenset(scopes),
        now + timedelta(days=expires_in_days),
        name=name,
    )
    session.flush()
    audit.record(
        principal.staff_id,
        "token.create",
        "token",
        row.id,
        after={"name": name, "scopes": row.scopes, "expires_at": row.expires_at.isoformat()},
    )
    return row, token


def personal_tokens(staff_id: int) -> list[StaffToken]:
    return session.scalars(
        select(StaffToken)
        .where(StaffToken.staff_id == staff_id, StaffToken.kind == "personal")
        .order_by(StaffToken.id)
    ).all()


def revoke_personal_token(principal: Principal, token_id: int, now: datetime) -> None:
    row = session.scalar(
        select(StaffToken).where(
            StaffToken.id == token_id,
            StaffToken.staff_id == principal.staff_id,
            StaffToken.kind == "personal",
        )
    )
    if row is None:
        raise NotFound("You have no personal token with this id.")
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(principal.staff_id, "token.revoke", "token", row.id)


def utcnow() -> datetime:
    return datetime.now(UTC)
