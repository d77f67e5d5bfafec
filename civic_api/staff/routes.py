"""Staff sign-in, own account, personal API tokens, and account management."""

from flask.views import MethodView

from civic_api.database import session
from civic_api.errors import Unauthorized
from civic_api.extensions import Blueprint, With, page_of
from civic_api.municipalities.models import Municipality
from civic_api.staff import service
from civic_api.staff.auth import (
    check_lockout,
    clear_failures,
    current_principal,
    policy,
    record_failure,
)
from civic_api.staff.models import StaffAccount
from civic_api.staff.schemas import (
    LoginSchema,
    PasswordChangeSchema,
    PersonalTokenCreateSchema,
    PersonalTokenSchema,
    RefreshSchema,
    StaffCreateSchema,
    StaffQueryArgsSchema,
    StaffSchema,
    StaffUpdateSchema,
    TokenPairSchema,
)
from civic_api.staff.service import utcnow

blp = Blueprint(
    "staff",
    __name__,
    url_prefix="/v1/admin",
    description="Staff sign-in, personal API tokens and staff accounts.",
)


@blp.route("/auth/login")
class LoginView(MethodView):
    @blp.limited("LOGIN_RATE_LIMIT", shared="sign-in")
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Wrong email or password (the same for unknown emails)")
    @blp.alt_response(
        423, description="This client failed too often on this account; see Retry-After"
    )
    def post(self, data):
        """Sign in with email and password"""
        check_lockout(data["email"])
        try:
            tokens = service.login(policy(), data["email"], data["password"], utcnow())
        except Unauthorized:
            record_failure(data["email"])
            raise
        session.commit()
        clear_failures(data["email"])
        return tokens


@blp.route("/auth/refresh")
class RefreshView(MethodView):
    @blp.limited("LOGIN_RATE_LIMIT", shared="sign-in")
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Unknown, expired or already used refresh token")
    def post(self, data):
        """Exchange a refresh token for new tokens (the old one stops working)"""
        try:
            tokens = service.refresh(policy(), data["refresh_token"], utcnow())
        except Unauthorized:
            session.commit()  # a reused token revokes its session
            raise
        session.commit()
        return tokens


@blp.route("/auth/logout")
class LogoutView(MethodView):
    @blp.auth(None)
    @blp.response(204)
    def post(self):
        """Sign out: revoke this session's tokens (or this personal token)"""
        service.logout(current_principal(), utcnow())
        session.commit()


@blp.route("/me")
class MeView(MethodView):
    @blp.auth(None)
    @blp.response(200, StaffSchema)
    def get(self):
        """Your account, role, municipalities and the scopes of this token"""
        principal = current_principal()
        staff = session.get(StaffAccount, principal.staff_id)
        return With(staff, scopes=sorted(principal.scopes))


@blp.route("/me/password")
class PasswordView(MethodView):
    @blp.limited("PASSWORD_RATE_LIMIT")
    @blp.auth(None)
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def put(self, data):
        """Change your password; every session and token is revoked"""
        service.change_own_password(
            policy(), current_principal(), data["current_password"], data["new_password"], utcnow()
        )
        session.commit()


@blp.route("/tokens")
class PersonalTokensView(MethodView):
    @blp.auth(None)
    @blp.response(200, PersonalTokenSchema(many=True))
    def get(self):
        """Your personal API tokens (without their secret)"""
        return service.personal_tokens(current_principal().staff_id)

    @blp.auth(None)
    @blp.arguments(PersonalTokenCreateSchema)
    @blp.response(201, PersonalTokenSchema)
    def post(self, data):
        """Create a scoped, expiring personal API token; its secret is shown once"""
        row, token = service.create_personal_token(
            policy(), current_principal(), now=utcnow(), **data
        )
        session.commit()
        return With(row, token=token)


@blp.route("/tokens/<int:token_id>")
class PersonalTokenByIdView(MethodView):
    @blp.auth(None)
    @blp.response(204)
    def delete(self, token_id):
        """Revoke one of your personal tokens"""
        service.revoke_personal_token(current_principal(), token_id, utcnow())
        session.commit()


@blp.route("/staff")
class StaffView(MethodView):
    @blp.auth("staff:write")
    @blp.arguments(StaffQueryArgsSchema, location="query")
    @blp.response(200, StaffSchema(many=True))
    @blp.paginate()
    def get(self, args, pagination_parameters):
        """List staff accounts (managers: those in their municipalities)"""
        query = service.visible_staff_query(current_principal())
        if "role" in args:
            query = query.where(StaffAccount.role == args["role"])
        if "active" in args:
            query = query.where(StaffAccount.active == args["active"])
        if "municipality" in args:
            query = query.where(
                StaffAccount.municipalities.any(Municipality.slug == args["municipality"])
            )
        return page_of(query, pagination_parameters)

    @blp.auth("staff:write")
    @blp.arguments(StaffCreateSchema)
    @blp.response(201, StaffSchema)
    @blp.alt_response(409, description="The email is taken")
    def post(self, data):
        """Create a staff account (managers: staff and managers of their municipalities)"""
        staff = service.create_staff(policy(), current_principal(), **data)
        session.commit()
        return staff


@blp.route("/staff/<int:staff_id>")
class StaffByIdView(MethodView):
    @blp.auth("staff:write")
    @blp.response(200, StaffSchema)
    def get(self, staff_id):
        """Get a staff account"""
        return service.get_staff_for(current_principal(), staff_id)

    @blp.auth("staff:write")
    @blp.arguments(StaffUpdateSchema)
    @blp.response(200, StaffSchema)
    def patch(self, data, staff_id):
        """Change a staff account; deactivating it revokes its tokens"""
        principal = current_principal()
        staff = service.get_staff_for(principal, staff_id)
        service.update_staff(policy(), principal, staff, data, utcnow())
        session.commit()
        return staff
