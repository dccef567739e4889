"""The built wheel installs into a fresh virtualenv outside the checkout, migrates, seeds and serves pages."""

from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from setuptools import find_packages

from portal import ROOT

# Not copied into the build: local state, and build/ whose stale files setuptools would ship.
_NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "instance", "test-artifacts", "__pycache__", "results")
_TIMEOUT = 300


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    return config


def test_setup_cfg_lists_every_package():
    """A package left out of the explicit list would be missing from the wheel, not from a checkout."""
    options = _setup_cfg()["options"]
    listed = set(options["packages"].split())
    mapped = {line.split("=")[0].strip() for line in options["package_dir"].strip().splitlines()}
    on_disk = set(find_packages(str(ROOT), include=["portal", "portal.*", "adapters", "adapters.*"]))
    missing = sorted(on_disk - listed)
    assert not missing, f"add {missing} to [options] packages in setup.cfg"
    stale = sorted(listed - on_disk - {p for p in listed if any(p == m or p.startswith(m + ".") for m in mapped)})
    assert not stale, f"setup.cfg lists packages that do not exist: {stale}"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    workdir: Path
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.venv / "bin" / name)

    def run(self, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            args, cwd=self.workdir, env=env or self.env, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
        assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result


def _pip(python: Path | str, *args: str, cwd: Path) -> None:
    result = subprocess.run(
        [str(python), "-m", "pip", *args], cwd=cwd, capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )
    assert result.returncode == 0, f"pip {' '.join(args)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    assert not base.resolve().is_relative_to(ROOT), "the install must happen outside the checkout"
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
    wheels = base / "wheels"
    _pip(sys.executable, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(wheels), str(source), cwd=base)
    (wheel,) = wheels.glob("collections_portal-*.whl")

    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=_TIMEOUT)
    _pip(venv / "bin" / "python", "install", "--quiet", str(wheel), cwd=base)

    workdir = base / "work"
    workdir.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "FLASK_"))}
    env |= {
        "PORTAL_INSTANCE_PATH": str(base / "instance"),
        # gunicorn keeps a control socket under $HOME; a private HOME keeps parallel runs apart.
        "HOME": str(base / "home"),
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    }
    return Installed(wheel=wheel, venv=venv, workdir=workdir, env=env)


@pytest.mark.wheel
def test_the_wheel_carries_templates_migrations_and_data(installed: Installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for expected in (
        "portal/templates/base.html",
        "portal/templates/accounts/login.html",
        "portal/migrations/alembic.ini",
        "portal/migrations/env.py",
        "portal/migrations/script.py.mako",
        "portal/static/portal.css",
        "portal/translations/zh_Hans_CN/LC_MESSAGES/messages.mo",
        "portal/data/demo_cases.csv",
        "adapters/mapping/partners/hx_contacts_xlsx.toml",
    ):
        assert expected in names, f"the wheel lacks {expected}"
    revisions = {p.name for p in (ROOT / "migrations" / "versions").glob("*.py")}
    assert revisions <= {Path(n).name for n in names if n.startswith("portal/migrations/versions/")}
    assert not [n for n in names if n.startswith(("templates/", "migrations/", "tests/"))], "top-level folders leak"
    assert not [n for n in names if "/incoming/" in n or n.endswith(".po")], "translation work files are shipped"


@pytest.mark.wheel
def test_the_installed_package_runs_outside_the_checkout(installed: Installed):
    where = installed.run(installed.bin("python"), "-c", "import portal; print(portal.__file__)").stdout.strip()
    assert Path(where).is_relative_to(installed.venv), f"portal was imported from {where}, not the fresh venv"

    installed.run(installed.bin("flask"), "--app", "portal", "db", "upgrade")
    seeded = installed.run(installed.bin("flask"), "--app", "portal", "demo", "seed").stdout
    assert "agent@zc.example.com" in seeded and "demo-portal-2026" in seeded
    assert (Path(installed.env["PORTAL_INSTANCE_PATH"]) / "portal.db").is_file()

    with _serving(installed) as url:
        login = _get(url + "/login", {"Accept-Language": "zh-CN"})
        assert login.status == 200
        page = login.read().decode("utf-8")
        assert 'name="password"' in page and "登录" in page, page[:2000]
        css = _get(url + "/static/portal.css")
        assert css.status == 200 and css.read()


@pytest.mark.wheel
def test_an_installed_deployment_keeps_its_instance_folder_out_of_site_packages(installed: Installed):
    env = {key: value for key, value in installed.env.items() if key != "PORTAL_INSTANCE_PATH"}
    code = "from portal import create_app; print(create_app().instance_path)"
    instance = Path(installed.run(installed.bin("python"), "-c", code, env=env).stdout.strip().splitlines()[-1])
    assert instance == installed.venv / "var" / "portal-instance"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str, headers: dict[str, str] | None = None):
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10)  # noqa: S310


@contextmanager
def _serving(installed: Installed) -> Iterator[str]:
    """``gunicorn 'portal:create_app()'`` on a free loopback port; yields its URL and stops it after."""
    address = f"127.0.0.1:{_free_port()}"
    log_path = installed.workdir / "gunicorn.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [installed.bin("gunicorn"), "--bind", address, "--workers", "1", "portal:create_app()"],
            cwd=installed.workdir,
            env=installed.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gunicorn stopped:\n{log_path.read_text()}")
            try:
                _get(f"http://{address}/static/portal.css")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not answer within 60 s:\n{log_path.read_text()}") from None
                time.sleep(0.3)
        yield f"http://{address}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
