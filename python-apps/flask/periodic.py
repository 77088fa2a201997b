"""Sharkbench's web test (seed 004's "Fastify 9,340 vs FastAPI 1,185 req/s"), the part every
Python target shares: the symbol rule, and the few fields answered from the data server's
documents. The HTTP clients that fetch those documents are the framework's own (httpx's
AsyncClient; requests for Django under WSGI); this module imports none of them.
"""

import re

# An element symbol: one capital letter and up to two small ones.
SYMBOL = re.compile(r"[A-Z][a-z]{0,2}")
DEFAULT_TIMEOUT_MS = 2000


class PeriodicError(Exception):
    """An answer other than 200: `status` and a message for the JSON error."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def check_symbol(symbol):
    """400 unless `symbol` looks like an element symbol (checked before any fetch)."""
    if not isinstance(symbol, str) or not SYMBOL.fullmatch(symbol):
        raise PeriodicError(400, "symbol must be an element symbol, such as He")


def not_configured():
    return PeriodicError(503, "no data server configured: set SHARKBENCH_DATA_URL")


def unavailable(reason):
    return PeriodicError(502, f"the data server is unavailable: {reason}")


def too_slow(timeout_ms):
    return PeriodicError(504, f"the data server did not answer within {timeout_ms} ms")


def bad_answer(status_code):
    return PeriodicError(502, f"the data server answered {status_code}")


def not_json():
    return PeriodicError(502, "the data server answered with something other than JSON")


def _entry(document, symbol):
    if not isinstance(document, dict) or symbol not in document:
        raise PeriodicError(404, f"no element with the symbol {symbol}")
    return document[symbol]


def element(document, symbol):
    """GET /api/v1/periodic-table/element?symbol=S, from element.json."""
    entry = _entry(document, symbol)
    return {"name": entry["name"], "number": entry["number"], "group": entry["group"]}


def shells(document, symbol):
    """GET /api/v1/periodic-table/shells?symbol=S, from shells.json."""
    return {"shells": _entry(document, symbol)}
