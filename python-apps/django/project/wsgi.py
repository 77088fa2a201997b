"""WSGI entry point: `gunicorn project.wsgi:application` (target "django-wsgi")."""

import io
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Which interface serves the views: urls.py picks the sync sharkbench views under WSGI.
os.environ["FACEOFF_DJANGO_INTERFACE"] = "wsgi"


def read_chunked_bodies(app):
    """The contract reads a chunked request body like any other (and answers 413 past the
    limit). gunicorn hands one to the app as `wsgi.input` without CONTENT_LENGTH (WSGI has
    no way to say "length unknown"), and Django's WSGIRequest reads CONTENT_LENGTH bytes of
    it, that is none: the views would see no body (400). So the body is read here, up to one
    byte past DATA_UPLOAD_MAX_MEMORY_SIZE, and handed on with its length; Django then
    answers as it does for a Content-Length body (413 when too large)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    def application(environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if chunked and not environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(limit + 1)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return app(environ, start_response)

    return application


application = read_chunked_bodies(get_wsgi_application())
