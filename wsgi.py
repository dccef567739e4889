"""The WSGI entry point: ``flask`` finds the app here, and gunicorn serves ``wsgi:app``."""

from portal import create_app

app = create_app()
