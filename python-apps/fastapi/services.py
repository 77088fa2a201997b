"""The data services the FastAPI app reads from (app.py holds the articles' routes): the
db workload's PostgreSQL, the hybrid pair's Node realtime service, and the sharkbench
workload's data server. Each comes from the environment faceoff's service topology
provides (DATABASE_URL, REALTIME_URL, SHARKBENCH_DATA_URL); without it the app still
starts."""

import asyncio
import os
import random
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import HTTPException

import leibniz
import periodic


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


class DataServer:
    """Sharkbench's web test: the data server at SHARKBENCH_DATA_URL, fetched with httpx's
    AsyncClient, as Sharkbench's FastAPI app does: one shared client (its pool keeps every
    connection alive, as Node's fetch does; Sharkbench's keeps httpx's default 20), waiting at
    most SHARKBENCH_DATA_TIMEOUT_MS. Errors are periodic.PeriodicError: 502 down or a bad
    answer, 504 too slow, 503 without SHARKBENCH_DATA_URL."""

    def __init__(self):
        self.url = None
        self.client = None
        self.timeout_ms = periodic.DEFAULT_TIMEOUT_MS

    def open(self):
        self.url = os.environ.get("SHARKBENCH_DATA_URL") or None
        if self.url:
            self.timeout_ms = int(os.environ.get("SHARKBENCH_DATA_TIMEOUT_MS", periodic.DEFAULT_TIMEOUT_MS))
            limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
            self.client = httpx.AsyncClient(timeout=self.timeout_ms / 1000, limits=limits, trust_env=False)

    async def close(self):
        if self.client is not None:
            await self.client.aclose()

    async def document(self, name):
        """GET {SHARKBENCH_DATA_URL}/{name}, parsed."""
        if self.client is None:
            raise periodic.not_configured()
        try:
            response = await self.client.get(f"{self.url}/{name}")
        except httpx.TimeoutException:
            raise periodic.too_slow(self.timeout_ms) from None
        except httpx.HTTPError as error:
            raise periodic.unavailable(error) from None
        if response.status_code != 200:
            raise periodic.bad_answer(response.status_code)
        try:
            return response.json()
        except ValueError:
            raise periodic.not_json() from None


data_server = DataServer()


@asynccontextmanager
async def lifespan(app):
    await database.open()
    realtime.open()
    data_server.open()
    yield
    # The offload pool's processes (fastapi-offload-pool), if any: a job still running
    # would otherwise hold the exit until it ends.
    leibniz.shutdown_pool()
    await data_server.close()
    await realtime.close()
    await database.close()
