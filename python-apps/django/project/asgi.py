"""ASGI entry point: `uvicorn project.asgi:application` (target "django")."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Which interface serves the views: urls.py picks the async sharkbench views under ASGI.
os.environ["FACEOFF_DJANGO_INTERFACE"] = "asgi"

application = get_asgi_application()
