"""faceoff target "fastapi": FastAPI served by uvicorn (uvloop + httptools), one process.

The articles' code comes first: the app and its routes, each keeping the semantics of the
seed snippet it comes from (`shared/seeds` 001, 003 and 004, and Sharkbench's web test,
which 004 quotes). The contract's plumbing
(JSON responses and errors, the body limit, the input rules) is in contract.py; the data
services the routes read from (PostgreSQL, the Node realtime service, Sharkbench's data
server) in services.py.
"""

import asyncio
import itertools
import math
import os
import re
import threading
import time
from datetime import datetime, timezone
from typing import Annotated

import anyio
from fastapi import Depends, FastAPI, HTTPException, Query, Response
from pydantic import AfterValidator, Field, StrictFloat, StrictInt, StrictStr

import contract
import files
import leibniz
import numeric
import periodic
from contract import MAX_SAFE_INTEGER, StrictModel, no_proto_keys, plain_int_query, require_json, whole_number
from services import data_server, database, lifespan, realtime

# The interactive docs and the OpenAPI schema are not part of the contract: without them
# every path outside the contract is an unknown route (404). No slash redirects either:
# `/status/` is an unknown route (a 307 redirect would have no JSON body).
app = FastAPI(
    default_response_class=contract.JSONUTF8Response,
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
    redirect_slashes=False,
    lifespan=lifespan,
)


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
    quantity: whole_number(1, 1_000_000)


class OrderIn(StrictModel):
    """The article's `validate_order` rules, made strict: all three fields, amount > 0."""

    customer_id: Annotated[StrictStr, Field(min_length=1)]
    items: Annotated[list[OrderItem], Field(min_length=1)]
    # An int stays an int in the answer (10, not 10.0); bool is neither.
    total_amount: Annotated[StrictInt | StrictFloat, AfterValidator(_finite_amount)]


class ResetIn(StrictModel):
    inventory: Annotated[dict[StrictStr, whole_number(0, MAX_SAFE_INTEGER)], AfterValidator(no_proto_keys)] = Field(
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


# ---------------------------------------------------------------- numeric (seeds 000, 002, 003)


@app.get("/numeric/matmul")
async def numeric_matmul(n: Annotated[int, Depends(plain_int_query("n", 1, 512))]):
    """NumPy's matrix product (numeric.py), in `async def` like compute: the work holds the
    event loop, as it holds Node's one thread, but runs in OpenBLAS's compiled code."""
    return numeric.matmul(n)


# ---------------------------------------------------------------- file I/O (seeds 001, 003)


@app.get("/files/read")
async def files_read(kb: Annotated[int, Depends(plain_int_query("kb", 1, files.MAX_FILE_KB))]):
    """The file read with anyio, the async file API FastAPI's own Starlette uses (its
    FileResponse): the read runs in a worker thread while the loop goes on."""
    try:
        path = files.sized_path(kb)
    except files.NoSuchFile as missing:
        raise HTTPException(404, str(missing)) from None
    return Response(await anyio.Path(path).read_bytes(), media_type=files.CONTENT_TYPE)


# ---------------------------------------------------------------- offload (seed 004)


# JOB_POOL_WORKERS set (target fastapi-offload-pool): a ProcessPoolExecutor started once,
# else seed 004's process per job.
RUN_JOB = leibniz.run_job_pooled if os.environ.get("JOB_POOL_WORKERS") else leibniz.run_job


class LeibnizJob(StrictModel):
    n: whole_number(1, 1_000_000_000)
    timeout_ms: whole_number(1, 10_000) = 2000


@app.post("/jobs/leibniz", dependencies=[Depends(require_json)])
async def leibniz_job(job: LeibnizJob):
    """The same loop in a worker process per job (or, with JOB_POOL_WORKERS set, on a
    persistent process pool); the wait runs in a thread so the event loop keeps serving
    other requests."""
    try:
        pi = await asyncio.to_thread(RUN_JOB, job.n, job.timeout_ms / 1000)
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



# ---------------------------------------------------------------- sharkbench (seed 004)


async def periodic_answer(answer, name, symbol):
    """Sharkbench's handlers: fetch the document from the data server with httpx, parse it,
    answer a few fields of one element (the symbol is checked before any fetch)."""
    try:
        periodic.check_symbol(symbol)
        return answer(await data_server.document(name), symbol)
    except periodic.PeriodicError as error:
        raise HTTPException(error.status, error.message) from None


@app.get("/api/v1/periodic-table/element")
async def get_element(symbol: str | None = None):
    return await periodic_answer(periodic.element, "element.json", symbol)


@app.get("/api/v1/periodic-table/shells")
async def get_shells(symbol: str | None = None):
    return await periodic_answer(periodic.shells, "shells.json", symbol)

# ---------------------------------------------------------------- the contract's plumbing

contract.install(app)
