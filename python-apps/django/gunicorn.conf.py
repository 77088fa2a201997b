"""gunicorn settings for the django-wsgi target.

gunicorn reads `./gunicorn.conf.py` from its working directory by default (the app
directory, in both of faceoff's runtimes), so the start command in fixtures/targets.toml
needs no `--config`. Its flags still decide bind, workers and log level; this file only
changes how gunicorn answers the errors it produces itself.

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
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    ).encode("latin-1")
    gunicorn.util.write_nonblock(sock, head + body)


gunicorn.util.write_error = write_json_error
