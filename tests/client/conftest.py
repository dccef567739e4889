"""A live portal (werkzeug on 127.0.0.1, port 0, in a thread) and stub servers for portal-client tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response


def _serve(wsgi_app) -> tuple[BaseWSGIServer, threading.Thread]:
    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


def _stop(server: BaseWSGIServer, thread: threading.Thread) -> None:
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def live_server(app, world) -> Iterator[str]:
    server, thread = _serve(app)
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        _stop(server, thread)


@pytest.fixture
def mint(app, world, runner) -> Callable[[str], str]:
    """mint("zc_agent") -> a fresh API token for that user (the CLI prints it as its last line)."""

    def run(who: str = "zc_agent") -> str:
        with app.app_context():
            result = runner.invoke(args=["users", "token", world[who]])
        assert result.exit_code == 0, result.output
        return result.stdout.strip().splitlines()[-1]

    return run


@pytest.fixture
def portal_env(monkeypatch, live_server, mint) -> dict[str, str]:
    """PORTAL_URL/PORTAL_TOKEN for the ZC agent, short backoff; returns the values."""
    env = {"PORTAL_URL": live_server, "PORTAL_TOKEN": mint("zc_agent"), "PORTAL_CLIENT_BACKOFF": "0.01"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def stub_server(monkeypatch) -> Iterator[Callable[[Callable[[Request], Response]], str]]:
    """stub_server(handler) -> URL of a tiny server answering every request with handler(request)."""
    running = []
    monkeypatch.setenv("PORTAL_TOKEN", "stub-token")
    monkeypatch.setenv("PORTAL_CLIENT_BACKOFF", "0.01")

    def start(handler: Callable[[Request], Response]) -> str:
        @Request.application
        def wsgi(request: Request) -> Response:
            return handler(request)

        running.append(_serve(wsgi))
        url = f"http://127.0.0.1:{running[-1][0].server_port}"
        monkeypatch.setenv("PORTAL_URL", url)
        return url

    yield start
    for server, thread in running:
        _stop(server, thread)
