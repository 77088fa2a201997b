"""Views for the shared contract (fixtures/contract.toml): the articles' code, each view
keeping the semantics of the seed snippet it comes from. The contract's plumbing (JSON
responses and errors, the input rules) is in contract.py.

The same code runs over ASGI (target "django", uvicorn) and WSGI (target "django-wsgi",
gunicorn, one sync worker). Which views are `async def` is chosen per workload (README.md):
- sync views (status, orders, compute) are plain Django: under ASGI Django runs each in
  a thread of its own (one per request, `ThreadSensitiveContext`), under WSGI in the worker;
- async views (both sleeps, the offload job) run on the event loop under ASGI; under WSGI
  Django runs them to completion with asgiref's `async_to_sync`, blocking the worker;
- the sharkbench views come in both kinds, as in Sharkbench: async with httpx under ASGI,
  sync with requests under WSGI (urls.py picks them by interface).
"""

import asyncio
import itertools
import math
import os
import random
import re
import threading
import time
from datetime import datetime, timezone

import httpx
import requests
from django.conf import settings
from django.db import Error as DatabaseError
from django.db import connection
from django.http import HttpResponse

from . import files, leibniz, numeric, periodic
from .contract import (
    MAX_SAFE_INTEGER,
    ApiError,
    api_view,
    check_fields,
    is_int,
    json_body,
    json_response,
    query_int,
)


# ---------------------------------------------------------------- status (seed 004)


@api_view("GET")
def status(request):
    return json_response({"service": "edge-metrics", "status": "ok", "t_ms": 4})


# ---------------------------------------------------------------- sleep (seed 001)


@api_view("GET")
async def io_sleep(request):
    """Seed 001's simulated I/O, awaited. Under ASGI the event loop serves others
    meanwhile; under WSGI the sync worker waits for it (it cannot serve anyone else)."""
    ms = query_int(request, "ms", 0, 10_000)
    await asyncio.sleep(ms / 1000)
    return json_response({"slept_ms": ms, "blocking": False})


@api_view("GET")
async def io_sleep_blocking(request):
    """Seed 001's synchronous `time.sleep(1)`. Deliberately an async view: under ASGI it
    runs on the event loop and blocks the whole server for `ms` (a sync view would run in
    a thread and leave the loop free); under WSGI it blocks the worker either way."""
    ms = query_int(request, "ms", 0, 10_000)
    time.sleep(ms / 1000)
    return json_response({"slept_ms": ms, "blocking": True})


# ---------------------------------------------------------------- orders (seed 001)

ARTICLE_INVENTORY = {"item1": 100, "item2": 50, "item3": 200}
ORDER_FIELDS = ("customer_id", "items", "total_amount")
ITEM_FIELDS = ("product_id", "quantity")


class OrderProcessor:
    """Seed 001's OrderProcessor: inventory, validated orders, all-or-nothing stock.

    Kept from the article: the inventory, `validate_order` (all three fields, amount > 0,
    made strict), the order record (`{**order_data, order_id, status: "completed",
    processed_at}`) and the `{"status": "success", "order": ...}` answer. Fixed where the
    article's loop is wrong under the contract: quantities of the same product are summed
    before the stock check; check and decrement happen under one lock (sync views may run
    in threads); order ids stay unique within a second (a counter); the orders themselves
    are counted, not kept (a load run would otherwise grow memory without end).
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

    @staticmethod
    def validate_order(order_data):
        check_fields(order_data, ORDER_FIELDS)
        customer_id = order_data["customer_id"]
        if not isinstance(customer_id, str) or not customer_id:
            raise ApiError(400, "customer_id must be a non-empty string")
        items = order_data["items"]
        if not isinstance(items, list) or not items:
            raise ApiError(400, "items must be a non-empty array")
        for index, item in enumerate(items):
            where = f"items[{index}]"
            if not isinstance(item, dict):
                raise ApiError(400, f"{where} must be an object")
            check_fields(item, ITEM_FIELDS, where=where)
            if not isinstance(item["product_id"], str):
                raise ApiError(400, f"{where}.product_id must be a string")
            quantity = item["quantity"]
            if not is_int(quantity) or not 1 <= quantity <= 1_000_000:
                raise ApiError(400, f"{where}.quantity must be an integer from 1 to 1000000")
        amount = order_data["total_amount"]
        if type(amount) not in (int, float) or not (math.isfinite(amount) and 0 < amount <= 1e9):
            raise ApiError(400, "total_amount must be a finite number greater than 0 and at most 1e9")

    def process_order(self, order_data):
        self.validate_order(order_data)
        wanted = {}
        for item in order_data["items"]:
            wanted[item["product_id"]] = wanted.get(item["product_id"], 0) + item["quantity"]
        with self._lock:
            for product_id in wanted:
                if product_id not in self.inventory:
                    raise ApiError(400, f"unknown product: {product_id}")
            for product_id, quantity in wanted.items():
                if self.inventory[product_id] < quantity:
                    raise ApiError(409, f"insufficient stock for {product_id}")
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


@api_view("POST")
def create_order(request):
    return json_response(processor.process_order(json_body(request)), status=201)


@api_view("GET")
def orders_inventory(request):
    return json_response(processor.snapshot())


@api_view("POST")
def orders_reset(request):
    """No body, `{}`: the article's inventory; `{"inventory": {product: int >= 0}}`."""
    data = json_body(request, required=False) or {}
    check_fields(data, (), optional=("inventory",))
    inventory = data.get("inventory", ARTICLE_INVENTORY)
    if not isinstance(inventory, dict):
        raise ApiError(400, "inventory must be an object")
    for product_id, stock in inventory.items():
        # Refused as Fastify's JSON parser refuses it (prototype poisoning), for all targets.
        if product_id == "__proto__":
            raise ApiError(400, "a product may not be named __proto__")
        if not is_int(stock) or not 0 <= stock <= MAX_SAFE_INTEGER:
            raise ApiError(400, f"inventory.{product_id} must be an integer from 0 to 2^53 - 1")
    return json_response(processor.reset(inventory))


# ---------------------------------------------------------------- compute (seed 004)


@api_view("GET")
def compute_leibniz(request):
    """CPU work in a plain (sync) view, Django's usual way: under WSGI it holds the
    worker; under ASGI it runs in the request's thread, holding the GIL but not the loop."""
    n = query_int(request, "n", 1, 100_000_000)
    return json_response({"n": n, "pi": leibniz.leibniz(n)})


# ---------------------------------------------------------------- numeric (seeds 000, 002, 003)


@api_view("GET", "HEAD")
def numeric_matmul(request):
    """NumPy's matrix product (numeric.py) in a plain view, like compute."""
    return json_response(numeric.matmul(query_int(request, "n", 1, 512)))


# ---------------------------------------------------------------- file I/O (seeds 001, 003)


@api_view("GET", "HEAD")
def files_read(request):
    """A plain (sync) view reading the file, Django's usual way: Django has no async file
    API, so under ASGI the view runs in Django's sync thread, under WSGI in the worker."""
    kb = query_int(request, "kb", 1, files.MAX_FILE_KB)
    try:
        path = files.sized_path(kb)
    except files.NoSuchFile as missing:
        raise ApiError(404, str(missing)) from None
    return HttpResponse(path.read_bytes(), content_type=files.CONTENT_TYPE)


# ---------------------------------------------------------------- offload (seed 004)


@api_view("POST")
async def leibniz_job(request):
    """The same loop in a worker process per job, awaited: the blocking join runs in a
    thread, so under ASGI the event loop keeps serving; under WSGI the sync worker waits."""
    data = json_body(request)
    check_fields(data, ("n",), optional=("timeout_ms",))
    n = data["n"]
    timeout_ms = data.get("timeout_ms", 2000)
    if not is_int(n) or not 1 <= n <= 1_000_000_000:
        raise ApiError(400, "n must be an integer from 1 to 1000000000")
    if not is_int(timeout_ms) or not 1 <= timeout_ms <= 10_000:
        raise ApiError(400, "timeout_ms must be an integer from 1 to 10000")
    try:
        pi = await asyncio.to_thread(leibniz.run_job, n, timeout_ms / 1000)
    except leibniz.JobTimeout:
        raise ApiError(504, f"job timed out after {timeout_ms} ms") from None
    except leibniz.JobFailed as failed:
        raise ApiError(500, str(failed)) from None
    return json_response({"n": n, "pi": pi})


# ---------------------------------------------------------------- db (seed 003)

WORLD_ROWS = 10_000
MAX_QUERIES = 500
WORLD_QUERY = "SELECT id, randomnumber FROM world WHERE id = %s"
INTEGER = re.compile(r"-?[0-9]+")


def query_count(request):
    """TechEmpower's clamping: missing, empty, not an integer, or below 1 -> 1; above 500 -> 500."""
    raw = request.GET.get("count")
    if raw is None or not INTEGER.fullmatch(raw):
        return 1
    return max(1, min(int(raw), MAX_QUERIES))


def world_rows(count):
    """`count` random rows of `world`, one query each, on this request's connection (from
    the psycopg pool of settings.DATABASES; 503 when there is no database or it is down)."""
    if not settings.DATABASE_CONFIGURED:
        raise ApiError(503, "no database configured: set DATABASE_URL")
    try:
        with connection.cursor() as cursor:
            rows = []
            for _ in range(count):
                cursor.execute(WORLD_QUERY, [random.randint(1, WORLD_ROWS)])
                row_id, number = cursor.fetchone()
                rows.append({"id": row_id, "randomNumber": number})
            return rows
    except DatabaseError as error:
        raise ApiError(503, f"database unavailable: {error}") from None


@api_view("GET", "HEAD")
def db_single(request):
    return json_response(world_rows(1)[0])


@api_view("GET", "HEAD")
def db_multiple(request):
    return json_response(world_rows(query_count(request)))


# ---------------------------------------------------------------- hybrid (seed 001)

USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HISTORICAL = [
    {"id": 1, "message": "Historical 1", "read": True},
    {"id": 2, "message": "Historical 2", "read": True},
]


@api_view("GET", "HEAD")
def hybrid_notifications(request):
    """Seed 001's merged notifications, served by Django alone: the realtime list (the
    hybrid pair's Node service) made here, beside the historical one."""
    user_id = request.GET.get("user_id")
    if user_id is None or not USER_ID.fullmatch(user_id):
        raise ApiError(400, "user_id must be 1 to 64 letters, digits, _ or -")
    realtime = [
        {"id": 101, "message": f"Realtime 1 for {user_id}", "read": False},
        {"id": 102, "message": f"Realtime 2 for {user_id}", "read": False},
    ]
    return json_response({"realtime": realtime, "historical": HISTORICAL, "server": "Python"})


# ---------------------------------------------------------------- sharkbench (seed 004)
#
# Sharkbench's web test, which seed 004 quotes (Fastify 9,340 vs FastAPI 1,185 req/s): each
# request fetches a JSON document from the data server at SHARKBENCH_DATA_URL, parses it and
# answers a few fields of one element (periodic.py). Sharkbench's Django apps use httpx's
# AsyncClient under uvicorn and a requests Session under gunicorn; so do these. Both keep
# their connections alive and wait at most SHARKBENCH_DATA_TIMEOUT_MS: down or a bad answer
# is 502, too slow 504, no SHARKBENCH_DATA_URL 503.

DATA_URL = os.environ.get("SHARKBENCH_DATA_URL") or None
DATA_TIMEOUT_MS = int(os.environ.get("SHARKBENCH_DATA_TIMEOUT_MS", periodic.DEFAULT_TIMEOUT_MS))

# ASGI: one AsyncClient for the server's one event loop (it binds to the loop on first use).
async_client = httpx.AsyncClient(
    timeout=DATA_TIMEOUT_MS / 1000,
    limits=httpx.Limits(max_connections=100, max_keepalive_connections=100),
    trust_env=False,
)
# WSGI: one Session for the sync worker, which serves one request at a time.
session = requests.Session()
session.trust_env = False


async def fetch_document_async(name):
    if DATA_URL is None:
        raise periodic.not_configured()
    try:
        response = await async_client.get(f"{DATA_URL}/{name}")
    except httpx.TimeoutException:
        raise periodic.too_slow(DATA_TIMEOUT_MS) from None
    except httpx.HTTPError as error:
        raise periodic.unavailable(error) from None
    if response.status_code != 200:
        raise periodic.bad_answer(response.status_code)
    try:
        return response.json()
    except ValueError:
        raise periodic.not_json() from None


def fetch_document_sync(name):
    if DATA_URL is None:
        raise periodic.not_configured()
    try:
        response = session.get(f"{DATA_URL}/{name}", timeout=DATA_TIMEOUT_MS / 1000)
    except requests.Timeout:
        raise periodic.too_slow(DATA_TIMEOUT_MS) from None
    except requests.RequestException as error:
        raise periodic.unavailable(error) from None
    if response.status_code != 200:
        raise periodic.bad_answer(response.status_code)
    try:
        return response.json()
    except ValueError:
        raise periodic.not_json() from None


def periodic_error(error):
    return ApiError(error.status, error.message)


@api_view("GET", "HEAD")
async def periodic_element_async(request):
    symbol = request.GET.get("symbol")
    try:
        periodic.check_symbol(symbol)
        return json_response(periodic.element(await fetch_document_async("element.json"), symbol))
    except periodic.PeriodicError as error:
        raise periodic_error(error) from None


@api_view("GET", "HEAD")
async def periodic_shells_async(request):
    symbol = request.GET.get("symbol")
    try:
        periodic.check_symbol(symbol)
        return json_response(periodic.shells(await fetch_document_async("shells.json"), symbol))
    except periodic.PeriodicError as error:
        raise periodic_error(error) from None


@api_view("GET", "HEAD")
def periodic_element_sync(request):
    symbol = request.GET.get("symbol")
    try:
        periodic.check_symbol(symbol)
        return json_response(periodic.element(fetch_document_sync("element.json"), symbol))
    except periodic.PeriodicError as error:
        raise periodic_error(error) from None


@api_view("GET", "HEAD")
def periodic_shells_sync(request):
    symbol = request.GET.get("symbol")
    try:
        periodic.check_symbol(symbol)
        return json_response(periodic.shells(fetch_document_sync("shells.json"), symbol))
    except periodic.PeriodicError as error:
        raise periodic_error(error) from None
