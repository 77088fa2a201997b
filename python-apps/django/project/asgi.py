"""ASGI entry point: `uvicorn project.asgi:application` (target "django")."""

import json
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Which interface serves the views: urls.py picks the async sharkbench views under ASGI.
os.environ["FACEOFF_DJANGO_INTERFACE"] = "asgi"


def refuse_declared_oversize(app):
    """The contract answers a body declared over the limit (Content-Length) with 413 at
    once, without waiting for it. Django's ASGI handler reads the whole body before any view
    or middleware runs, so a client that declares 100 KiB and sends nothing would wait
    forever; this answers from the header alone, as Fastify and FastAPI do."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps(
        {"error": f"request body larger than {limit} bytes"}, separators=(",", ":")
    ).encode()
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        # The body was never read: the connection cannot carry another request.
        (b"connection", b"close"),
    ]

    async def application(scope, receive, send):
        if scope["type"] == "http":
            declared = dict(scope["headers"]).get(b"content-length", b"")
            if declared.isdigit() and int(declared) > limit:
                await send({"type": "http.response.start", "status": 413, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return application


application = refuse_declared_oversize(get_asgi_application())
