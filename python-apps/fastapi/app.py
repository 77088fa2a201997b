"""faceoff target "fastapi": FastAPI served by uvicorn (uvloop + httptools), one process.

Routes follow the shared contract (fixtures/contract.toml): the handlers keep the
semantics of the article snippets they come from. Every response body is JSON, sent as
`application/json; charset=utf-8` with compact separators (the bytes JSON.stringify
would produce), so all targets answer byte-for-byte alike.

Where FastAPI's defaults differ from the contract, this file follows the contract:
invalid input is 400 (not 422), unknown fields are refused (`extra="forbid"`), "2" and
true are not integers (strict types), a non-JSON body is 415, a body over 64 KiB is 413.
"""

import asyncio
import itertools
import math
import os
import random
import re
import threading
import time
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Annotated

import asyncpg
import httpx
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

import leibniz

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


class Database:
    """Seed 003's database test (TechEmpower's rules): rows of the `world` table from the
    PostgreSQL named by DATABASE_URL, through an asyncpg pool of DB_POOL_SIZE connections
    (opened as requests need them, like node-postgres's). Without DATABASE_URL the app
    still starts; the db routes then answer 503 with a JSON error, as when the database
    is down."""

    WORLD_ROWS = 10_000
    QUERY = "SELECT id, randomnumber FROM world WHERE id = $1"

    def __init__(self):
        self.pool = None

    async def open(self):
        url = os.environ.get("DATABASE_URL")
        if url:
            size = int(os.environ.get("DB_POOL_SIZE", "10"))
            # A database that is down fails requests in seconds instead of hanging them.
            self.pool = await asyncpg.create_pool(url, min_size=0, max_size=size, timeout=3)

    async def close(self):
        if self.pool is not None:
            try:
                await asyncio.wait_for(self.pool.close(), 2)
            except (asyncio.TimeoutError, OSError):
                self.pool.terminate()

    async def rows(self, count):
        """`count` random rows, one query each (asyncpg prepares it once per connection),
        in turn on one pooled connection."""
        if self.pool is None:
            raise HTTPException(503, "no database configured: set DATABASE_URL")
        try:
            async with self.pool.acquire(timeout=3) as connection:
                rows = []
                for _ in range(count):
                    row = await connection.fetchrow(self.QUERY, random.randint(1, self.WORLD_ROWS))
                    rows.append({"id": row[0], "randomNumber": row[1]})
                return rows
        except Exception as error:  # any failure of the database or the connection to it
            raise HTTPException(503, f"database unavailable: {error}") from None


database = Database()


class Realtime:
    """Seed 001's hybrid architecture: the Node.js realtime service at REALTIME_URL (target
    fastapi-hybrid), called with httpx, the article's client: one shared AsyncClient
    (pooled keep-alive connections, not the article's client per request), waiting at most
    REALTIME_TIMEOUT_MS. Without REALTIME_URL this app makes the realtime
    list itself (target fastapi: FastAPI alone)."""

    def __init__(self):
        self.url = None
        self.client = None
        self.timeout_ms = 2000

    def open(self):
        self.url = os.environ.get("REALTIME_URL") or None
        if self.url:
            self.timeout_ms = int(os.environ.get("REALTIME_TIMEOUT_MS", "2000"))
            # Every pooled connection kept alive: httpx keeps 20 by default, so under more
            # concurrent requests the others would be closed and reopened after each answer.
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            self.client = httpx.AsyncClient(timeout=self.timeout_ms / 1000, limits=limits, trust_env=False)

    async def close(self):
        if self.client is not None:
            await self.client.aclose()

    async def notifications(self, user_id):
        if self.client is None:
            return [
                {"id": 101, "message": f"Realtime 1 for {user_id}", "read": False},
                {"id": 102, "message": f"Realtime 2 for {user_id}", "read": False},
            ]
        try:
            response = await self.client.get(f"{self.url}/notifications/{user_id}")
        except httpx.TimeoutException:
            raise HTTPException(504, f"the realtime service did not answer within {self.timeout_ms} ms") from None
        except httpx.HTTPError as error:
            raise HTTPException(502, f"the realtime service is unavailable: {error}") from None
        if response.status_code != 200:
            raise HTTPException(502, f"the realtime service answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise HTTPException(502, "the realtime service answered with something other than JSON") from None


realtime = Realtime()


@asynccontextmanager
async def lifespan(app):
    await database.open()
    realtime.open()
    yield
    await realtime.close()
    await database.close()


# The interactive docs and the OpenAPI schema are not part of the contract: without them
# every path outside the contract is an unknown route (404). No slash redirects either:
# `/status/` is an unknown route (a 307 redirect would have no JSON body).
app = FastAPI(
    default_response_class=JSONUTF8Response,
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    redirect_slashes=False,
    lifespan=lifespan,
)
app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)

ERROR_MESSAGES = {
    404: "not found",
    405: "method not allowed",
}


@app.exception_handler(StarletteHTTPException)
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


@app.exception_handler(RequestValidationError)
async def validation_error(request: Request, exc: RequestValidationError) -> JSONUTF8Response:
    """Invalid input (malformed JSON, missing/extra/wrong-typed fields, ranges): 400, not 422."""
    return JSONUTF8Response({"error": describe_validation_errors(exc.errors())}, status_code=400)


@app.exception_handler(Exception)
async def server_error(request: Request, exc: Exception) -> JSONUTF8Response:
    """Unhandled errors: a JSON 500 (uvicorn still logs the traceback)."""
    return JSONUTF8Response({"error": "internal error"}, status_code=500)


# ---------------------------------------------------------------- shared input rules


async def require_json(request: Request) -> None:
    """A request with a body must send it as application/json (charset allowed): else 415.

    FastAPI has read (and, for a JSON type, parsed) the body before dependencies run, so
    `request.body()` is the cached copy.
    """
    if await request.body():
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise HTTPException(415, "Content-Type must be application/json")


def plain_int_query(name: str, low: int, high: int):
    """A required query integer written as plain decimal digits, low..=high, else 400.

    `Query(pattern=...)` refuses "-5", "1.5", "1e3" and "" (pydantic's int would take
    some of them); the bound is checked after. `async def`: a plain `def` dependency
    would hop to the threadpool on every request.
    """

    async def dependency(value: Annotated[str, Query(alias=name, pattern=r"^[0-9]+$", max_length=12)]) -> int:
        number = int(value)
        if not low <= number <= high:
            raise HTTPException(400, f"{name} must be an integer from {low} to {high}")
        return number

    return dependency


class StrictModel(BaseModel):
    """Request bodies: unknown fields refused; no coercion ("2" and true are not ints)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# ---------------------------------------------------------------- status (seed 004)


@app.get("/status")
async def status():
    return {"service": "edge-metrics", "status": "ok", "t_ms": 4}


# ---------------------------------------------------------------- sleep (seed 001)

SleepMs = Annotated[int, Depends(plain_int_query("ms", 0, 10_000))]


@app.get("/io/sleep")
async def io_sleep(ms: SleepMs):
    """Seed 001's simulated I/O, awaited: the event loop serves others meanwhile."""
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms, "blocking": False}


@app.get("/io/sleep-blocking")
async def io_sleep_blocking(ms: SleepMs):
    """Seed 001's synchronous `time.sleep(1)`: it blocks the event loop, so the whole
    (single-worker) server, for `ms`. Deliberately `async def`: a plain `def` endpoint
    would run in FastAPI's threadpool and leave the loop free."""
    time.sleep(ms / 1000)
    return {"slept_ms": ms, "blocking": True}


# ---------------------------------------------------------------- orders (seed 001)

ARTICLE_INVENTORY = {"item1": 100, "item2": 50, "item3": 200}


def _finite_amount(value):
    if not (math.isfinite(value) and 0 < value <= 1e9):
        raise ValueError("must be a finite number greater than 0 and at most 1e9")
    return value


class OrderItem(StrictModel):
    product_id: StrictStr
    quantity: Annotated[StrictInt, Field(ge=1, le=1_000_000)]


class OrderIn(StrictModel):
    """The article's `validate_order` rules, made strict: all three fields, amount > 0."""

    customer_id: Annotated[StrictStr, Field(min_length=1)]
    items: Annotated[list[OrderItem], Field(min_length=1)]
    # An int stays an int in the answer (10, not 10.0); bool is neither.
    total_amount: Annotated[StrictInt | StrictFloat, AfterValidator(_finite_amount)]


class ResetIn(StrictModel):
    inventory: dict[StrictStr, Annotated[StrictInt, Field(ge=0)]] = Field(
        default_factory=lambda: dict(ARTICLE_INVENTORY)
    )


class OrderRefused(Exception):
    def __init__(self, status_code, message):
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class OrderProcessor:
    """Seed 001's OrderProcessor: inventory, validated orders, all-or-nothing stock.

    Kept from the article: the inventory, the order record (`{**order_data, order_id,
    status: "completed", processed_at}`) and the `{"status": "success", "order": ...}`
    answer. Fixed where the article's loop is wrong under the contract: quantities of the
    same product are summed before the stock check; check and decrement happen under one
    lock (all or nothing); order ids stay unique within a second (a counter); the orders
    themselves are counted, not kept (a load run would otherwise grow memory without end).
    Validation (`validate_order`) is the pydantic model `OrderIn`.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()

    def reset(self, inventory=None):
        with self._lock:
            self.inventory = dict(ARTICLE_INVENTORY if inventory is None else inventory)
            self.orders = 0
            return self._snapshot()

    def snapshot(self):
        with self._lock:
            return self._snapshot()

    def _snapshot(self):
        return {"inventory": dict(self.inventory), "orders": self.orders}

    def process_order(self, order_data):
        wanted = {}
        for item in order_data["items"]:
            wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
        with self._lock:
            for product_id in wanted:
                if product_id not in self.inventory:
                    raise OrderRefused(400, f"unknown product: {product_id}")
            for product_id, quantity in wanted.items():
                if self.inventory[product_id] < quantity:
                    raise OrderRefused(409, f"insufficient stock for {product_id}")
            for product_id, quantity in wanted.items():
                self.inventory[product_id] -= quantity
            self.orders += 1
            sequence = next(self._ids)
        now = datetime.now(timezone.utc)
        order_record = {
            **order_data,
            "order_id": f"ORD{now:%Y%m%d%H%M%S}-{sequence}",
            "status": "completed",
            "processed_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        return {"status": "success", "order": order_record}


processor = OrderProcessor()


@app.post("/orders", status_code=201, dependencies=[Depends(require_json)])
async def create_order(order: OrderIn):
    try:
        return processor.process_order(order.model_dump())
    except OrderRefused as refused:
        raise HTTPException(refused.status_code, refused.message) from None


@app.get("/orders/inventory")
async def orders_inventory():
    return processor.snapshot()


@app.post("/orders/reset", dependencies=[Depends(require_json)])
async def orders_reset(body: ResetIn | None = None):
    """No body, or a body without `inventory`: the article's inventory."""
    return processor.reset(None if body is None else body.inventory)


# ---------------------------------------------------------------- compute (seed 004)


@app.get("/compute/leibniz")
async def compute_leibniz(n: Annotated[int, Depends(plain_int_query("n", 1, 100_000_000))]):
    """CPU work in `async def` runs on the event loop and blocks it, like Node's single
    thread (a plain `def` would run in the threadpool, still GIL-bound). On purpose."""
    return {"n": n, "pi": leibniz.leibniz(n)}


# ---------------------------------------------------------------- offload (seed 004)


class LeibnizJob(StrictModel):
    n: Annotated[StrictInt, Field(ge=1, le=1_000_000_000)]
    timeout_ms: Annotated[StrictInt, Field(ge=1, le=10_000)] = 2000


@app.post("/jobs/leibniz", dependencies=[Depends(require_json)])
async def leibniz_job(job: LeibnizJob):
    """The same loop in a worker process per job; the wait (join) runs in a thread so
    the event loop keeps serving other requests."""
    try:
        pi = await asyncio.to_thread(leibniz.run_job, job.n, job.timeout_ms / 1000)
    except leibniz.JobTimeout:
        raise HTTPException(504, f"job timed out after {job.timeout_ms} ms") from None
    except leibniz.JobFailed as failed:
        raise HTTPException(500, str(failed)) from None
    return {"n": job.n, "pi": pi}


# ---------------------------------------------------------------- db (seed 003)

MAX_QUERIES = 500


def query_count(raw):
    """TechEmpower's clamping: missing, empty, not an integer, or below 1 -> 1; above 500 -> 500."""
    if raw is None or not re.fullmatch(r"-?[0-9]+", raw):
        return 1
    return max(1, min(int(raw), MAX_QUERIES))


@app.get("/db/single")
async def db_single():
    return (await database.rows(1))[0]


@app.get("/db/multiple")
async def db_multiple(count: str | None = None):
    return await database.rows(query_count(count))


# ---------------------------------------------------------------- hybrid (seed 001)


async def get_historical_notifications(user_id: str):
    """The article's historical list, kept in the Python service."""
    return [{"id": 1, "message": "Historical 1", "read": True}, {"id": 2, "message": "Historical 2", "read": True}]


@app.get("/hybrid/notifications")
async def hybrid_notifications(user_id: Annotated[str, Query(pattern=r"^[A-Za-z0-9_-]{1,64}$")]):
    """Seed 001's get_notifications: the realtime list from the Node service (or made here
    when there is none), merged with the historical one."""
    live = await realtime.notifications(user_id)
    historical = await get_historical_notifications(user_id)
    server = "Python-Node hybrid" if realtime.url else "Python"
    return {"realtime": live, "historical": historical, "server": server}
