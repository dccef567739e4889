"""Accounts: logging in and out, passwords, users of each role, and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from flask_babel.speaklater import LazyString
from sqlalchemy import Select, select

from portal.accounts.models import ApiToken, User, new_session_key
from portal.accounts.passwords import check_password_policy, hash_password, verify_password
from portal.accounts.throttle import LoginThrottle
from portal.agencies.models import Agency
from portal.audit.services import record_event
from portal.audit.tags import AuditTag
from portal.db import utcnow
from portal.errors import ConflictError, NotFoundError, PermissionDeniedError, PortalError, ValidationError, _l
from portal.extensions import db
from portal.i18n import SUPPORTED_LOCALES, role_label
from portal.security import AGENCY_ROLES, Actor, Role

TOKEN_PREFIX = "pt_"  # noqa: S105 (a visible prefix, not a secret)
# Writing last_used_at on every API call would turn every read into a write.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


class LoginError(PortalError):
    code = "login_failed"
    status = 401


class LoginThrottledError(LoginError):
    """Too many failures for this e-mail from this client: the next attempt must wait ``retry_after`` s."""

    code = "rate_limited"
    status = 429

    def __init__(self, message, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValidationError(
            _l("%(email)s is not a valid e-mail address", email=email.strip()), field="email"
        ) from exc


def get_user_by_email(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def _user_actor(user: User, *, ip: str | None, user_agent: str | None, source: str) -> Actor:
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        agency_id=user.agency_id,
        ip=ip,
        user_agent=user_agent,
        source=source,
    )


def authenticate(
    *,
    email: str,
    password: str,
    ip: str | None,
    user_agent: str | None,
    throttle: LoginThrottle | None = None,
    client: str | None = None,
) -> User:
    """Check a login; audit every outcome; back off a client that keeps failing for one e-mail.

    Unknown e-mails, wrong passwords and inactive users raise one LoginError with one message;
    a client that has failed too often for an e-mail raises LoginThrottledError, for unknown
    e-mails exactly as for real ones. Every path checks one password hash, so the time taken
    does not tell which e-mails exist either. ``client`` names whom failures count against (a
    trusted device, else the IP address: see ``portal.accounts.devices``); the account itself
    is never locked, so nobody can lock a collector out by failing on purpose.
    """
    user = get_user_by_email(email)
    key = throttle.key(email=email, client=client or f"ip:{ip}") if throttle else ""
    wait = throttle.wait_seconds(key) if throttle else 0
    # Hashing on every path, throttled ones included, keeps the answers equally slow.
    password_ok = verify_password(user.password_hash if user else None, password)
    if user is None:
        actor = Actor(user_id=None, role=None, ip=ip, user_agent=user_agent, source="web")
        who: dict[str, object] = {"email_sha256": hashlib.sha256(email.strip().lower().encode()).hexdigest()}
    else:
        actor = _user_actor(user, ip=ip, user_agent=user_agent, source="web")
        who = {}
    object_id = user.id if user else None
    if wait:
        record_event(
            actor=actor,
            action=AuditTag.LOGIN_FAILURE,
            object_type="user",
            object_id=object_id,
            outcome="failure",
            details={"reason": "locked", "retry_after": wait, **who},
        )
        db.session.commit()
        raise LoginThrottledError(
            _l("too many failed logins for this e-mail address; try again in %(seconds)s seconds", seconds=wait),
            retry_after=wait,
        )
    if user is None or not password_ok or not user.active:
        reason = "unknown_email" if user is None else "bad_password" if not password_ok else "inactive"
        failures, wait = throttle.record_failure(key) if throttle else (0, 0)
        details: dict[str, object] = {"reason": reason, **who}
        if user is not None:
            user.failed_logins += 1
            details["failed_logins"] = user.failed_logins
        record_event(
            actor=actor,
            action=AuditTag.LOGIN_FAILURE,
            object_type="user",
            object_id=object_id,
            outcome="failure",
            details=details,
        )
        if wait:
            record_event(
                actor=actor,
                action=AuditTag.LOGIN_LOCKED,
                object_type="user",
                object_id=object_id,
                outcome="failure",
                details={"failures": failures, "retry_after": wait, **who},
            )
        db.session.commit()
        raise LoginError(_l("e-mail or password is wrong"))
    if throttle:
        throttle.clear(key)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()
    record_event(actor=actor, action=AuditTag.LOGIN_SUCCESS, object_type="user", object_id=user.id)
    db.session.commit()
    return user


def log_out(*, actor: Actor, user: User) -> None:
    """End the user's sessions on the server: a copy of the session cookie no longer logs anyone in."""
    _rotate_session(user)
    record_event(actor=actor, action=AuditTag.LOGOUT, object_type="user", object_id=actor.user_id)
    db.session.commit()


def _rotate_session(user: User) -> None:
    user.session_key = new_session_key()


def change_password(*, actor: Actor, user: User, current_password: str, new_password: str) -> None:
    if not verify_password(user.password_hash, current_password):
        record_event(
            actor=actor,
            action=AuditTag.PASSWORD_CHANGE,
            object_type="user",
            object_id=user.id,
            outcome="failure",
            details={"reason": "wrong_current_password"},
        )
        db.session.commit()
        raise ValidationError(_l("current password is wrong"), field="current_password")
    check_password_policy(new_password, email=user.email)
    user.password_hash = hash_password(new_password)
    _rotate_session(user)
    record_event(actor=actor, action=AuditTag.PASSWORD_CHANGE, object_type="user", object_id=user.id)
    db.session.commit()


# --- managing users -------------------------------------------------------------------------


def users_visible_to(actor: Actor) -> Select[tuple[User]]:
    """Admins see every user; agency admins only their own agency's; nobody else manages users."""
    query = select(User).order_by(User.email)
    if actor.role == Role.ADMIN or actor.is_system:
        return query
    if actor.role == Role.AGENCY_ADMIN:
        return query.where(User.agency_id == actor.agency_id)
    raise PermissionDeniedError(_l("only administrators manage users"))


def require_managed_user(*, actor: Actor, user_id: int) -> User:
    user = db.session.execute(users_visible_to(actor).where(User.id == user_id)).scalar_one_or_none()
    if user is None:
        raise NotFoundError(_l("no such user"))
    return user


def create_user(
    *,
    actor: Actor,
    email: str,
    role: Role | str,
    password: str,
    agency_code: str | None = None,
    locale: str | None = None,
) -> User:
    """Create a user. Agency admins may only create agency users of their own agency."""
    try:
        role = Role(role)
    except ValueError as exc:
        raise ValidationError(_l("unknown role '%(role)s'", role=role), field="role") from exc
    email = normalise_email(email)
    agency: Agency | None = None
    if actor.role == Role.AGENCY_ADMIN:
        if role not in AGENCY_ROLES:
            raise PermissionDeniedError(_l("agency administrators can only create agency users"))
        agency = db.session.get(Agency, actor.agency_id)
    elif not (actor.is_system or actor.role == Role.ADMIN):
        raise PermissionDeniedError(_l("only administrators create users"))
    elif role in AGENCY_ROLES:
        if not agency_code:
            raise ValidationError(
                _l("the role %(role)s needs an agency", role=LazyString(role_label, role)), field="agency"
            )
        agency = db.session.execute(select(Agency).where(Agency.code == agency_code)).scalar_one_or_none()
        if agency is None:
            raise ValidationError(_l("unknown agency '%(code)s'", code=agency_code), field="agency")
    elif agency_code:
        raise ValidationError(
            _l("the role %(role)s belongs to the lender, not to an agency", role=LazyString(role_label, role)),
            field="agency",
        )
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise ValidationError(_l("unsupported language '%(locale)s'", locale=locale), field="locale")
    if get_user_by_email(email) is not None:
        raise ConflictError(_l("a user with e-mail %(email)s already exists", email=email))
    check_password_policy(password, email=email)
    user = User(
        email=email,
        password_hash=hash_password(password),
        role=str(role),
        agency_id=agency.id if agency else None,
        locale=locale,
    )
    db.session.add(user)
    db.session.flush()
    record_event(
        actor=actor,
        action=AuditTag.USER_CREATE,
        object_type="user",
        object_id=user.id,
        agency_id=user.agency_id,
        details={"role": str(role)},
    )
    db.session.commit()
    return user


def set_user_active(*, actor: Actor, user_id: int, active: bool) -> User:
    user = require_managed_user(actor=actor, user_id=user_id)
    if user.id == actor.user_id and not active:
        raise ValidationError(_l("you cannot deactivate yourself"), field="active")
    if user.active == active:
        return user
    user.active = active
    if not active:
        _rotate_session(user)
    record_event(
        actor=actor,
        action=AuditTag.USER_ACTIVATE if active else AuditTag.USER_DEACTIVATE,
        object_type="user",
        object_id=user.id,
        agency_id=user.agency_id,
    )
    db.session.commit()
    return user


def reset_password(*, actor: Actor, user_id: int) -> tuple[User, str]:
    """Give a user a new random password (shown once to the person resetting it); unlocks the account."""
    user = require_managed_user(actor=actor, user_id=user_id)
    temporary = secrets.token_urlsafe(12)
    user.password_hash = hash_password(temporary)
    user.failed_logins = 0
    user.locked_until = None
    _rotate_session(user)
    record_event(
        actor=actor, action=AuditTag.PASSWORD_RESET, object_type="user", object_id=user.id, agency_id=user.agency_id
    )
    db.session.commit()
    return user, temporary


def set_locale(*, actor: Actor, user: User, locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise ValidationError(_l("unsupported language '%(locale)s'", locale=locale), field="locale")
    if user.locale == locale:
        return
    user.locale = locale
    record_event(
        actor=actor, action=AuditTag.USER_LOCALE, object_type="user", object_id=user.id, details={"locale": locale}
    )
    db.session.commit()


# --- API tokens -------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(*, actor: Actor, user: User, label: str) -> tuple[ApiToken, str]:
    """Mint a token for ``user``; the clear token is returned once and only its hash is kept."""
    label = (label or "").strip() or "token"
    if len(label) > 100:
        raise ValidationError(_l("token name is longer than 100 characters"), field="name")
    if not user.active:
        raise ValidationError(_l("cannot mint a token for an inactive user"), field="user")
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user_id=user.id, label=label, token_hash=_token_hash(clear), prefix=clear[:10])
    db.session.add(token)
    db.session.flush()
    record_event(
        actor=actor,
        action=AuditTag.TOKEN_CREATE,
        object_type="api_token",
        object_id=token.id,
        agency_id=user.agency_id,
        details={"user_id": user.id, "label": label},
    )
    db.session.commit()
    return token, clear


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.execute(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
        ).scalars()
    )


def revoke_token(*, actor: Actor, token_id: int) -> ApiToken:
    """Users revoke their own tokens; admins any token."""
    token = db.session.get(ApiToken, token_id)
    if token is None or (token.user_id != actor.user_id and actor.role != Role.ADMIN and not actor.is_system):
        raise NotFoundError(_l("no such token"))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        record_event(actor=actor, action=AuditTag.TOKEN_REVOKE, object_type="api_token", object_id=token.id)
        db.session.commit()
    return token


def authenticate_token(*, token: str) -> User | None:
    """The active user owning an unrevoked token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = db.session.execute(
        select(ApiToken).where(ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None or not row.user.active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > TOKEN_TOUCH_INTERVAL:
        row.last_used_at = now
        db.session.commit()
    return row.user
