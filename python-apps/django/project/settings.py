"""Settings for the faceoff Django targets ("django" over ASGI, "django-wsgi" over WSGI).

Production settings, kept minimal: no admin/auth/sessions, one middleware. The database
(the db workload's PostgreSQL) comes from DATABASE_URL; without it there is none, and the
db views answer 503.
"""

import os
from urllib.parse import unquote, urlsplit

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

def database_from_url(url):
    """Django's psycopg 3 backend with its connection pool (DB_POOL_SIZE connections, the
    same size as every target's pool). Under ASGI each request's thread takes a connection
    from the pool and gives it back at the end; gunicorn's one sync worker serves one
    request at a time, so it uses one connection."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "127.0.0.1",
        "PORT": str(parts.port or 5432),
        # The pool keeps the connections; Django must not close them itself.
        "CONN_MAX_AGE": 0,
        "OPTIONS": {
            "pool": {
                "min_size": 0,
                "max_size": int(os.environ.get("DB_POOL_SIZE", "10")),
                # A database that is down fails requests in seconds instead of hanging them.
                "timeout": 3,
            },
        },
    }


DATABASES = {"default": database_from_url(os.environ["DATABASE_URL"])} if os.environ.get("DATABASE_URL") else {}
# Whether a database was given, read once here: the views cannot ask DATABASES, since Django
# fills an empty DATABASES in place with a "default" dummy backend on first use (whose every
# call raises ImproperlyConfigured: a 500 where the contract says 503).
DATABASE_CONFIGURED = bool(DATABASES)

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
