"""faceoff target "fastapi": FastAPI served by uvicorn (uvloop + httptools), one process.

Routes follow the shared contract (fixtures/): the handlers keep the semantics of the
article snippets they come from. Every response body is JSON, sent as
`application/json; charset=utf-8` with compact separators (the bytes JSON.stringify
would produce), so all targets answer byte-for-byte alike.
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class JSONUTF8Response(JSONResponse):
    """Starlette's JSONResponse (compact separators) with an explicit charset."""

    media_type = "application/json; charset=utf-8"


# The interactive docs and the OpenAPI schema are not part of the contract: without them
# every path outside the contract is an unknown route (404).
app = FastAPI(
    default_response_class=JSONUTF8Response,
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)

ERROR_MESSAGES = {
    404: "not found",
    405: "method not allowed",
}


@app.exception_handler(StarletteHTTPException)
async def http_error(request: Request, exc: StarletteHTTPException) -> JSONUTF8Response:
    """Unknown routes (404) and other HTTP errors, as a JSON body."""
    message = ERROR_MESSAGES.get(exc.status_code, exc.detail)
    return JSONUTF8Response({"error": message}, status_code=exc.status_code, headers=exc.headers)


@app.exception_handler(Exception)
async def server_error(request: Request, exc: Exception) -> JSONUTF8Response:
    """Unhandled errors: a JSON 500 (uvicorn still logs the traceback)."""
    return JSONUTF8Response({"error": "internal error"}, status_code=500)


# Seed 004 (Express and FastAPI /status).
@app.get("/status")
async def status():
    return {"service": "edge-metrics", "status": "ok", "t_ms": 4}
