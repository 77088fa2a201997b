"""ASGI entry point of the channels-redis target: the same app as asgi.py, with the
channels_redis settings. Set before Django loads, over the image's default settings module."""

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "chatproject.settings_redis"

from chatproject.asgi import application  # noqa: E402,F401
