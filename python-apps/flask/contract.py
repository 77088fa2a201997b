"""The contract's plumbing for the Flask app (app.py holds the articles' routes): JSON
responses and errors, the input rules and the body reader. Where Flask's defaults differ
from fixtures/contract.toml, this file follows the contract.

Every response body is JSON, sent as `application/json; charset=utf-8` with compact
separators and the keys in their order (the bytes JSON.stringify would produce), so all
targets answer alike.
"""

import json
import re

from flask import request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

# The contract's body limit: Flask's MAX_CONTENT_LENGTH (app.py) makes werkzeug refuse a
# larger body with a 413, from the Content-Length header before reading it, or once a
# chunked body passes it.
MAX_BODY_BYTES = 65536
# The largest integer a double holds exactly (RFC 8259, section 6): JavaScript's targets
# cannot tell larger ones apart, so the contract refuses them everywhere.
MAX_SAFE_INTEGER = 2**53 - 1


class ContractJSONProvider(DefaultJSONProvider):
    """Flask's JSON, as the contract wants it: the exact content type with its charset
    (Flask sends `application/json` alone), compact, keys in the order written (Flask
    sorts them)."""

    mimetype = "application/json; charset=utf-8"
    compact = True
    sort_keys = False


class ApiError(Exception):
    """An error answer: `raise ApiError(400, "...")` in a view -> {"error": "..."}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def install(app):
    """Everything the contract needs from the app: JSON errors for ApiError and for every
    error Flask and werkzeug raise (404, 405 with its Allow header, 413, 400), and a 500 that
    leaks nothing for the rest."""
    app.json = ContractJSONProvider(app)

    @app.errorhandler(ApiError)
    def api_error(error):
        return {"error": error.message}, error.status

    @app.errorhandler(HTTPException)
    def http_error(error):
        # werkzeug's own headers (Allow on a 405) with a JSON body: "method not allowed".
        headers = [
            (name, value)
            for name, value in error.get_headers()
            if name.lower() not in ("content-type", "content-length")
        ]
        return {"error": error.name.lower()}, error.code, headers

    @app.errorhandler(Exception)
    def internal_error(error):
        app.logger.exception("unhandled error")
        return {"error": "internal error"}, 500


# ---------------------------------------------------------------- input rules

PLAIN_DIGITS = re.compile(r"[0-9]+")


def query_int(name, low, high):
    """A required query integer written as plain decimal digits (leading zeros allowed),
    low..=high, given once (Flask's `request.args[name]` would take the first of
    ?ms=1&ms=2), else 400."""
    values = request.args.getlist(name)
    if not values:
        raise ApiError(400, f"query parameter {name} is required")
    if len(values) > 1:
        raise ApiError(400, f"query parameter {name} given more than once")
    # Past 12 significant digits it is out of range anyway (and int() of a huge string is slow).
    digits = values[0].lstrip("0") or "0"
    if not PLAIN_DIGITS.fullmatch(values[0]) or len(digits) > 12 or not low <= int(digits) <= high:
        raise ApiError(400, f"{name} must be an integer from {low} to {high}")
    return int(digits)


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


def _json_number(text):
    """JSON has one number type: 2.0 and 1e2 are the integers 2 and 100 (as JavaScript and
    JSON Schema see them), so integer fields accept them and answer 2, not 2.0."""
    value = float(text)
    return int(value) if value.is_integer() else value


def json_body(required=True):
    """The request's JSON object, or None when the body is empty and not required.

    A body declared or read past MAX_CONTENT_LENGTH -> 413; a body that is not
    application/json (a charset parameter may only say utf-8) -> 415; bytes that are not
    UTF-8, malformed JSON or not an object -> 400. NaN and Infinity are refused, as
    JSON.parse does. Flask's `request.get_json()` is not used: it answers 415 with an HTML
    page for another type, and accepts any charset.
    """
    too_large = ApiError(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    try:
        raw = request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise too_large from None
    # A chunked body (no Content-Length) is read up to the limit and silently cut there by
    # werkzeug; one more byte from the server's own stream says whether it went on.
    if request.content_length is None and len(raw) >= MAX_BODY_BYTES:
        if request.environ["wsgi.input"].read(1):
            raise too_large
    if not raw:
        if required:
            raise ApiError(400, "a JSON body is required")
        return None
    if request.mimetype != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    if request.mimetype_params.get("charset", "utf-8").lower() != "utf-8":
        raise ApiError(415, "a JSON body must be UTF-8")
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant, parse_float=_json_number)
    except (ValueError, RecursionError) as error:
        raise ApiError(400, f"malformed JSON: {error}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the JSON body must be an object")
    return data


def is_int(value):
    """A JSON integer: Python's bool is an int subclass, and is refused."""
    return type(value) is int


def check_fields(data, required, optional=(), where="body"):
    """Exactly the expected keys: a missing or an unknown one is 400."""
    for name in required:
        if name not in data:
            raise ApiError(400, f"{where}: missing field {name}")
    for name in data:
        if name not in required and name not in optional:
            raise ApiError(400, f"{where}: unknown field {name}")
