"""Every setting, with its default and a one-line why; read from PORTAL_* environment variables."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class ConfigError(RuntimeError):
    """Raised when the environment asks for something unsafe or impossible."""


def _secret_key(instance_path: Path, env: str) -> str:
    key = os.environ.get("PORTAL_SECRET_KEY")
    if key:
        return key
    if env == "production":
        # A generated key on a production box would silently differ between hosts.
        raise ConfigError("PORTAL_SECRET_KEY must be set when PORTAL_ENV=production")
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


# Retention per record type: `<n>y`, `<n>m`, `<n>d` or `forever`. Contact records and the references
# to call recordings follow the CN default of 5 years; the rest follow them until counsel says otherwise.
RETENTION_DEFAULTS = {
    "contacts": "5y",
    "recordings": "5y",
    "settlements": "5y",
    "findings": "5y",
    "uploads": "5y",
    "closed_cases": "5y",
    "audit_events": "forever",
}
_RETENTION_UNITS = ("y", "m", "d")


def parse_retention(value: str) -> dict[str, str]:
    """``PORTAL_RETENTION="contacts=5y,settlements=7y"`` over RETENTION_DEFAULTS; audit events stay forever."""
    periods = dict(RETENTION_DEFAULTS)
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, period = (s.strip() for s in item.partition("="))
        if name not in RETENTION_DEFAULTS:
            raise ConfigError(f"PORTAL_RETENTION: unknown record type {name!r}")
        ok = period == "forever" or (period[:-1].isdigit() and period[-1:] in _RETENTION_UNITS)
        if not ok:
            raise ConfigError(f"PORTAL_RETENTION: {name}={period!r} is not <n>y, <n>m, <n>d or forever")
        if name == "audit_events" and period != "forever":
            raise ConfigError("PORTAL_RETENTION: audit events are never deleted")
        periods[name] = period
    return periods


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name, default).strip().lower() or default
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def normalise_database_url(url: str) -> str:
    """Plain ``postgresql://`` URLs (as most tools print them) get the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _non_negative_int(name: str, default: str) -> int:
    value = os.environ.get(name, default).strip()
    if not value.isascii() or not value.isdigit():
        raise ConfigError(f"{name} must be a whole number of seconds, not {value!r}")
    return int(value)


def _checkpoint_dir(instance_path: Path) -> str | None:
    """Write-once checkpoint files go to the instance folder's ``checkpoints/`` unless told otherwise."""
    value = (os.environ.get("PORTAL_AUDIT_CHECKPOINT_DIR") or "").strip()
    if value.lower() == "off":
        return None
    return value or str(instance_path / "checkpoints")


def load_config(instance_path: Path) -> dict[str, object]:
    """Build the Flask config mapping from the environment."""
    env = os.environ.get("PORTAL_ENV", "development")
    instance_path.mkdir(parents=True, exist_ok=True)
    database_url = normalise_database_url(
        os.environ.get("PORTAL_DATABASE_URL") or f"sqlite:///{instance_path / 'portal.db'}"
    )
    max_upload_mb = int(os.environ.get("PORTAL_MAX_UPLOAD_MB", "200"))
    return {
        "PORTAL_ENV": env,
        "SECRET_KEY": _secret_key(instance_path, env),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # A pooled connection the server dropped (a restart, pg_terminate_backend) is replaced when
        # taken from the pool, instead of failing the request that takes it.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Redis is optional: without it uploads are processed in-process.
        "PORTAL_REDIS_URL": os.environ.get("PORTAL_REDIS_URL") or None,
        # Upload jobs (docs/uploads.md): a worker holds a lease it renews every heartbeat; the reaper
        # retries an upload whose lease ran out, and rejects it after the last attempt.
        "PORTAL_UPLOAD_QUEUE": os.environ.get("PORTAL_UPLOAD_QUEUE", "uploads"),
        "PORTAL_UPLOAD_LEASE_SECONDS": float(os.environ.get("PORTAL_UPLOAD_LEASE_SECONDS", "60")),
        "PORTAL_UPLOAD_HEARTBEAT_SECONDS": float(os.environ.get("PORTAL_UPLOAD_HEARTBEAT_SECONDS", "10")),
        "PORTAL_UPLOAD_REAP_SECONDS": float(os.environ.get("PORTAL_UPLOAD_REAP_SECONDS", "30")),
        "PORTAL_UPLOAD_MAX_ATTEMPTS": int(os.environ.get("PORTAL_UPLOAD_MAX_ATTEMPTS", "3")),
        "PORTAL_STORAGE_DIR": os.environ.get("PORTAL_STORAGE_DIR") or str(instance_path / "files"),
        "PORTAL_JURISDICTION": os.environ.get("PORTAL_JURISDICTION", "CN"),
        # The lender's timezone: what lender staff see and what naive times in lender files mean.
        "PORTAL_TIMEZONE": os.environ.get("PORTAL_TIMEZONE", "Asia/Shanghai"),
        "PORTAL_MAX_UPLOAD_MB": max_upload_mb,
        "MAX_CONTENT_LENGTH": max_upload_mb * 1024 * 1024,
        # Adapters an operator has switched off (comma-separated entry-point names).
        "PORTAL_BLOCKED_ADAPTERS": [
            name.strip() for name in os.environ.get("PORTAL_BLOCKED_ADAPTERS", "").split(",") if name.strip()
        ],
        # Extra folders of partner mapping files for the declarative `mapping` adapter.
        "PORTAL_MAPPING_DIRS": [d for d in os.environ.get("PORTAL_MAPPING_DIRS", "").split(os.pathsep) if d],
        # Adapters read uploaded files in a child process (docs/uploads.md, "Hostile files"): a file that
        # crashes the reader or runs away rejects itself instead of killing the worker.
        "PORTAL_PARSE_ISOLATION": _choice("PORTAL_PARSE_ISOLATION", "always", ("always", "binary", "never")),
        "PORTAL_PARSE_MEMORY_MB": int(os.environ.get("PORTAL_PARSE_MEMORY_MB", "2048")),
        "PORTAL_PARSE_TIMEOUT_SECONDS": float(os.environ.get("PORTAL_PARSE_TIMEOUT_SECONDS", "120")),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env == "production",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SECURE": env == "production",
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": "UTC",
        # Login backoff per (e-mail, device or IP), never a lock on the account (docs/security.md).
        "PORTAL_LOGIN_FREE_FAILURES": int(os.environ.get("PORTAL_LOGIN_FREE_FAILURES", "5")),
        "PORTAL_LOGIN_BACKOFF_SECONDS": int(os.environ.get("PORTAL_LOGIN_BACKOFF_SECONDS", "30")),
        "PORTAL_LOGIN_BACKOFF_MAX_SECONDS": int(os.environ.get("PORTAL_LOGIN_BACKOFF_MAX_SECONDS", "900")),
        "PORTAL_LOGIN_FAILURE_WINDOW_SECONDS": int(os.environ.get("PORTAL_LOGIN_FAILURE_WINDOW_SECONDS", "3600")),
        # Rate limits (Flask-Limiter strings; storage: Redis when PORTAL_REDIS_URL is set, else memory).
        "PORTAL_RATE_LIMIT_LOGIN": os.environ.get("PORTAL_RATE_LIMIT_LOGIN", "30 per minute; 300 per hour"),
        "PORTAL_RATE_LIMIT_LOGIN_EMAIL": os.environ.get("PORTAL_RATE_LIMIT_LOGIN_EMAIL", "50 per hour"),
        "PORTAL_RATE_LIMIT_API": os.environ.get("PORTAL_RATE_LIMIT_API", "1200 per minute"),
        "PORTAL_RATE_LIMIT_API_ANONYMOUS": os.environ.get("PORTAL_RATE_LIMIT_API_ANONYMOUS", "60 per minute"),
        "PORTAL_RATE_LIMIT_KEY_PREFIX": os.environ.get("PORTAL_RATE_LIMIT_KEY_PREFIX", "portal:"),
        "PORTAL_MIN_PASSWORD_LENGTH": 12,
        # Placements "expiring soon" on the case list filter.
        "PORTAL_EXPIRING_SOON_DAYS": 14,
        "PORTAL_PAGE_SIZE": 50,
        # Audit checkpoints (docs/audit.md): the Ed25519 key (PEM, base64 seed or a key file's path),
        # else one generated once into the instance folder; one signed checkpoint per this many events.
        "PORTAL_AUDIT_SIGNING_KEY": os.environ.get("PORTAL_AUDIT_SIGNING_KEY") or None,
        "PORTAL_AUDIT_CHECKPOINT_EVERY": int(os.environ.get("PORTAL_AUDIT_CHECKPOINT_EVERY", "1000")),
        # The tail: events newer than the newest checkpoint are signed within this many seconds (0: off).
        "PORTAL_AUDIT_CHECKPOINT_INTERVAL": _non_negative_int("PORTAL_AUDIT_CHECKPOINT_INTERVAL", "60"),
        # Second homes for checkpoints that the portal cannot rewrite: write-once files (by default in the
        # instance folder; "off" for none), a witness URL, and how long a witness may take to answer.
        "PORTAL_AUDIT_CHECKPOINT_DIR": _checkpoint_dir(instance_path),
        "PORTAL_AUDIT_CHECKPOINT_URL": os.environ.get("PORTAL_AUDIT_CHECKPOINT_URL") or None,
        "PORTAL_AUDIT_CHECKPOINT_TIMEOUT": _non_negative_int("PORTAL_AUDIT_CHECKPOINT_TIMEOUT", "2"),
        # Days an agency has to answer a complaint: the default deadline is the received day plus this.
        "PORTAL_COMPLAINT_RESPONSE_DAYS": int(os.environ.get("PORTAL_COMPLAINT_RESPONSE_DAYS", "15")),
        # Restricted periods kept in a TOML file beside those on the calendar page (docs/compliance.md).
        "PORTAL_RESTRICTED_PERIODS_FILE": os.environ.get("PORTAL_RESTRICTED_PERIODS_FILE") or None,
        # How long each record type is kept (the retention report; audit events are never deleted).
        "PORTAL_RETENTION": parse_retention(os.environ.get("PORTAL_RETENTION", "")),
    }
