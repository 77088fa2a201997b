"""faceoff target "flask": the shared HTTP contract (fixtures/contract.toml) on Flask, served
by gunicorn with one sync worker (`gunicorn app:app`). The articles' code comes first: the
routes, each from a seed snippet. The contract's plumbing (JSON responses and errors, the
input rules, the body reader) is in contract.py.

Flask is WSGI: one sync worker serves one request at a time, so every view is a plain
function, and the awaited sleep waits as a blocking one does (as under django-wsgi).
"""

import itertools
import math
import os
import random
import re
import threading
import time
from datetime import datetime, timezone

import psycopg
import requests
from flask import Flask, request
from psycopg_pool import ConnectionPool, PoolTimeout

import leibniz
import periodic
from contract import (
    MAX_BODY_BYTES,
    MAX_SAFE_INTEGER,
    ApiError,
    check_fields,
    install,
    is_int,
    json_body,
    query_int,
)

app = Flask(__name__)
# Past 64 KiB a body is a 413 (werkzeug checks Content-Length first, then what it reads).
app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
# No automatic OPTIONS answer: a known path's other methods, OPTIONS included, are a 405.
app.config["PROVIDE_AUTOMATIC_OPTIONS"] = False
install(app)


# ---------------------------------------------------------------- status (seed 004)


@app.get("/status")
def status():
    return {"service": "edge-metrics", "status": "ok", "t_ms": 4}


# ---------------------------------------------------------------- sleep (seed 001)


@app.get("/io/sleep")
def io_sleep():
    """Seed 001's simulated I/O. A WSGI worker cannot serve anyone else meanwhile: the
    awaited sleep of the async targets is a plain sleep here."""
    ms = query_int("ms", 0, 10_000)
    time.sleep(ms / 1000)
    return {"slept_ms": ms, "blocking": False}


@app.get("/io/sleep-blocking")
def io_sleep_blocking():
    """Seed 001's synchronous `time.sleep(1)`."""
    ms = query_int("ms", 0, 10_000)
    time.sleep(ms / 1000)
    return {"slept_ms": ms, "blocking": True}


# ---------------------------------------------------------------- orders (seed 001)

ARTICLE_INVENTORY = {"item1": 100, "item2": 50, "item3": 200}
ORDER_FIELDS = ("customer_id", "items", "total_amount")
ITEM_FIELDS = ("product_id", "quantity")


class OrderProcessor:
    """Seed 001's OrderProcessor: inventory, validated orders, all-or-nothing stock.

    Kept from the article: the inventory, `validate_order` (all three fields, amount > 0,
    made strict), the order record and the `{"status": "success", "order": ...}` answer.
    Fixed where the article's loop is wrong under the contract: quantities of the same
    product are summed before the stock check; check and decrement happen under one lock
    (gunicorn's threaded workers would run views in threads); order ids stay unique within
    a second (a counter); the orders are counted, not kept (a load run would otherwise grow
    memory without end).
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


@app.post("/orders")
def create_order():
    return processor.process_order(json_body()), 201


@app.get("/orders/inventory")
def orders_inventory():
    return processor.snapshot()


@app.post("/orders/reset")
def orders_reset():
    """No body, `{}`: the article's inventory; `{"inventory": {product: int >= 0}}`."""
    data = json_body(required=False) or {}
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
    return processor.reset(inventory)


# ---------------------------------------------------------------- compute (seed 004)


@app.get("/compute/leibniz")
def compute_leibniz():
    n = query_int("n", 1, 100_000_000)
    return {"n": n, "pi": leibniz.leibniz(n)}


# ---------------------------------------------------------------- offload (seed 004)


@app.post("/jobs/leibniz")
def leibniz_job():
    """The same loop in a worker process per job (leibniz.py); the sync worker waits."""
    data = json_body()
    check_fields(data, ("n",), optional=("timeout_ms",))
    n = data["n"]
    timeout_ms = data.get("timeout_ms", 2000)
    if not is_int(n) or not 1 <= n <= 1_000_000_000:
        raise ApiError(400, "n must be an integer from 1 to 1000000000")
    if not is_int(timeout_ms) or not 1 <= timeout_ms <= 10_000:
        raise ApiError(400, "timeout_ms must be an integer from 1 to 10000")
    try:
        pi = leibniz.run_job(n, timeout_ms / 1000)
    except leibniz.JobTimeout:
        raise ApiError(504, f"job timed out after {timeout_ms} ms") from None
    except leibniz.JobFailed as failed:
        raise ApiError(500, str(failed)) from None
    return {"n": n, "pi": pi}


# ---------------------------------------------------------------- db (seed 003)

WORLD_ROWS = 10_000
MAX_QUERIES = 500
WORLD_QUERY = "SELECT id, randomnumber FROM world WHERE id = %s"
INTEGER = re.compile(r"-?[0-9]+")
DATABASE_URL = os.environ.get("DATABASE_URL") or None
# psycopg 3's pool of DB_POOL_SIZE connections, opened on the first db request (in the
# worker, not in gunicorn's master). The one sync worker serves one request at a time, so
# it uses one connection.
_pool = None
_pool_lock = threading.Lock()


def pool():
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ConnectionPool(
                DATABASE_URL,
                min_size=0,
                max_size=int(os.environ.get("DB_POOL_SIZE", "10")),
                # A database that is down fails requests in seconds instead of hanging them.
                timeout=3,
                open=True,
            )
        return _pool


def query_count():
    """TechEmpower's clamping: missing, empty, not an integer, or below 1 -> 1; above 500 -> 500."""
    raw = request.args.get("count")
    if raw is None or not INTEGER.fullmatch(raw):
        return 1
    return max(1, min(int(raw), MAX_QUERIES))


def world_rows(count):
    """`count` random rows of `world`, one query each, on one pooled connection (503 when
    there is no database or it is down)."""
    if DATABASE_URL is None:
        raise ApiError(503, "no database configured: set DATABASE_URL")
    try:
        with pool().connection() as conn, conn.cursor() as cursor:
            rows = []
            for _ in range(count):
                cursor.execute(WORLD_QUERY, [random.randint(1, WORLD_ROWS)])
                row_id, number = cursor.fetchone()
                rows.append({"id": row_id, "randomNumber": number})
            return rows
    except (psycopg.Error, PoolTimeout) as error:
        raise ApiError(503, f"database unavailable: {error}") from None


@app.get("/db/single")
def db_single():
    return world_rows(1)[0]


@app.get("/db/multiple")
def db_multiple():
    return world_rows(query_count())


# ---------------------------------------------------------------- hybrid (seed 001)

USER_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
HISTORICAL = [
    {"id": 1, "message": "Historical 1", "read": True},
    {"id": 2, "message": "Historical 2", "read": True},
]


@app.get("/hybrid/notifications")
def hybrid_notifications():
    """Seed 001's merged notifications, served by Flask alone."""
    user_id = request.args.get("user_id")
    if user_id is None or not USER_ID.fullmatch(user_id):
        raise ApiError(400, "user_id must be 1 to 64 letters, digits, _ or -")
    realtime = [
        {"id": 101, "message": f"Realtime 1 for {user_id}", "read": False},
        {"id": 102, "message": f"Realtime 2 for {user_id}", "read": False},
    ]
    return {"realtime": realtime, "historical": HISTORICAL, "server": "Python"}


# ---------------------------------------------------------------- sharkbench (seed 004)
#
# Sharkbench's web test (seed 004: Fastify 9,340 vs FastAPI 1,185 req/s): each request
# fetches a JSON document from the data server at SHARKBENCH_DATA_URL with a requests
# Session (Flask's usual client; django-wsgi's too), parses it and answers a few fields
# (periodic.py). Down or a bad answer is 502, slower than SHARKBENCH_DATA_TIMEOUT_MS 504,
# no SHARKBENCH_DATA_URL 503.

DATA_URL = os.environ.get("SHARKBENCH_DATA_URL") or None
DATA_TIMEOUT_MS = int(os.environ.get("SHARKBENCH_DATA_TIMEOUT_MS", periodic.DEFAULT_TIMEOUT_MS))
session = requests.Session()
session.trust_env = False


def fetch_document(name):
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


def periodic_answer(answer, document_name):
    symbol = request.args.get("symbol")
    try:
        periodic.check_symbol(symbol)
        return answer(fetch_document(document_name), symbol)
    except periodic.PeriodicError as error:
        raise ApiError(error.status, error.message) from None


@app.get("/api/v1/periodic-table/element")
def periodic_element():
    return periodic_answer(periodic.element, "element.json")


@app.get("/api/v1/periodic-table/shells")
def periodic_shells():
    return periodic_answer(periodic.shells, "shells.json")
