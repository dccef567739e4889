"""The collection partner portal: ``create_app()`` builds the Flask application; importing this stays light."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask

PACKAGE = Path(__file__).resolve().parent
# The repository root in a checkout (or editable install); in an installed wheel, site-packages.
ROOT = PACKAGE.parent


def bundled_folder(name: str) -> Path:
    """``templates`` or ``migrations``: inside the package when installed from a wheel, else the checkout's."""
    # The repository keeps them at the top level; the wheel maps them into the package (setup.cfg).
    inside = PACKAGE / name
    return inside if inside.is_dir() else ROOT / name


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings read from the environment."""
    # Imported here so that `python -m portal.audit.verify` needs nothing but the standard library.
    from flask import Flask

    from portal import models  # noqa: F401  (registers every table on the metadata)
    from portal.config import load_config
    from portal.extensions import babel, csrf, db, login_manager, migrate
    from portal.i18n import init_i18n, select_locale, viewer_timezone
    from portal.security import init_security_headers

    # Without PORTAL_INSTANCE_PATH, Flask's own choice: `instance/` beside the package in a
    # checkout, `<prefix>/var/portal-instance` for an installed package (never site-packages).
    app = Flask(
        __name__,
        instance_path=os.environ.get("PORTAL_INSTANCE_PATH") or None,
        template_folder=str(bundled_folder("templates")),
    )
    app.config.from_mapping(load_config(Path(app.instance_path)))
    if test_config:
        app.config.update(test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(bundled_folder("migrations")), compare_type=True)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=viewer_timezone)
    login_manager.init_app(app)
    login_manager.session_protection = "strong"
    login_manager.login_view = "accounts.login"
    login_manager.login_message = None
    init_i18n(app)
    init_security_headers(app)
    from portal.textsafety import finalize_for_display

    app.jinja_env.finalize = finalize_for_display

    from portal.plugins import build_plugin_manager

    # One plugin manager per app: adapters registered through the `portal.adapters` entry points.
    app.extensions["portal.plugins"] = build_plugin_manager(
        blocked=app.config["PORTAL_BLOCKED_ADAPTERS"], mapping_dirs=app.config["PORTAL_MAPPING_DIRS"]
    )

    from portal import blueprints

    blueprints.register(app)

    from portal.cli import register_commands

    register_commands(app)
    return app
