"""Settings for the faceoff Django targets ("django" over ASGI, "django-wsgi" over WSGI).

Production settings, kept minimal: no database yet, no admin/auth/sessions, one middleware.
"""

import os

# Not a secret: the app has no sessions, signing or users. Override with DJANGO_SECRET_KEY.
SECRET_KEY = os.environ.get(
    "DJANGO_SECRET_KEY", "faceoff-benchmark-app-fixed-key-it-signs-nothing-and-holds-no-secrets"
)

DEBUG = False

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = []

MIDDLEWARE = [
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "project.urls"

WSGI_APPLICATION = "project.wsgi.application"

DATABASES = {}

TEMPLATES = []

# The contract's body limit: a request body over 64 KiB is refused (the views answer 413;
# Django itself raises RequestDataTooBig, a 400 by default).
DATA_UPLOAD_MAX_MEMORY_SIZE = 65536

USE_I18N = False
USE_TZ = True
TIME_ZONE = "UTC"

# With DEBUG=False Django's default logging prints nothing to the console. Send server
# errors (not 4xx warnings) to stderr, as the other targets do.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "stderr": {"class": "logging.StreamHandler"},
    },
    "loggers": {
        "django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
    },
}
