"""WSGI entry point: `gunicorn project.wsgi:application` (target "django-wsgi")."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Which interface serves the views: urls.py picks the sync sharkbench views under WSGI.
os.environ["FACEOFF_DJANGO_INTERFACE"] = "wsgi"

application = get_wsgi_application()
