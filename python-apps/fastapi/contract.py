"""The contract's plumbing for the FastAPI app (app.py holds the articles' routes).

Every response body is JSON, sent as `application/json; charset=utf-8` with compact
separators (the bytes JSON.stringify would produce), so all targets answer byte-for-byte
alike. Where FastAPI's defaults differ from the contract (fixtures/contract.toml), this
file follows the contract: invalid input is 400 (not 422), unknown fields are refused
(`extra="forbid"`), "2" and true are not integers (strict types), a non-JSON body is 415,
a body over 64 KiB is 413.
"""

from typing import Annotated

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, StrictFloat, StrictInt
from starlette.exceptions import HTTPException as StarletteHTTPException

MAX_BODY_BYTES = 65536


class JSONUTF8Response(JSONResponse):
    """Starlette's JSONResponse (compact separators) with an explicit charset."""

    media_type = "application/json; charset=utf-8"


class BodySizeLimit:
    """Pure ASGI middleware: a request body over `max_bytes` gets a JSON 413.

    FastAPI's own `max_body_size` answers an oversized Content-Length with a text/plain
    413, so the contract's JSON error needs this instead. A declared Content-Length is
    checked up front (the HTTP parser never delivers more than it declares); a chunked
    body is read here, up to the limit, and replayed to the app.
    """

    def __init__(self, app, max_bytes):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_bytes:
                    return await self.too_large(scope, receive, send)
                return await self.app(scope, receive, send)
            if name == b"transfer-encoding":
                chunked = True
        if not chunked:  # no body
            return await self.app(scope, receive, send)

        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # client went away
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self.too_large(scope, receive, send)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)

    async def too_large(self, scope, receive, send):
        error = f"request body larger than {self.max_bytes} bytes"
        response = JSONUTF8Response({"error": error}, status_code=413)
        await response(scope, receive, send)


ERROR_MESSAGES = {
    404: "not found",
    405: "method not allowed",
}


async def http_error(request: Request, exc: StarletteHTTPException) -> JSONUTF8Response:
    """HTTP errors (unknown routes, wrong methods, the handlers' own) as a JSON body."""
    message = ERROR_MESSAGES.get(exc.status_code, exc.detail)
    return JSONUTF8Response({"error": message}, status_code=exc.status_code, headers=exc.headers)


def describe_validation_errors(errors) -> str:
    """pydantic's errors as one line: `items.0.quantity: Input should be ...; ...`."""
    lines = []
    for error in errors:
        if error.get("type") == "json_invalid":
            return f"malformed JSON: {error.get('ctx', {}).get('error', 'decode error')}"
        # Drop the "body"/"query" prefix and union branch tags such as "constrained-int".
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query")]
        loc = [part for part in loc if part not in ("int", "float", "constrained-int", "constrained-float")]
        line = f"{'.'.join(loc)}: {error['msg']}" if loc else error["msg"]
        if line not in lines:
            lines.append(line)
    return "; ".join(lines) or "invalid request"


async def validation_error(request: Request, exc: RequestValidationError) -> JSONUTF8Response:
    """Invalid input (malformed JSON, missing/extra/wrong-typed fields, ranges): 400, not 422."""
    return JSONUTF8Response({"error": describe_validation_errors(exc.errors())}, status_code=400)


async def server_error(request: Request, exc: Exception) -> JSONUTF8Response:
    """Unhandled errors: a JSON 500 (uvicorn still logs the traceback)."""
    return JSONUTF8Response({"error": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    """The body limit and the JSON error handlers, on `app`."""
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, server_error)


# ---------------------------------------------------------------- shared input rules


async def require_json(request: Request) -> None:
    """A request with a body must send it as application/json (charset allowed): else 415.

    FastAPI has read (and, for a JSON type, parsed) the body before dependencies run, so
    `request.body()` is the cached copy.
    """
    if await request.body():
        media_type, *params = request.headers.get("content-type", "").split(";")
        if media_type.strip().lower() != "application/json":
            raise HTTPException(415, "Content-Type must be application/json")
        # JSON is UTF-8 (RFC 8259): a charset parameter may only say so.
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "charset" and value.strip().strip('"').lower() != "utf-8":
                raise HTTPException(415, "a JSON body must be UTF-8")


def plain_int_query(name: str, low: int, high: int):
    """A required query integer written as plain decimal digits, low..=high, else 400.

    `Query(pattern=...)` refuses "-5", "1.5", "1e3" and "" (pydantic's int would take
    some of them); the bound is checked after. `async def`: a plain `def` dependency
    would hop to the threadpool on every request.
    """

    async def dependency(request: Request, value: Annotated[str, Query(alias=name, pattern=r"^[0-9]+$")]) -> int:
        # A repeated key (?ms=1&ms=2) is ambiguous: FastAPI would take the last one.
        if len(request.query_params.getlist(name)) > 1:
            raise HTTPException(400, f"query parameter {name} given more than once")
        # Leading zeros are plain digits too; past 12 significant digits it is out of range
        # anyway (and int() of a huge string is slow).
        digits = value.lstrip("0") or "0"
        if len(digits) > 12 or not low <= int(digits) <= high:
            raise HTTPException(400, f"{name} must be an integer from {low} to {high}")
        return int(digits)

    return dependency


class StrictModel(BaseModel):
    """Request bodies: unknown fields refused; no coercion ("2" and true are not ints)."""

    model_config = ConfigDict(extra="forbid", strict=True)


def whole_number(low: int, high: int):
    """A JSON integer low..=high. JSON has one number type, so 2.0 is the integer 2 (JSON
    Schema's rule, and JavaScript's), answered as 2; 1.5, "2" and true are not integers."""

    def check(value):
        if isinstance(value, float):
            if not value.is_integer():
                raise ValueError("must be an integer")
            value = int(value)
        if not low <= value <= high:
            raise ValueError(f"must be an integer from {low} to {high}")
        return value

    return Annotated[StrictInt | StrictFloat, AfterValidator(check)]


# The largest integer a double holds exactly (RFC 8259, section 6): JavaScript's targets
# cannot tell larger ones apart, so the contract refuses them everywhere.
MAX_SAFE_INTEGER = 2**53 - 1


def no_proto_keys(mapping):
    """A `__proto__` key is refused, as Fastify's JSON parser does by default (prototype
    poisoning), so that every target answers it alike."""
    if "__proto__" in mapping:
        raise ValueError("a key may not be named __proto__")
    return mapping
