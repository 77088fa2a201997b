"""gunicorn settings for the gunicorn targets: django-wsgi (python-apps/django) and flask
(python-apps/flask, an identical copy: tests/app_sources.rs keeps them so).

gunicorn reads `./gunicorn.conf.py` from its working directory by default (the app
directory, in both of faceoff's runtimes), so the start command in fixtures/targets.toml
needs no `--config`. Its flags still decide bind, workers and log level; this file only
changes how gunicorn answers the errors it produces itself, and how long a worker waits on
a silent client (see CLIENT_TIMEOUT_S below).

gunicorn answers some requests before Django sees them: a request line over 4094 bytes
(414), too many or too large header fields (431), a malformed request (400), an
unsupported transfer coding (501), or an application that crashed the worker's request
handling (500). It writes those with `gunicorn.util.write_error`, as text/html. The
contract wants every error as JSON (`{"error": "..."}`, application/json; charset=utf-8),
and gunicorn has no setting for that, so the one function is replaced here. It runs in the
master before the worker is forked, so the worker inherits it.
"""

import json

import gunicorn.util


def write_json_error(sock, status_int, reason, mesg):
    """gunicorn.util.write_error's signature and framing, with a JSON body."""
    message = f"{reason}: {mesg}" if mesg else reason
    body = json.dumps({"error": message}, separators=(",", ":")).encode("ascii")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\n"
        "Connection: close\r\n"
        # The headers gunicorn sends on every other response (the contract's
        # required_headers, from TechEmpower's rules); its own write_error leaves them out.
        "Server: gunicorn\r\n"
        f"Date: {gunicorn.util.http_date()}\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    gunicorn.util.write_nonblock(sock, head + body)


gunicorn.util.write_error = write_json_error


# A client that connects and sends nothing (or stops halfway) holds the one sync worker:
# gunicorn reads from it without a timeout, so every other client waits until the arbiter
# kills the worker at `timeout` (30 s) and forks a new one, which silently throws away the
# in-memory state (the orders' stock). gunicorn's documentation puts sync workers behind a
# buffering proxy for this reason; without one, each connection's socket operations get a
# bound here, as a proxy's client timeouts would give: a silent client is dropped after
# CLIENT_TIMEOUT_S and the worker goes on (the contract's idle_connection check).
CLIENT_TIMEOUT_S = 5

from gunicorn.workers import sync  # noqa: E402

_handle = sync.SyncWorker.handle


def handle_with_client_timeout(self, listener, client, addr):
    client.settimeout(CLIENT_TIMEOUT_S)
    return _handle(self, listener, client, addr)


sync.SyncWorker.handle = handle_with_client_timeout
