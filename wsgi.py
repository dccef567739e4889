"""The checkout's WSGI entry point: plain ``flask`` in the repository root finds the app here.

An installed package needs no such file: ``flask --app portal ...`` and ``gunicorn 'portal:create_app()'``.
"""

from portal import create_app

app = create_app()
