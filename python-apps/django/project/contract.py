"""The contract's plumbing for the Django views (views.py holds the articles' code): JSON
responses, JSON errors (ApiError, a JSON 405 for the wrong method, Django's error handlers),
and the input rules.

Every response body is JSON, sent as `application/json; charset=utf-8` with compact
separators (the bytes JSON.stringify would produce), so all targets answer alike. Where
Django's defaults differ from the contract (fixtures/contract.toml), this file follows it.
"""

import json
import re
from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

CONTENT_TYPE = "application/json; charset=utf-8"


def json_response(data, status=200):
    return JsonResponse(
        data,
        safe=False,  # the db rows are a list
        status=status,
        content_type=CONTENT_TYPE,
        json_dumps_params={"separators": (",", ":")},
    )


class ApiError(Exception):
    """An error answer: `raise ApiError(400, "...")` in a view -> {"error": "..."}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self):
        return json_response({"error": self.message}, status=self.status)


def api_view(*methods):
    """Like django.views.decorators.http.require_http_methods, with a JSON 405 body, and
    ApiError turned into its JSON answer. Works for sync and async views alike."""

    allow = ", ".join(methods)

    def method_not_allowed():
        response = json_response({"error": "method not allowed"}, status=405)
        response["Allow"] = allow
        return response

    def decorator(view):
        if iscoroutinefunction(view):

            @wraps(view)
            async def inner(request, *args, **kwargs):
                if request.method not in methods:
                    return method_not_allowed()
                try:
                    return await view(request, *args, **kwargs)
                except ApiError as error:
                    return error.response()

        else:

            @wraps(view)
            def inner(request, *args, **kwargs):
                if request.method not in methods:
                    return method_not_allowed()
                try:
                    return view(request, *args, **kwargs)
                except ApiError as error:
                    return error.response()

        return inner

    return decorator


# ---------------------------------------------------------------- input rules

PLAIN_DIGITS = re.compile(r"[0-9]+")
# The largest integer a double holds exactly (RFC 8259, section 6): JavaScript's targets
# cannot tell larger ones apart, so the contract refuses them everywhere.
MAX_SAFE_INTEGER = 2**53 - 1


def query_int(request, name, low, high):
    """A required query integer written as plain decimal digits (leading zeros allowed),
    low..=high, given once (Django would take the last of ?ms=1&ms=2), else 400."""
    values = request.GET.getlist(name)
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


def json_body(request, required=True):
    """The request's JSON object, or None when the body is empty and not required.

    Body over DATA_UPLOAD_MAX_MEMORY_SIZE -> 413; a body that is not application/json
    (a charset parameter is fine) -> 415; malformed JSON or not an object -> 400.
    NaN and Infinity are refused, as JSON.parse does.
    """
    try:
        raw = request.body
    except RequestDataTooBig:
        raise ApiError(413, f"request body larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes") from None
    if not raw:
        if required:
            raise ApiError(400, "a JSON body is required")
        return None
    if request.content_type.lower() != "application/json":
        raise ApiError(415, "Content-Type must be application/json")
    # JSON is UTF-8 (RFC 8259): a charset parameter may only say so.
    if request.content_params.get("charset", "utf-8").lower() != "utf-8":
        raise ApiError(415, "a JSON body must be UTF-8")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant, parse_float=_json_number)
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


# Error handlers (urls.py). Django uses them when DEBUG is False.
def bad_request(request, exception):
    return json_response({"error": "bad request"}, status=400)


def forbidden(request, exception):
    return json_response({"error": "forbidden"}, status=403)


def not_found(request, exception):
    return json_response({"error": "not found"}, status=404)


def server_error(request):
    return json_response({"error": "internal error"}, status=500)
